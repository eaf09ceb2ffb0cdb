// Baselines (queries and deploy snapshots), the traffic floor and the min_value noise floor,
// deploys seen from a version query.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// --- Traffic floor ------------------------------------------------------------------------------

std::string ErrorRateWithTraffic(const std::string& no_data) {
  return R"(
service = "checkout"
[[trigger]]
name = "error_rate"
query = 'errors / requests'
above = 0.02
min_traffic_query = 'sum(rate(requests[1m]))'
min_traffic = 1.0
for = "30s"
no_data = ")" + no_data + "\"\n";
}

TEST(EngineTrafficTest, BelowTheFloorIsNoDataUnderEachPolicy) {
  {
    EngineHarness h(ErrorRateWithTraffic("ok"));
    h.Set("error_rate", Value(1.0)).SetTraffic("error_rate", Value(5));
    EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
    h.SetTraffic("error_rate", Value(0.5));  // a 100% error rate on half a request per second
    EXPECT_THAT(Lines(h.Run("10s", "5m", "10s")), IsEmpty());
    EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
  }
  {
    EngineHarness h(ErrorRateWithTraffic("hold"));
    h.Set("error_rate", Value(1.0)).SetTraffic("error_rate", Value(5));
    EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
    h.SetTraffic("error_rate", Value(0.5));
    EXPECT_THAT(Lines(h.Run("10s", "1m", "10s")), IsEmpty());
    EXPECT_EQ(h.PhaseOf("error_rate"), "pending");
    h.SetTraffic("error_rate", Value(5));
    EXPECT_EQ(Only(h.Eval("1m10s"), EventKind::kTriggerFiring).reason,
              "value 1 > 0.02 held 1m10s >= 30s");
  }
  {
    EngineHarness h(ErrorRateWithTraffic("breach"));
    h.Set("error_rate", Value(0.0)).SetTraffic("error_rate", Value(0.5));
    std::vector<Event> events = h.Run("0s", "30s", "10s");
    ASSERT_THAT(Lines(events), ElementsAre("0s trigger.pending error_rate",
                                           "30s trigger.firing error_rate"));
    EXPECT_EQ(events[1].reason,
              "too little traffic: 0.5 < min_traffic 1 (no_data = breach) held 30s >= 30s");
  }
}

TEST(EngineTrafficTest, ExactlyAtTheFloorIsEnoughTraffic) {
  EngineHarness h(ErrorRateWithTraffic("ok"));
  h.Set("error_rate", Value(1.0)).SetTraffic("error_rate", Value(1.0));
  EXPECT_THAT(Kinds(h.Run("0s", "30s", "10s")), ElementsAre("trigger.pending", "trigger.firing"));
}

TEST(EngineTrafficTest, MissingOrNaNTrafficIsTooLittle) {
  for (QueryResult traffic : {Empty(), Value(std::numeric_limits<double>::quiet_NaN())}) {
    EngineHarness h(ErrorRateWithTraffic("breach"));
    h.Set("error_rate", Value(0.0)).SetTraffic("error_rate", traffic);
    Event pending = Only(h.Eval("0s"), EventKind::kTriggerPending);
    EXPECT_EQ(pending.reason,
              "too little traffic: none < min_traffic 1 (no_data = breach), must hold for 30s");
  }
}

TEST(EngineTrafficTest, TrafficSeriesMatchTheTriggersSeriesByLabels) {
  EngineHarness h(ErrorRateWithTraffic("ok"));
  const Labels a = L({{"instance", "a"}});
  const Labels b = L({{"instance", "b"}});
  h.Set("error_rate", Series({{a, 0.5}, {b, 0.5}}));
  h.SetTraffic("error_rate", Series({{b, 0.1}, {a, 50}}));
  EXPECT_THAT(Lines(h.Eval("0s"), "instance"),
              ElementsAre("0s trigger.pending error_rate instance=a"));
  EXPECT_EQ(h.PhaseOf("error_rate", b), "inactive");
  // A traffic series with other labels matches nothing: too little evidence for both.
  h.SetTraffic("error_rate", Series({{L({{"instance", "z"}}), 50}}));
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("error_rate", a), "inactive");
}

TEST(EngineTrafficTest, OneUnlabeledTrafficSeriesAppliesToEverySeries) {
  EngineHarness h(ErrorRateWithTraffic("ok"));
  h.Set("error_rate", Series({{L({{"instance", "a"}}), 0.5}, {L({{"instance", "b"}}), 0.5}}));
  h.SetTraffic("error_rate", Value(100));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending", "trigger.pending"));
  h.SetTraffic("error_rate", Value(0.1));
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  for (const SeriesStatus& st : h.SeriesOf("error_rate")) EXPECT_EQ(st.state, "inactive");
}

TEST(EngineTrafficTest, LargeResultsMatchByLabelsToo) {
  // Past a handful of series the matcher indexes by hash; the answer must not change.
  EngineHarness h(ErrorRateWithTraffic("ok"));
  std::vector<std::pair<Labels, double>> main, traffic;
  for (int i = 0; i < 40; ++i) {
    Labels l = L({{"instance", std::string("i").append(std::to_string(i))},
                  {"zone", i % 3 == 0 ? "x" : "y"}});
    main.emplace_back(l, 0.5);
    traffic.emplace_back(l, i % 4 == 0 ? 10.0 : 0.1);
  }
  std::reverse(traffic.begin(), traffic.end());
  h.Set("error_rate", Series(main)).SetTraffic("error_rate", Series(traffic));
  std::vector<Event> events = h.Eval("0s");
  EXPECT_EQ(events.size(), 10u);
  for (const Event& e : events) {
    EXPECT_EQ(e.kind, EventKind::kTriggerPending);
    EXPECT_EQ(std::stoi(e.labels.at("instance").substr(1)) % 4, 0) << e.labels.at("instance");
  }
}

// --- min_value ----------------------------------------------------------------------------------

TEST(EngineMinValueTest, AboveKindsCompareTheFloorWithTheValue) {
  EngineHarness h(R"(
service = "svc"
[[trigger]]
name = "p99"
query = 'p99'
baseline_query = 'p99 offset 1d'
above_ratio = 1.5
min_value = 0.05
for = "0s"
)");
  h.SetBaseline("p99", Value(0.01));
  h.Set("p99", Value(0.04));  // 4x yesterday, but under 50 ms
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.Set("p99", Value(0.05));  // at the floor: counts
  Event firing = Only(h.Eval("10s"), EventKind::kTriggerFiring);
  EXPECT_DOUBLE_EQ(firing.threshold.value_or(-1), 0.015);
  h.Set("p99", Value(0.03));
  Event resolved = Only(h.Eval("20s"), EventKind::kTriggerResolved);
  EXPECT_EQ(resolved.reason, "value 0.03 < min_value 0.05 after firing for 10s");
}

TEST(EngineMinValueTest, AboveAndAboveDeltaUseTheValueToo) {
  for (const char* cond : {"above = 0.01", "above_delta = 0.01"}) {
    std::string rule = std::string(R"(
service = "svc"
[[trigger]]
name = "t"
query = 'q'
min_value = 1
for = "0s"
)") + cond + "\n";
    if (std::string(cond).find("delta") != std::string::npos) rule += "baseline_query = 'b'\n";
    EngineHarness h(rule);
    if (std::string(cond).find("delta") != std::string::npos) h.SetBaseline("t", Value(0));
    h.Set("t", Value(0.5));
    EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty()) << cond;
    h.Set("t", Value(1.5));
    EXPECT_THAT(Kinds(h.Eval("10s")), ElementsAre("trigger.firing")) << cond;
  }
}

TEST(EngineMinValueTest, BelowRatioAndBelowDeltaCompareTheFloorWithTheBaseline) {
  for (const char* cond : {"below_ratio = 0.5", "below_delta = 2"}) {
    EngineHarness h(std::string(R"(
service = "svc"
[[trigger]]
name = "orders"
query = 'orders'
baseline_query = 'orders offset 1w'
min_value = 10
for = "0s"
)") + cond + "\n");
    // A drop from 6/min to 1/min at night means nothing: the baseline is under the floor.
    h.SetBaseline("orders", Value(6)).Set("orders", Value(1));
    EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty()) << cond;
    // The value under the floor does not matter for these kinds.
    h.SetBaseline("orders", Value(20)).Set("orders", Value(1));
    EXPECT_THAT(Kinds(h.Eval("10s")), ElementsAre("trigger.firing")) << cond;
    h.SetBaseline("orders", Value(6));
    EXPECT_EQ(Only(h.Eval("20s"), EventKind::kTriggerResolved).reason,
              "baseline 6 < min_value 10 after firing for 10s")
        << cond;
  }
}

// --- Baseline queries ---------------------------------------------------------------------------

const char* kLatency = R"(
service = "svc"
[[trigger]]
name = "latency"
query = 'p99 by (region)'
baseline_query = 'p99 by (region) offset 1d'
above_ratio = 2
for = "20s"
)";

TEST(EngineBaselineQueryTest, MatchesSeriesByIdenticalLabels) {
  EngineHarness h(kLatency);
  const Labels eu = L({{"region", "eu"}});
  const Labels us = L({{"region", "us"}});
  h.Set("latency", Series({{eu, 3}, {us, 3}}));
  h.SetBaseline("latency", Series({{us, 10}, {eu, 1}}));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_THAT(Lines(events, "region"), ElementsAre("0s trigger.pending latency region=eu"));
  EXPECT_DOUBLE_EQ(events[0].baseline.value_or(-1), 1);
  EXPECT_DOUBLE_EQ(events[0].threshold.value_or(-1), 2);
  EXPECT_EQ(events[0].reason, "value 3 > 2 (2 x baseline 1), must hold for 20s");
}

TEST(EngineBaselineQueryTest, ManySeriesInAnotherOrderStillMatchByLabels) {
  // 20 series; the baseline lists them reversed and with one missing and one extra, so the
  // in-order fast path misses and the index must find each one.
  EngineHarness h(kLatency);
  std::vector<std::pair<Labels, double>> current, baseline;
  for (int i = 0; i < 20; ++i) {
    current.emplace_back(L({{"region", std::string("r").append(std::to_string(i))}}),
                         i == 7 || i == 13 ? 50 : 5);
  }
  for (int i = 19; i >= 0; --i) {
    if (i == 13) continue;  // no baseline: holds
    baseline.emplace_back(L({{"region", std::string("r").append(std::to_string(i))}}), 10);
  }
  baseline.emplace_back(L({{"region", "elsewhere"}}), 0.001);
  h.Set("latency", Series(current));
  h.SetBaseline("latency", Series(baseline));
  EXPECT_THAT(Lines(h.Eval("0s"), "region"), ElementsAre("0s trigger.pending latency region=r7"));
  EXPECT_THAT(Lines(h.Eval("20s"), "region"), ElementsAre("20s trigger.firing latency region=r7"));
  // Same inputs again: the cursor state of the last round must not leak into this one.
  EXPECT_THAT(Lines(h.Eval("30s"), "region"), IsEmpty());
}

TEST(EngineBaselineQueryTest, ASingleUnlabeledBaselineAppliesToEverySeries) {
  EngineHarness h(kLatency);
  h.Set("latency", Series({{L({{"region", "eu"}}), 3}, {L({{"region", "us"}}), 1}}));
  h.SetBaseline("latency", Value(1));
  EXPECT_THAT(Lines(h.Eval("0s"), "region"),
              ElementsAre("0s trigger.pending latency region=eu"));
}

TEST(EngineBaselineQueryTest, OneSeriesAgainstOneSeriesWhateverTheLabels) {
  EngineHarness h(kLatency);
  h.Set("latency", Series({{L({{"track", "canary"}}), 3}}));
  h.SetBaseline("latency", Series({{L({{"track", "stable"}}), 1}}));
  Event pending = Only(h.Eval("0s"), EventKind::kTriggerPending);
  EXPECT_DOUBLE_EQ(pending.baseline.value_or(-1), 1);
}

TEST(EngineBaselineQueryTest, MissingBaselineHoldsTheWindow) {
  EngineHarness h(kLatency);
  const Labels eu = L({{"region", "eu"}});
  const Labels us = L({{"region", "us"}});
  h.Set("latency", Series({{eu, 3}, {us, 3}}));
  h.SetBaseline("latency", Series({{eu, 1}, {us, 1}}));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending", "trigger.pending"));
  // No baseline: empty, a single labeled series that matches neither, or NaN.
  h.SetBaseline("latency", Empty());
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  h.SetBaseline("latency", Series({{L({{"region", "ap"}}), 1}}));
  EXPECT_THAT(Lines(h.Eval("20s")), IsEmpty());
  h.SetBaseline("latency",
                Series({{eu, std::numeric_limits<double>::quiet_NaN()}, {us, 1}}));
  // us fires (its window ran since 0s); eu holds, neither advanced nor reset.
  EXPECT_THAT(Lines(h.Eval("30s"), "region"),
              ElementsAre("30s trigger.firing latency region=us"));
  EXPECT_EQ(h.PhaseOf("latency", eu), "pending");
  h.SetBaseline("latency", Series({{eu, 1}, {us, 1}}));
  EXPECT_EQ(Only(h.Eval("40s"), EventKind::kTriggerFiring).reason,
            "value 3 > 2 (2 x baseline 1) held 40s >= 20s");
}

TEST(EngineBaselineQueryTest, MissingBaselineNeverStartsAWindow) {
  EngineHarness h(kLatency);
  h.Set("latency", Value(100)).SetBaseline("latency", Empty());
  EXPECT_THAT(Lines(h.Run("0s", "5m", "10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("latency"), "inactive");
}

// --- Snapshots and deploys ----------------------------------------------------------------------

const char* kOrders = R"(
service = "orders"
[[trigger]]
name = "orders"
query = 'sum(rate(orders_placed_total[5m]))'
baseline = "snapshot"
below_ratio = 0.7
for = "0s"
[deploy]
version_query = 'max by (version) (app_build_info)'
)";

TEST(EngineSnapshotTest, NoSnapshotBeforeADeploy) {
  EngineHarness h(kOrders);
  h.SetVersions({"v1"});
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.Set("orders", Value(1));  // a collapse, but nothing to compare with yet
  EXPECT_THAT(Lines(h.Run("10s", "1m", "10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("orders"), "inactive");
  // The first version read names what runs; it is not a deploy.
  ServiceStatus st = h.engine().Status().at(0);
  EXPECT_EQ(st.version, "v1");
  EXPECT_FALSE(st.last_deploy.has_value());
}

TEST(EngineSnapshotTest, AVersionChangeTakesTheValueOfTheLastEvaluationBeforeIt) {
  EngineHarness h(kOrders);
  h.SetVersions({"v1"});
  h.Set("orders", Value(90));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  // At 20s the new version shows up together with the drop: the snapshot is the value at 10s.
  h.SetVersions({"v1", "v2"});
  h.Set("orders", Value(60));
  Event firing = Only(h.Eval("20s"), EventKind::kTriggerFiring);
  EXPECT_DOUBLE_EQ(firing.baseline.value_or(-1), 100);
  EXPECT_DOUBLE_EQ(firing.threshold.value_or(-1), 70);
  EXPECT_EQ(firing.version, "v2");
  ServiceStatus st = h.engine().Status().at(0);
  EXPECT_EQ(st.version, "v2");
  EXPECT_EQ(st.last_deploy, At("20s"));
  // The old version going away is not a deploy; the snapshot stays.
  h.SetVersions({"v2"});
  h.Set("orders", Value(75));
  EXPECT_THAT(Kinds(h.Eval("30s")), ElementsAre("trigger.resolved"));
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("20s"));
  h.Set("orders", Value(69));
  EXPECT_DOUBLE_EQ(Only(h.Eval("40s"), EventKind::kTriggerFiring).baseline.value_or(-1), 100);
}

TEST(EngineSnapshotTest, VersionQueryErrorsAndEmptyResultsKeepWhatWasKnown) {
  EngineHarness h(kOrders);
  h.SetVersions({"v1"});
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.SetInput(h.engine().version_input("orders"), Err("timeout"));
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  h.SetInput(h.engine().version_input("orders"), Empty());
  EXPECT_THAT(Lines(h.Eval("20s")), IsEmpty());
  h.SetVersions({"v1"});  // back: same version, no deploy
  EXPECT_THAT(Lines(h.Eval("30s")), IsEmpty());
  EXPECT_FALSE(h.engine().Status().at(0).last_deploy.has_value());
}

TEST(EngineSnapshotTest, RecordDeployTakesSnapshotsPerSeries) {
  EngineHarness h(kOrders);
  const Labels eu = L({{"region", "eu"}});
  const Labels us = L({{"region", "us"}});
  h.Set("orders", Series({{eu, 100}, {us, 10}}));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  EXPECT_FALSE(h.engine().RecordDeploy("nope", "v2", At("5s")));
  ASSERT_TRUE(h.engine().RecordDeploy("orders", "v2", At("5s")));
  EXPECT_EQ(h.engine().Status().at(0).version, "v2");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("5s"));
  h.Set("orders", Series({{eu, 50}, {us, 9}}));
  std::vector<Event> events = h.Eval("10s");
  ASSERT_THAT(Lines(events, "region"), ElementsAre("10s trigger.firing orders region=eu"));
  EXPECT_DOUBLE_EQ(events[0].baseline.value_or(-1), 100);
  EXPECT_EQ(events[0].version, "v2");
  // A series first seen after the deploy has no snapshot: it holds.
  h.Set("orders", Series({{eu, 50}, {us, 9}, {L({{"region", "ap"}}), 0}}));
  EXPECT_THAT(Lines(h.Eval("20s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("orders", L({{"region", "ap"}})), "inactive");
}

TEST(EngineSnapshotTest, ADeployPostedBeforePrometheusSeesItIsCountedOnce) {
  EngineHarness h(kOrders);
  h.SetVersions({"v1"});
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  ASSERT_TRUE(h.engine().RecordDeploy("orders", "v2", At("5s")));
  // Prometheus still reports v1, then the rollout, then v2 alone: no second deploy of v2, and no
  // deploy of v1; the snapshot stays the pre-deploy 100 even though later values are bad.
  h.Set("orders", Value(50));
  h.SetVersions({"v1"});
  EXPECT_THAT(Kinds(h.Eval("10s")), ElementsAre("trigger.firing"));
  h.SetVersions({"v1", "v2"});
  EXPECT_THAT(Lines(h.Eval("20s")), IsEmpty());
  h.SetVersions({"v2"});
  EXPECT_THAT(Lines(h.Eval("30s")), IsEmpty());
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("5s"));
  EXPECT_EQ(h.engine().Status().at(0).version, "v2");
  h.Set("orders", Value(71));  // 71 >= 0.7 x 100: the baseline is still the snapshot
  EXPECT_THAT(Kinds(h.Eval("40s")), ElementsAre("trigger.resolved"));
}

TEST(EngineSnapshotTest, ADeployPostedBeforeTheFirstVersionReadIsNotRepeated) {
  EngineHarness h(kOrders);
  ASSERT_TRUE(h.engine().RecordDeploy("orders", "v2", At("0s")));
  h.SetVersions({"v1", "v2"});
  h.Set("orders", Value(100));
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  EXPECT_EQ(h.engine().Status().at(0).version, "v2");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("0s"));
}

TEST(EngineSnapshotTest, ARollbackToTheOldVersionIsSeenAsADeploy) {
  EngineHarness h(kOrders);
  h.SetVersions({"v1"});
  h.Set("orders", Value(100));
  h.Eval("0s");
  h.SetVersions({"v2"});
  h.Eval("10s");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("10s"));
  h.SetVersions({"v1"});
  h.Eval("20s");
  EXPECT_EQ(h.engine().Status().at(0).version, "v1");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("20s"));
}

}  // namespace
}  // namespace rollbackd::enginetest
