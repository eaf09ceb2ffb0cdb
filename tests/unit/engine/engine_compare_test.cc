// `compare`: the query's samples against the baseline's within a window, by Mann-Whitney U and the
// ratio of the medians; too few samples is no data; both significance and size are needed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// 1m window at a 10s step: 6 samples a side; min_samples 6.
std::string Canary(const std::string& compare_extra = "", const std::string& extra = "") {
  return R"(
service = "checkout"
[[trigger]]
name = "latency"
query = 'canary_p99'
baseline_query = 'stable_p99'
compare = { test = "mann_whitney", window = "1m", direction = "increase", confidence = 0.98, min_effect = 1.2, min_samples = 6)" +
         compare_extra + R"( }
for = "20s"
)" + extra;
}

// Distinct values around `center` (a cycle of 6, so a 6-sample window has no ties).
double Around(double center, int i) {
  static const double kJitter[] = {0.0, 0.03, -0.02, 0.05, -0.04, 0.01};
  return center * (1 + kJitter[((i % 6) + 6) % 6]);
}

// Evaluations every 10s from `from_s` for `count` rounds, canary around `c`, baseline around `b`.
std::vector<Event> Feed(EngineHarness& h, int from_s, int count, double c, double b) {
  std::vector<Event> all;
  for (int i = 0; i < count; ++i) {
    const int t = from_s + 10 * i;
    h.Set("latency", Value(Around(c, t / 10)));
    h.SetBaseline("latency", Value(Around(b, t / 10 + 3)));
    std::vector<Event> ev = h.Eval(std::to_string(t) + "s");
    all.insert(all.end(), ev.begin(), ev.end());
  }
  return all;
}

TEST(EngineCompareTest, TooFewSamplesIsNoDataThenAShiftedCanaryFiresAfterFor) {
  EngineHarness h(Canary());
  // Five rounds: fewer than min_samples 6 on each side: no data (no_data = ok), nothing pending.
  EXPECT_THAT(Feed(h, 0, 5, 2.0, 1.0), IsEmpty());
  EXPECT_EQ(h.PhaseOf("latency"), "inactive");
  std::vector<Event> events = Feed(h, 50, 3, 2.0, 1.0);
  ASSERT_THAT(Lines(events),
              ElementsAre("50s trigger.pending latency", "1m10s trigger.firing latency"));
  const Event& firing = events[1];
  // Six canary samples all above six baseline samples: U = 36, exact p = 1 / C(12, 6).
  ASSERT_TRUE(firing.compare.has_value());
  EXPECT_DOUBLE_EQ(firing.compare->u, 36);
  EXPECT_NEAR(firing.compare->p_value, 1.0 / 924, 1e-12);
  EXPECT_EQ(firing.compare->n, 6);
  EXPECT_EQ(firing.compare->n_baseline, 6);
  ASSERT_TRUE(firing.compare->effect.has_value());
  EXPECT_NEAR(*firing.compare->effect, firing.value.value_or(0) / firing.baseline.value_or(1),
              1e-12);
  EXPECT_GT(*firing.compare->effect, 1.9);
  EXPECT_NEAR(firing.threshold.value_or(0), 1.2 * firing.baseline.value_or(0), 1e-12);
  EXPECT_THAT(firing.reason, HasSubstr("higher >= min_effect 1.2, p = 0.0010822510822510823 < 0.02 "
                                       "(Mann-Whitney U = 36, n = 6 and 6 within 1m) held 20s"));
  EXPECT_EQ(firing.condition, "mann_whitney increase min_effect 1.2 confidence 0.98");
  // The payload carries the numbers.
  auto j = nlohmann::json::parse(EventToJson(firing));
  EXPECT_EQ(j["u"], 36);
  EXPECT_EQ(j["n"]["query"], 6);
  EXPECT_EQ(j["n"]["baseline"], 6);
  EXPECT_TRUE(j["p_value"].is_number());
  EXPECT_TRUE(j["effect"].is_number());
}

TEST(EngineCompareTest, ASignificantButSmallShiftNeverBreaches) {
  EngineHarness h(Canary());
  // Canary 10% above: every canary sample above every baseline one (p = 1/924), ratio 1.1 < 1.2.
  std::vector<Event> events = Feed(h, 0, 20, 1.1 * 1.2, 1.2);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(h.PhaseOf("latency"), "inactive");
}

TEST(EngineCompareTest, ALargeRatioOfMediansWithoutSignificanceDoesNotBreach) {
  EngineHarness h(Canary());
  // Medians 2x apart, but the samples overlap widely: not significant at 0.98.
  const double canary[] = {0.5, 4.0, 0.6, 3.0, 2.5, 0.7};
  const double stable[] = {0.4, 3.5, 0.55, 1.2, 1.0, 2.8};
  std::vector<Event> all;
  for (int i = 0; i < 12; ++i) {
    h.Set("latency", Value(canary[i % 6] * (1 + 1e-3 * i)));
    h.SetBaseline("latency", Value(stable[i % 6] * (1 + 1e-3 * i)));
    std::vector<Event> ev = h.Eval(std::to_string(10 * i) + "s");
    all.insert(all.end(), ev.begin(), ev.end());
  }
  EXPECT_THAT(all, IsEmpty());
}

TEST(EngineCompareTest, TheCanaryRecoveringResolvesOnceTheWindowHasMovedOn) {
  EngineHarness h(Canary());
  Feed(h, 0, 8, 2.0, 1.0);
  ASSERT_EQ(h.PhaseOf("latency"), "firing");
  std::vector<Event> events = Feed(h, 80, 8, 1.0, 1.0);
  ASSERT_THAT(Lines(events), ElementsAre(::testing::EndsWith("trigger.resolved latency")));
  // One sample of the recovered canary already breaks the significance at n = 6.
  EXPECT_THAT(events[0].reason, HasSubstr("p = 0.022287798228604636 >= 0.02 (not significant)"));
}

TEST(EngineCompareTest, DecreaseAndEitherJudgeTheirDirection) {
  auto with = [](const std::string& direction) {
    std::string text = Canary();
    return text.replace(text.find("\"increase\""), 10, "\"" + direction + "\"");
  };
  EngineHarness down(with("decrease"));
  EXPECT_THAT(Feed(down, 0, 8, 2.0, 1.0), IsEmpty());  // higher is not bad here
  EngineHarness down2(with("decrease"));
  std::vector<Event> events = Feed(down2, 0, 8, 0.5, 1.0);
  ASSERT_THAT(Lines(events),
              ElementsAre("50s trigger.pending latency", "1m10s trigger.firing latency"));
  EXPECT_THAT(events[1].reason, HasSubstr("2 x lower >= min_effect 1.2"));
  EXPECT_NEAR(events[1].threshold.value_or(0), events[1].baseline.value_or(0) / 1.2, 1e-12);

  EngineHarness either(with("either"));
  EXPECT_THAT(Lines(Feed(either, 0, 8, 0.5, 1.0)),
              ElementsAre("50s trigger.pending latency", "1m10s trigger.firing latency"));
}

TEST(EngineCompareTest, AMedianOfZeroOnTheBaselineIsAnInfiniteEffect) {
  EngineHarness h(Canary());
  std::vector<Event> all;
  for (int i = 0; i < 8; ++i) {
    h.Set("latency", Value(0.05 + 0.001 * i));
    h.SetBaseline("latency", Value(0.0));  // no errors at all on stable
    std::vector<Event> ev = h.Eval(std::to_string(10 * i) + "s");
    all.insert(all.end(), ev.begin(), ev.end());
  }
  ASSERT_THAT(Lines(all),
              ElementsAre("50s trigger.pending latency", "1m10s trigger.firing latency"));
  EXPECT_FALSE(all[1].compare->effect.has_value());
  EXPECT_THAT(all[1].reason, HasSubstr("infinitely higher"));
}

TEST(EngineCompareTest, TheWindowsSurviveARestart) {
  EngineHarness h(Canary());
  Feed(h, 0, 6, 2.0, 1.0);  // pending since 50s, six samples a side
  const std::string saved = h.engine().SaveState();
  EngineHarness after(Canary());
  std::string error;
  ASSERT_TRUE(after.engine().RestoreState(saved, &error)) << error;
  EXPECT_THAT(Lines(Feed(after, 60, 2, 2.0, 1.0)), ElementsAre("1m10s trigger.firing latency"));
}

}  // namespace
}  // namespace rollbackd::enginetest
