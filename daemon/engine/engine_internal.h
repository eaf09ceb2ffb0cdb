// The engine's runtime structures, shared by engine.cc (the logic) and state.cc (persistence).
// Not part of the engine's interface.
#ifndef ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
#define ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/engine/series_table.h"

namespace rollbackd::internal {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class Phase : uint8_t { kInactive, kPending, kFiring };
std::string_view PhaseName(Phase p);

struct SeriesState {
  Phase phase = Phase::kInactive;
  Time pending_since{};
  Time firing_since{};
  double last_value = kNaN;  // the last finite value read; snapshots copy it at a deploy
  double snapshot = kNaN;    // baseline = "snapshot": the value before the last deploy
  double last_threshold = kNaN;  // the effective bound at the last evaluation (status page)
  double last_baseline = kNaN;   // the baseline read at the last evaluation (status page)
  uint64_t seen = 0;         // the rule's epoch at which the series was last present
  std::string firing_id;     // the trigger.firing event, while firing
};

// A trigger or a health check, compiled: both run the same state machine. A health check compares
// its probe's 1 (passed) or 0 (failed) with `below 1`.
struct Rule {
  std::string name;
  bool health = false;
  ConditionKind condition = ConditionKind::kAbove;
  double threshold = 0;
  BaselineKind baseline = BaselineKind::kNone;
  std::optional<double> min_value;
  bool has_traffic = false;
  double min_traffic = 0;
  Duration for_duration{0};
  Severity severity = Severity::kWarning;
  NoDataPolicy no_data = NoDataPolicy::kOk;
  bool rollback = false;
  LabelMap labels;  // service labels, then the trigger's
  std::string source;  // the [prometheus.<name>] a trigger reads; empty for health checks
  int input = -1;
  int baseline_input = -1;
  int traffic_input = -1;
  uint64_t fingerprint = 0;  // of the definition; state survives a reload only if it is unchanged

  SeriesTable<SeriesState> series;
  uint64_t epoch = 0;
  std::optional<Time> error_since;  // first error of the current run of errors
  bool source_down = false;
  std::string last_error;

  // Scratch for matching baseline/traffic series by labels; reused, so steady state allocates
  // nothing.
  std::vector<std::pair<uint64_t, uint32_t>> baseline_index;
  std::vector<std::pair<uint64_t, uint32_t>> traffic_index;
};

struct InFlight {
  std::string id;  // the rollback.started event id
  std::string cause_id;
  std::string trigger;
  LabelMap labels;
  Severity severity = Severity::kCritical;
  Time started{};
};

struct Verifying {
  std::string rollback_id;
  std::string trigger;
  LabelMap labels;
  Severity severity = Severity::kCritical;
  Time since{};
  Time deadline{};
};

struct ServiceRuntime {
  const Service* def = nullptr;
  std::vector<Rule> rules;
  std::vector<int> inputs;
  int version_input = -1;
  bool dry_run = false;

  std::vector<std::string> versions;  // sorted; the `version` labels seen at the last read
  bool versions_known = false;
  std::string version;  // the newest deployed version
  std::optional<Time> last_deploy;

  bool paused = false;
  int firing_rollback_series = 0;   // series of rollback = true rules now firing
  std::string episode_rollback_id;  // set while the current firing episode has rolled back
  std::optional<Time> last_rollback;
  std::optional<InFlight> in_flight;
  std::optional<Verifying> verifying;
};

}  // namespace rollbackd::internal

namespace rollbackd {

struct Engine::Impl {
  std::shared_ptr<const Config> config;
  std::vector<InputSpec> inputs;
  std::vector<internal::ServiceRuntime> services;

  internal::ServiceRuntime* FindService(std::string_view name);
  void RecountFiring(internal::ServiceRuntime& s);
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
