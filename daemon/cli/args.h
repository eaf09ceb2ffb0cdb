// Command-line flags as every command takes them: "--name value" or "--name=value", switches,
// positional arguments, "--" (everything after it is positional) and -h / --help.
#ifndef ROLLBACKD_CLI_ARGS_H_
#define ROLLBACKD_CLI_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

namespace rollbackd {

struct FlagSpec {
  std::vector<std::string> with_value;  // "--url"
  std::vector<std::string> switches;    // "--json"
};

struct ParsedArgs {
  std::map<std::string, std::string> values;  // by the name in FlagSpec; a repeated flag: the last
  std::set<std::string> switches;
  std::vector<std::string> positional;
  bool help = false;  // -h or --help: the caller prints its usage and exits 0, whatever else came
};

// false with `error` for people ("unknown option --x", "--url needs a value").
bool ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec, ParsedArgs* out,
               std::string* error);

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_ARGS_H_
