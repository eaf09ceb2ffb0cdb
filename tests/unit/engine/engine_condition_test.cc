// Conditions: every comparison, at its edge. All comparisons are strict: a value exactly at the
// (effective) threshold does not breach.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A rule file with one trigger "t", `condition`, for = 0s; a baseline query when `baseline`.
std::string RuleWith(const std::string& condition, bool baseline) {
  std::string text = R"(
service = "svc"
[[trigger]]
name  = "t"
query = 'q'
for   = "0s"
)" + condition + "\n";
  if (baseline) text += "baseline_query = 'b'\n";
  return text;
}

struct ConditionCase {
  const char* condition;  // as written in the rule file
  double baseline;        // used when the condition needs one
  double value;
  bool breach;
  double threshold;        // the effective threshold carried by the event
  const char* condition_text;
  const char* reason;      // the firing event's reason, when it breaches
};

class EngineConditionTest : public ::testing::TestWithParam<ConditionCase> {};

TEST_P(EngineConditionTest, BreachesStrictlyPastTheEffectiveThreshold) {
  const ConditionCase& c = GetParam();
  const bool relative = std::string(c.condition).find('_') != std::string::npos;
  EngineHarness h(RuleWith(c.condition, relative));
  h.Set("t", Value(c.value));
  if (relative) h.SetBaseline("t", Value(c.baseline));
  std::vector<Event> events = h.Eval("0s");
  if (!c.breach) {
    EXPECT_THAT(Lines(events), IsEmpty()) << c.condition << " value " << c.value;
    EXPECT_EQ(h.PhaseOf("t"), "inactive");
    return;
  }
  ASSERT_THAT(Lines(events), ElementsAre("0s trigger.firing t")) << c.condition;
  const Event& e = events[0];
  EXPECT_EQ(e.service, "svc");
  EXPECT_EQ(e.time, At("0s"));
  ASSERT_TRUE(e.value.has_value());
  EXPECT_DOUBLE_EQ(*e.value, c.value);
  ASSERT_TRUE(e.threshold.has_value());
  EXPECT_DOUBLE_EQ(*e.threshold, c.threshold);
  if (relative) {
    ASSERT_TRUE(e.baseline.has_value());
    EXPECT_DOUBLE_EQ(*e.baseline, c.baseline);
  } else {
    EXPECT_FALSE(e.baseline.has_value());
  }
  EXPECT_EQ(e.condition, c.condition_text);
  EXPECT_EQ(e.reason, c.reason);
  EXPECT_EQ(h.PhaseOf("t"), "firing");
}

INSTANTIATE_TEST_SUITE_P(
    Edges, EngineConditionTest,
    ::testing::Values(
        // above = 0.05: v > 0.05
        ConditionCase{"above = 0.05", 0, 0.05, false, 0.05, "", ""},
        ConditionCase{"above = 0.05", 0, 0.049, false, 0.05, "", ""},
        ConditionCase{"above = 0.05", 0, 0.0500001, true, 0.05, "above 0.05",
                      "value 0.0500001 > 0.05 held 0s >= 0s"},
        ConditionCase{"above = 0.05", 0, 0.31, true, 0.05, "above 0.05",
                      "value 0.31 > 0.05 held 0s >= 0s"},
        // below = 10: v < 10
        ConditionCase{"below = 10", 0, 10, false, 10, "", ""},
        ConditionCase{"below = 10", 0, 11, false, 10, "", ""},
        ConditionCase{"below = 10", 0, 9.99, true, 10, "below 10", "value 9.99 < 10 held 0s >= 0s"},
        ConditionCase{"below = 10", 0, -3, true, 10, "below 10", "value -3 < 10 held 0s >= 0s"},
        // above_ratio = 1.5, baseline 2: v > 3
        ConditionCase{"above_ratio = 1.5", 2, 3, false, 3, "", ""},
        ConditionCase{"above_ratio = 1.5", 2, 2.5, false, 3, "", ""},
        ConditionCase{"above_ratio = 1.5", 2, 3.01, true, 3, "above_ratio 1.5",
                      "value 3.01 > 3 (1.5 x baseline 2) held 0s >= 0s"},
        // below_ratio = 0.5, baseline 8: v < 4
        ConditionCase{"below_ratio = 0.5", 8, 4, false, 4, "", ""},
        ConditionCase{"below_ratio = 0.5", 8, 6, false, 4, "", ""},
        ConditionCase{"below_ratio = 0.5", 8, 3.99, true, 4, "below_ratio 0.5",
                      "value 3.99 < 4 (0.5 x baseline 8) held 0s >= 0s"},
        // above_delta = 5, baseline 10: v > 15
        ConditionCase{"above_delta = 5", 10, 15, false, 15, "", ""},
        ConditionCase{"above_delta = 5", 10, 12, false, 15, "", ""},
        ConditionCase{"above_delta = 5", 10, 15.5, true, 15, "above_delta 5",
                      "value 15.5 > 15 (baseline 10 + 5) held 0s >= 0s"},
        // below_delta = 5, baseline 10: v < 5
        ConditionCase{"below_delta = 5", 10, 5, false, 5, "", ""},
        ConditionCase{"below_delta = 5", 10, 7, false, 5, "", ""},
        ConditionCase{"below_delta = 5", 10, 4.5, true, 5, "below_delta 5",
                      "value 4.5 < 5 (baseline 10 - 5) held 0s >= 0s"},
        // A delta of 0 is "any change in that direction".
        ConditionCase{"above_delta = 0", 10, 10, false, 10, "", ""},
        ConditionCase{"above_delta = 0", 10, 10.001, true, 10, "above_delta 0",
                      "value 10.001 > 10 (baseline 10 + 0) held 0s >= 0s"}));

TEST(EngineConditionEdgeTest, ResolveReasonUsesTheNonBreachingComparison) {
  struct Case {
    const char* condition;
    double breach_value;
    double ok_value;
    const char* reason;
  } cases[] = {
      {"above = 0.05", 0.5, 0.05, "value 0.05 <= 0.05 after firing for 10s"},
      {"below = 10", 1, 10, "value 10 >= 10 after firing for 10s"},
      {"above_ratio = 1.5", 9, 3, "value 3 <= 3 (1.5 x baseline 2) after firing for 10s"},
      {"below_delta = 1", 0, 1, "value 1 >= 1 (baseline 2 - 1) after firing for 10s"},
  };
  for (const Case& c : cases) {
    const bool relative = std::string(c.condition).find('_') != std::string::npos;
    EngineHarness h(RuleWith(c.condition, relative));
    if (relative) h.SetBaseline("t", Value(2));
    h.Set("t", Value(c.breach_value));
    ASSERT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.firing")) << c.condition;
    h.Set("t", Value(c.ok_value));
    Event resolved = Only(h.Eval("10s"), EventKind::kTriggerResolved);
    EXPECT_EQ(resolved.reason, c.reason) << c.condition;
    EXPECT_DOUBLE_EQ(resolved.value.value_or(-1), c.ok_value) << c.condition;
  }
}

TEST(EngineConditionEdgeTest, SnapshotBaselineIsNamedSnapshotInTheReason) {
  EngineHarness h(R"(
service = "svc"
[[trigger]]
name = "orders"
query = 'q'
baseline = "snapshot"
below_ratio = 0.7
for = "0s"
)");
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  ASSERT_TRUE(h.engine().RecordDeploy("svc", "v2", At("5s")));
  h.Set("orders", Value(60));
  Event e = Only(h.Eval("10s"), EventKind::kTriggerFiring);
  EXPECT_EQ(e.reason, "value 60 < 70 (0.7 x snapshot 100) held 0s >= 0s");
  EXPECT_DOUBLE_EQ(e.baseline.value_or(-1), 100);
  EXPECT_DOUBLE_EQ(e.threshold.value_or(-1), 70);
  EXPECT_EQ(e.condition, "below_ratio 0.7");
}

}  // namespace
}  // namespace rollbackd::enginetest
