// The engine's runtime structures, shared by engine.cc (the logic) and state.cc (persistence).
// Not part of the engine's interface.
#ifndef ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
#define ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// A trigger's (or a version query's) `match`: the label values its series must have (an absent
// label has the value "").
struct MatchFilter {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name; empty: no filter
  std::vector<uint64_t> hashes;  // of each value, as LabelIndex hashes them
  bool empty() const { return labels.empty(); }
};

// For one input and one label name: which series have which value, built at most once per
// evaluation round and only when a filtered rule reads the input that round. So a fleet query of
// N series shared by N services' triggers costs N hashes and a sort per round, and each trigger a
// binary search, instead of N x N label comparisons.
struct LabelIndex {
  int input = -1;
  std::string label;
  uint64_t built = 0;  // the round it describes; 0: never built
  // (hash of the series' value of `label`, series position), sorted; reused across rounds. A hash
  // says which series may match; the value itself is compared on those only.
  std::vector<std::pair<uint64_t, uint32_t>> entries;
};

// Where one filter looks up one input: per filter label (parallel to MatchFilter::labels), the
// Engine::Impl::label_indexes slot, and where in its entries the value's series began last round.
// A fleet query lists the same series every round, so the hint makes the lookup O(1) in steady
// state; a miss falls back to a binary search. Empty without a filter.
struct MatchSlot {
  int index = -1;
  uint32_t hint = 0;
};
using MatchSlots = std::vector<MatchSlot>;

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
  MatchFilter match;
  MatchSlots match_slots;  // in `input`
  MatchSlots baseline_match_slots;
  MatchSlots traffic_match_slots;
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
  // Scratch: the series positions `match` kept from each input this round.
  std::vector<uint32_t> picked;
  std::vector<uint32_t> baseline_picked;
  std::vector<uint32_t> traffic_picked;
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
  MatchFilter version_match;
  MatchSlots version_match_slots;
  std::vector<uint32_t> version_picked;
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
  std::vector<internal::LabelIndex> label_indexes;  // one per (input, label) some `match` reads
  uint64_t round = 0;                               // Evaluate calls so far

  internal::ServiceRuntime* FindService(std::string_view name);
  void RecountFiring(internal::ServiceRuntime& s);
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
