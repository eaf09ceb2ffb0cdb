// Every command's usage text, in one place so that `rollbackd help`, `rollbackd COMMAND --help`
// and the usage errors say the same. Usage goes to stdout when asked for (exit 0) and to stderr
// after a usage error (exit 2).
#ifndef ROLLBACKD_CLI_USAGE_H_
#define ROLLBACKD_CLI_USAGE_H_

#include <ostream>
#include <string>
#include <string_view>

namespace rollbackd {

extern const char kTopUsage[];  // rollbackd --help

// The usage of `command` ("run", "status", ...); nullptr when there is no such command.
const char* CommandUsage(std::string_view command);

// "rollbackd COMMAND: problem", a blank line and COMMAND's usage on `err`; returns 2.
int UsageError(std::ostream& err, std::string_view command, const std::string& problem);

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_USAGE_H_
