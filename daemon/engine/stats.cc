// Follows scipy/stats/_mannwhitneyu.py of SciPy 1.10 step by step. The normal approximation keeps
// SciPy's order of floating point operations (the variance, the z score, cephes' ndtr), so that
// its p-values agree to the last few bits; the exact distribution is computed differently (exact
// integers, not SciPy's float recursion) and agrees to the rounding of SciPy's sum.
#include "daemon/engine/stats.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace rollbackd::stats {
namespace {

// SciPy's _mwu_choose_method: "if n1 > 8 and n2 > 8: asymptotic", then any tie: asymptotic.
constexpr size_t kExactMaxSmallerSize = 8;

struct Ranked {
  double u1 = 0;          // R1 - n1 (n1 + 1) / 2
  double tie_term = 0;    // sum over groups of equal values of t^3 - t
  bool has_ties = false;  // some value occurs more than once in x and y together
};

// Average ranks (scipy.stats.rankdata's default) of x and y pooled, summed over x. One sort of a
// scratch vector: O((n1 + n2) log(n1 + n2)).
Ranked Rank(std::span<const double> x, std::span<const double> y) {
  struct Value {
    double v;
    bool in_x;
  };
  std::vector<Value> pooled;
  pooled.reserve(x.size() + y.size());
  for (double v : x) pooled.push_back({v, true});
  for (double v : y) pooled.push_back({v, false});
  std::sort(pooled.begin(), pooled.end(), [](const Value& a, const Value& b) { return a.v < b.v; });

  Ranked r;
  double rank_sum_x = 0;
  for (size_t begin = 0; begin < pooled.size();) {
    size_t end = begin + 1;
    size_t in_x = pooled[begin].in_x ? 1 : 0;
    while (end < pooled.size() && pooled[end].v == pooled[begin].v) {
      in_x += pooled[end].in_x ? 1 : 0;
      ++end;
    }
    // Ranks begin+1 .. end share their mean: a half-integer, exact in a double, as is the sum.
    const double average_rank = (static_cast<double>(begin + 1) + static_cast<double>(end)) / 2;
    rank_sum_x += static_cast<double>(in_x) * average_rank;
    const double t = static_cast<double>(end - begin);
    if (end - begin > 1) {
      r.has_ties = true;
      r.tie_term += t * t * t - t;
    }
    begin = end;
  }
  const double n1 = static_cast<double>(x.size());
  r.u1 = rank_sum_x - n1 * (n1 + 1) / 2;
  return r;
}

// binom(n + k, k) as scipy.special.binom computes it for a small integer k: the product of the k
// factors n + 1 .. n + k over k!.
double Binomial(size_t n, size_t k) {
  double num = 1;
  double den = 1;
  for (size_t i = 1; i <= k; ++i) {
    num *= static_cast<double>(n + i);
    den *= static_cast<double>(i);
  }
  return num / den;
}

// An unsigned 128-bit integer with wrapping + and -: the exact path's counts.
struct Count {
  Count() = default;
  explicit Count(uint64_t value) : lo(value) {}

  uint64_t lo = 0;
  uint64_t hi = 0;

  Count& operator+=(const Count& o) {
    const uint64_t lo_sum = lo + o.lo;
    hi += o.hi + (lo_sum < lo ? 1 : 0);
    lo = lo_sum;
    return *this;
  }
  Count& operator-=(const Count& o) {
    const uint64_t borrow = lo < o.lo ? 1 : 0;
    lo -= o.lo;
    hi -= o.hi + borrow;
    return *this;
  }
};
double ToDouble(const Count& c) {
  return static_cast<double>(c.hi) * 0x1.0p64 + static_cast<double>(c.lo);
}
double ToDouble(double c) { return c; }

// The coefficients of q^0 .. q^k_max of the Gaussian binomial
//   [a + b choose a]_q = prod_{i=1..a} (1 - q^(b+i)) / (1 - q^i),
// summed: the number of the C(a + b, a) arrangements with U <= k_max. One factor at a time,
// O(a * k_max) operations, where SciPy's recursion f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k) is
// O(a * b * k_max). Coefficients above k_max are never computed: each step reads only lower ones.
template <typename T>
double CountUpTo(size_t a, size_t b, size_t k_max) {
  std::vector<T> counts(k_max + 1, T{});
  counts[0] += T{1};
  for (size_t i = 1; i <= a; ++i) {
    // Times (1 - q^(b+i)): descending, so that counts[k - b - i] is still the old one.
    for (size_t k = k_max; k >= b + i; --k) counts[k] -= counts[k - b - i];
    // Over (1 - q^i), the series 1 + q^i + q^2i + ...: ascending, so that counts[k - i] is
    // already the new one.
    for (size_t k = i; k <= k_max; ++k) counts[k] += counts[k - i];
  }
  T sum{};
  for (const T& c : counts) sum += c;
  return ToDouble(sum);
}

// P(U >= u) under the null hypothesis for samples of sizes n1 and n2 without ties, as SciPy's
// _MWU.sf: by symmetry, the CDF at n1 n2 - u, the mass at u included, over C(n1 + n2, n1).
//
// The product form subtracts, which in doubles would cancel (counts near 1e19 for 8 x 1,000), so
// it runs in integers modulo 2^128: every step is a ring operation, so the result is exact
// whenever the true total fits. With min(n1, n2) <= 8 that holds for a larger side up to ~200,000;
// beyond (never in this daemon, and SciPy's own recursion would not finish) doubles, approximate.
double ExactSurvival(size_t n1, size_t n2, double u) {
  const size_t a = std::min(n1, n2);
  const size_t b = std::max(n1, n2);
  const double k_max = static_cast<double>(n1) * static_cast<double>(n2) - u;
  if (k_max < 0) return 0;
  const double total = Binomial(b, a);
  const size_t k = static_cast<size_t>(k_max);
  const double count = total < 0x1.0p127 ? CountUpTo<Count>(a, b, k) : CountUpTo<double>(a, b, k);
  return count / total;
}

// The standard normal's survival function, through erfc so that the upper tail keeps its relative
// precision (1 - Phi(z) would round to 0 beyond z ~ 8). Written as SciPy's norm.sf(z) =
// special.ndtr(-z) (cephes): erf near 0, erfc elsewhere.
double NormalSurvival(double z) {
  constexpr double kSqrtHalf = 0.70710678118654752440;  // 1/sqrt(2), cephes' SQRTH
  const double x = -z * kSqrtHalf;
  const double abs_x = std::fabs(x);
  if (abs_x < kSqrtHalf) return 0.5 + 0.5 * std::erf(x);
  const double y = 0.5 * std::erfc(abs_x);
  return x > 0 ? 1 - y : y;
}

}  // namespace

MannWhitneyResult MannWhitneyU(std::span<const double> x, std::span<const double> y,
                               Alternative alt) {
  MannWhitneyResult result;
  if (x.empty() || y.empty()) {
    result.p_value = std::numeric_limits<double>::quiet_NaN();
    return result;
  }
  const size_t n1 = x.size();
  const size_t n2 = y.size();
  const Ranked ranked = Rank(x, y);
  const double mn = static_cast<double>(n1) * static_cast<double>(n2);
  const double u1 = ranked.u1;
  const double u2 = mn - u1;
  result.u = u1;

  // The statistic whose upper tail is the p-value: by symmetry the SF of U2 is the CDF of U1 for
  // "less"; the larger of the two, doubled, for "two-sided".
  double u = u1;
  double factor = 1;
  switch (alt) {
    case Alternative::kGreater:
      break;
    case Alternative::kLess:
      u = u2;
      break;
    case Alternative::kTwoSided:
      u = std::max(u1, u2);
      factor = 2;
      break;
  }

  double p;
  result.exact = (n1 <= kExactMaxSmallerSize || n2 <= kExactMaxSmallerSize) && !ranked.has_ties;
  if (result.exact) {
    p = ExactSurvival(n1, n2, u);
  } else {
    const double n = static_cast<double>(n1 + n2);
    const double mu = mn / 2;
    const double variance = mn / 12 * ((n + 1) - ranked.tie_term / (n * (n - 1)));
    // Always minus 0.5: the p-value is always an upper tail (SciPy's comment), and subtracting
    // counts the mass at U itself.
    const double numerator = u - mu - 0.5;
    if (variance > 0) {
      p = NormalSurvival(numerator / std::sqrt(variance));
    } else {
      // Every value equal: the tie correction cancels the whole variance. U = mu, so SciPy's
      // z = -0.5 / 0 = -inf and SF(-inf) = 1 (then clipped to 1 once doubled).
      p = 1;
    }
  }
  // Clipped as SciPy does: the doubled exact tail exceeds 1 when U = n1 n2 / 2.
  result.p_value = std::clamp(p * factor, 0.0, 1.0);
  return result;
}

double Median(std::span<const double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> scratch(v.begin(), v.end());
  const size_t mid = scratch.size() / 2;
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(mid),
                   scratch.end());
  const double upper = scratch[mid];
  if (scratch.size() % 2 == 1) return upper;
  // The lower middle is the largest of the values before mid.
  const double lower =
      *std::max_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(mid));
  return std::midpoint(lower, upper);
}

}  // namespace rollbackd::stats
