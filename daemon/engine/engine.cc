#include "daemon/engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "daemon/config/redact.h"
#include "daemon/engine/engine_internal.h"
#include "daemon/engine/hash.h"

namespace rollbackd {

using internal::InFlight;
using internal::kNaN;
using internal::LabelIndex;
using internal::MatchFilter;
using internal::MatchSlots;
using internal::Phase;
using internal::Rule;
using internal::SeriesState;
using internal::ServiceRuntime;
using internal::Verifying;

namespace internal {

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kInactive:
      return "inactive";
    case Phase::kPending:
      return "pending";
    case Phase::kFiring:
      return "firing";
  }
  return "unknown";
}

}  // namespace internal

namespace {

// %g with enough digits to tell 0.05 from 0.0500001, and never "nan".
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

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
  };
  Outcome outcome = Outcome::kOk;
  Why why = Why::kCompared;
  double value = kNaN;
  double threshold = kNaN;
  double baseline = kNaN;
  double traffic = kNaN;
};

bool IsAbove(ConditionKind c) {
  return c == ConditionKind::kAbove || c == ConditionKind::kAboveRatio ||
         c == ConditionKind::kAboveDelta;
}

// min_value guards the value for the above kinds, the baseline for below_ratio/below_delta.
bool FloorOnBaseline(ConditionKind c) { return !IsAbove(c) && c != ConditionKind::kBelow; }

std::string_view CompareOp(ConditionKind c, bool breach) {
  if (IsAbove(c)) return breach ? ">" : "<=";
  return breach ? "<" : ">=";
}

std::string ConditionText(const Rule& r) {
  if (r.health) return "probe fails";
  return std::string(ConditionKeyName(r.condition)) + " " + Num(r.threshold);
}

// {service="checkout"}, values escaped as in PromQL.
std::string MatchText(const MatchFilter& f) { return Labels(f.labels).ToString(); }

// "value 0.45 > 0.3 (1.5 x baseline 0.2)"
std::string VerdictText(const Rule& r, const Verdict& v, const std::string& probe_detail) {
  const bool breach = v.outcome == Verdict::Outcome::kBreach;
  switch (v.why) {
    case Verdict::Why::kNoData:
      return "no data (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kNoMatch:
      return "no data: no series matches " + MatchText(r.match) +
             " (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kNotANumber:
      return "value is not a number (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kLowTraffic:
      return "too little traffic: " +
             (std::isnan(v.traffic) ? std::string("none") : Num(v.traffic)) + " < min_traffic " +
             Num(r.min_traffic) + " (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kNoBaseline:
      return r.baseline == BaselineKind::kSnapshot ? "no snapshot baseline yet (no deploy seen)"
                                                   : "no baseline series matches";
    case Verdict::Why::kBelowMinValue:
      return FloorOnBaseline(r.condition)
                 ? "baseline " + Num(v.baseline) + " < min_value " + Num(*r.min_value)
                 : "value " + Num(v.value) + " < min_value " + Num(*r.min_value);
    case Verdict::Why::kDisappeared:
      return "series no longer returned by the query";
    case Verdict::Why::kProbe:
      return breach ? "probe failed: " + (probe_detail.empty() ? "failure" : probe_detail)
                    : "probe passed";
    case Verdict::Why::kCompared:
      break;
  }
  std::string out = "value " + Num(v.value) + " " + std::string(CompareOp(r.condition, breach)) +
                    " " + Num(v.threshold);
  const char* base = r.baseline == BaselineKind::kSnapshot ? "snapshot" : "baseline";
  switch (r.condition) {
    case ConditionKind::kAboveRatio:
    case ConditionKind::kBelowRatio:
      out += " (" + Num(r.threshold) + " x " + base + " " + Num(v.baseline) + ")";
      break;
    case ConditionKind::kAboveDelta:
      out += " (" + std::string(base) + " " + Num(v.baseline) + " + " + Num(r.threshold) + ")";
      break;
    case ConditionKind::kBelowDelta:
      out += " (" + std::string(base) + " " + Num(v.baseline) + " - " + Num(r.threshold) + ")";
      break;
    default:
      break;
  }
  return out;
}

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

  double Find(const Labels& labels) {
    const SeriesView& series = series_;
    // Two queries over the same series usually list them in the same order: try the entry after
    // the last match before anything else, and build the sorted index only on a miss.
    if (cursor_ < series.size() && series[cursor_].labels == labels) {
      return series[cursor_++].value;
    }
    if (series.size() > kLinearScan) {
      if (!indexed_) BuildIndex();
      auto it = std::lower_bound(scratch_->begin(), scratch_->end(),
                                 std::make_pair(labels.hash(), uint32_t{0}));
      for (; it != scratch_->end() && it->first == labels.hash(); ++it) {
        if (series[it->second].labels == labels) {
          cursor_ = it->second + 1;
          return series[it->second].value;
        }
      }
    } else {
      for (size_t i = 0; i < series.size(); ++i) {
        if (series[i].labels == labels) {
          cursor_ = i + 1;
          return series[i].value;
        }
      }
    }
    if (series.size() == 1 && (series[0].labels.empty() || main_single_)) return series[0].value;
    return kNaN;
  }

 private:
  void BuildIndex() {
    scratch_->clear();
    for (uint32_t i = 0; i < series_.size(); ++i) {
      scratch_->emplace_back(series_[i].labels.hash(), i);
    }
    std::sort(scratch_->begin(), scratch_->end());
    indexed_ = true;
  }

  static constexpr size_t kLinearScan = 8;
  SeriesView series_;
  std::vector<std::pair<uint64_t, uint32_t>>* scratch_;
  bool main_single_;
  bool indexed_ = false;
  size_t cursor_ = 0;
};

uint64_t HashValue(std::string_view value) {
  return internal::HashField(internal::kHashSeed, value);
}

MatchFilter MakeFilter(const LabelMap& match) {
  MatchFilter f;
  for (const auto& [name, value] : match) {
    f.labels.emplace_back(name, value);
    f.hashes.push_back(HashValue(value));
  }
  return f;
}

// An absent label has the value "", as in PromQL's {label=""}.
bool HasValue(const Labels& labels, const std::string& name, std::string_view value) {
  const auto v = labels.Get(name);
  return v ? *v == value : value.empty();
}

// The LabelIndex slot of (input, label), added when new.
int IndexSlot(std::vector<LabelIndex>* indexes, int input, const std::string& label) {
  for (size_t i = 0; i < indexes->size(); ++i) {
    if ((*indexes)[i].input == input && (*indexes)[i].label == label) return static_cast<int>(i);
  }
  LabelIndex index;
  index.input = input;
  index.label = label;
  indexes->push_back(std::move(index));
  return static_cast<int>(indexes->size() - 1);
}

MatchSlots SlotsFor(std::vector<LabelIndex>* indexes, int input, const MatchFilter& f) {
  MatchSlots slots;
  if (input < 0) return slots;
  for (const auto& [name, value] : f.labels) slots.push_back({IndexSlot(indexes, input, name)});
  return slots;
}

void BuildLabelIndex(LabelIndex& index, const QueryResult& result, uint64_t round) {
  index.entries.clear();
  const auto& series = result.series;
  for (uint32_t i = 0; i < series.size(); ++i) {
    const auto v = series[i].labels.Get(index.label);
    index.entries.emplace_back(HashValue(v.value_or(std::string_view())), i);
  }
  std::sort(index.entries.begin(), index.entries.end());
  index.built = round;
}

// Fills `out` with the positions of the series of `result` that `f` keeps, in the result's order.
// Small results are scanned; larger ones go through the round's LabelIndex of each filter label,
// and the series under the rarest of the filter's value hashes are checked against every label.
void Pick(const MatchFilter& f, MatchSlots& slots, std::vector<LabelIndex>& indexes,
          uint64_t round, const QueryResult& result, std::vector<uint32_t>* out) {
  constexpr size_t kScan = 8;
  out->clear();
  const auto& series = result.series;
  auto keeps = [&](uint32_t i) {
    for (const auto& [name, value] : f.labels) {
      if (!HasValue(series[i].labels, name, value)) return false;
    }
    return true;
  };
  if (series.size() <= kScan) {
    for (uint32_t i = 0; i < series.size(); ++i) {
      if (keeps(i)) out->push_back(i);
    }
    return;
  }
  using It = std::vector<std::pair<uint64_t, uint32_t>>::const_iterator;
  It best_lo;
  It best_hi;
  for (size_t k = 0; k < f.labels.size(); ++k) {
    LabelIndex& index = indexes[static_cast<size_t>(slots[k].index)];
    if (index.built != round) BuildLabelIndex(index, result, round);
    const auto& entries = index.entries;
    const uint64_t hash = f.hashes[k];
    const uint32_t hint = slots[k].hint;
    It lo;
    if (hint < entries.size() && entries[hint].first == hash &&
        (hint == 0 || entries[hint - 1].first != hash)) {
      lo = entries.cbegin() + hint;
    } else {
      lo = std::lower_bound(entries.cbegin(), entries.cend(), std::make_pair(hash, uint32_t{0}));
      slots[k].hint = static_cast<uint32_t>(lo - entries.cbegin());
    }
    It hi = lo;
    while (hi != index.entries.cend() && hi->first == hash) ++hi;
    if (lo == hi) return;  // no series has this value
    if (k == 0 || hi - lo < best_hi - best_lo) {
      best_lo = lo;
      best_hi = hi;
    }
  }
  // Sorted by (hash, position): the result's order.
  for (It it = best_lo; it != best_hi; ++it) {
    if (keeps(it->second)) out->push_back(it->second);
  }
}

// Makes identical (source, query) pairs one input, read once per round. A map, not a scan: an
// engine over thousands of per-service queries is built on every reload, on the daemon's loop.
class InputInterner {
 public:
  explicit InputInterner(std::vector<InputSpec>* inputs) : inputs_(inputs) {}

  int Prometheus(const std::string& source, const std::string& query) {
    // The source's length first: no (source, query) pair can pass for another.
    auto [it, fresh] = ids_.try_emplace(std::to_string(source.size()) + ':' + source + query,
                                        static_cast<int>(inputs_->size()));
    if (fresh) inputs_->push_back({InputSpec::Kind::kPrometheus, source, query, nullptr});
    return it->second;
  }
  // Every health check is its own probe.
  int Probe(const HealthCheck& h) {
    inputs_->push_back({InputSpec::Kind::kProbe, "", h.url, &h});
    return static_cast<int>(inputs_->size() - 1);
  }

 private:
  std::vector<InputSpec>* inputs_;
  std::unordered_map<std::string, int> ids_;
};

uint64_t Fingerprint(const Rule& r, const std::vector<InputSpec>& inputs) {
  using internal::HashField;
  uint64_t h = internal::kHashSeed;
  auto q = [&](int id) {
    if (id < 0) return std::string("-");
    return inputs[id].source + "\x1f" + inputs[id].query;
  };
  h = HashField(h, r.health ? "health" : "trigger");
  h = HashField(h, q(r.input));
  h = HashField(h, q(r.baseline_input));
  h = HashField(h, q(r.traffic_input));
  h = HashField(h, ConditionKeyName(r.condition));
  h = HashField(h, Num(r.threshold));
  h = HashField(h, std::to_string(static_cast<int>(r.baseline)));
  h = HashField(h, r.min_value ? Num(*r.min_value) : "-");
  h = HashField(h, r.has_traffic ? Num(r.min_traffic) : "-");
  h = HashField(h, std::to_string(r.for_duration.count()));
  h = HashField(h, NoDataName(r.no_data));
  // Only when set, so that fingerprints of triggers without `match` stay as they were.
  if (!r.match.empty()) {
    h = HashField(h, "match");
    for (const auto& [name, value] : r.match.labels) {
      h = HashField(h, name);
      h = HashField(h, value);
    }
  }
  return h;
}

// Series labels without the metric name, then the rule's labels (service, then trigger) on top.
LabelMap EventLabels(const Rule& r, const Labels& series) {
  LabelMap out;
  for (const auto& [k, v] : series.pairs()) {
    if (k != "__name__") out.emplace(k, v);
  }
  for (const auto& [k, v] : r.labels) out[k] = v;
  return out;
}

HookInfo MakeHookInfo(const RollbackHook& h) {
  HookInfo info;
  if (h.http) {
    info.type = "http";
    info.method = h.http->method;
    info.url = RedactUrl(h.http->url);  // events, logs and state never carry credentials
  } else {
    info.type = "exec";
    info.argv = h.exec;
  }
  return info;
}

std::string DescribeHook(const HookInfo& h) {
  if (h.type == "http") return (h.method.empty() ? "POST" : h.method) + " " + h.url;
  std::string out;
  for (const auto& a : h.argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

class Evaluator {
 public:
  Evaluator(Time now, std::vector<LabelIndex>* indexes, uint64_t round, std::vector<Event>* out)
      : now_(now), indexes_(indexes), round_(round), out_(out) {}

  void Service(ServiceRuntime& s, const Inputs& inputs) {
    bool evaluated = false;
    if (s.version_input >= 0 && inputs[s.version_input] != nullptr) {
      evaluated = true;
      ObserveVersions(s, *inputs[s.version_input]);
    }
    for (Rule& r : s.rules) {
      if (inputs[r.input] == nullptr) continue;
      evaluated = true;
      EvaluateRule(s, r, inputs);
    }
    if (evaluated) AfterService(s);
  }

 private:
  Event Make(EventKind kind, const ServiceRuntime& s, const Rule* r, LabelMap labels,
             uint64_t labels_hash) {
    Event e;
    e.kind = kind;
    e.time = now_;
    e.service = s.def->name;
    if (r != nullptr) {
      e.trigger = r->name;
      e.severity = r->severity;
      e.condition = ConditionText(*r);
    }
    e.labels = std::move(labels);
    e.version = s.version;
    e.id = MakeEventId(kind, e.service, e.trigger, labels_hash, now_);
    return e;
  }

  // A deploy is a `version` value that was not in the previous read and is not the version
  // already known as deployed: a rolling update {v1} -> {v1, v2} -> {v2} is one deploy of v2, and
  // a deploy posted to the API before Prometheus sees it is not counted twice.
  void ObserveVersions(ServiceRuntime& s, const QueryResult& result) {
    if (result.is_error() || result.series.empty()) return;  // unknown: keep what we knew
    const SeriesView series = View(s.version_match, s.version_match_slots, result,
                                   &s.version_picked);
    std::vector<std::string> versions;
    for (size_t i = 0; i < series.size(); ++i) {
      if (auto v = series[i].labels.Get("version")) versions.emplace_back(Utf8Prefix(*v, kMaxVersionBytes));
    }
    if (versions.empty()) return;
    std::sort(versions.begin(), versions.end());
    versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
    if (!s.versions_known) {
      // The first read names what runs now; it is not a deploy.
      s.versions_known = true;
      s.versions = std::move(versions);
      if (s.version.empty()) s.version = s.versions.back();
      return;
    }
    std::string added;
    for (const std::string& v : versions) {
      if (v != s.version && !std::binary_search(s.versions.begin(), s.versions.end(), v)) {
        added = v;
      }
    }
    s.versions = std::move(versions);
    if (!added.empty()) ApplyDeploy(s, added, now_);
  }

 public:
  static void ApplyDeploy(ServiceRuntime& s, std::string_view version, Time now) {
    s.last_deploy = now;
    s.version = std::string(Utf8Prefix(version, kMaxVersionBytes));
    for (Rule& r : s.rules) {
      if (r.baseline != BaselineKind::kSnapshot) continue;
      for (auto& [labels, st] : r.series) st.snapshot = st.last_value;
    }
  }

 private:
  void EvaluateRule(ServiceRuntime& s, Rule& r, const Inputs& inputs) {
    const QueryResult& main = *inputs[r.input];
    const QueryResult* baseline = nullptr;
    const QueryResult* traffic = nullptr;
    // An error in any query the trigger needs makes the whole evaluation an error.
    const std::string* error = nullptr;
    std::string not_read;
    auto secondary = [&](int id, const char* what) -> const QueryResult* {
      if (id < 0) return nullptr;
      const QueryResult* res = inputs[id];
      if (error != nullptr) return res;
      if (res == nullptr) {
        not_read = std::string(what) + " was not read this round";
        error = &not_read;
      } else if (res->is_error()) {
        not_read = std::string(what) + ": " + res->error;
        error = &not_read;
      }
      return res;
    };
    if (main.is_error()) error = &main.error;
    baseline = secondary(r.baseline_input, "baseline_query");
    traffic = secondary(r.traffic_input, "min_traffic_query");
    if (error != nullptr) {
      OnError(s, r, *error);
      return;
    }
    if (r.error_since) {
      if (r.source_down) {
        PushSourceEvent(
            EventKind::kSourceUp, s, r,
            "source \"" + r.source + "\": queries succeed again after failing for " + FormatDuration(now_ - *r.error_since));
      }
      r.error_since.reset();
      r.source_down = false;
      r.last_error.clear();
    }

    // Series that `match` drops are as if the query had not returned them.
    const SeriesView main_series = View(r.match, r.match_slots, main, &r.picked);
    ++r.epoch;
    r.series.Rewind();
    size_t seen = 0;
    if (main_series.empty()) {
      const Verdict::Why why =
          main.series.empty() ? Verdict::Why::kNoData : Verdict::Why::kNoMatch;
      if (r.no_data == NoDataPolicy::kHold) return;  // keep every state as it is
      if (r.no_data == NoDataPolicy::kBreach) {
        // The query's absence is one series with no labels, breaching.
        static const Labels kNone;
        SeriesState& st = Find(r, kNone);
        st.seen = r.epoch;
        ++seen;
        Verdict v;
        v.outcome = Verdict::Outcome::kBreach;
        v.why = why;
        Step(s, r, kNone, st, v, main.detail);
        // Labelled series are simply gone; only the absent-series stands for "no data".
        Sweep(s, r, seen, Verdict::Why::kDisappeared);
        return;
      }
      Sweep(s, r, seen, why);
      return;
    }

    const bool main_single = main_series.size() == 1;
    std::optional<SeriesIndex> baseline_index;
    std::optional<SeriesIndex> traffic_index;
    if (baseline != nullptr) {
      baseline_index.emplace(
          View(r.match, r.baseline_match_slots, *baseline, &r.baseline_picked),
          &r.baseline_index, main_single);
    }
    if (traffic != nullptr) {
      traffic_index.emplace(View(r.match, r.traffic_match_slots, *traffic, &r.traffic_picked),
                            &r.traffic_index, main_single);
    }

    for (size_t i = 0; i < main_series.size(); ++i) {
      const Sample& sample = main_series[i];
      SeriesState& st = Find(r, sample.labels);
      if (st.seen == r.epoch) continue;  // a duplicate label set in one result: first one counts
      st.seen = r.epoch;
      ++seen;
      Verdict v = Judge(r, st, sample.value, baseline_index ? &*baseline_index : nullptr,
                        traffic_index ? &*traffic_index : nullptr, sample.labels);
      if (std::isfinite(sample.value)) st.last_value = sample.value;
      st.last_threshold = v.threshold;
      st.last_baseline = v.baseline;
      Step(s, r, sample.labels, st, v, main.detail);
    }
    Sweep(s, r, seen, Verdict::Why::kDisappeared);
  }

  static SeriesState& Find(Rule& r, const Labels& labels) { return r.series.FindOrInsert(labels); }

  Verdict NoData(const Rule& r, Verdict v) {
    switch (r.no_data) {
      case NoDataPolicy::kOk:
        v.outcome = Verdict::Outcome::kOk;
        break;
      case NoDataPolicy::kHold:
        v.outcome = Verdict::Outcome::kHold;
        break;
      case NoDataPolicy::kBreach:
        v.outcome = Verdict::Outcome::kBreach;
        break;
    }
    return v;
  }

  Verdict Judge(const Rule& r, const SeriesState& st, double value, SeriesIndex* baseline,
                SeriesIndex* traffic, const Labels& labels) {
    Verdict v;
    v.value = value;
    // Before the probe check: a NaN probe result is no data (held), not a pass.
    if (!std::isfinite(value)) {
      v.value = kNaN;
      v.why = Verdict::Why::kNotANumber;
      return NoData(r, v);
    }
    if (r.health) {
      v.why = Verdict::Why::kProbe;
      v.threshold = 1;
      v.outcome = value < 1 ? Verdict::Outcome::kBreach : Verdict::Outcome::kOk;
      return v;
    }
    if (traffic != nullptr) {
      v.traffic = traffic->Find(labels);
      // No traffic series at all, NaN, or under the floor: too little evidence.
      if (!(v.traffic >= r.min_traffic)) {
        v.why = Verdict::Why::kLowTraffic;
        return NoData(r, v);
      }
    }
    double b = kNaN;
    switch (r.baseline) {
      case BaselineKind::kNone:
        break;
      case BaselineKind::kQuery:
        b = baseline->Find(labels);
        break;
      case BaselineKind::kSnapshot:
        b = st.snapshot;
        break;
    }
    if (r.baseline != BaselineKind::kNone && !std::isfinite(b)) {
      // Not the service's fault: neither advance nor reset.
      v.why = Verdict::Why::kNoBaseline;
      v.outcome = Verdict::Outcome::kHold;
      return v;
    }
    v.baseline = b;
    bool breach = false;
    switch (r.condition) {
      case ConditionKind::kAbove:
        v.threshold = r.threshold;
        breach = value > v.threshold;
        break;
      case ConditionKind::kBelow:
        v.threshold = r.threshold;
        breach = value < v.threshold;
        break;
      case ConditionKind::kAboveRatio:
        v.threshold = r.threshold * b;
        breach = value > v.threshold;
        break;
      case ConditionKind::kBelowRatio:
        v.threshold = r.threshold * b;
        breach = value < v.threshold;
        break;
      case ConditionKind::kAboveDelta:
        v.threshold = b + r.threshold;
        breach = value > v.threshold;
        break;
      case ConditionKind::kBelowDelta:
        v.threshold = b - r.threshold;
        breach = value < v.threshold;
        break;
    }
    if (breach && r.min_value) {
      if ((FloorOnBaseline(r.condition) ? b : value) < *r.min_value) {
        v.why = Verdict::Why::kBelowMinValue;
        v.outcome = Verdict::Outcome::kOk;
        return v;
      }
    }
    v.outcome = breach ? Verdict::Outcome::kBreach : Verdict::Outcome::kOk;
    return v;
  }

  void Step(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st, const Verdict& v,
            const std::string& detail) {
    switch (v.outcome) {
      case Verdict::Outcome::kHold:
        return;
      case Verdict::Outcome::kOk:
        if (st.phase == Phase::kFiring) {
          Resolve(s, r, labels, st, v, VerdictText(r, v, detail));
        } else {
          st.phase = Phase::kInactive;
        }
        return;
      case Verdict::Outcome::kBreach:
        break;
    }
    if (st.phase == Phase::kFiring) return;
    if (st.phase == Phase::kInactive) {
      st.phase = Phase::kPending;
      st.pending_since = now_;
      if (r.for_duration.count() > 0) {
        Event e = Make(EventKind::kTriggerPending, s, &r, EventLabels(r, labels), labels.hash());
        Fill(e, v);
        e.reason = VerdictText(r, v, detail) + ", must hold for " + FormatDuration(r.for_duration);
        out_->push_back(std::move(e));
        return;
      }
    }
    const Duration held = now_ - st.pending_since;
    if (held < r.for_duration) return;
    st.phase = Phase::kFiring;
    st.firing_since = now_;
    Event e = Make(EventKind::kTriggerFiring, s, &r, EventLabels(r, labels), labels.hash());
    Fill(e, v);
    e.reason = VerdictText(r, v, detail) + " held " + FormatDuration(held) +
               " >= " + FormatDuration(r.for_duration);
    st.firing_id = e.id;
    out_->push_back(e);
    if (r.rollback) {
      ++s.firing_rollback_series;
      Decide(s, r, out_->back());
    }
  }

  static void Fill(Event& e, const Verdict& v) {
    if (std::isfinite(v.value)) e.value = v.value;
    if (std::isfinite(v.threshold)) e.threshold = v.threshold;
    if (std::isfinite(v.baseline)) e.baseline = v.baseline;
  }

  void Resolve(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st, const Verdict& v,
               std::string reason) {
    Event e = Make(EventKind::kTriggerResolved, s, &r, EventLabels(r, labels), labels.hash());
    Fill(e, v);
    e.reason = std::move(reason) + " after firing for " + FormatDuration(now_ - st.firing_since);
    e.cause_id = st.firing_id;
    out_->push_back(std::move(e));
    st.phase = Phase::kInactive;
    st.firing_id.clear();
    if (r.rollback) --s.firing_rollback_series;
  }

  // Series not present at this evaluation: firing ones resolve, all are forgotten.
  void Sweep(ServiceRuntime& s, Rule& r, size_t seen, Verdict::Why why) {
    if (seen == r.series.size()) return;
    for (auto& [labels, st] : r.series) {
      if (st.seen == r.epoch || st.phase != Phase::kFiring) continue;
      Verdict v;
      v.why = why;
      Resolve(s, r, labels, st, v, VerdictText(r, v, ""));
    }
    r.series.EraseIf([&](const auto& entry) { return entry.second.seen != r.epoch; });
  }

  void OnError(ServiceRuntime& s, Rule& r, const std::string& error) {
    r.last_error = error;
    if (!r.error_since) r.error_since = now_;
    const Duration failing = now_ - *r.error_since;
    if (!r.source_down && failing > r.for_duration) {
      r.source_down = true;
      PushSourceEvent(EventKind::kSourceDown, s, r,
                      "source \"" + r.source + "\": queries failing for " + FormatDuration(failing) + " > for " +
                          FormatDuration(r.for_duration) + ": " + error);
    }
  }

  // source.down / source.up: about the trigger's queries, not a series; always a warning.
  void PushSourceEvent(EventKind kind, const ServiceRuntime& s, const Rule& r, std::string reason) {
    Event e = Make(kind, s, &r, r.labels, 0);
    e.severity = Severity::kWarning;
    e.condition.clear();
    e.reason = std::move(reason);
    out_->push_back(std::move(e));
  }

  void Decide(ServiceRuntime& s, Rule& r, const Event& firing) {
    const RollbackHook& hook = *s.def->rollback;
    Event e = Make(EventKind::kRollbackSkipped, s, &r, firing.labels, 0);
    e.id = MakeEventId(EventKind::kRollbackSkipped, firing.id, "", 0, now_);
    e.value = firing.value;
    e.threshold = firing.threshold;
    e.baseline = firing.baseline;
    e.cause_id = firing.id;
    e.hook = MakeHookInfo(hook);
    // A pointer, not a copy of the optional: GCC 12 at -Os (MinSizeRel) reported the copy as
    // -Wmaybe-uninitialized, falsely.
    const Duration* guard =
        s.def->deploy && s.def->deploy->guard ? &*s.def->deploy->guard : nullptr;
    if (s.paused) {
      e.skip_reason = kSkipPaused;
      e.reason = "service is paused";
    } else if (guard && !s.last_deploy) {
      e.skip_reason = kSkipOutsideGuard;
      e.reason = "no deploy seen; rollbacks are armed only within guard " + FormatDuration(*guard) +
                 " after a deploy";
    } else if (guard && now_ - *s.last_deploy > *guard) {
      e.skip_reason = kSkipOutsideGuard;
      e.reason = "last deploy (" + (s.version.empty() ? std::string("unknown") : s.version) +
                 ") was " + FormatDuration(now_ - *s.last_deploy) + " ago > guard " +
                 FormatDuration(*guard);
    } else if (!s.episode_rollback_id.empty()) {
      e.skip_reason = kSkipAlreadyRolledBack;
      e.rollback_id = s.episode_rollback_id;
      e.reason = "rollback " + s.episode_rollback_id + " already started in this firing episode";
    } else if (s.last_rollback && now_ - *s.last_rollback < hook.cooldown) {
      e.skip_reason = kSkipCooldown;
      e.reason = "last rollback " + FormatDuration(now_ - *s.last_rollback) + " ago < cooldown " +
                 FormatDuration(hook.cooldown);
    } else if (s.dry_run) {
      e.skip_reason = kSkipDryRun;
      e.reason = "dry run: would run " + DescribeHook(*e.hook) + " (" + firing.trigger + ": " +
                 firing.reason + ")";
    } else {
      e.kind = EventKind::kRollbackStarted;
      e.id = MakeEventId(EventKind::kRollbackStarted, firing.id, "", 0, now_);
      e.rollback_id = e.id;
      e.reason = firing.trigger + ": " + firing.reason;
      s.episode_rollback_id = e.id;
      s.last_rollback = now_;
      s.in_flight = InFlight{e.id, firing.id, r.name, e.labels, r.severity, now_};
    }
    out_->push_back(std::move(e));
  }

  void AfterService(ServiceRuntime& s) {
    if (s.verifying) {
      Verifying& v = *s.verifying;
      if (s.firing_rollback_series == 0 || now_ >= v.deadline) {
        const bool ok = s.firing_rollback_series == 0;
        Event e = Make(ok ? EventKind::kRollbackVerified : EventKind::kRollbackNotRecovered, s,
                       nullptr, v.labels, 0);
        e.id = MakeEventId(e.kind, v.rollback_id, "", 0, now_);
        e.trigger = v.trigger;
        e.severity = ok ? v.severity : Severity::kCritical;
        e.rollback_id = v.rollback_id;
        if (ok) {
          e.reason = "every rollback trigger cleared " + FormatDuration(now_ - v.since) +
                     " after the hook";
        } else {
          std::string still;
          for (const Rule& r : s.rules) {
            if (!r.rollback) continue;
            for (const auto& [labels, st] : r.series) {
              if (st.phase != Phase::kFiring) continue;
              if (!still.empty()) still += ", ";
              still += r.name + (labels.empty() ? "" : labels.ToString());
            }
          }
          e.reason = "still firing " + FormatDuration(now_ - v.since) + " after the hook (verify " +
                     FormatDuration(v.deadline - v.since) + "): " + still;
        }
        out_->push_back(std::move(e));
        s.verifying.reset();
      }
    }
    // The episode ends when nothing that can roll back is firing any more.
    if (s.firing_rollback_series == 0 && !s.in_flight) s.episode_rollback_id.clear();
  }

  // What a rule sees of `result`: every series, or those `f` keeps (in `picked`).
  SeriesView View(const MatchFilter& f, MatchSlots& slots, const QueryResult& result,
                  std::vector<uint32_t>* picked) {
    if (f.empty()) return SeriesView(result, nullptr);
    Pick(f, slots, *indexes_, round_, result, picked);
    return SeriesView(result, picked);
  }

  Time now_;
  std::vector<LabelIndex>* indexes_;
  uint64_t round_;
  std::vector<Event>* out_;
};

}  // namespace

internal::ServiceRuntime* Engine::Impl::FindService(std::string_view name) {
  for (auto& s : services) {
    if (s.def->name == name) return &s;
  }
  return nullptr;
}

void Engine::Impl::RecountFiring(ServiceRuntime& s) {
  s.firing_rollback_series = 0;
  for (const Rule& r : s.rules) {
    if (!r.rollback) continue;
    for (const auto& [labels, st] : r.series) {
      if (st.phase == Phase::kFiring) ++s.firing_rollback_series;
    }
  }
}

Engine::Engine(std::shared_ptr<const Config> config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  auto& inputs = impl_->inputs;
  InputInterner interner(&inputs);
  for (const Service& svc : impl_->config->services) {
    ServiceRuntime s;
    s.def = &svc;
    s.dry_run = impl_->config->daemon.dry_run || svc.dry_run;
    auto add = [&](int id) {
      if (id >= 0 && std::find(s.inputs.begin(), s.inputs.end(), id) == s.inputs.end()) {
        s.inputs.push_back(id);
      }
      return id;
    };
    auto prom = [&](const std::string& source, const std::string& query) {
      return add(interner.Prometheus(source, query));
    };
    // What triggers and health checks share.
    auto base_rule = [&](const std::string& name, Duration for_duration, Severity severity,
                         bool rollback, const LabelMap& labels) {
      Rule r;
      r.name = name;
      r.for_duration = for_duration;
      r.severity = severity;
      r.rollback = rollback && svc.rollback.has_value();
      r.labels = svc.labels;
      for (const auto& [k, v] : labels) r.labels[k] = v;
      return r;
    };
    for (const Trigger& t : svc.triggers) {
      Rule r = base_rule(t.name, t.for_duration, t.severity, t.rollback, t.labels);
      r.condition = t.condition;
      r.threshold = t.threshold;
      r.baseline = t.baseline;
      r.min_value = t.min_value;
      r.has_traffic = !t.min_traffic_query.empty();
      r.min_traffic = t.min_traffic;
      r.no_data = t.no_data;
      r.source = t.source;
      r.input = prom(t.source, t.query);
      if (t.baseline == BaselineKind::kQuery) r.baseline_input = prom(t.source, t.baseline_query);
      if (r.has_traffic) r.traffic_input = prom(t.source, t.min_traffic_query);
      r.match = MakeFilter(t.match);
      if (!r.match.empty()) {
        r.match_slots = SlotsFor(&impl_->label_indexes, r.input, r.match);
        r.baseline_match_slots = SlotsFor(&impl_->label_indexes, r.baseline_input, r.match);
        r.traffic_match_slots = SlotsFor(&impl_->label_indexes, r.traffic_input, r.match);
      }
      r.fingerprint = Fingerprint(r, inputs);
      s.rules.push_back(std::move(r));
    }
    for (const HealthCheck& h : svc.health) {
      Rule r = base_rule(h.name, h.for_duration, h.severity, h.rollback, h.labels);
      r.health = true;
      r.condition = ConditionKind::kBelow;
      r.threshold = 1;
      r.no_data = NoDataPolicy::kHold;
      r.input = add(interner.Probe(h));
      r.fingerprint = Fingerprint(r, inputs);
      s.rules.push_back(std::move(r));
    }
    if (svc.deploy && !svc.deploy->version_query.empty()) {
      s.version_input = prom(svc.deploy->source, svc.deploy->version_query);
      s.version_match = MakeFilter(svc.deploy->match);
      s.version_match_slots = SlotsFor(&impl_->label_indexes, s.version_input, s.version_match);
    }
    impl_->services.push_back(std::move(s));
  }
}

Engine::~Engine() = default;

const Config& Engine::config() const { return *impl_->config; }
const std::vector<InputSpec>& Engine::inputs() const { return impl_->inputs; }
const std::vector<int>& Engine::service_inputs(size_t index) const {
  return impl_->services.at(index).inputs;
}

std::optional<Engine::TriggerInputs> Engine::trigger_inputs(std::string_view service,
                                                            std::string_view trigger) const {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return std::nullopt;
  for (const Rule& r : s->rules) {
    if (r.name == trigger) return TriggerInputs{r.input, r.baseline_input, r.traffic_input};
  }
  return std::nullopt;
}

int Engine::version_input(std::string_view service) const {
  ServiceRuntime* s = impl_->FindService(service);
  return s == nullptr ? -1 : s->version_input;
}

void Engine::Evaluate(Time now, const Inputs& inputs, std::vector<Event>* out) {
  // A new round: every LabelIndex is stale until a filtered rule reads its input.
  Evaluator ev(now, &impl_->label_indexes, ++impl_->round, out);
  for (ServiceRuntime& s : impl_->services) ev.Service(s, inputs);
}

bool Engine::RecordDeploy(std::string_view service, std::string_view version, Time now) {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return false;
  Evaluator::ApplyDeploy(*s, version, now);
  return true;
}

bool Engine::RollbackFinished(std::string_view rollback_id, const RollbackOutcome& outcome,
                              Time now, std::vector<Event>* out) {
  for (ServiceRuntime& s : impl_->services) {
    if (!s.in_flight || s.in_flight->id != rollback_id) continue;
    InFlight f = std::move(*s.in_flight);
    s.in_flight.reset();
    Event e;
    e.kind = outcome.success ? EventKind::kRollbackSucceeded : EventKind::kRollbackFailed;
    e.time = now;
    e.service = s.def->name;
    e.trigger = f.trigger;
    e.severity = outcome.success ? f.severity : Severity::kCritical;
    e.labels = f.labels;
    e.version = s.version;
    e.id = MakeEventId(e.kind, f.id, "", 0, now);
    e.rollback_id = f.id;
    e.cause_id = f.cause_id;
    if (s.def->rollback) e.hook = MakeHookInfo(*s.def->rollback);
    e.exit_status = outcome.exit_status;
    e.duration = outcome.duration;
    e.output = outcome.output;
    if (outcome.success && s.def->rollback) {
      e.reason = "hook succeeded in " + FormatDuration(outcome.duration) + "; verifying for " +
                 FormatDuration(s.def->rollback->verify);
      s.verifying =
          Verifying{f.id, f.trigger, f.labels, f.severity, now, now + s.def->rollback->verify};
    } else if (outcome.success) {
      e.reason = "hook succeeded in " + FormatDuration(outcome.duration);
    } else {
      e.reason =
          "hook failed: " + (outcome.error.empty() ? std::string("unknown error") : outcome.error);
    }
    out->push_back(std::move(e));
    return true;
  }
  return false;
}

std::vector<std::string> Engine::RollbacksInFlight() const {
  std::vector<std::string> out;
  for (const ServiceRuntime& s : impl_->services) {
    if (s.in_flight) out.push_back(s.in_flight->id);
  }
  return out;
}

bool Engine::SetPaused(std::string_view service, bool paused) {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return false;
  s->paused = paused;
  return true;
}

std::vector<ServiceStatus> Engine::Status() const {
  std::vector<ServiceStatus> out;
  for (const ServiceRuntime& s : impl_->services) {
    ServiceStatus st;
    st.name = s.def->name;
    st.paused = s.paused;
    st.version = s.version;
    st.last_deploy = s.last_deploy;
    st.last_rollback = s.last_rollback;
    if (s.in_flight) st.rollback_in_flight = s.in_flight->id;
    for (const Rule& r : s.rules) {
      if (r.error_since) st.errors.emplace_back(r.name, r.last_error);
      for (const auto& [labels, ss] : r.series) {
        SeriesStatus x;
        x.trigger = r.name;
        x.labels = labels;
        x.state = internal::PhaseName(ss.phase);
        x.value = ss.last_value;
        x.threshold = ss.last_threshold;
        x.baseline = ss.last_baseline;
        if (ss.phase != Phase::kInactive) x.pending_since = ss.pending_since;
        if (ss.phase == Phase::kFiring) x.firing_since = ss.firing_since;
        st.series.push_back(std::move(x));
      }
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace rollbackd
