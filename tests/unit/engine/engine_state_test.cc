// Engine state across restarts and reloads: SaveState / RestoreState.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Checkout(const std::string& error_rate_extra = "above = 0.05\nfor = \"1m\"\n") {
  return R"(
service = "checkout"
[[trigger]]
name = "error_rate"
query = 'errors'
)" + error_rate_extra + R"(
[[trigger]]
name = "latency"
query = 'latency'
above = 1
for = "1m"
[rollback]
exec = ["undo"]
cooldown = "30m"
verify = "5m"
)";
}

// A fresh engine on the same rule text, restored from `from`.
std::unique_ptr<EngineHarness> Restart(EngineHarness& from, const std::string& rules) {
  const std::string state = from.engine().SaveState();
  auto to = std::make_unique<EngineHarness>(rules);
  std::string error;
  EXPECT_TRUE(to->engine().RestoreState(state, &error)) << error;
  EXPECT_EQ(error, "");
  return to;
}

TEST(EngineStateTest, RoundTripKeepsPendingAndFiringSeries) {
  EngineHarness a(Checkout());
  const Labels p1 = L({{"pod", "p1"}});
  const Labels p2 = L({{"pod", "p2"}});
  a.Set("latency", Value(0.1));
  a.Set("error_rate", Series({{p1, 0.5}, {p2, 0.0}}));
  EXPECT_THAT(Lines(a.Run("0s", "20s", "10s"), "pod"),
              ElementsAre("0s trigger.pending error_rate pod=p1"));
  a.Set("error_rate", Series({{p1, 0.5}, {p2, 0.5}}));
  EXPECT_THAT(Lines(a.Run("30s", "1m10s", "10s"), "pod"),
              ElementsAre("30s trigger.pending error_rate pod=p2",
                          "1m trigger.firing error_rate pod=p1",
                          "1m rollback.started error_rate pod=p1"));
  const std::vector<std::string> in_flight = a.engine().RollbacksInFlight();

  auto b = Restart(a, Checkout());
  EXPECT_EQ(b->PhaseOf("error_rate", p1), "firing");
  EXPECT_EQ(b->PhaseOf("error_rate", p2), "pending");
  for (const SeriesStatus& st : b->SeriesOf("error_rate")) {
    EXPECT_DOUBLE_EQ(st.value, 0.5);
    if (st.labels == p1) {
      EXPECT_EQ(st.pending_since, At("0s"));
      EXPECT_EQ(st.firing_since, At("1m"));
    } else {
      EXPECT_EQ(st.pending_since, At("30s"));
      EXPECT_FALSE(st.firing_since.has_value());
    }
  }
  EXPECT_EQ(b->engine().RollbacksInFlight(), in_flight);
  EXPECT_EQ(b->engine().Status().at(0).last_rollback, At("1m"));
  // p2's window continues from 30s; p1 does not fire again; the episode's rollback is known.
  b->Set("latency", Value(0.1));
  b->Set("error_rate", Series({{p1, 0.5}, {p2, 0.5}}));
  std::vector<Event> events = b->Run("1m20s", "1m30s", "10s");
  ASSERT_THAT(Lines(events, "pod"),
              ElementsAre("1m30s trigger.firing error_rate pod=p2",
                          "1m30s rollback.skipped error_rate pod=p2 (already_rolled_back)"));
  EXPECT_EQ(events[1].rollback_id, in_flight.at(0));
  EXPECT_EQ(events[0].reason, "value 0.5 > 0.05 held 1m >= 1m");
}

TEST(EngineStateTest, SavedStateReadsBackToTheSameState) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  a.Run("0s", "1m", "10s");
  a.engine().SetPaused("checkout", true);
  a.engine().RecordDeploy("checkout", "v7", At("1m5s"));
  auto b = Restart(a, Checkout());
  EXPECT_EQ(nlohmann::json::parse(b->engine().SaveState()),
            nlohmann::json::parse(a.engine().SaveState()));
  ServiceStatus st = b->engine().Status().at(0);
  EXPECT_TRUE(st.paused);
  EXPECT_EQ(st.version, "v7");
  EXPECT_EQ(st.last_deploy, At("1m5s"));
}

TEST(EngineStateTest, AnUnlabeledTriggerFiringBeforeARestartDoesNotRollBackAgain) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  std::vector<Event> before = a.Run("0s", "1m", "10s");
  ASSERT_THAT(Kinds(before),
              ElementsAre("trigger.pending", "trigger.firing", "rollback.started"));
  const std::string id = before[2].id;

  auto b = Restart(a, Checkout());
  b->Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  EXPECT_THAT(Lines(b->Run("1m10s", "3m", "10s")), IsEmpty());
  EXPECT_EQ(b->PhaseOf("error_rate"), "firing");
  // The hook's outcome reaches the new engine; verification runs there.
  std::vector<Event> done = b->Finish(id, true, "3m5s");
  ASSERT_THAT(Kinds(done), ElementsAre("rollback.succeeded"));
  EXPECT_EQ(done[0].cause_id, before[1].id);
  b->Set("error_rate", Value(0.01));
  std::vector<Event> events = b->Eval("3m10s");
  ASSERT_THAT(Kinds(events), ElementsAre("trigger.resolved", "rollback.verified"));
  EXPECT_EQ(events[0].cause_id, before[1].id);
  EXPECT_EQ(events[1].rollback_id, id);
}

TEST(EngineStateTest, CooldownSurvivesARestart) {
  EngineHarness a(Checkout("above = 0.05\nfor = \"0s\"\n"));
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  const std::string id = Only(a.Eval("0s"), EventKind::kRollbackStarted).id;
  a.Finish(id, true, "10s");
  a.Set("error_rate", Value(0.01));
  EXPECT_THAT(Kinds(a.Eval("20s")), ElementsAre("trigger.resolved", "rollback.verified"));

  auto b = Restart(a, Checkout("above = 0.05\nfor = \"0s\"\n"));
  b->Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  std::vector<Event> events = b->Eval("10m");
  ASSERT_THAT(Kinds(events), ElementsAre("trigger.firing", "rollback.skipped"));
  EXPECT_EQ(events[1].skip_reason, "cooldown");
}

TEST(EngineStateTest, VerificationSurvivesARestart) {
  EngineHarness a(Checkout("above = 0.05\nfor = \"0s\"\n"));
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  const std::string id = Only(a.Eval("0s"), EventKind::kRollbackStarted).id;
  a.Finish(id, true, "10s");
  auto b = Restart(a, Checkout("above = 0.05\nfor = \"0s\"\n"));
  b->Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  EXPECT_THAT(Lines(b->Run("20s", "5m", "10s")), IsEmpty());
  Event e = Only(b->Eval("5m10s"), EventKind::kRollbackNotRecovered);
  EXPECT_EQ(e.rollback_id, id);
}

TEST(EngineStateTest, SnapshotsAndSourceDownSurviveARestart) {
  const std::string rules = R"(
service = "orders"
[[trigger]]
name = "orders"
query = 'orders'
baseline = "snapshot"
below_ratio = 0.7
for = "30s"
)";
  EngineHarness a(rules);
  a.Set("orders", Value(100));
  a.Eval("0s");
  a.engine().RecordDeploy("orders", "v2", At("5s"));
  a.Set("orders", Err("timeout"));
  EXPECT_THAT(Kinds(a.Run("10s", "50s", "10s")), ElementsAre("source.down"));

  auto b = Restart(a, rules);
  b->Set("orders", Err("timeout"));
  EXPECT_THAT(Lines(b->Eval("1m")), IsEmpty());  // already down: not raised twice
  b->Set("orders", Value(60));
  std::vector<Event> events = b->Eval("1m10s");
  ASSERT_THAT(Kinds(events), ElementsAre("source.up", "trigger.pending"));
  EXPECT_EQ(events[0].reason, "source \"default\": queries succeed again after failing for 1m");
  EXPECT_DOUBLE_EQ(events[1].baseline.value_or(-1), 100);
}

struct ChangeCase {
  const char* name;
  const char* error_rate;  // the error_rate trigger's keys after the change
};

class EngineStateChangeTest : public ::testing::TestWithParam<ChangeCase> {};

TEST_P(EngineStateChangeTest, AChangedTriggerStartsAnewAndTheOthersKeepTheirState) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(5));
  EXPECT_THAT(Kinds(a.Run("0s", "1m", "10s")),
              ElementsAre("trigger.pending", "trigger.pending", "trigger.firing",
                          "rollback.started", "trigger.firing", "rollback.skipped"));
  const std::string id = a.engine().RollbacksInFlight().at(0);
  a.Finish(id, false, "1m5s");

  auto b = Restart(a, Checkout(GetParam().error_rate));
  EXPECT_EQ(b->PhaseOf("error_rate"), "absent") << GetParam().name;
  EXPECT_EQ(b->PhaseOf("latency"), "firing") << GetParam().name;
  b->Set("error_rate", Value(0.5)).Set("latency", Value(5));
  if (b->Ids("error_rate").traffic >= 0) b->SetTraffic("error_rate", Value(10));
  std::vector<Event> events = b->Eval("1m10s");
  EXPECT_THAT(Lines(events), Not(IsEmpty()));
  for (const Event& e : events) {
    EXPECT_EQ(e.trigger, "error_rate") << Line(e);
    EXPECT_NE(e.kind, EventKind::kTriggerResolved) << Line(e);
    EXPECT_NE(e.kind, EventKind::kRollbackStarted) << Line(e);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Changes, EngineStateChangeTest,
    ::testing::Values(ChangeCase{"threshold", "above = 0.06\nfor = \"1m\"\n"},
                      ChangeCase{"window", "above = 0.05\nfor = \"0s\"\n"},
                      ChangeCase{"condition", "below = 1\nfor = \"0s\"\n"},
                      ChangeCase{"no_data", "above = 0.05\nfor = \"1m\"\nno_data = \"hold\"\n"},
                      ChangeCase{"traffic", "above = 0.05\nfor = \"1m\"\n"
                                            "min_traffic_query = 'rps'\nmin_traffic = 0\n"}),
    [](const ::testing::TestParamInfo<ChangeCase>& info) { return std::string(info.param.name); });

TEST(EngineStateTest, AChangedQueryStartsAnew) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  a.Run("0s", "1m", "10s");
  std::string changed = Checkout();
  changed.replace(changed.find("'errors'"), 8, "'errors2'");
  auto b = Restart(a, changed);
  EXPECT_EQ(b->PhaseOf("error_rate"), "absent");
  EXPECT_EQ(b->PhaseOf("latency"), "inactive");
}

TEST(EngineStateTest, ServicesAndTriggersAbsentFromTheStateStartFresh) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  a.Run("0s", "1m", "10s");
  auto config = ConfigFrom({Checkout() + R"(
[[trigger]]
name = "saturation"
query = 'cpu'
above = 0.9
for = "0s"
)",
                            R"(
service = "other"
[[trigger]]
name = "t"
query = 'q'
above = 1
for = "0s"
)"});
  EngineHarness b(config);
  std::string error;
  ASSERT_TRUE(b.engine().RestoreState(a.engine().SaveState(), &error)) << error;
  EXPECT_EQ(b.PhaseOf("error_rate"), "firing");
  EXPECT_EQ(b.PhaseOf("saturation"), "absent");
  ASSERT_EQ(b.engine().Status().size(), 2u);
  EXPECT_TRUE(b.engine().Status()[1].series.empty());
  // And a state naming services and triggers the config no longer has is fine.
  EngineHarness c(R"(
service = "other"
[[trigger]]
name = "t"
query = 'q'
above = 1
for = "0s"
)");
  EXPECT_TRUE(c.engine().RestoreState(a.engine().SaveState(), &error)) << error;
}

TEST(EngineStateTest, RestoreReplacesTheStateOfAnEngineThatHasRun) {
  // Restoring an earlier state into a running engine (not only a fresh one) yields that state,
  // not a mix of it and what the engine did since.
  EngineHarness h(Checkout());
  h.Set("error_rate", Value(0.0)).Set("latency", Value(5));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  const std::string early = h.engine().SaveState();
  h.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  h.SetInput(h.Ids("error_rate").query, Err("timeout"));
  h.Run("10s", "2m", "10s");
  h.Set("error_rate", Value(0.5));
  EXPECT_THAT(Kinds(h.Run("2m10s", "3m10s", "10s")),
              ElementsAre("source.up", "trigger.pending", "trigger.firing", "rollback.started"));
  std::string error;
  ASSERT_TRUE(h.engine().RestoreState(early, &error)) << error;
  EXPECT_EQ(nlohmann::json::parse(h.engine().SaveState()), nlohmann::json::parse(early));
  EXPECT_EQ(h.PhaseOf("error_rate"), "inactive");
  EXPECT_EQ(h.PhaseOf("latency"), "pending");
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  EXPECT_TRUE(h.engine().Status().at(0).errors.empty());
}

// Found by fuzz/state_dir_fuzz.cc: an integer field holding a number no integer type holds
// ("format": 1.8e131, a time of 1e300) was converted with a plain cast, undefined behaviour. Every
// integer of the state file must be a JSON integer; anything else is damage, reported as such.
TEST(EngineStateTest, AFloatWhereAnIntegerBelongsIsDamage) {
  EngineHarness h(Checkout());
  h.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  h.Run("0s", "1m", "10s");
  const std::string before = h.engine().SaveState();
  ASSERT_NE(before.find("\"firing_since\":"), std::string::npos);
  std::string far_time = before;
  far_time.insert(far_time.find("\"firing_since\":") + 15, "1e300,\"x\":");
  std::string fractional = before;
  fractional.insert(fractional.find("\"firing_since\":") + 15, "1.5,\"x\":");
  for (const std::string& bad :
       {std::string("{\"format\":1.8e131,\"services\":{}}"), far_time, fractional}) {
    std::string error;
    EXPECT_FALSE(h.engine().RestoreState(bad, &error)) << bad;
    EXPECT_THAT(error, ::testing::HasSubstr("must be an integer")) << bad;
    EXPECT_EQ(h.engine().SaveState(), before) << bad;
  }
}

TEST(EngineStateTest, MalformedStateReturnsFalseAndChangesNothing) {
  EngineHarness h(Checkout());
  h.Set("error_rate", Value(0.5)).Set("latency", Value(0.1));
  h.Run("0s", "1m", "10s");
  const std::string before = h.engine().SaveState();
  const std::string good = before;
  std::string truncated = good.substr(0, good.size() / 2);
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"paused\":false"), 14, "\"paused\":\"no\"");
  for (const std::string& bad :
       {std::string(""), std::string("{"), std::string("[]"), std::string("null"),
        std::string("{\"format\":2,\"services\":{}}"), std::string("{\"format\":1}"),
        std::string("{\"format\":1,\"services\":{\"checkout\":{\"paused\":true}}}"), truncated,
        wrong_type}) {
    std::string error;
    EXPECT_FALSE(h.engine().RestoreState(bad, &error)) << bad;
    EXPECT_NE(error, "") << bad;
    EXPECT_EQ(h.engine().SaveState(), before) << bad;
  }
  std::string error;
  h.engine().RestoreState("{\"format\":2,\"services\":{}}", &error);
  EXPECT_EQ(error, "unsupported state format 2");
  // Still the same engine: firing, one rollback in flight, nothing new on the next evaluation.
  EXPECT_EQ(h.PhaseOf("error_rate"), "firing");
  EXPECT_EQ(h.engine().RollbacksInFlight().size(), 1u);
  EXPECT_THAT(Lines(h.Eval("1m10s")), IsEmpty());
}

TEST(EngineStateTest, ARollbackInFlightIsKeptWhenTheHookWasRemovedFromTheConfig) {
  EngineHarness a(Checkout());
  a.Set("error_rate", Value(0.5)).Set("latency", Value(0));
  a.Run("0s", "1m", "10s");
  ASSERT_EQ(a.engine().RollbacksInFlight().size(), 1u);
  const std::string id = a.engine().RollbacksInFlight()[0];
  // The restarted daemon's config has no [rollback] any more: the unfinished rollback must still
  // be reported (as interrupted) rather than forgotten.
  std::string without_hook = Checkout();
  without_hook = without_hook.substr(0, without_hook.find("[rollback]"));
  auto b = Restart(a, without_hook);
  EXPECT_EQ(b->engine().RollbacksInFlight(), std::vector<std::string>{id});
  std::vector<Event> events = b->Finish(id, false, "2m", "interrupted");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kRollbackFailed);
  EXPECT_NE(events[0].reason.find("interrupted"), std::string::npos);
  EXPECT_FALSE(events[0].hook.has_value());
}

}  // namespace
}  // namespace rollbackd::enginetest
