#include "daemon/actions/hook_env.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace rollbackd {
namespace {

// The shortest text that reads back as the same double: 0.1, not 0.10000000000000001.
std::string Number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> HookEnvironment(const Event& e) {
  std::map<std::string, std::string> env;
  // Labels first, so that the fixed names below cannot be shadowed by a label.
  for (const auto& [name, value] : e.labels) {
    std::string key = "ROLLBACKD_LABEL_";
    for (char c : name)
      key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    env[key] = value;
  }
  env["ROLLBACKD_SERVICE"] = e.service;
  env["ROLLBACKD_TRIGGER"] = e.trigger;
  env["ROLLBACKD_EVENT_ID"] = e.rollback_id.empty() ? e.id : e.rollback_id;
  env["ROLLBACKD_SEVERITY"] = std::string(SeverityName(e.severity));
  env["ROLLBACKD_REASON"] = e.reason;
  if (e.value) env["ROLLBACKD_VALUE"] = Number(*e.value);
  if (e.threshold) env["ROLLBACKD_THRESHOLD"] = Number(*e.threshold);
  if (e.baseline) env["ROLLBACKD_BASELINE"] = Number(*e.baseline);
  if (!e.version.empty()) env["ROLLBACKD_VERSION"] = e.version;
  return {env.begin(), env.end()};
}

}  // namespace rollbackd
