#include "daemon/cli/args.h"

#include <algorithm>

namespace rollbackd {

bool ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec, ParsedArgs* out,
               std::string* error) {
  const auto has = [](const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  // --help wins over any other problem: `rollbackd pause --help` must not ask for a SERVICE.
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a == "-h" || a == "--help") out->help = true;
  }
  if (out->help) return true;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      out->positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (has(spec.with_value, name)) {
      if (eq != std::string::npos) {
        out->values[name] = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        out->values[name] = args[++i];
      } else {
        *error = name + " needs a value";
        return false;
      }
      if (out->values[name].empty()) {
        *error = name + " needs a value";
        return false;
      }
    } else if (has(spec.switches, name) && eq == std::string::npos) {
      out->switches.insert(name);
    } else {
      *error = "unknown option " + a;
      return false;
    }
  }
  return true;
}

}  // namespace rollbackd
