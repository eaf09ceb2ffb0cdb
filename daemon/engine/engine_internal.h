// The engine's runtime structures and the pieces of one evaluation round, shared by the files that
// implement Engine along its seams (engine.cc lists them) and by state.cc (persistence). Not part
// of the engine's interface.
#ifndef ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
#define ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_

#include <cmath>
#include <deque>
#include <limits>
#include <map>
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
  // Escalation (Rule::steps): per step, since when its stronger bound has breached on every
  // evaluation, kNotHeld while it does not. Empty for a rule without steps.
  std::vector<Time> step_since;
  int8_t fired_step = -1;  // while firing: the step that fired it; -1 the trigger's own bound
  // `compare`: the query's and the baseline's finite values within the window, oldest first
  // (compare.cc). Empty for other rules.
  std::vector<std::pair<Time, double>> samples;
  std::vector<std::pair<Time, double>> baseline_samples;
};

inline constexpr Time kNotHeld = Time::max();

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
  // `escalate`: the same condition with stronger numbers and shorter holds, in order.
  struct Step {
    double threshold = 0;
    Duration for_duration{0};
    Severity severity = Severity::kWarning;  // the step's, else the rule's
  };
  std::vector<Step> steps;
  std::optional<CompareSpec> compare;  // set: judged by JudgeCompare, not by a bound
  Severity severity = Severity::kWarning;
  NoDataPolicy no_data = NoDataPolicy::kOk;
  bool rollback = false;
  LabelMap labels;  // service labels, then the trigger's
  std::string source;  // the [prometheus.<name>] a trigger reads; empty for health checks
  std::string url;     // health checks: the probe's URL, redacted (source.down/up name the probe)
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

// The fleet brake ([daemon].brake) of one group of services (brake.cc).
struct BrakeGroup {
  LabelMap labels;                                   // the group's values of the `by` labels
  std::deque<std::pair<Time, std::string>> started;  // rollbacks within the window, oldest first
  bool engaged = false;
  Time since{};                   // engaged since
  Time last_candidate{};          // the last rollback it held
  std::vector<std::string> held;  // services held since it engaged, each once
  bool announce = false;          // engaged in this round: fleet.brake at the round's end
};

class Brake {
 public:
  void Configure(const std::optional<BrakeSettings>& settings) { settings_ = settings; }
  bool enabled() const { return settings_.has_value(); }
  const BrakeSettings& settings() const { return *settings_; }
  // The group of a service with `labels`: "" without `by`, else "cluster=eu-1,...".
  std::string GroupOf(const LabelMap& labels) const;

  // Whether a rollback of `service` in `group` may start at `now`: yes (counted as started), or
  // no (held; `reason` says why, and the group engages).
  bool Admit(const std::string& group, const LabelMap& service_labels, const std::string& service,
             Time now, std::string* reason);
  // At the end of a round: fleet.brake for groups that engaged in it; fleet.brake_released for
  // groups that held nothing new for a whole window.
  void EndRound(Time now, std::vector<Event>* out);
  // The operator's release: every engaged group (or only `group`) lets go; its count starts over.
  // The services it held, in order.
  std::vector<std::string> Release(Time now, std::vector<Event>* out);

  // The services rolled back in `g` within the window before `now`, oldest first.
  std::vector<std::string> RolledBack(const BrakeGroup& g, Time now) const;

  std::map<std::string, BrakeGroup>& groups() { return groups_; }
  const std::map<std::string, BrakeGroup>& groups() const { return groups_; }

 private:
  void Prune(BrakeGroup& g, Time now) const;
  Event MakeEvent(EventKind kind, const std::string& key, const BrakeGroup& g, Time now) const;

  std::optional<BrakeSettings> settings_;
  std::map<std::string, BrakeGroup> groups_;  // by GroupOf key; kept across reloads in the state
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
  bool active = true;  // evaluated; cluster mode: this member owns the service

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

  std::string brake_group;      // Brake::GroupOf its labels
  bool brake_held = false;      // the fleet brake held this firing episode's rollback
  bool brake_redecide = false;  // released by the operator since: decide again, once
};

// ---- Verdicts (verdict.cc) ----

// Why a series breached or not at this evaluation. Numbers are kept; the words are made only when
// an event needs them, so the steady state builds no strings.
struct Verdict {
  enum class Outcome { kOk, kBreach, kHold };
  enum class Why {
    kCompared,       // value vs threshold
    kNoData,         // the query returned nothing
    kNoMatch,        // the query returned series, none with the trigger's `match` labels
    kNotANumber,     // NaN or infinite value
    kLowTraffic,     // traffic below min_traffic
    kNoBaseline,     // no baseline series / no snapshot yet
    kBelowMinValue,  // under the noise floor
    kProbe,          // health probe result
    kDisappeared,    // series no longer returned
    kTooFewSamples,  // compare: fewer than min_samples on a side within the window
  };
  Outcome outcome = Outcome::kOk;
  Why why = Why::kCompared;
  double value = kNaN;
  double threshold = kNaN;
  double baseline = kNaN;
  double traffic = kNaN;
  uint32_t step_breaches = 0;  // bit i: Rule::steps[i]'s bound breaches too (only with kBreach)
  // compare: value and baseline are the two medians; n > 0 once the test ran (or was short of
  // samples: then u and p_value are NaN).
  double u = kNaN;
  double p_value = kNaN;
  double effect = kNaN;  // the ratio of the medians in the bad direction; +Inf over a median of 0
  int n = 0;
  int n_baseline = 0;
};

// The effective bound of `condition` with its number and a baseline (NaN when it has none), and
// whether `value` breaches it.
double Bound(ConditionKind condition, double number, double baseline);
bool Breaches(ConditionKind condition, double value, double bound);

// Numbers in reasons and messages: the shortest text that reads back as the same double
// (1000000.4, not 1e+06), as the hook environment and the payload carry them.
std::string Num(double v);
// Numbers in a trigger's definition fingerprint (state.json, etcd): %.6g, as written since the
// first release. Changing it would make every trigger look redefined after an upgrade, and a
// redefined trigger forgets that its firing episode already rolled back.
std::string FingerprintNumber(double v);
// "above 0.3", or "probe fails" for a health check.
std::string ConditionText(const Rule& r);
// A comparison's verdict in words (compare.cc): "median 1.31 vs baseline median 0.92: 1.42 x >=
// min_effect 1.2, p = 0.0012 < 0.02 (Mann-Whitney U = 1234, n = 40 and 40 within 10m)".
std::string CompareText(const Rule& r, const Verdict& v);
// Why `v` came out as it did, in words: "value 0.45 > 0.3 (1.5 x baseline 0.2)". `probe_detail`
// says what a failed probe saw.
// `number` is the condition's number the verdict was judged with (an escalation step's); NaN: the
// rule's own.
std::string VerdictText(const Rule& r, const Verdict& v, const std::string& probe_detail,
                        double number = kNaN);

// ---- Matching (match.cc) ----

// The series of one input that a rule sees: all of them, or the positions its `match` picked.
class SeriesView {
 public:
  SeriesView(const QueryResult& result, const std::vector<uint32_t>* picked)
      : all_(&result.series), picked_(picked) {}
  size_t size() const { return picked_ != nullptr ? picked_->size() : all_->size(); }
  bool empty() const { return size() == 0; }
  const Sample& operator[](size_t i) const {
    return picked_ != nullptr ? (*all_)[(*picked_)[i]] : (*all_)[i];
  }

 private:
  const std::vector<Sample>* all_;
  const std::vector<uint32_t>* picked_;  // nullptr: every series
};

// Looks up a secondary input's value for `labels`: the series with the identical label set; else,
// when the view has exactly one series, that series if it has no labels (an aggregate such as
// sum(...)) or if the main query also returned exactly one series (one value against one value,
// whatever the labels). NaN when nothing matches.
class SeriesIndex {
 public:
  SeriesIndex(SeriesView series, std::vector<std::pair<uint64_t, uint32_t>>* scratch,
              bool main_single)
      : series_(series), scratch_(scratch), main_single_(main_single) {}

  double Find(const Labels& labels);

 private:
  void BuildIndex();

  static constexpr size_t kLinearScan = 8;
  SeriesView series_;
  std::vector<std::pair<uint64_t, uint32_t>>* scratch_;
  bool main_single_;
  bool indexed_ = false;
  size_t cursor_ = 0;
};

MatchFilter MakeFilter(const LabelMap& match);
// The LabelIndex slots (in `indexes`, added when new) where `f` looks up `input`; empty when
// input < 0.
MatchSlots SlotsFor(std::vector<LabelIndex>* indexes, int input, const MatchFilter& f);
// Fills `out` with the positions of the series of `result` that `f` keeps, in the result's order.
// Small results are scanned; larger ones go through the round's LabelIndex of each filter label,
// and the series under the rarest of the filter's value hashes are checked against every label.
void Pick(const MatchFilter& f, MatchSlots& slots, std::vector<LabelIndex>& indexes,
          uint64_t round, const QueryResult& result, std::vector<uint32_t>* out);

// ---- One evaluation round ----

// Evaluates one round at `now` over each service whose inputs were read, appending events to
// `out`. Its parts are defined where their seam is: the state machine in trigger.cc, verdicts in
// verdict.cc, deploys and rollback decisions in rollback.cc, what a rule sees in match.cc.
class Evaluator {
 public:
  Evaluator(Time now, std::vector<LabelIndex>* indexes, uint64_t round, Brake* brake,
            std::vector<Event>* out)
      : now_(now), indexes_(indexes), round_(round), brake_(brake), out_(out) {}

  void Service(ServiceRuntime& s, const Inputs& inputs);
  // A deploy of `version` at `now`: snapshots taken, the guard window opened.
  static void ApplyDeploy(ServiceRuntime& s, std::string_view version, Time now);

 private:
  // trigger.cc
  Event Make(EventKind kind, const ServiceRuntime& s, const Rule* r, LabelMap labels,
             uint64_t labels_hash);
  void EvaluateRule(ServiceRuntime& s, Rule& r, const Inputs& inputs);
  static SeriesState& Find(Rule& r, const Labels& labels) { return r.series.FindOrInsert(labels); }
  void Step(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st, const Verdict& v,
            const std::string& detail);
  static void Fill(Event& e, const Verdict& v);
  void Resolve(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st, const Verdict& v,
               std::string reason);
  void Sweep(ServiceRuntime& s, Rule& r, size_t seen, Verdict::Why why);
  void OnError(ServiceRuntime& s, Rule& r, const std::string& error);
  void PushSourceEvent(EventKind kind, const ServiceRuntime& s, const Rule& r, std::string reason);

  // verdict.cc
  Verdict NoData(const Rule& r, Verdict v);
  Verdict Judge(const Rule& r, SeriesState& st, double value, SeriesIndex* baseline,
                SeriesIndex* traffic, const Labels& labels);
  // compare.cc: adds this evaluation's samples to the series' windows and tests them.
  Verdict JudgeCompare(const Rule& r, SeriesState& st, double value, SeriesIndex* baseline,
                       const Labels& labels);

  // rollback.cc
  void ObserveVersions(ServiceRuntime& s, const QueryResult& result);
  void Decide(ServiceRuntime& s, Rule& r, const Event& firing);
  // After the operator released the fleet brake: a held service still firing is decided again.
  void Redecide(ServiceRuntime& s);
  void AfterService(ServiceRuntime& s);

  // match.cc
  SeriesView View(const MatchFilter& f, MatchSlots& slots, const QueryResult& result,
                  std::vector<uint32_t>* picked);

  Time now_;
  std::vector<LabelIndex>* indexes_;
  uint64_t round_;
  Brake* brake_;
  std::vector<Event>* out_;
};

// Series labels without the metric name, then the rule's labels (service, then trigger) on top.
LabelMap EventLabels(const Rule& r, const Labels& series);

}  // namespace rollbackd::internal

namespace rollbackd {

struct Engine::Impl {
  std::shared_ptr<const Config> config;
  std::vector<InputSpec> inputs;
  std::vector<internal::ServiceRuntime> services;
  std::vector<internal::LabelIndex> label_indexes;  // one per (input, label) some `match` reads
  internal::Brake brake;
  uint64_t round = 0;                               // Evaluate calls so far

  internal::ServiceRuntime* FindService(std::string_view name);
  const internal::ServiceRuntime* FindService(std::string_view name) const {
    return const_cast<Impl*>(this)->FindService(name);
  }
  void RecountFiring(internal::ServiceRuntime& s);
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_ENGINE_INTERNAL_H_
