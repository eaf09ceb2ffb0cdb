// Escalation steps: a stronger bound with a shorter hold fires sooner; the trigger resolves when
// its own bound clears; baselines, floors and no_data apply to every step; state survives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// error_rate above 0.02 for 1m, escalating to 0.2 for 5s and 0.5 for 0s (critical).
std::string Escalating(const std::string& extra = "") {
  return R"(
service = "checkout"
[rollback]
exec = ["/bin/true"]
cooldown = "0s"
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.02
for = "1m"
escalate = [ { above = 0.2, for = "5s" }, { above = 0.5, for = "0s", severity = "critical" } ]
)" + extra;
}

TEST(EngineEscalateTest, TheBaseBoundStillFiresAfterItsOwnHold) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.05));
  std::vector<Event> events = h.Run("0s", "1m", "5s");
  EXPECT_THAT(Lines(events),
              ElementsAre("0s trigger.pending error_rate", "1m trigger.firing error_rate",
                          "1m rollback.started error_rate"));
  EXPECT_EQ(events[0].reason,
            "value 0.05 > 0.02, must hold for 1m (escalate: 5s above 0.2, 0s above 0.5)");
  EXPECT_EQ(events[1].reason, "value 0.05 > 0.02 held 1m >= 1m");
  EXPECT_EQ(events[1].severity, Severity::kWarning);
  EXPECT_EQ(events[1].condition, "above 0.02");
}

TEST(EngineEscalateTest, ALargerBreachFiresAfterTheStepsShorterHold) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.01));
  EXPECT_THAT(h.Eval("0s"), IsEmpty());
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Run("5s", "15s", "5s");
  EXPECT_THAT(Lines(events),
              ElementsAre("5s trigger.pending error_rate", "10s trigger.firing error_rate",
                          "10s rollback.started error_rate"));
  const Event& firing = events[1];
  EXPECT_EQ(firing.reason, "value 0.31 > 0.2 held 5s >= 5s (escalate[0])");
  EXPECT_DOUBLE_EQ(firing.threshold.value_or(-1), 0.2);
  EXPECT_EQ(firing.condition, "above 0.2");
  EXPECT_EQ(firing.severity, Severity::kWarning);  // the step sets none: the trigger's
  EXPECT_EQ(events[2].reason, "error_rate: value 0.31 > 0.2 held 5s >= 5s (escalate[0])");
}

TEST(EngineEscalateTest, AZeroHoldStepFiresAtOnceWithItsSeverityAndNoPendingEvent) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.01));
  h.Eval("0s");
  h.Set("error_rate", Value(0.6));
  std::vector<Event> events = h.Eval("5s");
  EXPECT_THAT(Lines(events),
              ElementsAre("5s trigger.firing error_rate", "5s rollback.started error_rate"));
  EXPECT_EQ(events[0].reason, "value 0.6 > 0.5 held 0s >= 0s (escalate[1])");
  EXPECT_EQ(events[0].severity, Severity::kCritical);
  EXPECT_EQ(events[1].severity, Severity::kCritical);
  // It resolves when the trigger's own bound clears, with the severity it fired with.
  h.Set("error_rate", Value(0.1));
  EXPECT_THAT(h.Eval("10s"), IsEmpty());
  h.Set("error_rate", Value(0.01));
  events = h.Eval("15s");
  ASSERT_THAT(Lines(events), ElementsAre("15s trigger.resolved error_rate"));
  EXPECT_EQ(events[0].severity, Severity::kCritical);
}

TEST(EngineEscalateTest, AStepsHoldRestartsWhenTheValueFallsBelowItsBound) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.3));
  EXPECT_THAT(Lines(h.Eval("0s")), ElementsAre("0s trigger.pending error_rate"));
  h.Set("error_rate", Value(0.1));  // still above the base: pending, but the step starts over
  EXPECT_THAT(h.Eval("3s"), IsEmpty());
  h.Set("error_rate", Value(0.3));
  EXPECT_THAT(h.Run("6s", "10s", "1s"), IsEmpty());  // 6s..10s: 4s held, not 5s
  EXPECT_THAT(Lines(h.Eval("11s")),
              ElementsAre("11s trigger.firing error_rate", "11s rollback.started error_rate"));
}

TEST(EngineEscalateTest, ABriefSpikeShorterThanTheStepsHoldDoesNotFire) {
  // The brief-spike case: 50% errors for 4 s against base for 15s, step for 2s... and a step whose
  // hold is longer than the spike: nothing fires. A step's `for` decides what a spike is.
  EngineHarness h(R"(
service = "checkout"
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.02
for = "15s"
escalate = [ { above = 0.2, for = "5s" } ]
)");
  h.Set("error_rate", Value(0.0));
  h.Eval("0s");
  h.Set("error_rate", Value(0.5));
  EXPECT_THAT(Lines(h.Run("1s", "4s", "1s")), ElementsAre("1s trigger.pending error_rate"));
  h.Set("error_rate", Value(0.0));
  EXPECT_THAT(h.Run("5s", "30s", "1s"), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
}

TEST(EngineEscalateTest, QueryErrorsNeitherAdvanceNorResetAStep) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.3));
  h.Eval("0s");
  h.Set("error_rate", Err("connection refused"));
  EXPECT_THAT(h.Run("1s", "4s", "1s"), IsEmpty());
  h.Set("error_rate", Value(0.3));
  // The step has held since 0s: the error rounds are not a reset.
  EXPECT_THAT(Lines(h.Eval("5s")),
              ElementsAre("5s trigger.firing error_rate", "5s rollback.started error_rate"));
}

TEST(EngineEscalateTest, RatioStepsMoveWithTheirBaseline) {
  EngineHarness h(R"(
service = "checkout"
[[trigger]]
name = "latency"
query = 'p99'
baseline_query = 'p99_stable'
above_ratio = 1.5
for = "10m"
escalate = [ { above_ratio = 3, for = "10s" } ]
)");
  h.SetBaseline("latency", Value(0.2));
  h.Set("latency", Value(0.7));  // 3.5 x baseline
  h.Eval("0s");
  std::vector<Event> events = h.Eval("10s");
  ASSERT_THAT(Lines(events), ElementsAre("10s trigger.firing latency"));
  EXPECT_EQ(events[0].reason,
            "value 0.7 > 0.6000000000000001 (3 x baseline 0.2) held 10s >= 10s (escalate[0])");
  EXPECT_DOUBLE_EQ(events[0].threshold.value_or(-1), 0.6);
  EXPECT_DOUBLE_EQ(events[0].baseline.value_or(-1), 0.2);
}

TEST(EngineEscalateTest, BelowStepsUseASmallerBound) {
  EngineHarness h(R"(
service = "shop"
[[trigger]]
name = "orders"
query = 'orders'
below = 10
for = "5m"
escalate = [ { below = 1, for = "30s" } ]
)");
  h.Set("orders", Value(5));
  EXPECT_THAT(h.Run("0s", "1m", "10s"), ::testing::SizeIs(1));  // pending only
  h.Set("orders", Value(0.5));
  std::vector<Event> events = h.Run("1m10s", "1m40s", "10s");
  ASSERT_THAT(Lines(events), ElementsAre("1m40s trigger.firing orders"));
  EXPECT_EQ(events[0].reason, "value 0.5 < 1 held 30s >= 30s (escalate[0])");
}

TEST(EngineEscalateTest, TheNoiseFloorAndNoDataBreachApplyToEveryStep) {
  EngineHarness floor(Escalating("min_value = 0.4\n"));
  floor.Set("error_rate", Value(0.3));  // above the step, under the floor: no breach at all
  EXPECT_THAT(floor.Run("0s", "2m", "5s"), IsEmpty());

  EngineHarness gone(Escalating("no_data = \"breach\"\n"));
  gone.Set("error_rate", Empty());
  std::vector<Event> events = gone.Eval("0s");
  // no data as a breach breaches every step: the 0s step fires at once.
  ASSERT_THAT(Lines(events),
              ElementsAre("0s trigger.firing error_rate", "0s rollback.started error_rate"));
  EXPECT_EQ(events[0].reason, "no data (no_data = breach) held 0s >= 0s (escalate[1])");
  EXPECT_EQ(events[0].severity, Severity::kCritical);
}

TEST(EngineEscalateTest, EachSeriesHoldsItsOwnSteps) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Series({{L({{"pod", "a"}}), 0.3}, {L({{"pod", "b"}}), 0.05}}));
  h.Eval("0s");
  std::vector<Event> events = h.Eval("5s");
  EXPECT_THAT(Lines(events, "pod"), ElementsAre("5s trigger.firing error_rate pod=a",
                                                "5s rollback.started error_rate pod=a"));
  EXPECT_EQ(h.PhaseOf("error_rate", L({{"pod", "b"}})), "pending");
}

TEST(EngineEscalateTest, AStepsHoldSurvivesARestart) {
  EngineHarness h(Escalating());
  h.Set("error_rate", Value(0.3));
  h.Eval("0s");
  h.Eval("3s");
  const std::string saved = h.engine().SaveState();
  EngineHarness after(Escalating());
  std::string error;
  ASSERT_TRUE(after.engine().RestoreState(saved, &error)) << error;
  after.Set("error_rate", Value(0.3));
  EXPECT_THAT(Lines(after.Eval("5s")),
              ElementsAre("5s trigger.firing error_rate", "5s rollback.started error_rate"));
  // A changed step is a changed trigger: its state starts anew.
  EngineHarness changed(R"(
service = "checkout"
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.02
for = "1m"
escalate = [ { above = 0.25, for = "5s" } ]
)");
  ASSERT_TRUE(changed.engine().RestoreState(saved, &error)) << error;
  changed.Set("error_rate", Value(0.3));
  EXPECT_THAT(Lines(changed.Eval("5s")), ElementsAre("5s trigger.pending error_rate"));
}

}  // namespace
}  // namespace rollbackd::enginetest
