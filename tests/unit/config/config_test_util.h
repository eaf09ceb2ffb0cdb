// Shared setup of the config loader's tests, so that each asserts the exact file:line:column, key
// and message a mistake produces: a rule file parsed from text (namespace rulefile, the
// config_rules*_test.cc files), rollbackd.toml parsed from text (namespace daemonconfig, the
// config_daemon*_test.cc and config_load_test.cc files), and diagnostics as the user sees them.
#ifndef ROLLBACKD_TESTS_UNIT_CONFIG_CONFIG_TEST_UTIL_H_
#define ROLLBACKD_TESTS_UNIT_CONFIG_CONFIG_TEST_UTIL_H_

#include <gmock/gmock.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"

namespace rollbackd::configtest {

// Every diagnostic as the user sees it, sorted: "rules.d/checkout.toml:7:9: trigger[0].for: ...".
inline std::vector<std::string> Lines(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const Diagnostic& x : d.Sorted()) out.push_back(x.ToString());
  return out;
}

// ---- rule files (ParseRuleFile) ----
namespace rulefile {

inline constexpr char kFile[] = "rules.d/checkout.toml";

struct Parsed {
  std::optional<Service> service;
  Diagnostics diags;
};

inline Parsed Parse(std::string_view text) {
  Parsed p;
  p.service = ParseRuleFile(text, kFile, &p.diags);
  return p;
}

// Matches one diagnostic line: `where_key_message` is "line:column: key: start of the message".
inline ::testing::Matcher<std::string> At(const std::string& where_key_message) {
  return ::testing::StartsWith(std::string(kFile) + ":" + where_key_message);
}

// A minimal valid trigger, lines 2-6 of every file built on it.
inline constexpr char kHeader[] = R"(service = "checkout"
[[trigger]]
name = "t"
query = "up"
)";

inline std::string WithTrigger(std::string_view rest) {
  return std::string(kHeader) + std::string(rest);
}

// A valid trigger to append after a file's last section, so that the file watches something and
// the line numbers above stay as written.
inline constexpr char kTrailingTrigger[] = R"(
[[trigger]]
name = "t"
query = "up"
above = 1
for = "1m"
)";

inline std::string AndTrigger(std::string_view text) {
  return std::string(text) + kTrailingTrigger;
}

}  // namespace rulefile

// ---- the daemon config (ParseDaemonConfig) ----
namespace daemonconfig {

inline constexpr char kFile[] = "/etc/rollbackd/rollbackd.toml";

struct Parsed {
  std::optional<Config> config;
  Diagnostics diags;
};

inline Parsed Parse(std::string_view text) {
  Parsed p;
  p.config = ParseDaemonConfig(text, kFile, &p.diags);
  return p;
}

// Matches one diagnostic line of kFile: "line:column: key: start of the message".
inline ::testing::Matcher<std::string> At(const std::string& where_key_message) {
  return ::testing::StartsWith(std::string(kFile) + ":" + where_key_message);
}

}  // namespace daemonconfig
}  // namespace rollbackd::configtest

#endif  // ROLLBACKD_TESTS_UNIT_CONFIG_CONFIG_TEST_UTIL_H_
