// `match`: one fleet-wide query shared by many services' triggers, each keeping only its own
// series (in its query, baseline and traffic queries, and [deploy].version_query).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kFleetQuery[] =
    "sum by (service) (rate(http_requests_total{code=~\"5..\"}[1m])) / "
    "sum by (service) (rate(http_requests_total[1m]))";

// A service's rule file reading the fleet query, keeping its own series. `extra` goes into the
// trigger.
std::string FleetRules(const std::string& service, const std::string& extra = "") {
  return "service = \"" + service + "\"\n[[trigger]]\nname = \"error_rate\"\nquery = '" +
         kFleetQuery + "'\nmatch = { service = \"" + service +
         "\" }\nabove = 0.05\nfor = \"20s\"\nseverity = \"critical\"\n" + extra +
         "\n[rollback]\nexec = [\"undo\"]\ncooldown = \"30m\"\nverify = \"5m\"\n";
}

Labels Svc(const std::string& name) { return L({{"service", name}}); }

TEST(EngineMatchTest, KeepsOnlyTheSeriesWithTheMatchedLabels) {
  EngineHarness h(FleetRules("checkout"));
  h.Set("error_rate", Series({{Svc("cart"), 0.9}, {Svc("checkout"), 0.01}, {Svc("search"), 0.9}}));
  EXPECT_THAT(h.Run("0s", "1m", "10s"), IsEmpty()) << "other services' breaches are not ours";
  EXPECT_THAT(h.SeriesOf("error_rate").size(), 1u);
  EXPECT_EQ(h.PhaseOf("error_rate", Svc("checkout")), "inactive");

  h.Set("error_rate", Series({{Svc("cart"), 0.9}, {Svc("checkout"), 0.2}, {Svc("search"), 0.0}}));
  std::vector<Event> events = h.Run("1m10s", "1m30s", "10s");
  EXPECT_THAT(Lines(events, "service"),
              ElementsAre("1m10s trigger.pending error_rate service=checkout",
                          "1m30s trigger.firing error_rate service=checkout",
                          "1m30s rollback.started error_rate service=checkout"));
  const Event firing = Only(events, EventKind::kTriggerFiring);
  EXPECT_EQ(firing.service, "checkout");
  EXPECT_DOUBLE_EQ(*firing.value, 0.2);
}

TEST(EngineMatchTest, NothingMatchingIsNoDataUnderTheNoDataPolicy) {
  // no_data = "ok" (default): a firing series whose service vanished from the result resolves.
  EngineHarness ok(FleetRules("checkout"));
  ok.Set("error_rate", Series({{Svc("checkout"), 0.5}}));
  ok.Run("0s", "20s", "10s");
  ASSERT_EQ(ok.PhaseOf("error_rate", Svc("checkout")), "firing");
  ok.Set("error_rate", Series({{Svc("cart"), 0.5}}));
  const Event resolved = Only(ok.Eval("30s"), EventKind::kTriggerResolved);
  EXPECT_THAT(resolved.reason,
              HasSubstr("no data: no series matches {service=\"checkout\"} (no_data = ok)"));

  // no_data = "breach": only other services' series is "the service vanished".
  EngineHarness breach(FleetRules("checkout", "no_data = \"breach\""));
  breach.Set("error_rate", Series({{Svc("cart"), 0.0}, {Svc("search"), 0.0}}));
  std::vector<Event> events = breach.Run("0s", "20s", "10s");
  EXPECT_THAT(Lines(events), ElementsAre("0s trigger.pending error_rate",
                                         "20s trigger.firing error_rate",
                                         "20s rollback.started error_rate"));
  EXPECT_THAT(events[0].reason, HasSubstr("no series matches {service=\"checkout\"}"));

  // no_data = "hold": nothing moves.
  EngineHarness hold(FleetRules("checkout", "no_data = \"hold\""));
  hold.Set("error_rate", Series({{Svc("checkout"), 0.5}}));
  hold.Eval("0s");
  hold.Set("error_rate", Series({{Svc("cart"), 0.5}}));
  EXPECT_THAT(hold.Run("10s", "1m", "10s"), IsEmpty());
  EXPECT_EQ(hold.PhaseOf("error_rate", Svc("checkout")), "pending");
}

TEST(EngineMatchTest, AnEmptyValueMatchesSeriesWithoutTheLabel) {
  EngineHarness h(R"(
service = "edge"
[[trigger]]
name = "errors"
query = 'errors'
match = { canary = "" }
above = 1
for = "0s"
)");
  h.Set("errors", Series({{L({{"pod", "a"}}), 5}, {L({{"canary", "yes"}, {"pod", "b"}}), 5}}));
  EXPECT_THAT(Lines(h.Eval("0s"), "pod"), ElementsAre("0s trigger.firing errors pod=a"));
}

TEST(EngineMatchTest, BaselineAndTrafficSeriesPassTheSameFilter) {
  EngineHarness h(R"(
service = "checkout"
[[trigger]]
name = "latency"
query = 'fleet_p99'
baseline_query = 'fleet_p99 offset 1d'
match = { service = "checkout" }
above_ratio = 2
min_traffic_query = 'fleet_rps'
min_traffic = 1
for = "0s"
)");
  // Other services' baselines and traffic are not ours, even when they are the only ones there.
  h.Set("latency", Series({{Svc("cart"), 0.1}, {Svc("checkout"), 0.5}}));
  h.SetBaseline("latency", Series({{Svc("cart"), 1.0}, {Svc("checkout"), 0.2}}));
  h.SetTraffic("latency", Series({{Svc("cart"), 0.0}, {Svc("checkout"), 50}}));
  const Event firing = Only(h.Eval("0s"), EventKind::kTriggerFiring);
  EXPECT_DOUBLE_EQ(*firing.baseline, 0.2);
  EXPECT_DOUBLE_EQ(*firing.threshold, 0.4);

  // A traffic series of another service only: too little traffic for us (no_data = ok resolves).
  h.SetTraffic("latency", Series({{Svc("cart"), 50}}));
  EXPECT_THAT(Only(h.Eval("10s"), EventKind::kTriggerResolved).reason,
              HasSubstr("too little traffic: none < min_traffic 1"));

  // An aggregate baseline without the `service` label matches nothing: no baseline, hold.
  h.SetTraffic("latency", Series({{Svc("checkout"), 50}}));
  h.SetBaseline("latency", Value(0.01));
  EXPECT_THAT(h.Run("20s", "1m", "10s"), IsEmpty());
  EXPECT_EQ(h.PhaseOf("latency", Svc("checkout")), "inactive");
  EXPECT_TRUE(std::isnan(h.SeriesOf("latency").at(0).baseline));
}

TEST(EngineMatchTest, TwoServicesShareOneInputAndEachFiresAndRollsBackAlone) {
  EngineHarness h(ConfigFrom({FleetRules("cart"), FleetRules("checkout")}));
  ASSERT_EQ(h.engine().inputs().size(), 1u) << "one query for both services";
  const int shared = h.Ids("error_rate", "cart").query;
  ASSERT_EQ(h.Ids("error_rate", "checkout").query, shared);

  h.SetInput(shared, Series({{Svc("cart"), 0.0}, {Svc("checkout"), 0.3}}));
  std::vector<Event> events = h.Run("0s", "20s", "10s");
  EXPECT_THAT(Lines(events, "service"),
              ElementsAre("0s trigger.pending error_rate service=checkout",
                          "20s trigger.firing error_rate service=checkout",
                          "20s rollback.started error_rate service=checkout"));
  for (const Event& e : events) EXPECT_EQ(e.service, "checkout");
  const std::string checkout_rollback = Only(events, EventKind::kRollbackStarted).id;

  // Now cart breaks too: its own episode and rollback; checkout's is not repeated.
  h.SetInput(shared, Series({{Svc("cart"), 0.4}, {Svc("checkout"), 0.3}}));
  events = h.Run("30s", "50s", "10s");
  EXPECT_THAT(Lines(events, "service"),
              ElementsAre("30s trigger.pending error_rate service=cart",
                          "50s trigger.firing error_rate service=cart",
                          "50s rollback.started error_rate service=cart"));
  EXPECT_EQ(Only(events, EventKind::kRollbackStarted).service, "cart");
  EXPECT_THAT(h.engine().RollbacksInFlight().size(), 2u);

  // Checkout recovers after its hook: verified; cart still firing.
  h.Finish(checkout_rollback, true, "1m");
  h.SetInput(shared, Series({{Svc("cart"), 0.4}, {Svc("checkout"), 0.0}}));
  events = h.Eval("1m10s");
  EXPECT_THAT(Lines(events, "service"),
              ElementsAre("1m10s trigger.resolved error_rate service=checkout",
                          "1m10s rollback.verified error_rate service=checkout"));
  for (const Event& e : events) EXPECT_EQ(e.service, "checkout");
}

TEST(EngineMatchTest, AFleetOfServicesOnOneQueryGoesThroughTheIndex) {
  // More series than the linear scan handles, two match labels, and series sharing a service.
  constexpr int kServices = 40;
  std::vector<std::string> files;
  for (int i = 0; i < kServices; ++i) {
    files.push_back("service = \"s" + std::to_string(i) +
                    "\"\n[[trigger]]\nname = \"errors\"\nquery = 'fleet'\nmatch = { env = "
                    "\"prod\", service = \"s" +
                    std::to_string(i) + "\" }\nabove = 1\nfor = \"0s\"\n");
  }
  auto config = std::make_shared<Config>();
  for (const std::string& f : files) {
    config->services.push_back(ConfigFrom({f})->services.at(0));
  }
  EngineHarness h(config);
  ASSERT_EQ(h.engine().inputs().size(), 1u);
  QueryResult fleet;
  for (int i = kServices - 1; i >= 0; --i) {
    const std::string s = "s" + std::to_string(i);
    // Service i breaches in prod when i % 7 == 3; staging always breaches and is never ours.
    const double value = i % 7 == 3 ? 5.0 : 0.0;
    fleet.series.push_back({L({{"env", "prod"}, {"pod", "a"}, {"service", s}}), value});
    fleet.series.push_back({L({{"env", "staging"}, {"pod", "a"}, {"service", s}}), 9.0});
    fleet.series.push_back({L({{"env", "prod"}, {"pod", "b"}, {"service", s}}), 0.5});
  }
  h.SetInput(0, fleet);
  std::vector<std::string> fired;
  for (int round = 0; round < 3; ++round) {  // the index is rebuilt each round
    fired.clear();
    for (const Event& e : h.Eval(std::to_string(round * 10) + "s")) {
      EXPECT_EQ(e.labels.at("service"), e.service);
      EXPECT_EQ(e.labels.at("env"), "prod");
      fired.push_back(e.service + "/" + e.labels.at("pod"));
    }
    if (round == 0) {
      EXPECT_THAT(fired, ElementsAre("s3/a", "s10/a", "s17/a", "s24/a", "s31/a", "s38/a"));
    } else {
      EXPECT_THAT(fired, IsEmpty());
    }
  }
  for (const ServiceStatus& s : h.engine().Status()) {
    EXPECT_EQ(s.series.size(), 2u) << s.name << ": its prod pods a and b";
  }
}

TEST(EngineMatchTest, DeployMatchKeepsTheServicesVersions) {
  EngineHarness h(R"(
service = "checkout"
[[trigger]]
name = "errors"
query = 'errors'
above = 1
for = "0s"
[deploy]
version_query = 'max by (service, version) (app_build_info)'
match = { service = "checkout" }
guard = "30m"
)");
  auto versions = [](std::vector<std::pair<std::string, std::string>> svc_version) {
    QueryResult r;
    for (auto& [s, v] : svc_version) {
      r.series.push_back({L({{"service", s}, {"version", v}}), 1});
    }
    return r;
  };
  const int id = h.engine().version_input("checkout");
  h.Set("errors", Value(0));
  h.SetInput(id, versions({{"cart", "c1"}, {"checkout", "v1"}}));
  h.Eval("0s");
  EXPECT_EQ(h.engine().Status().at(0).version, "v1");
  // Another service's deploy is not ours.
  h.SetInput(id, versions({{"cart", "c2"}, {"checkout", "v1"}}));
  h.Eval("10s");
  EXPECT_FALSE(h.engine().Status().at(0).last_deploy.has_value());
  h.SetInput(id, versions({{"cart", "c2"}, {"checkout", "v2"}}));
  h.Eval("20s");
  EXPECT_EQ(h.engine().Status().at(0).version, "v2");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("20s"));

  // After a restore (a restart or reload), the filter still applies.
  std::string error;
  ASSERT_TRUE(h.engine().RestoreState(h.engine().SaveState(), &error)) << error;
  h.SetInput(id, versions({{"cart", "c3"}, {"checkout", "v2"}}));
  h.Eval("30s");
  EXPECT_EQ(h.engine().Status().at(0).last_deploy, At("20s"));
  EXPECT_EQ(h.engine().Status().at(0).version, "v2");
}

TEST(EngineMatchTest, AChangedMatchStartsTheTriggerAnewAfterAReload) {
  EngineHarness a(FleetRules("checkout"));
  const Labels zone_b = L({{"service", "checkout"}, {"zone", "b"}});
  a.Set("error_rate", Series({{Svc("checkout"), 0.5}, {zone_b, 0.5}}));
  a.Run("0s", "10s", "10s");
  ASSERT_EQ(a.PhaseOf("error_rate", Svc("checkout")), "pending");
  const std::string state = a.engine().SaveState();

  // The same match: the window goes on.
  EngineHarness same(FleetRules("checkout"));
  std::string error;
  ASSERT_TRUE(same.engine().RestoreState(state, &error)) << error;
  EXPECT_EQ(same.PhaseOf("error_rate", Svc("checkout")), "pending");

  // Another match (one more label): a new definition, nothing carried over.
  std::string narrower = FleetRules("checkout");
  narrower.replace(narrower.find("match = {"), 9, "match = { zone = \"\",");
  EngineHarness changed(narrower);
  ASSERT_TRUE(changed.engine().RestoreState(state, &error)) << error;
  EXPECT_EQ(changed.PhaseOf("error_rate", Svc("checkout")), "absent");
  changed.Set("error_rate", Series({{Svc("checkout"), 0.5}, {zone_b, 0.5}}));
  EXPECT_THAT(Lines(changed.Eval("20s"), "zone"), ElementsAre("20s trigger.pending error_rate"));
}

}  // namespace
}  // namespace rollbackd::enginetest
