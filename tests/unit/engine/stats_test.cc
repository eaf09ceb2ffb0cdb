// The Mann-Whitney U test and the median: small cases computed by hand, then generated pairs
// compared with SciPy itself (tests/reference/mannwhitneyu.py), the definition we claim to follow.
#include "daemon/engine/stats.h"

#include <gtest/gtest.h>


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/run_child.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd::stats {
namespace {

using Values = std::vector<double>;

MannWhitneyResult Mwu(const Values& x, const Values& y, Alternative alt) {
  return MannWhitneyU(x, y, alt);
}

// The docstring example of scipy.stats.mannwhitneyu (ages at diagnosis, from Shier 2004).
// Ranks of x in the pooled 9: 16->3, 19->5, 22->7, 24->8, 29->9, R1 = 32, U1 = 32 - 15 = 17.
// Without ties and min size 4 the exact distribution applies: of the C(9,4) = 126 arrangements,
// U2 = 20 - 17 = 3 or less happens for 1 + 1 + 2 + 3 = 7 (partitions of 0..3 into at most 4
// parts of at most 5), so P(U >= 17) = 7/126 and the two-sided p is 14/126 = 1/9.
TEST(MannWhitneyTest, ScipyDocstringExampleIsExact) {
  const Values males = {19, 22, 16, 29, 24};
  const Values females = {20, 11, 17, 12};
  MannWhitneyResult r = Mwu(males, females, Alternative::kTwoSided);
  EXPECT_EQ(r.u, 17);
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.p_value, 1.0 / 9);
  EXPECT_DOUBLE_EQ(Mwu(males, females, Alternative::kGreater).p_value, 7.0 / 126);
  // The other way round: females' U is 3 and "less" is the same tail.
  r = Mwu(females, males, Alternative::kLess);
  EXPECT_EQ(r.u, 3);
  EXPECT_DOUBLE_EQ(r.p_value, 7.0 / 126);
  // "greater" for females: P(U >= 3) = 1 - P(U <= 2) = 1 - (1 + 1 + 2) / 126.
  EXPECT_DOUBLE_EQ(Mwu(females, males, Alternative::kGreater).p_value, 122.0 / 126);
}

TEST(MannWhitneyTest, CompletelySeparatedSmallSamplesGetTheSmallestExactP) {
  Values low, high;
  for (int i = 0; i < 8; ++i) {
    low.push_back(i);
    high.push_back(100 + i);
  }
  // One arrangement of C(16, 8) = 12870 puts all of `high` on top.
  MannWhitneyResult r = Mwu(high, low, Alternative::kGreater);
  EXPECT_EQ(r.u, 64);
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.p_value, 1.0 / 12870);
  EXPECT_DOUBLE_EQ(Mwu(high, low, Alternative::kTwoSided).p_value, 2.0 / 12870);
  EXPECT_DOUBLE_EQ(Mwu(high, low, Alternative::kLess).p_value, 1.0);
}

TEST(MannWhitneyTest, DoubledExactTailIsClippedToOne) {
  // x ranks 1 and 4: U1 = 5 - 3 = 2 = n1 n2 / 2. P(U >= 2) = (1 + 1 + 2) / 6, doubled 4/3.
  MannWhitneyResult r = Mwu({1, 4}, {2, 3}, Alternative::kTwoSided);
  EXPECT_EQ(r.u, 2);
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(MannWhitneyTest, OneValueEach) {
  // 1 < 2: U1 = 0. Two arrangements, equally likely.
  EXPECT_EQ(Mwu({1}, {2}, Alternative::kLess).p_value, 0.5);
  EXPECT_EQ(Mwu({1}, {2}, Alternative::kGreater).p_value, 1.0);
  EXPECT_EQ(Mwu({1}, {2}, Alternative::kTwoSided).p_value, 1.0);
  EXPECT_EQ(Mwu({1}, {2}, Alternative::kTwoSided).u, 0);
}

TEST(MannWhitneyTest, TiesUseTheCorrectedNormalApproximation) {
  // Pooled: 1(x) 2(x) 2(x) 2(y) 3(y); the three 2s share rank 3. R1 = 1 + 3 + 3 = 7, U1 = 1,
  // U2 = 5. Tie term 3^3 - 3 = 24; n = 5: variance = 6/12 * (6 - 24/20) = 2.4.
  // Two-sided uses max(U1, U2) = 5: z = (5 - 3 - 0.5) / sqrt(2.4).
  const Values x = {1, 2, 2};
  const Values y = {2, 3};
  MannWhitneyResult r = Mwu(x, y, Alternative::kTwoSided);
  EXPECT_EQ(r.u, 1);
  EXPECT_FALSE(r.exact);
  const double z = 1.5 / std::sqrt(2.4);
  EXPECT_NEAR(r.p_value, std::erfc(z / std::sqrt(2.0)), 1e-15);
  // "less" uses U2 = 5 too: half of it. "greater" uses U1 = 1: z = (1 - 3 - 0.5) / sqrt(2.4).
  EXPECT_NEAR(Mwu(x, y, Alternative::kLess).p_value, 0.5 * std::erfc(z / std::sqrt(2.0)), 1e-15);
  EXPECT_NEAR(Mwu(x, y, Alternative::kGreater).p_value,
              0.5 * std::erfc(-2.5 / std::sqrt(2.4) / std::sqrt(2.0)), 1e-15);
}

TEST(MannWhitneyTest, AllValuesEqualGiveOne) {
  // The tie correction cancels the whole variance; SciPy's z is -inf and its p 1.
  for (Alternative alt : {Alternative::kGreater, Alternative::kLess, Alternative::kTwoSided}) {
    MannWhitneyResult r = Mwu({1, 1, 1}, {1, 1}, alt);
    EXPECT_EQ(r.u, 3);
    EXPECT_FALSE(r.exact);
    EXPECT_EQ(r.p_value, 1.0);
    EXPECT_EQ(Mwu(Values(300, 4.5), Values(200, 4.5), alt).p_value, 1.0);
  }
}

TEST(MannWhitneyTest, IdenticalSamplesAreTiesEverywhere) {
  const Values v = {3, 1, 4, 1.5, 9, 2.6};
  MannWhitneyResult r = Mwu(v, v, Alternative::kTwoSided);
  EXPECT_EQ(r.u, 18);  // n1 n2 / 2
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(MannWhitneyTest, EmptySampleHasNoPValue) {
  MannWhitneyResult r = Mwu({}, {1, 2}, Alternative::kTwoSided);
  EXPECT_TRUE(std::isnan(r.p_value));
  EXPECT_FALSE(r.p_value < 0.05);
  EXPECT_TRUE(std::isnan(Mwu({1}, {}, Alternative::kLess).p_value));
}

TEST(MannWhitneyTest, LargeSeparatedSamplesKeepTheirTinyP) {
  // 500 below 700: z ~ 29.6, p ~ 1e-192; 1 - Phi(z) would have said 0.
  Values x, y;
  for (int i = 0; i < 500; ++i) x.push_back(i);
  for (int i = 0; i < 700; ++i) y.push_back(1000 + i);
  MannWhitneyResult r = Mwu(y, x, Alternative::kGreater);
  EXPECT_EQ(r.u, 350000);
  EXPECT_FALSE(r.exact);
  EXPECT_GT(r.p_value, 0);
  EXPECT_LT(r.p_value, 1e-180);
}

TEST(StatsTest, Median) {
  EXPECT_TRUE(std::isnan(Median({})));
  EXPECT_EQ(Median(Values{3}), 3);
  EXPECT_EQ(Median(Values{3, 1, 2}), 2);
  EXPECT_EQ(Median(Values{4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median(Values{5, 5, 1, 5}), 5);
  EXPECT_EQ(Median(Values{-1, 1}), 0);
  EXPECT_EQ(Median(Values{1e308, 1.5e308}), 1.25e308);  // no overflow on the way
}

// --- against SciPy ---

// Deterministic on every standard library: only the engine's raw 64-bit output is used
// (std::uniform_real_distribution and std::normal_distribution differ between libstdc++ and
// libc++, and the suite is also built with Clang).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Box-Muller; 1 - Uniform() is in (0, 1], so the log is finite.
  double Normal() {
    const double r = std::sqrt(-2 * std::log(1 - Uniform()));
    return r * std::cos(2 * 3.14159265358979323846 * Uniform());
  }
  int Below(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }

 private:
  std::mt19937_64 engine_;
};

struct Pair {
  std::string name;
  Values x, y;
};

enum class Kind {
  kContinuous,  // normal values: no ties (with probability 1)
  kDiscrete,    // integers below `levels`: ties
  kIdentical,   // y is a copy of x
  kConstant,    // every value 7
};

Values Draw(Rng& rng, size_t n, Kind kind, int levels, double shift) {
  Values v;
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case Kind::kContinuous:
        v.push_back(rng.Normal() + shift);
        break;
      case Kind::kDiscrete:
        v.push_back(rng.Below(levels) + shift);
        break;
      case Kind::kIdentical:
      case Kind::kConstant:
        v.push_back(7);
        break;
    }
  }
  return v;
}

std::vector<Pair> GeneratePairs() {
  struct Spec {
    size_t n1, n2;
    Kind kind;
    int levels;
    double shift;  // added to x
  };
  const std::vector<Spec> specs = {
      // The exact path: min size <= 8, no ties. The larger side stays <= 200: SciPy's Python
      // recursion takes a minute for 8 x 1,000 (its memo table grows with the larger side).
      {1, 1, Kind::kContinuous, 0, 0},
      {1, 2, Kind::kContinuous, 0, 0},
      {1, 8, Kind::kContinuous, 0, 1},
      {8, 1, Kind::kContinuous, 0, -1},
      {2, 2, Kind::kContinuous, 0, 0},
      {2, 7, Kind::kContinuous, 0, 1},
      {3, 3, Kind::kContinuous, 0, 0},
      {3, 5, Kind::kContinuous, 0, 1},
      {4, 4, Kind::kContinuous, 0, 0},
      {5, 3, Kind::kContinuous, 0, 2},
      {5, 8, Kind::kContinuous, 0, 0},
      {6, 6, Kind::kContinuous, 0, 0.5},
      {7, 2, Kind::kContinuous, 0, 0},
      {8, 8, Kind::kContinuous, 0, 0},
      {8, 8, Kind::kContinuous, 0, 1},
      {8, 8, Kind::kContinuous, 0, 100},  // separated: the smallest exact tail
      {5, 7, Kind::kContinuous, 0, -100},
      {8, 9, Kind::kContinuous, 0, 0.5},
      {9, 8, Kind::kContinuous, 0, 0},
      {8, 40, Kind::kContinuous, 0, 0},
      {8, 40, Kind::kContinuous, 0, 1},
      {40, 6, Kind::kContinuous, 0, 0.3},
      {3, 200, Kind::kContinuous, 0, 0},
      {8, 120, Kind::kContinuous, 0, -0.5},
      {8, 200, Kind::kContinuous, 0, 0},
      // Small with ties: the approximation.
      {1, 5, Kind::kDiscrete, 3, 0},
      {5, 1, Kind::kDiscrete, 3, 1},
      {2, 3, Kind::kDiscrete, 3, 0},
      {3, 4, Kind::kDiscrete, 4, 0},
      {5, 5, Kind::kDiscrete, 3, 1},
      {8, 8, Kind::kDiscrete, 5, 0},
      {6, 12, Kind::kDiscrete, 4, 1},
      {8, 30, Kind::kDiscrete, 6, 0},
      {1, 10, Kind::kDiscrete, 3, 0},
      // Both larger than 8: the approximation even without ties.
      {9, 9, Kind::kContinuous, 0, 0},
      {9, 9, Kind::kContinuous, 0, 1},
      {10, 12, Kind::kContinuous, 0, 0},
      {20, 30, Kind::kContinuous, 0, 0.5},
      {50, 60, Kind::kContinuous, 0, 0},
      {50, 60, Kind::kDiscrete, 10, 0},
      // Hundreds, heavy ties, tiny p.
      {500, 700, Kind::kContinuous, 0, 0},
      {500, 700, Kind::kContinuous, 0, 0.1},
      {500, 700, Kind::kContinuous, 0, 5},  // separated: p ~ 1e-190
      {700, 500, Kind::kContinuous, 0, -0.2},
      {1000, 1000, Kind::kContinuous, 0, 0},
      {1000, 1000, Kind::kContinuous, 0, 0.05},
      {300, 400, Kind::kDiscrete, 5, 0},
      {300, 400, Kind::kDiscrete, 5, 1},
      {1000, 900, Kind::kDiscrete, 2, 0},  // two values only
      {1000, 900, Kind::kDiscrete, 2, 1},
      {700, 500, Kind::kDiscrete, 10, 0},
      {200, 250, Kind::kDiscrete, 50, 0},
      // One value against many.
      {1, 300, Kind::kContinuous, 0, 0},
      {300, 1, Kind::kContinuous, 0, 2},
      {1, 300, Kind::kDiscrete, 4, 0},
      // Identical samples and constant values.
      {1, 1, Kind::kIdentical, 0, 0},
      {5, 5, Kind::kIdentical, 0, 0},
      {50, 50, Kind::kIdentical, 0, 0},
      {1, 1, Kind::kConstant, 0, 0},
      {3, 2, Kind::kConstant, 0, 0},
      {4, 6, Kind::kConstant, 0, 0},
      {1, 50, Kind::kConstant, 0, 0},
      {100, 100, Kind::kConstant, 0, 0},
  };
  Rng rng(20240611);
  std::vector<Pair> pairs;
  for (const Spec& s : specs) {
    Pair p;
    std::ostringstream name;
    name << s.n1 << "x" << s.n2;
    switch (s.kind) {
      case Kind::kContinuous:
        name << " continuous";
        break;
      case Kind::kDiscrete:
        name << " " << s.levels << " levels";
        break;
      case Kind::kIdentical:
        name << " identical";
        break;
      case Kind::kConstant:
        name << " constant";
        break;
    }
    name << " shift " << s.shift;
    p.name = name.str();
    if (s.kind == Kind::kIdentical) {
      p.x = Draw(rng, s.n1, Kind::kContinuous, 0, 0);
      p.y = p.x;
    } else {
      p.x = Draw(rng, s.n1, s.kind, s.levels, s.shift);
      p.y = Draw(rng, s.n2, s.kind, s.levels, 0);
    }
    pairs.push_back(std::move(p));
  }
  // Ties across the sign of zero: -0.0 == 0.0 for ranking and for the tie check.
  pairs.push_back({"signed zeros", {0.0, 1.5, -2}, {-0.0, 2.5}});
  return pairs;
}

using testutil::RunChild;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* AlternativeName(Alternative alt) {
  switch (alt) {
    case Alternative::kGreater:
      return "greater";
    case Alternative::kLess:
      return "less";
    case Alternative::kTwoSided:
      return "two-sided";
  }
  return "";
}

// |a - b| relative to the larger, with an absolute floor for p-values near the bottom of the
// double range.
double RelativeError(double a, double b) {
  const double diff = std::fabs(a - b);
  if (diff <= 1e-300) return 0;
  return diff / std::max(std::fabs(a), std::fabs(b));
}

TEST(MannWhitneyTest, MatchesScipy) {
  const std::vector<Pair> pairs = GeneratePairs();
  ASSERT_GE(pairs.size(), 60u);
  const Alternative kAlternatives[] = {Alternative::kGreater, Alternative::kLess,
                                       Alternative::kTwoSided};
  struct Case {
    const Pair* pair;
    Alternative alt;
  };
  std::vector<Case> cases;
  nlohmann::json in_cases = nlohmann::json::array();
  for (const Pair& p : pairs) {
    for (Alternative alt : kAlternatives) {
      cases.push_back({&p, alt});
      in_cases.push_back({{"x", p.x}, {"y", p.y}, {"alternative", AlternativeName(alt)}});
    }
  }
  testutil::TempDir dir;
  const std::string in_path = dir.Write("in.json", nlohmann::json{{"cases", in_cases}}.dump());
  const std::string out_path = dir.Path("out.json");
  const std::string script = std::string(ROLLBACKD_SOURCE_DIR) + "/tests/reference/mannwhitneyu.py";

  // python3 in PATH first; then Debian's own, where python3-scipy installs, for when PATH finds
  // another interpreter (pyenv, a virtualenv) without SciPy.
  bool ran = false;
  std::string log;
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    const ExecResult r = RunChild({python, script, in_path, out_path}, std::chrono::seconds(60));
    log = r.output + r.error;
    if (!r.started || r.exit_status == 77 || r.exit_status == 127) continue;  // next interpreter
    ASSERT_FALSE(r.timed_out) << python << " " << script << " ran for 60 s: killed\n" << log;
    ASSERT_EQ(r.exit_status, 0) << python << " " << script << " failed:\n" << log;
    ran = true;
    break;
  }
  if (!ran) {
    GTEST_SKIP() << "no python3 with SciPy (Debian: apt-get install python3-scipy, or "
                    "scripts/deps): "
                 << log;
  }

  const nlohmann::json out = nlohmann::json::parse(ReadAll(out_path));
  const nlohmann::json& results = out.at("results");
  ASSERT_EQ(results.size(), cases.size());
  double max_u_error = 0;
  double max_p_error = 0;
  std::string worst_p;
  size_t exact_cases = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const MannWhitneyResult mine = MannWhitneyU(c.pair->x, c.pair->y, c.alt);
    const double u = results[i].at("statistic").get<double>();
    const double p = results[i].at("pvalue").get<double>();
    const double u_error = RelativeError(mine.u, u);
    const double p_error = RelativeError(mine.p_value, p);
    const std::string what = c.pair->name + ", " + AlternativeName(c.alt);
    max_u_error = std::max(max_u_error, u_error);
    if (p_error >= max_p_error) {
      max_p_error = p_error;
      worst_p = what;
    }
    EXPECT_LE(u_error, 1e-9) << what << ": U " << mine.u << ", SciPy " << u;
    EXPECT_LE(p_error, 1e-9) << what << ": p " << mine.p_value << ", SciPy " << p;
    if (results[i].at("method").is_string()) {
      EXPECT_EQ(mine.exact, results[i]["method"] == "exact") << what;
    }
    exact_cases += mine.exact ? 1 : 0;
  }
  std::cout << pairs.size() << " pairs, " << cases.size() << " cases (" << exact_cases
            << " exact) against SciPy " << out.value("scipy", "?") << ": max relative error U "
            << max_u_error << ", p " << max_p_error << " (" << worst_p << ")\n";
  RecordProperty("max_p_relative_error", std::to_string(max_p_error));
}

}  // namespace
}  // namespace rollbackd::stats
