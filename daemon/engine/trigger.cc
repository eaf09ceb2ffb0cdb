// The trigger state machine, per rule and per series label set:
//   inactive -> pending -> firing -> (resolved) inactive
// One round reads a rule's inputs, judges each series (verdict.cc), steps its state and emits
// trigger.pending, trigger.firing and trigger.resolved; series no longer returned are swept, and
// query errors held for longer than `for` become source.down (then source.up). A series that
// fires on a rollback = true rule hands over to the rollback decision (rollback.cc).
#include <algorithm>

#include "daemon/engine/engine_internal.h"

namespace rollbackd::internal {

LabelMap EventLabels(const Rule& r, const Labels& series) {
  LabelMap out;
  for (const auto& [k, v] : series.pairs()) {
    if (k != "__name__") out.emplace(k, v);
  }
  for (const auto& [k, v] : r.labels) out[k] = v;
  return out;
}

void Evaluator::Service(ServiceRuntime& s, const Inputs& inputs) {
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

Event Evaluator::Make(EventKind kind, const ServiceRuntime& s, const Rule* r, LabelMap labels,
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

void Evaluator::EvaluateRule(ServiceRuntime& s, Rule& r, const Inputs& inputs) {
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
      const std::string failed = FormatDuration(now_ - *r.error_since);
      PushSourceEvent(EventKind::kSourceUp, s, r,
                      r.health ? "probe \"" + r.name + "\" (" + r.url +
                                     "): answers again after failing for " + failed
                               : "source \"" + r.source +
                                     "\": queries succeed again after failing for " + failed);
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
      Verdict v = NoData(r, Verdict());
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

void Evaluator::Step(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st,
                     const Verdict& v, const std::string& detail) {
  switch (v.outcome) {
    case Verdict::Outcome::kHold:
      return;
    case Verdict::Outcome::kOk:
      std::fill(st.step_since.begin(), st.step_since.end(), kNotHeld);
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
  const bool fresh = st.phase == Phase::kInactive;
  if (fresh) {
    st.phase = Phase::kPending;
    st.pending_since = now_;
  }
  // Each step holds on its own; the strongest step whose hold is complete fires, else the rule's.
  int step = -1;
  if (!r.steps.empty()) {
    if (st.step_since.size() != r.steps.size()) st.step_since.assign(r.steps.size(), kNotHeld);
    for (size_t i = 0; i < r.steps.size(); ++i) {
      if ((v.step_breaches & (1u << i)) == 0) {
        st.step_since[i] = kNotHeld;
      } else if (st.step_since[i] == kNotHeld) {
        st.step_since[i] = now_;
      }
    }
    for (size_t i = r.steps.size(); i-- > 0;) {
      if (st.step_since[i] != kNotHeld && now_ - st.step_since[i] >= r.steps[i].for_duration) {
        step = static_cast<int>(i);
        break;
      }
    }
  }
  if (step < 0 && now_ - st.pending_since < r.for_duration) {
    if (fresh) {
      Event e = Make(EventKind::kTriggerPending, s, &r, EventLabels(r, labels), labels.hash());
      Fill(e, v);
      e.reason = VerdictText(r, v, detail) + ", must hold for " + FormatDuration(r.for_duration);
      if (!r.steps.empty()) {
        e.reason += " (escalate: ";
        for (size_t i = 0; i < r.steps.size(); ++i) {
          e.reason += (i == 0 ? "" : ", ") + FormatDuration(r.steps[i].for_duration) + " " +
                      std::string(ConditionKeyName(r.condition)) + " " + Num(r.steps[i].threshold);
        }
        e.reason += ")";
      }
      out_->push_back(std::move(e));
    }
    return;
  }
  st.phase = Phase::kFiring;
  st.firing_since = now_;
  st.fired_step = static_cast<int8_t>(step);
  Event e = Make(EventKind::kTriggerFiring, s, &r, EventLabels(r, labels), labels.hash());
  Fill(e, v);
  if (step < 0) {
    e.reason = VerdictText(r, v, detail) + " held " + FormatDuration(now_ - st.pending_since) +
               " >= " + FormatDuration(r.for_duration);
  } else {
    const Rule::Step& x = r.steps[step];
    Verdict sv = v;
    if (v.why == Verdict::Why::kCompared) {
      sv.threshold = Bound(r.condition, x.threshold, v.baseline);
      e.threshold = sv.threshold;
    }
    e.severity = x.severity;
    e.condition = std::string(ConditionKeyName(r.condition)) + " " + Num(x.threshold);
    e.reason = VerdictText(r, sv, detail, x.threshold) + " held " +
               FormatDuration(now_ - st.step_since[step]) +
               " >= " + FormatDuration(x.for_duration) + " (escalate[" + std::to_string(step) +
               "])";
  }
  std::fill(st.step_since.begin(), st.step_since.end(), kNotHeld);
  st.firing_id = e.id;
  out_->push_back(e);
  if (r.rollback) {
    ++s.firing_rollback_series;
    Decide(s, r, out_->back());
  }
}

void Evaluator::Fill(Event& e, const Verdict& v) {
  if (std::isfinite(v.value)) e.value = v.value;
  if (std::isfinite(v.threshold)) e.threshold = v.threshold;
  if (std::isfinite(v.baseline)) e.baseline = v.baseline;
  if (v.why == Verdict::Why::kCompared && !std::isnan(v.p_value)) {
    CompareInfo c;
    c.u = v.u;
    c.p_value = v.p_value;
    if (std::isfinite(v.effect)) c.effect = v.effect;
    c.n = v.n;
    c.n_baseline = v.n_baseline;
    e.compare = c;
  }
}

void Evaluator::Resolve(ServiceRuntime& s, Rule& r, const Labels& labels, SeriesState& st,
                        const Verdict& v, std::string reason) {
  Event e = Make(EventKind::kTriggerResolved, s, &r, EventLabels(r, labels), labels.hash());
  // The severity it fired with: a receiver pairs the two (Alertmanager by labels and severity).
  if (st.fired_step >= 0 && static_cast<size_t>(st.fired_step) < r.steps.size()) {
    e.severity = r.steps[st.fired_step].severity;
  }
  st.fired_step = -1;
  Fill(e, v);
  e.reason = std::move(reason) + " after firing for " + FormatDuration(now_ - st.firing_since);
  e.cause_id = st.firing_id;
  out_->push_back(std::move(e));
  st.phase = Phase::kInactive;
  st.firing_id.clear();
  if (r.rollback) --s.firing_rollback_series;
}

// Series not present at this evaluation: firing ones resolve, all are forgotten.
void Evaluator::Sweep(ServiceRuntime& s, Rule& r, size_t seen, Verdict::Why why) {
  if (seen == r.series.size()) return;
  for (auto& [labels, st] : r.series) {
    if (st.seen == r.epoch || st.phase != Phase::kFiring) continue;
    Verdict v;
    v.why = why;
    Resolve(s, r, labels, st, v, VerdictText(r, v, ""));
  }
  r.series.EraseIf([&](const auto& entry) { return entry.second.seen != r.epoch; });
}

void Evaluator::OnError(ServiceRuntime& s, Rule& r, const std::string& error) {
  r.last_error = error;
  if (!r.error_since) r.error_since = now_;
  const Duration failing = now_ - *r.error_since;
  if (!r.source_down && failing > r.for_duration) {
    r.source_down = true;
    // A health check has no source: the probe is what fails.
    const std::string what = r.health ? "probe \"" + r.name + "\" (" + r.url + "): failing for "
                                      : "source \"" + r.source + "\": queries failing for ";
    PushSourceEvent(
        EventKind::kSourceDown, s, r,
        what + FormatDuration(failing) + " > for " + FormatDuration(r.for_duration) + ": " + error);
  }
}

// source.down / source.up: about the trigger's queries (a health check's probe), not a series;
// always a warning.
void Evaluator::PushSourceEvent(EventKind kind, const ServiceRuntime& s, const Rule& r,
                                std::string reason) {
  Event e = Make(kind, s, &r, r.labels, 0);
  e.severity = Severity::kWarning;
  e.condition.clear();
  e.reason = std::move(reason);
  out_->push_back(std::move(e));
}

}  // namespace rollbackd::internal
