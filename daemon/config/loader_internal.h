// Shared by the files of the config loader, and internal to daemon/config: loader.cc (the public
// entry points of loader.h, reading from disk, what spans files, the model.h helpers),
// loader_rules.cc (a rule file: service, triggers, health checks, deploy, rollback hook) and
// loader_daemon.cc (rollbackd.toml: [daemon], [outbox], [prometheus.*], [channel.*], [[route]]).
// Every function reports its problems to the reader's or the given Diagnostics, as loader.h says.
#ifndef ROLLBACKD_CONFIG_LOADER_INTERNAL_H_
#define ROLLBACKD_CONFIG_LOADER_INTERNAL_H_

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostics.h"
#include "daemon/config/model.h"
#include "daemon/config/toml_reader.h"

namespace rollbackd::config_internal {

// The rule file keys of the conditions, in ConditionKind order, and the kinds they stand for.
inline constexpr std::string_view kConditionKeys[] = {"above",       "below",       "above_ratio",
                                                      "below_ratio", "above_delta", "below_delta"};
inline constexpr ConditionKind kConditionKinds[] = {
    ConditionKind::kAbove,      ConditionKind::kBelow,      ConditionKind::kAboveRatio,
    ConditionKind::kBelowRatio, ConditionKind::kAboveDelta, ConditionKind::kBelowDelta};

// `s` in double quotes, for messages.
std::string Quote(std::string_view s);
// "file:line:column".
std::string Where(const SourceLocation& l);
// Relative paths in a file are relative to that file's folder, so a config works wherever the
// daemon's working directory is (systemd starts it in /). Empty and absolute paths are kept.
std::string Resolve(const std::string& file, const std::string& path);
bool IsHttpUrl(std::string_view url);
// Reads a positive duration (> 0). `allow_zero` admits "0s".
std::optional<Duration> PositiveDuration(TableReader& r, std::string_view key, bool required,
                                         bool allow_zero = false);
std::optional<Severity> ReadSeverity(TableReader& r, std::string_view key);

// A trigger's `escalate` (loader_judgement.cc), once its condition (`condition_key`: "above";
// empty when it has none or several) and `for` are read into `t`.
inline constexpr size_t kMaxEscalationSteps = 8;
std::vector<EscalationStep> ParseEscalate(TableReader& r, const Trigger& t,
                                          std::string_view condition_key);

// A trigger's `compare` table ({ test, window, direction, confidence, min_effect, min_samples });
// nullopt when absent or with errors (reported).
std::optional<CompareSpec> ParseCompare(TableReader& r);

// `key` of `r` as a fleet brake ({ max_rollbacks, window, by }), when present: [daemon].brake, and
// a rule test file's `brake`.
std::optional<BrakeSettings> ParseBrake(TableReader& r, std::string_view key);

// A rule file's top-level table (loader_rules.cc); nullopt when it had errors.
std::optional<Service> ParseService(const toml::table& root, const std::string& file,
                                    Diagnostics* diags);
// rollbackd.toml's top-level table (loader_daemon.cc). Reports every problem and returns what it
// could read; callers decide from the error count. [daemon].rules is kept, not expanded.
Config ParseDaemonConfigTable(const toml::table& root, const std::string& file,
                              Diagnostics* diags);

}  // namespace rollbackd::config_internal

#endif  // ROLLBACKD_CONFIG_LOADER_INTERNAL_H_
