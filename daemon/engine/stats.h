// Two-sample statistics for comparing a canary's samples with a baseline's: the Mann-Whitney U
// test and the median. Pure functions of their inputs (no state, no I/O), so that the engine can
// call them per series per evaluation and tests can pin them against a reference.
//
// MannWhitneyU reproduces scipy.stats.mannwhitneyu(x, y, alternative=..., method="auto",
// use_continuity=True) of SciPy 1.10 (tests/unit/engine/stats_test.cc compares the two on 64
// generated pairs, each alternative): the same U, and p-values within 1e-9 relative (the test's
// bound; ~2e-14 seen).
#ifndef ROLLBACKD_ENGINE_STATS_H_
#define ROLLBACKD_ENGINE_STATS_H_

#include <span>

namespace rollbackd::stats {

// The alternative hypothesis, about the distribution underlying x against y's.
enum class Alternative {
  kGreater,   // x is stochastically greater than y (SciPy's "greater")
  kLess,      // x is stochastically less than y ("less")
  kTwoSided,  // the distributions differ ("two-sided")
};

struct MannWhitneyResult {
  double u = 0;  // U of the first sample x, exactly as scipy.stats.mannwhitneyu's `statistic`
  double p_value = 1;
  // The exact null distribution of U was used; otherwise the normal approximation with the tie
  // correction of the variance and a continuity correction of 0.5.
  bool exact = false;
};

// As scipy.stats.mannwhitneyu(x, y, alternative=alt, method="auto", use_continuity=True).
//
// SciPy's "auto" rule: the exact distribution when the smaller sample has at most 8 values and no
// value occurs twice in x and y together; the normal approximation otherwise. The exact
// distribution ignores ties, which is why any tie sends it to the approximation.
//
// Values must be finite: the caller drops NaN (SciPy would raise). An empty x or y (SciPy raises)
// gives u = 0 and p_value = NaN, so that `p_value < alpha` is false: no evidence either way.
// When every value is equal the variance is 0 and the p-value is 1, as in SciPy.
//
// Cost: O((n + m) log(n + m)) and one scratch vector for the ranks. The exact path (min(n, m) <= 8,
// no ties) adds O(min(n, m) * n * m) integer additions and a vector of up to n * m + 1 counts:
// ~0.1 ms for 8 x 1,000.
MannWhitneyResult MannWhitneyU(std::span<const double> x, std::span<const double> y,
                               Alternative alt);

// The median (the mean of the two middle values for an even count, as numpy.median); NaN for an
// empty span. Values must not be NaN. Copies v into a scratch vector.
double Median(std::span<const double> v);

}  // namespace rollbackd::stats

#endif  // ROLLBACKD_ENGINE_STATS_H_
