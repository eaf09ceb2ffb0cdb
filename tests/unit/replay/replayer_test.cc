// The replayer, pure: histories in, the engine's events out, as the daemon's rounds would have
// produced them.
#include "daemon/replay/replayer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/replay/replay_test_util.h"

namespace rollbackd::replaytest {
namespace {

using ::testing::ElementsAre;

constexpr const char* kRule = R"(service  = "shop"
interval = "15s"

[[trigger]]
name     = "errors"
query    = 'sum(rate(errors[1m]))'
above    = 0.05
for      = "1m"
severity = "critical"

[[health]]
name = "ping"
url  = "http://127.0.0.1:1/"
for  = "30s"

[deploy]
version_query = 'max by (version) (build_info)'

[rollback]
exec     = ["/bin/false"]
cooldown = "1h"
verify   = "5m"
)";

// The request of `input` among `requests`.
const RangeRequestSpec& Spec(const Replayer& r, int input) {
  for (const RangeRequestSpec& s : r.requests()) {
    if (s.input == input) return s;
  }
  throw std::invalid_argument("no request for input " + std::to_string(input));
}

struct Fixture {
  Replayer replayer;
  int errors = -1;
  int version = -1;
  explicit Fixture(Duration window, std::optional<Duration> step = std::nullopt,
                   const std::string& rule = kRule)
      : replayer(ConfigFrom({rule}), kT0, kT0 + window, step) {
    errors = replayer.engine().trigger_inputs("shop", "errors")->query;
    version = replayer.engine().version_input("shop");
  }
};

TEST(Replayer, AsksForEveryPrometheusInputOverTheServiceGridAndNoProbe) {
  Fixture s(D("1h"));
  ASSERT_EQ(s.replayer.requests().size(), 2u);  // the trigger and the version query
  const RangeRequestSpec& e = Spec(s.replayer, s.errors);
  EXPECT_EQ(e.query, "sum(rate(errors[1m]))");
  EXPECT_EQ(e.source, "default");
  EXPECT_EQ(e.grid.start, kT0);
  EXPECT_EQ(e.grid.step, D("15s"));
  EXPECT_EQ(e.grid.steps, 241u);  // both ends included
  Fixture stepped(D("1h"), D("1m"));
  EXPECT_EQ(Spec(stepped.replayer, stepped.errors).grid.steps, 61u);
}

TEST(Replayer, ABadDeployFoundFromTheVersionHistoryIsRolledBackAndVerified) {
  Fixture s(D("30m"));
  // v2 at step 20 (5m); errors from 5m to 10m; the data recovers on its own (no hook ran).
  std::vector<InputHistory> h = {
      History(Spec(s.replayer, s.errors), [](size_t k) { return k >= 20 && k < 40 ? 0.3 : 0.01; }),
      VersionHistory(Spec(s.replayer, s.version), [](size_t k) { return k < 20 ? "v1" : "v2"; })};
  ReplayResult r = s.replayer.Run(h, ReplayOptions{});
  EXPECT_THAT(Lines(r),
              ElementsAre("+5m trigger.pending errors", "+6m trigger.firing errors",
                          "+6m rollback.started errors", "+6m rollback.succeeded errors",
                          "+10m trigger.resolved errors", "+10m rollback.verified errors"));
  EXPECT_EQ(r.evaluations, 121u);
  EXPECT_EQ(r.events[2].version, "v2");
  EXPECT_TRUE(r.failures.empty());
  ASSERT_EQ(r.services.size(), 1u);
  EXPECT_THAT(r.services[0].not_replayed, ElementsAre("ping"));
}

TEST(Replayer, HookFailureIsTheOutcomeTheReplayReports) {
  Fixture s(D("30m"));
  std::vector<InputHistory> h = {
      History(Spec(s.replayer, s.errors), [](size_t k) { return k >= 20 ? 0.3 : 0.01; }),
      VersionHistory(Spec(s.replayer, s.version), [](size_t k) { return k < 20 ? "v1" : "v2"; })};
  ReplayOptions options;
  options.hook_success = false;
  ReplayResult r = s.replayer.Run(h, options);
  EXPECT_THAT(Lines(r), ElementsAre("+5m trigger.pending errors", "+6m trigger.firing errors",
                                    "+6m rollback.started errors", "+6m rollback.failed errors"));
  EXPECT_NE(r.events.back().reason.find("replay --hook failure"), std::string::npos)
      << r.events.back().reason;
}

TEST(Replayer, OutsideTheGuardABreachIsSkippedNotRolledBack) {
  std::string rule = kRule;
  rule.replace(rule.find("[rollback]"), 0, "guard = \"30m\"\n\n");
  Fixture s(D("10m"), std::nullopt, rule);
  // No deploy in the window: the version never changes.
  std::vector<InputHistory> h = {
      History(Spec(s.replayer, s.errors), [](size_t k) { return k >= 4 ? 0.3 : 0.01; }),
      VersionHistory(Spec(s.replayer, s.version), [](size_t) { return "v1"; })};
  ReplayResult r = s.replayer.Run(h, ReplayOptions{});
  ASSERT_GE(r.events.size(), 3u);
  EXPECT_EQ(r.events[2].kind, EventKind::kRollbackSkipped);
  EXPECT_EQ(r.events[2].skip_reason, "outside_guard");
}

TEST(Replayer, AFailedRequestIsAnErrorInputNeverABreachAndIsReportedWithItsSteps) {
  Fixture s(D("30m"));
  InputHistory errors =
      History(Spec(s.replayer, s.errors), [](size_t k) { return k >= 20 ? 0.3 : 0.01; });
  // The request over steps 16..40 failed: breaching values there were never read.
  errors.failures.push_back({16, 40, QueryResult::Error("bad_data: boom", InputError::kPromql)});
  std::vector<InputHistory> h = {errors, VersionHistory(Spec(s.replayer, s.version), [](size_t k) {
                                   return k < 20 ? "v1" : "v2";
                                 })};
  ReplayResult r = s.replayer.Run(h, ReplayOptions{});
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].input, "shop/errors");
  EXPECT_EQ(r.failures[0].first, kT0 + D("4m"));
  EXPECT_EQ(r.failures[0].last, kT0 + D("10m"));
  EXPECT_EQ(r.failures[0].steps, 25u);
  EXPECT_EQ(r.failures[0].query, "sum(rate(errors[1m]))");
  // Errors for longer than `for` are source.down; the breach counts only once values come back.
  EXPECT_THAT(Lines(r),
              ElementsAre("+5m15s source.down errors", "+10m15s source.up errors",
                          "+10m15s trigger.pending errors", "+11m15s trigger.firing errors",
                          "+11m15s rollback.started errors", "+11m15s rollback.succeeded errors",
                          "+16m15s rollback.not_recovered errors"));
}

TEST(Replayer, RecordsValueThresholdAndStateForThePlotBoundedPerTrigger) {
  Fixture s(D("10m"));
  InputHistory errors;
  errors.input = s.errors;
  errors.grid = Spec(s.replayer, s.errors).grid;
  for (int pod = 0; pod < 12; ++pod) {
    InputHistory::Series series;
    series.labels = Labels({{"pod", "p" + std::to_string(pod)}});
    for (uint32_t k = 0; k < errors.grid.steps; ++k) {
      series.steps.push_back(k);
      series.values.push_back(pod == 0 && k >= 8 ? 0.3 : 0.01);
    }
    errors.series.push_back(std::move(series));
  }
  std::vector<InputHistory> h = {errors, VersionHistory(Spec(s.replayer, s.version), [](size_t k) {
                                   return k < 8 ? "v1" : "v2";
                                 })};
  ReplayOptions options;
  options.record_series = true;
  options.max_series_per_trigger = 8;
  ReplayResult r = s.replayer.Run(h, options);
  ASSERT_EQ(r.plots.size(), 8u);
  EXPECT_EQ(r.series_not_plotted, 4u);
  const PlotSeries& p0 = r.plots[0];
  EXPECT_EQ(p0.trigger, "errors");
  ASSERT_EQ(p0.points.size(), 41u);
  EXPECT_EQ(p0.points[0].value, 0.01);
  EXPECT_EQ(p0.points[0].threshold, 0.05);
  EXPECT_EQ(p0.points[8].state, PlotSeries::kPending);
  EXPECT_EQ(p0.points[12].state, PlotSeries::kFiring);
  ASSERT_EQ(r.deploys.size(), 1u);
  EXPECT_EQ(r.deploys[0].version, "v2");
  EXPECT_EQ(r.deploys[0].time, kT0 + D("2m"));
}

}  // namespace
}  // namespace rollbackd::replaytest
