// rollbackd status | pause | resume | deploy: the operator's commands against a running daemon's
// API (docs/operations.md, "Operator CLI"). Each parses its arguments, makes one request and maps
// the answer to an exit status; results go to `out`, problems to `err`. The API token is read from
// its file and handed to the transport; it is never printed, not even in an error.
#ifndef ROLLBACKD_CLI_OPERATOR_COMMANDS_H_
#define ROLLBACKD_CLI_OPERATOR_COMMANDS_H_

#include <chrono>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/cli/api_client.h"

namespace rollbackd {

// Exit statuses, distinct so that scripts can tell why (also in the man page).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // anything else: a bad answer, status --service
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;     // nothing answers at the address (down, timeout)
inline constexpr int kExitUnauthorized = 4;    // 401, or the token file cannot be read
inline constexpr int kExitApiDisabled = 5;     // 403: the daemon has no api_token_file
inline constexpr int kExitUnknownService = 6;  // 404 for pause, resume, deploy

// What the commands take from the process, so that tests can set it.
struct OperatorEnv {
  std::string default_config = kDefaultConfigPath;
  bool color = false;  // colour the status table
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// This process's: colour when stdout is a terminal and NO_COLOR is unset or empty (no-color.org).
OperatorEnv ProcessOperatorEnv();

bool IsOperatorCommand(std::string_view command);  // status, pause, resume, deploy

int OperatorMain(const std::string& command, const std::vector<std::string>& args,
                 std::ostream& out, std::ostream& err, const OperatorEnv& env);

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_OPERATOR_COMMANDS_H_
