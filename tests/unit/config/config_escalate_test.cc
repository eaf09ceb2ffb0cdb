// `escalate` on a trigger: each step the trigger's condition with a stronger number and a shorter
// hold; every mistake named with file:line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::rulefile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ConfigEscalateTest, StepsParseInOrderWithTheirSeverities) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "1m"
severity = "warning"
escalate = [ { above = 0.2, for = "5s" }, { above = 0.5, for = "0s", severity = "critical" } ]
)"));
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  const auto& steps = p.service->triggers.at(0).escalate;
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_DOUBLE_EQ(steps[0].threshold, 0.2);
  EXPECT_EQ(steps[0].for_duration, std::chrono::seconds(5));
  EXPECT_FALSE(steps[0].severity.has_value());
  EXPECT_DOUBLE_EQ(steps[1].threshold, 0.5);
  EXPECT_EQ(steps[1].for_duration, Duration(0));
  EXPECT_EQ(steps[1].severity, Severity::kCritical);
}

TEST(ConfigEscalateTest, AWeakerOrEqualBoundIsAnError) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "1m"
escalate = [ { above = 0.01, for = "5s" } ]
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:24: trigger[0].escalate[0].above: a step needs a stronger bound: "
                             "larger than the trigger's above = 0.02")));
  EXPECT_FALSE(p.service.has_value());
}

TEST(ConfigEscalateTest, EachStepMustBeatThePreviousOne) {
  auto p = Parse(WithTrigger(R"(below = 10
for = "5m"
escalate = [ { below = 5, for = "1m" }, { below = 6, for = "2m" } ]
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:51: trigger[0].escalate[1].below: a step needs a stronger bound: "
                             "smaller than escalate[0]'s below = 5"),
                          At("7:60: trigger[0].escalate[1].for: a step needs a shorter hold than "
                             "escalate[0]'s for = 1m")));
}

TEST(ConfigEscalateTest, ALongerOrEqualHoldIsAnError) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "10s"
escalate = [ { above = 0.2, for = "10s" } ]
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:35: trigger[0].escalate[0].for: a step needs a shorter hold than "
                             "the trigger's for = 10s")));
}

TEST(ConfigEscalateTest, AnotherConditionKeyIsAnError) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "1m"
escalate = [ { below = 0.2, for = "5s" } ]
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:14: trigger[0].escalate[0].above: missing required key"),
                          At("7:24: trigger[0].escalate[0].below: a step strengthens the "
                             "trigger's condition `above`; use `above` here too")));
}

TEST(ConfigEscalateTest, UnknownKeysAndMissingForAreErrors) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "1m"
escalate = [ { above = 0.2, hold = "5s" } ]
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:14: trigger[0].escalate[0].for: missing required key"),
                          At("7:29: trigger[0].escalate[0].hold: unknown key")));
}

TEST(ConfigEscalateTest, BelowDeltaIsStrongerWithALargerDelta) {
  auto ok = Parse(WithTrigger(R"(below_delta = 5
baseline = "snapshot"
for = "1m"
escalate = [ { below_delta = 20, for = "5s" } ]
)"));
  EXPECT_THAT(Lines(ok.diags), IsEmpty());
  auto bad = Parse(WithTrigger(R"(below_ratio = 0.8
baseline = "snapshot"
for = "1m"
escalate = [ { below_ratio = 0.9, for = "5s" } ]
)"));
  EXPECT_THAT(Lines(bad.diags),
              ElementsAre(At("8:30: trigger[0].escalate[0].below_ratio: a step needs a stronger "
                             "bound: smaller than the trigger's below_ratio = 0.8")));
}

TEST(ConfigEscalateTest, NotAnArrayOfTablesOrWithoutAConditionIsAnError) {
  auto p = Parse(WithTrigger(R"(above = 0.02
for = "1m"
escalate = [ 0.2 ]
)"));
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("7:14: trigger[0].escalate[0]: expected a table such "
                                             "as { above = 0.2, for = \"5s\" }")));
}

}  // namespace
}  // namespace rollbackd::configtest::rulefile

namespace rollbackd::configtest::rulefile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kCompare[] = R"(service = "checkout"
interval = "15s"
[[trigger]]
name = "canary_latency"
query = "canary"
baseline_query = "stable"
compare = { test = "mann_whitney", window = "10m", direction = "increase", confidence = 0.98, min_effect = 1.2, min_samples = 20 }
for = "2m"
)";

TEST(ConfigCompareTest, TheContractsExampleParses) {
  auto p = Parse(kCompare);
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  const auto& c = p.service->triggers.at(0).compare;
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->window, std::chrono::minutes(10));
  EXPECT_EQ(c->direction, CompareSpec::Direction::kIncrease);
  EXPECT_DOUBLE_EQ(c->confidence, 0.98);
  EXPECT_DOUBLE_EQ(c->min_effect, 1.2);
  EXPECT_EQ(c->min_samples, 20);
}

TEST(ConfigCompareTest, MistakesAreNamed) {
  auto with = [](std::string_view from, std::string_view to) {
    std::string s = kCompare;
    return s.replace(s.find(from), from.size(), to);
  };
  EXPECT_THAT(Lines(Parse(with("mann_whitney", "t_test")).diags),
              ElementsAre(At("7:20: trigger[0].compare.test: unknown test \"t_test\"")));
  EXPECT_THAT(Lines(Parse(with("0.98", "98")).diags),
              ElementsAre(At("7:89: trigger[0].compare.confidence: expected a probability")));
  EXPECT_THAT(
      Lines(Parse(with("1.2", "0.8")).diags),
      ElementsAre(At("7:108: trigger[0].compare.min_effect: expected a ratio of at least 1")));
  EXPECT_THAT(Lines(Parse(with("\"increase\"", "\"up\"")).diags),
              ElementsAre(At("7:64: trigger[0].compare.direction: unknown direction \"up\"")));
  EXPECT_THAT(Lines(Parse(with("\"10m\"", "\"4m\"")).diags),
              ElementsAre(At("7:11: trigger[0].compare: window 4m at interval 15s holds 16 "
                             "samples, fewer than min_samples 20")));
  EXPECT_THAT(Lines(Parse(with("for = \"2m\"", "for = \"2m\"\nabove = 1")).diags),
              ElementsAre(At("9:9: trigger[0].above: a trigger with `compare` has no condition")));
  EXPECT_THAT(Lines(Parse(with("baseline_query = \"stable\"\n", "")).diags),
              ElementsAre(At("6:11: trigger[0].compare: `compare` compares the query's samples")));
  EXPECT_THAT(
      Lines(Parse(with("for = \"2m\"", "for = \"2m\"\nescalate = []")).diags),
      ElementsAre(At("9:12: trigger[0].escalate: escalation steps strengthen a condition")));
}

}  // namespace
}  // namespace rollbackd::configtest::rulefile
