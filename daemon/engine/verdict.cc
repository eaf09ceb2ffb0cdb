// Verdicts: whether one series' value breaches at one evaluation (Judge, with the no_data policy,
// traffic floors, baselines and min_value), and the words for it. A Verdict keeps numbers only;
// VerdictText makes the reason of an event when one is emitted, so the steady state builds no
// strings.
#include <cstdio>

#include "daemon/config/text.h"
#include "daemon/engine/engine_internal.h"

namespace rollbackd::internal {

std::string Num(double v) { return ShortestNumber(v); }

std::string FingerprintNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

namespace {

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

// {service="checkout"}, values escaped as in PromQL.
std::string MatchText(const MatchFilter& f) { return Labels(f.labels).ToString(); }

}  // namespace

std::string ConditionText(const Rule& r) {
  if (r.health) return "probe fails";
  if (r.compare) {
    return "mann_whitney " + std::string(CompareDirectionName(r.compare->direction)) +
           " min_effect " + Num(r.compare->min_effect) + " confidence " +
           Num(r.compare->confidence);
  }
  return std::string(ConditionKeyName(r.condition)) + " " + Num(r.threshold);
}

// "value 0.45 > 0.3 (1.5 x baseline 0.2)"
std::string VerdictText(const Rule& r, const Verdict& v, const std::string& probe_detail,
                        double number) {
  if (std::isnan(number)) number = r.threshold;
  const bool breach = v.outcome == Verdict::Outcome::kBreach;
  switch (v.why) {
    case Verdict::Why::kNoData:
      return "no data (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kNoMatch:
      return "no data: no series matches " + MatchText(r.match) +
             " (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kNotANumber:
      // NaN, +Inf or -Inf: Prometheus's own words, and none of them is evidence (docs/rules.md).
      return "value " + Num(v.value) +
             " is not a finite number (no_data = " + std::string(NoDataName(r.no_data)) + ")";
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
    case Verdict::Why::kTooFewSamples:
      return "too few samples: " + std::to_string(v.n) + " and " + std::to_string(v.n_baseline) +
             " (baseline) within " + FormatDuration(r.compare->window) + ", min_samples " +
             std::to_string(r.compare->min_samples) +
             " (no_data = " + std::string(NoDataName(r.no_data)) + ")";
    case Verdict::Why::kProbe:
      return breach ? "probe failed: " + (probe_detail.empty() ? "failure" : probe_detail)
                    : "probe passed";
    case Verdict::Why::kCompared:
      break;
  }
  if (r.compare) return CompareText(r, v);
  std::string out = "value " + Num(v.value) + " " + std::string(CompareOp(r.condition, breach)) +
                    " " + Num(v.threshold);
  const char* base = r.baseline == BaselineKind::kSnapshot ? "snapshot" : "baseline";
  switch (r.condition) {
    case ConditionKind::kAboveRatio:
    case ConditionKind::kBelowRatio:
      out += " (" + Num(number) + " x " + base + " " + Num(v.baseline) + ")";
      break;
    case ConditionKind::kAboveDelta:
      out += " (" + std::string(base) + " " + Num(v.baseline) + " + " + Num(number) + ")";
      break;
    case ConditionKind::kBelowDelta:
      out += " (" + std::string(base) + " " + Num(v.baseline) + " - " + Num(number) + ")";
      break;
    default:
      break;
  }
  return out;
}

double Bound(ConditionKind condition, double number, double baseline) {
  switch (condition) {
    case ConditionKind::kAbove:
    case ConditionKind::kBelow:
      return number;
    case ConditionKind::kAboveRatio:
    case ConditionKind::kBelowRatio:
      return number * baseline;
    case ConditionKind::kAboveDelta:
      return baseline + number;
    case ConditionKind::kBelowDelta:
      return baseline - number;
  }
  return number;
}

bool Breaches(ConditionKind condition, double value, double bound) {
  return IsAbove(condition) ? value > bound : value < bound;
}

Verdict Evaluator::NoData(const Rule& r, Verdict v) {
  switch (r.no_data) {
    case NoDataPolicy::kOk:
      v.outcome = Verdict::Outcome::kOk;
      break;
    case NoDataPolicy::kHold:
      v.outcome = Verdict::Outcome::kHold;
      break;
    case NoDataPolicy::kBreach:
      // As for the trigger's own bound: every step breaches.
      v.outcome = Verdict::Outcome::kBreach;
      v.step_breaches = (1u << r.steps.size()) - 1;
      break;
  }
  return v;
}

Verdict Evaluator::Judge(const Rule& r, SeriesState& st, double value, SeriesIndex* baseline,
                         SeriesIndex* traffic, const Labels& labels) {
  Verdict v;
  v.value = value;
  // Before the probe check: a NaN probe result is no data (held), not a pass. A comparison's
  // window still decides (the value is not added to it).
  if (!std::isfinite(value) && !r.compare) {
    v.value = value;  // kept for the words only: an event carries finite values alone
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
    // No traffic series at all, NaN, or under the floor: too little evidence (and no sample).
    if (!(v.traffic >= r.min_traffic)) {
      v.why = Verdict::Why::kLowTraffic;
      return NoData(r, v);
    }
  }
  if (r.compare) return JudgeCompare(r, st, value, baseline, labels);
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
  v.threshold = Bound(r.condition, r.threshold, b);
  const bool breach = Breaches(r.condition, value, v.threshold);
  // A step's bound is stronger than the rule's: it can only breach where the rule's does.
  if (breach) {
    for (size_t i = 0; i < r.steps.size(); ++i) {
      if (Breaches(r.condition, value, Bound(r.condition, r.steps[i].threshold, b))) {
        v.step_breaches |= 1u << i;
      }
    }
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

}  // namespace rollbackd::internal
