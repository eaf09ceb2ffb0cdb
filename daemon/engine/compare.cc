// `compare`: a canary judged by statistics, not by one number (docs/rules.md, "Statistical
// comparison"). Each evaluation adds the query's value and the baseline query's value (the stable
// version's) to the series' two windows; once both hold min_samples within `window`, a
// Mann-Whitney U test (stats.h) asks whether the query's samples are shifted in the bad direction,
// and the ratio of the two medians says by how much. A breach needs both: p < 1 - confidence and
// a ratio of at least min_effect, so a tiny but significant shift never rolls back.
//
// The windows live in the engine's state (state.json keeps them across a restart; cluster mode's
// state in etcd does not, so a new owner starts with empty windows: no data for one window).
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "daemon/engine/engine_internal.h"
#include "daemon/engine/stats.h"

namespace rollbackd::internal {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Drops what left the window (older than now - window) and keeps at most the ring's bound.
void Trim(std::vector<std::pair<Time, double>>& w, Time now, Duration window) {
  size_t drop = 0;
  while (drop < w.size() && now - w[drop].first >= window) ++drop;
  const size_t max = static_cast<size_t>(kMaxCompareSamples);
  if (w.size() - drop > max) drop = w.size() - max;
  if (drop > 0) w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(drop));
}

// a / b for positive medians; over a median of 0, +Inf when a is larger, else 1 (no shift).
double Ratio(double a, double b) {
  if (b > 0 && a >= 0) return a / b;
  if (b == 0) return a > 0 ? kInf : 1;
  return kNaN;  // negative medians: a ratio says nothing
}

}  // namespace

Verdict Evaluator::JudgeCompare(const Rule& r, SeriesState& st, double value, SeriesIndex* baseline,
                                const Labels& labels) {
  const CompareSpec& c = *r.compare;
  Verdict v;
  const double b = baseline != nullptr ? baseline->Find(labels) : kNaN;
  if (std::isfinite(value)) st.samples.emplace_back(now_, value);
  if (std::isfinite(b)) st.baseline_samples.emplace_back(now_, b);
  Trim(st.samples, now_, c.window);
  Trim(st.baseline_samples, now_, c.window);
  v.n = static_cast<int>(st.samples.size());
  v.n_baseline = static_cast<int>(st.baseline_samples.size());
  if (v.n < c.min_samples || v.n_baseline < c.min_samples) {
    v.why = Verdict::Why::kTooFewSamples;
    return NoData(r, v);
  }
  // Scratch reused across evaluations: the steady state allocates nothing here.
  static thread_local std::vector<double> x;
  static thread_local std::vector<double> y;
  x.clear();
  y.clear();
  for (const auto& [t, s] : st.samples) x.push_back(s);
  for (const auto& [t, s] : st.baseline_samples) y.push_back(s);
  stats::Alternative alt = stats::Alternative::kTwoSided;
  if (c.direction == CompareSpec::Direction::kIncrease) alt = stats::Alternative::kGreater;
  if (c.direction == CompareSpec::Direction::kDecrease) alt = stats::Alternative::kLess;
  const stats::MannWhitneyResult mw = stats::MannWhitneyU(x, y, alt);
  const double mx = stats::Median(x);
  const double my = stats::Median(y);
  v.u = mw.u;
  v.p_value = mw.p_value;
  v.value = mx;
  v.baseline = my;
  bool up = c.direction == CompareSpec::Direction::kIncrease;
  if (c.direction == CompareSpec::Direction::kEither) up = mx >= my;
  v.effect = up ? Ratio(mx, my) : Ratio(my, mx);
  v.threshold = up ? my * c.min_effect : my / c.min_effect;
  v.why = Verdict::Why::kCompared;
  const bool significant = mw.p_value < 1 - c.confidence;
  v.outcome =
      significant && v.effect >= c.min_effect ? Verdict::Outcome::kBreach : Verdict::Outcome::kOk;
  return v;
}

std::string CompareText(const Rule& r, const Verdict& v) {
  const CompareSpec& c = *r.compare;
  // 1 - confidence as the rule file means it: 1 - 0.98 is 0.020000000000000018 in doubles, and
  // no p-value falls between the two.
  auto AlphaText = [](const CompareSpec& spec) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", 1 - spec.confidence);
    return std::string(buf);
  };
  const double alpha = 1 - c.confidence;
  const bool significant = v.p_value < alpha;
  const bool large = v.effect >= c.min_effect;
  bool up = c.direction == CompareSpec::Direction::kIncrease;
  if (c.direction == CompareSpec::Direction::kEither) up = v.value >= v.baseline;
  std::string effect = std::isinf(v.effect)   ? std::string("infinitely")
                       : std::isnan(v.effect) ? std::string("undefined (negative median)")
                                              : Num(v.effect) + " x";
  std::string out = "median " + Num(v.value) + " vs baseline median " + Num(v.baseline) + ": " +
                    effect + (up ? " higher" : " lower");
  out += large ? " >= min_effect " : " < min_effect ";
  out +=
      Num(c.min_effect) + ", p = " + Num(v.p_value) + (significant ? " < " : " >= ") + AlphaText(c);
  if (!significant && large) out += " (not significant)";
  if (significant && !large) out += " (significant, but too small)";
  out += " (Mann-Whitney U = " + Num(v.u) + ", n = " + std::to_string(v.n) + " and " +
         std::to_string(v.n_baseline) + " within " + FormatDuration(c.window) + ")";
  return out;
}

}  // namespace rollbackd::internal
