// The commands that need no running daemon, or are the daemon: run, check, test (moved from
// main.cpp unchanged but for -h/--help). Each returns the exit status (docs/api.md, man page).
#ifndef ROLLBACKD_CLI_DAEMON_COMMANDS_H_
#define ROLLBACKD_CLI_DAEMON_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace rollbackd {

// rollbackd run: sets up logging and runs the daemon until it stops. `version` is the build's.
int RunMain(const std::vector<std::string>& args, const std::string& version, std::ostream& out,
            std::ostream& err);
// rollbackd check --config FILE | check RULEFILE...
int CheckMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// rollbackd test [-v] TESTFILE...
int TestMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_DAEMON_COMMANDS_H_
