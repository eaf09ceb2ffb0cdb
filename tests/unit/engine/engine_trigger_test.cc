// The per-series state machine: the `for` window, no data, NaN, query errors, fan-out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// error_rate above 0.05 for 1m; `extra` is appended to the trigger.
std::string ErrorRate(const std::string& extra = "", const std::string& for_ = "1m") {
  return R"(
service = "checkout"
labels = { team = "payments", env = "prod" }
[[trigger]]
name = "error_rate"
query = 'sum(rate(errors[1m])) / sum(rate(requests[1m]))'
above = 0.05
severity = "critical"
for = ")" + for_ + "\"\n" + extra;
}

// --- The `for` window ---------------------------------------------------------------------------

TEST(EngineWindowTest, GivenForOneMinuteBreachingFrom10sItFiresAt70s) {
  EngineHarness h(ErrorRate());
  h.Set("error_rate", Value(0.01));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Run("10s", "1m30s", "10s");
  EXPECT_THAT(Lines(events),
              ElementsAre("10s trigger.pending error_rate", "1m10s trigger.firing error_rate"));
  ASSERT_EQ(events.size(), 2u);

  const Event& pending = events[0];
  EXPECT_EQ(pending.reason, "value 0.31 > 0.05, must hold for 1m");
  EXPECT_EQ(pending.severity, Severity::kCritical);
  EXPECT_DOUBLE_EQ(pending.value.value_or(-1), 0.31);
  EXPECT_DOUBLE_EQ(pending.threshold.value_or(-1), 0.05);
  EXPECT_FALSE(pending.baseline.has_value());
  EXPECT_EQ(pending.condition, "above 0.05");
  EXPECT_THAT(pending.labels, UnorderedElementsAre(Pair("team", "payments"), Pair("env", "prod")));

  const Event& firing = events[1];
  EXPECT_EQ(firing.time, At("1m10s"));
  EXPECT_EQ(firing.reason, "value 0.31 > 0.05 held 1m >= 1m");
  EXPECT_EQ(firing.service, "checkout");
  EXPECT_EQ(firing.trigger, "error_rate");
  EXPECT_EQ(firing.severity, Severity::kCritical);
  EXPECT_NE(firing.id, pending.id);
}

TEST(EngineWindowTest, FiresOnTheFirstEvaluationWithHeldAtLeastFor) {
  EngineHarness h(ErrorRate());
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  EXPECT_THAT(Kinds(h.Eval("31s")), IsEmpty());
  EXPECT_THAT(Kinds(h.Eval("59s999ms")), IsEmpty());
  Event firing = Only(h.Eval("1m2s"), EventKind::kTriggerFiring);
  EXPECT_EQ(firing.reason, "value 0.31 > 0.05 held 1m2s >= 1m");
  // Firing stays firing without repeating itself.
  EXPECT_THAT(Lines(h.Run("1m10s", "5m", "10s")), IsEmpty());
  std::vector<SeriesStatus> st = h.SeriesOf("error_rate");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].state, "firing");
  EXPECT_EQ(st[0].pending_since, At("0s"));
  EXPECT_EQ(st[0].firing_since, At("1m2s"));
  EXPECT_DOUBLE_EQ(st[0].value, 0.31);
}

TEST(EngineWindowTest, AnOkEvaluationWhilePendingResetsSilently) {
  EngineHarness h(ErrorRate());
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Lines(h.Run("0s", "20s", "10s")), ElementsAre("0s trigger.pending error_rate"));
  h.Set("error_rate", Value(0.05));  // exactly at the threshold: not a breach
  EXPECT_THAT(Lines(h.Eval("30s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
  h.Set("error_rate", Value(0.31));
  // The window starts again at 40s, so 1m (60s after the first breach) is not enough.
  EXPECT_THAT(Lines(h.Run("40s", "2m", "10s")),
              ElementsAre("40s trigger.pending error_rate", "1m40s trigger.firing error_rate"));
}

TEST(EngineWindowTest, ForZeroFiresAtOnceWithoutPending) {
  EngineHarness h(ErrorRate("", "0s"));
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_THAT(Lines(events), ElementsAre("0s trigger.firing error_rate"));
  EXPECT_EQ(events[0].reason, "value 0.31 > 0.05 held 0s >= 0s");
  EXPECT_EQ(h.PhaseOf("error_rate"), "firing");
}

TEST(EngineWindowTest, ResolvesOnTheFirstNonBreachingEvaluationAndCanFireAgain) {
  EngineHarness h(ErrorRate("", "20s"));
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Run("0s", "30s", "10s");
  ASSERT_THAT(Lines(events),
              ElementsAre("0s trigger.pending error_rate", "20s trigger.firing error_rate"));
  const std::string firing_id = events[1].id;
  h.Set("error_rate", Value(0.01));
  Event resolved = Only(h.Eval("40s"), EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason, "value 0.01 <= 0.05 after firing for 20s");
  EXPECT_EQ(resolved.cause_id, firing_id);
  EXPECT_DOUBLE_EQ(resolved.value.value_or(-1), 0.01);
  EXPECT_DOUBLE_EQ(resolved.threshold.value_or(-1), 0.05);
  EXPECT_EQ(resolved.severity, Severity::kCritical);
  EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
  EXPECT_THAT(Lines(h.Eval("50s")), IsEmpty());
  h.Set("error_rate", Value(0.2));
  EXPECT_THAT(Lines(h.Run("1m", "1m30s", "10s")),
              ElementsAre("1m trigger.pending error_rate", "1m20s trigger.firing error_rate"));
}

TEST(EngineWindowTest, TriggersWhoseInputWasNotReadAreNotEvaluated) {
  EngineHarness h(ErrorRate());
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Unset("error_rate");
  EXPECT_THAT(Lines(h.Run("10s", "5m", "10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate"), "pending");
  h.Set("error_rate", Value(0.31));
  EXPECT_EQ(Only(h.Eval("5m10s"), EventKind::kTriggerFiring).reason,
            "value 0.31 > 0.05 held 5m10s >= 1m");
}

// --- No data ------------------------------------------------------------------------------------

TEST(EngineNoDataTest, OkResetsThePendingWindowAndResolvesAFiringTrigger) {
  EngineHarness h(ErrorRate());  // no_data = "ok" is the default
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("error_rate", Empty());
  EXPECT_THAT(Lines(h.Eval("30s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate"), "absent");
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Lines(h.Run("40s", "1m40s", "10s")),
              ElementsAre("40s trigger.pending error_rate", "1m40s trigger.firing error_rate"));
  h.Set("error_rate", Empty());
  Event resolved = Only(h.Eval("1m50s"), EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason, "no data (no_data = ok) after firing for 10s");
  EXPECT_FALSE(resolved.value.has_value());
}

TEST(EngineNoDataTest, HoldKeepsEveryStateAsItIs) {
  EngineHarness h(ErrorRate("no_data = \"hold\"\n"));
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("error_rate", Empty());
  EXPECT_THAT(Lines(h.Run("10s", "2m", "10s")), IsEmpty());  // neither fires nor resets
  EXPECT_EQ(h.PhaseOf("error_rate"), "pending");
  h.Set("error_rate", Value(0.31));
  EXPECT_EQ(Only(h.Eval("2m10s"), EventKind::kTriggerFiring).reason,
            "value 0.31 > 0.05 held 2m10s >= 1m");
  h.Set("error_rate", Empty());
  EXPECT_THAT(Lines(h.Run("2m20s", "3m", "10s")), IsEmpty());  // firing stays firing
  EXPECT_EQ(h.PhaseOf("error_rate"), "firing");
}

TEST(EngineNoDataTest, BreachCountsAnEmptyResultAsABreachOfOneUnlabeledSeries) {
  EngineHarness h(ErrorRate("no_data = \"breach\"\nlabels = { env = \"canary\" }\n"));
  h.Set("error_rate", Empty());
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  ASSERT_THAT(Lines(events),
              ElementsAre("0s trigger.pending error_rate", "1m trigger.firing error_rate"));
  EXPECT_EQ(events[0].reason, "no data (no_data = breach), must hold for 1m");
  EXPECT_EQ(events[1].reason, "no data (no_data = breach) held 1m >= 1m");
  EXPECT_FALSE(events[1].value.has_value());
  EXPECT_FALSE(events[1].threshold.has_value());
  // Service labels, then trigger labels (which win); no series labels.
  EXPECT_THAT(events[1].labels,
              UnorderedElementsAre(Pair("team", "payments"), Pair("env", "canary")));
  h.Set("error_rate", Value(0.01));
  // The unlabeled "absence" series is the same series as an unlabeled value: it resolves.
  Event resolved = Only(h.Eval("1m10s"), EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason, "value 0.01 <= 0.05 after firing for 10s");
}

struct NotANumberCase {
  double value;
  const char* policy;
};

class EngineNotANumberTest : public ::testing::TestWithParam<NotANumberCase> {};

TEST_P(EngineNotANumberTest, CountsAsNoDataUnderThePolicy) {
  const NotANumberCase& c = GetParam();
  EngineHarness h(ErrorRate(std::string("no_data = \"") + c.policy + "\"\n"));
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("error_rate", Value(c.value));
  std::vector<Event> events = h.Run("10s", "1m", "10s");
  const std::string policy = c.policy;
  if (policy == "ok") {
    EXPECT_THAT(Lines(events), IsEmpty());
    EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
  } else if (policy == "hold") {
    EXPECT_THAT(Lines(events), IsEmpty());
    EXPECT_EQ(h.PhaseOf("error_rate"), "pending");
  } else {
    ASSERT_THAT(Lines(events), ElementsAre("1m trigger.firing error_rate"));
    // The reason names the value as Prometheus writes it: +Inf is not "not a number".
    const std::string shown = std::isnan(c.value) ? "NaN" : c.value > 0 ? "+Inf" : "-Inf";
    EXPECT_EQ(events[0].reason,
              "value " + shown + " is not a finite number (no_data = breach) held 1m >= 1m");
    EXPECT_FALSE(events[0].value.has_value());  // NaN never reaches an event
  }
  // The last finite value is what the status shows.
  std::vector<SeriesStatus> st = h.SeriesOf("error_rate");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_DOUBLE_EQ(st[0].value, 0.31);
}

INSTANTIATE_TEST_SUITE_P(
    Values, EngineNotANumberTest,
    ::testing::Values(NotANumberCase{kNaN, "ok"}, NotANumberCase{kNaN, "hold"},
                      NotANumberCase{kNaN, "breach"}, NotANumberCase{kInf, "ok"},
                      NotANumberCase{kInf, "hold"}, NotANumberCase{kInf, "breach"},
                      NotANumberCase{-kInf, "ok"}, NotANumberCase{-kInf, "hold"},
                      NotANumberCase{-kInf, "breach"}));

// Reasons print the shortest decimal that reads back as the same double: with %g's six digits,
// 1000000.4 > 1000000 read "value 1e+06 > 1e+06".
TEST(EngineReasonTest, NumbersAreExactNotSixDigits) {
  EngineHarness h(R"(
service = "checkout"
[[trigger]]
name = "orders"
query = 'sum(orders)'
above = 1000000
for = "0s"
)");
  h.Set("orders", Value(1000000.4));
  Event firing = Only(h.Eval("0s"), EventKind::kTriggerFiring);
  EXPECT_EQ(firing.reason, "value 1000000.4 > 1000000 held 0s >= 0s");
  h.Set("orders", Value(0.1 + 0.2));
  Event resolved = Only(h.Eval("10s"), EventKind::kTriggerResolved);
  EXPECT_THAT(resolved.reason, HasSubstr("value 0.30000000000000004 <= 1000000"));
}

TEST(EngineNoDataTest, NaNWhileFiringWithPolicyOkResolves) {
  EngineHarness h(ErrorRate("", "0s"));
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.firing"));
  h.Set("error_rate", Value(kNaN));
  Event resolved = Only(h.Eval("10s"), EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason,
            "value NaN is not a finite number (no_data = ok) after firing for 10s");
}

// --- Query errors -------------------------------------------------------------------------------

TEST(EngineErrorTest, ErrorsNeitherAdvanceNorResetAPendingWindow) {
  EngineHarness h(ErrorRate());
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("error_rate", Err("connection refused"));
  // Past `for`, errors alone never fire.
  EXPECT_THAT(Kinds(h.Run("10s", "1m", "10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate"), "pending");
  h.Set("error_rate", Value(0.31));
  // The window was not reset: the first good evaluation fires, measured from the first breach.
  // 50s of errors is not longer than `for`: no source.down, so no source.up either.
  std::vector<Event> events = h.Eval("1m10s");
  ASSERT_THAT(Kinds(events), ElementsAre("trigger.firing"));
  EXPECT_EQ(events[0].reason, "value 0.31 > 0.05 held 1m10s >= 1m");
}

TEST(EngineErrorTest, ErrorsNeverResolveAFiringTrigger) {
  EngineHarness h(ErrorRate("", "0s"));
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.firing"));
  h.Set("error_rate", Err("timeout"));
  for (const Event& e : h.Run("10s", "2m", "10s")) {
    EXPECT_NE(e.kind, EventKind::kTriggerResolved);
  }
  EXPECT_EQ(h.PhaseOf("error_rate"), "firing");
}

TEST(EngineErrorTest, SourceDownOnceErrorsLastStrictlyLongerThanForThenSourceUp) {
  EngineHarness h(ErrorRate("labels = { owner = \"sre\" }\n", "30s"));
  h.Set("error_rate", Err("connection refused"));
  EXPECT_THAT(Lines(h.Run("0s", "30s", "10s")), IsEmpty());  // 30s is not > 30s
  ASSERT_EQ(h.engine().Status().size(), 1u);
  EXPECT_THAT(h.engine().Status()[0].errors,
              ElementsAre(Pair("error_rate", "connection refused")));
  std::vector<Event> events = h.Eval("40s");
  ASSERT_THAT(Lines(events), ElementsAre("40s source.down error_rate"));
  const Event down = events[0];
  EXPECT_EQ(down.severity, Severity::kWarning);
  EXPECT_EQ(down.reason, "source \"default\": queries failing for 40s > for 30s: connection refused");
  EXPECT_EQ(down.condition, "");
  EXPECT_FALSE(down.value.has_value());
  EXPECT_THAT(down.labels, UnorderedElementsAre(Pair("team", "payments"), Pair("env", "prod"),
                                                Pair("owner", "sre")));
  EXPECT_THAT(Lines(h.Run("50s", "5m", "10s")), IsEmpty());  // once
  h.Set("error_rate", Value(0.01));
  events = h.Eval("5m10s");
  ASSERT_THAT(Lines(events), ElementsAre("5m10s source.up error_rate"));
  EXPECT_EQ(events[0].reason, "source \"default\": queries succeed again after failing for 5m10s");
  EXPECT_EQ(events[0].severity, Severity::kWarning);
  EXPECT_NE(events[0].id, down.id);
  EXPECT_TRUE(h.engine().Status()[0].errors.empty());
  EXPECT_THAT(Lines(h.Eval("5m20s")), IsEmpty());
}

TEST(EngineErrorTest, ShortOutagesRaiseNothingAndTheErrorClockRestarts) {
  EngineHarness h(ErrorRate("", "30s"));
  h.Set("error_rate", Err("timeout"));
  EXPECT_THAT(Lines(h.Run("0s", "30s", "10s")), IsEmpty());
  h.Set("error_rate", Value(0.01));
  EXPECT_THAT(Lines(h.Eval("40s")), IsEmpty());  // no source.up without a source.down
  h.Set("error_rate", Err("timeout"));
  EXPECT_THAT(Lines(h.Run("50s", "1m20s", "10s")), IsEmpty());  // 30s since 50s
  EXPECT_THAT(Lines(h.Eval("1m21s")), ElementsAre("1m21s source.down error_rate"));
}

TEST(EngineErrorTest, ForZeroRaisesSourceDownOnTheSecondErrorNotTheFirst) {
  EngineHarness h(ErrorRate("", "0s"));
  h.Set("error_rate", Err("timeout"));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  EXPECT_EQ(Only(h.Eval("10s"), EventKind::kSourceDown).reason,
            "source \"default\": queries failing for 10s > for 0s: timeout");
}

TEST(EngineErrorTest, BaselineAndTrafficErrorsCountAsErrors) {
  const std::string rule = R"(
service = "svc"
[[trigger]]
name = "latency"
query = 'q'
baseline_query = 'b'
above_ratio = 2
min_traffic_query = 'traffic'
min_traffic = 1
for = "20s"
)";
  {
    EngineHarness h(rule);
    h.Set("latency", Value(5)).SetBaseline("latency", Value(1)).SetTraffic("latency", Value(10));
    EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
    h.SetBaseline("latency", Err("bad response"));
    EXPECT_THAT(Lines(h.Run("10s", "30s", "10s")), IsEmpty());  // not reset, not advanced
    EXPECT_EQ(h.PhaseOf("latency"), "pending");
    EXPECT_EQ(Only(h.Eval("31s"), EventKind::kSourceDown).reason,
              "source \"default\": queries failing for 21s > for 20s: baseline_query: bad response");
  }
  {
    EngineHarness h(rule);
    h.Set("latency", Value(5)).SetBaseline("latency", Value(1)).SetTraffic("latency", Value(10));
    EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
    h.SetTraffic("latency", Err("timeout"));
    EXPECT_THAT(Lines(h.Run("10s", "30s", "10s")), IsEmpty());
    EXPECT_EQ(Only(h.Eval("31s"), EventKind::kSourceDown).reason,
              "source \"default\": queries failing for 21s > for 20s: min_traffic_query: timeout");
    h.SetTraffic("latency", Value(10));
    std::vector<Event> events = h.Eval("40s");
    EXPECT_THAT(Kinds(events), ElementsAre("source.up", "trigger.firing"));
  }
  {
    // A secondary input that was not read this round is an error too, never a guess.
    EngineHarness h(rule);
    h.Set("latency", Value(5)).SetTraffic("latency", Value(10));
    EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
    ASSERT_EQ(h.engine().Status()[0].errors.size(), 1u);
    EXPECT_EQ(h.engine().Status()[0].errors[0].second,
              "baseline_query was not read this round");
  }
}

// --- Fan-out ------------------------------------------------------------------------------------

const char* kFanOut = R"(
service = "web"
labels = { team = "web", env = "prod" }
[[trigger]]
name = "errors"
query = 'sum by (instance) (rate(errors[1m]))'
above = 1
for = "1m"
labels = { env = "canary" }
)";

TEST(EngineFanOutTest, SeriesAreTrackedIndependently) {
  EngineHarness h(kFanOut);
  const Labels a = L({{"instance", "a"}});
  const Labels b = L({{"instance", "b"}});
  h.Set("errors", Series({{a, 5}, {b, 0}}));
  EXPECT_THAT(Lines(h.Run("0s", "20s", "10s"), "instance"),
              ElementsAre("0s trigger.pending errors instance=a"));
  h.Set("errors", Series({{a, 5}, {b, 5}}));
  std::vector<Event> events = h.Run("30s", "2m", "10s");
  EXPECT_THAT(Lines(events, "instance"),
              ElementsAre("30s trigger.pending errors instance=b",
                          "1m trigger.firing errors instance=a",
                          "1m30s trigger.firing errors instance=b"));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_NE(events[1].id, events[2].id);
  // a recovers; b keeps firing.
  h.Set("errors", Series({{a, 0}, {b, 5}}));
  EXPECT_THAT(Lines(h.Eval("2m10s"), "instance"),
              ElementsAre("2m10s trigger.resolved errors instance=a"));
  EXPECT_EQ(h.PhaseOf("errors", a), "inactive");
  EXPECT_EQ(h.PhaseOf("errors", b), "firing");
}

TEST(EngineFanOutTest, EventLabelsAreSeriesThenServiceThenTriggerLabels) {
  EngineHarness h(kFanOut);
  h.Set("errors", Series({{L({{"__name__", "errors_total"},
                              {"instance", "a"},
                              {"team", "from-series"},
                              {"env", "from-series"},
                              {"pod", "a-1"}}),
                            5}}));
  Event pending = Only(h.Eval("0s"), EventKind::kTriggerPending);
  EXPECT_THAT(pending.labels,
              UnorderedElementsAre(Pair("instance", "a"), Pair("pod", "a-1"),
                                   Pair("team", "web"), Pair("env", "canary")));
}

TEST(EngineFanOutTest, SeriesThatDisappearResolveAndAreForgotten) {
  EngineHarness h(kFanOut);
  const Labels a = L({{"instance", "a"}});
  const Labels b = L({{"instance", "b"}});
  const Labels c = L({{"instance", "c"}});
  h.Set("errors", Series({{a, 5}, {b, 5}}));
  EXPECT_THAT(Kinds(h.Run("0s", "1m", "10s")),
              ElementsAre("trigger.pending", "trigger.pending", "trigger.firing",
                          "trigger.firing"));
  h.Set("errors", Series({{b, 5}, {c, 5}}));
  std::vector<Event> events = h.Eval("1m10s");
  EXPECT_THAT(Lines(events, "instance"),
              UnorderedElementsAre("1m10s trigger.pending errors instance=c",
                                   "1m10s trigger.resolved errors instance=a"));
  Event resolved = Only(events, EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason, "series no longer returned by the query after firing for 10s");
  EXPECT_EQ(resolved.labels.at("instance"), "a");
  EXPECT_EQ(h.PhaseOf("errors", a), "absent");
  // A pending series that vanishes is forgotten silently; when it returns, it starts anew.
  h.Set("errors", Series({{b, 5}}));
  EXPECT_THAT(Lines(h.Eval("1m20s")), IsEmpty());
  h.Set("errors", Series({{b, 5}, {c, 5}}));
  EXPECT_THAT(Lines(h.Eval("1m30s"), "instance"),
              ElementsAre("1m30s trigger.pending errors instance=c"));
}

TEST(EngineFanOutTest, ADuplicateLabelSetInOneResultCountsOnce) {
  EngineHarness h(kFanOut);
  const Labels a = L({{"instance", "a"}});
  h.Set("errors", Series({{a, 5}, {a, 0}}));
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  EXPECT_THAT(Kinds(events), ElementsAre("trigger.pending", "trigger.firing"));
  EXPECT_EQ(h.SeriesOf("errors").size(), 1u);
}

TEST(EngineFanOutTest, ManySeriesEachKeepTheirOwnWindow) {
  EngineHarness h(kFanOut);
  std::vector<std::pair<Labels, double>> samples;
  for (int i = 0; i < 50; ++i) {
    samples.emplace_back(L({{"instance", std::string("i").append(std::to_string(i))}}),
                         i % 2 == 0 ? 5 : 0);
  }
  h.Set("errors", Series(samples));
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  int pending = 0, firing = 0;
  for (const Event& e : events) {
    if (e.kind == EventKind::kTriggerPending) ++pending;
    if (e.kind == EventKind::kTriggerFiring) ++firing;
    EXPECT_EQ(std::stoi(e.labels.at("instance").substr(1)) % 2, 0);
  }
  EXPECT_EQ(pending, 25);
  EXPECT_EQ(firing, 25);
  EXPECT_EQ(h.SeriesOf("errors").size(), 50u);
}

}  // namespace
}  // namespace rollbackd::enginetest
