// Rollback decisions (episode, cooldown, guard, dry run, pause), hook outcomes and verification,
// health checks, and the sharing of identical queries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// error_rate (critical) and latency (warning) roll back; orders only alerts. `deploy` and
// `rollback_extra` are appended to their sections.
std::string Checkout(const std::string& for_ = "1m", const std::string& deploy = "",
                     const std::string& rollback_extra = "", const std::string& top = "") {
  return top + R"(
service = "checkout"
labels = { team = "payments" }
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.05
for = ")" + for_ + R"("
severity = "critical"
[[trigger]]
name = "latency"
query = 'latency'
above = 1
for = ")" + for_ + R"("
severity = "warning"
[[trigger]]
name = "orders"
query = 'orders'
below = 10
for = "0s"
rollback = false
)" + (deploy.empty() ? "" : "[deploy]\n" + deploy + "\n") + R"(
[rollback]
exec = ["kubectl", "rollout", "undo", "deployment/checkout"]
cooldown = "30m"
verify = "5m"
)" + rollback_extra;
}

// All quiet: error rate, latency and orders within bounds.
void Quiet(EngineHarness& h) {
  h.Set("error_rate", Value(0.01)).Set("latency", Value(0.2)).Set("orders", Value(100));
}

std::string StartedId(const std::vector<Event>& events) {
  return Only(events, EventKind::kRollbackStarted).id;
}

// --- Decisions ----------------------------------------------------------------------------------

TEST(EngineRollbackTest, TwoTriggersFiringTogetherRollBackOnce) {
  EngineHarness h(Checkout());
  Quiet(h);
  h.Set("error_rate", Value(0.31)).Set("latency", Value(2.5));
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  ASSERT_THAT(Lines(events),
              ElementsAre("0s trigger.pending error_rate", "0s trigger.pending latency",
                          "1m trigger.firing error_rate", "1m rollback.started error_rate",
                          "1m trigger.firing latency",
                          "1m rollback.skipped latency (already_rolled_back)"));
  const Event& firing = events[2];
  const Event& started = events[3];
  const Event& skipped = events[5];
  EXPECT_EQ(started.rollback_id, started.id);
  EXPECT_EQ(started.cause_id, firing.id);
  EXPECT_EQ(started.severity, Severity::kCritical);
  EXPECT_EQ(started.reason, "error_rate: value 0.31 > 0.05 held 1m >= 1m");
  EXPECT_THAT(started.labels, ElementsAre(Pair("team", "payments")));
  EXPECT_DOUBLE_EQ(started.value.value_or(-1), 0.31);
  EXPECT_DOUBLE_EQ(started.threshold.value_or(-1), 0.05);
  EXPECT_TRUE(started.skip_reason.empty());
  ASSERT_TRUE(started.hook.has_value());
  EXPECT_EQ(started.hook->type, "exec");
  EXPECT_THAT(started.hook->argv,
              ElementsAre("kubectl", "rollout", "undo", "deployment/checkout"));
  EXPECT_NE(started.id, firing.id);

  EXPECT_EQ(skipped.skip_reason, "already_rolled_back");
  EXPECT_EQ(skipped.rollback_id, started.id);
  EXPECT_EQ(skipped.cause_id, events[4].id);
  EXPECT_EQ(skipped.reason, "rollback " + started.id + " already started in this firing episode");
  EXPECT_NE(skipped.id, started.id);

  EXPECT_THAT(h.engine().RollbacksInFlight(), ElementsAre(started.id));
  ServiceStatus st = h.engine().Status().at(0);
  EXPECT_EQ(st.rollback_in_flight, started.id);
  EXPECT_EQ(st.last_rollback, At("1m"));
  // Still firing: no more decisions.
  EXPECT_THAT(Lines(h.Run("1m10s", "3m", "10s")), IsEmpty());
}

TEST(EngineRollbackTest, SeveralSeriesOfOneTriggerRollBackOnce) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("error_rate", Series({{L({{"pod", "a"}}), 0.5}, {L({{"pod", "b"}}), 0.5}}));
  std::vector<Event> events = h.Eval("0s");
  EXPECT_THAT(Kinds(events), ElementsAre("trigger.firing", "rollback.started", "trigger.firing",
                                         "rollback.skipped"));
  EXPECT_EQ(events[3].skip_reason, "already_rolled_back");
  EXPECT_EQ(events[1].labels.count("pod"), 1u);  // the series labels reach the hook
}

TEST(EngineRollbackTest, TheEpisodeLastsWhileTheHookRuns) {
  EngineHarness h(Checkout("0s", "", "", ""));
  Quiet(h);
  h.Set("error_rate", Value(0.31));
  const std::string id = StartedId(h.Eval("0s"));
  Quiet(h);
  EXPECT_THAT(Kinds(h.Eval("10s")), ElementsAre("trigger.resolved"));
  h.Set("latency", Value(5));  // the hook still runs: same episode
  std::vector<Event> events = h.Eval("20s");
  ASSERT_THAT(Lines(events), ElementsAre("20s trigger.firing latency",
                                         "20s rollback.skipped latency (already_rolled_back)"));
  EXPECT_EQ(events[1].rollback_id, id);
}

TEST(EngineRollbackTest, CooldownSkipsTheNextEpisodeUntilItHasPassed) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("error_rate", Value(0.31));
  const std::string first = StartedId(h.Eval("0s"));
  ASSERT_THAT(Kinds(h.Finish(first, true, "30s")), ElementsAre("rollback.succeeded"));
  Quiet(h);
  EXPECT_THAT(Kinds(h.Eval("1m")), ElementsAre("trigger.resolved", "rollback.verified"));
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("10m");
  ASSERT_THAT(Lines(events), ElementsAre("10m trigger.firing error_rate",
                                         "10m rollback.skipped error_rate (cooldown)"));
  EXPECT_EQ(events[1].reason, "last rollback 10m ago < cooldown 30m");
  EXPECT_EQ(events[1].cause_id, events[0].id);
  EXPECT_TRUE(events[1].rollback_id.empty());
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  // A cooldown skip starts nothing, so the next trigger of the episode is in cooldown too.
  h.Set("latency", Value(5));
  EXPECT_THAT(Lines(h.Eval("11m")), ElementsAre("11m trigger.firing latency",
                                                 "11m rollback.skipped latency (cooldown)"));
  Quiet(h);
  EXPECT_THAT(Kinds(h.Eval("20m")), ElementsAre("trigger.resolved", "trigger.resolved"));
  // Exactly `cooldown` after the last rollback: allowed again.
  h.Set("error_rate", Value(0.31));
  std::vector<Event> again = h.Eval("30m");
  EXPECT_THAT(Kinds(again), ElementsAre("trigger.firing", "rollback.started"));
  EXPECT_NE(StartedId(again), first);
}

TEST(EngineRollbackTest, ZeroCooldownAllowsARollbackInEveryEpisode) {
  EngineHarness h(R"(
service = "svc"
[[trigger]]
name = "t"
query = 'q'
above = 1
for = "0s"
[rollback]
exec = ["true"]
cooldown = "0s"
)");
  for (int i = 0; i < 3; ++i) {
    h.Set("t", Value(5));
    std::vector<Event> events = h.Eval(std::to_string(i * 20) + "s");
    EXPECT_THAT(Kinds(events), ElementsAre("trigger.firing", "rollback.started")) << i;
    ASSERT_THAT(Kinds(h.Finish(StartedId(events), false, std::to_string(i * 20 + 5) + "s")),
                ElementsAre("rollback.failed"));
    h.Set("t", Value(0));
    EXPECT_THAT(Kinds(h.Eval(std::to_string(i * 20 + 10) + "s")), ElementsAre("trigger.resolved"));
  }
}

TEST(EngineRollbackTest, GuardWithoutAnyDeploySkips) {
  EngineHarness h(Checkout("0s", "guard = \"30m\""));
  Quiet(h);
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_THAT(Lines(events), ElementsAre("0s trigger.firing error_rate",
                                         "0s rollback.skipped error_rate (outside_guard)"));
  EXPECT_EQ(events[1].reason,
            "no deploy seen; rollbacks are armed only within guard 30m after a deploy");
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  EXPECT_FALSE(h.engine().Status().at(0).last_rollback.has_value());
}

TEST(EngineRollbackTest, GuardArmsRollbacksForItsDurationAfterADeploy) {
  EngineHarness h(Checkout("0s", "guard = \"30m\""));
  Quiet(h);
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  ASSERT_TRUE(h.engine().RecordDeploy("checkout", "v2", At("1m")));
  // Fires more than `guard` after the deploy: alert only.
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("31m1s");
  ASSERT_THAT(Lines(events), ElementsAre("31m1s trigger.firing error_rate",
                                         "31m1s rollback.skipped error_rate (outside_guard)"));
  EXPECT_EQ(events[1].reason, "last deploy (v2) was 30m1s ago > guard 30m");
  EXPECT_EQ(events[1].version, "v2");
  Quiet(h);
  EXPECT_THAT(Kinds(h.Eval("32m")), ElementsAre("trigger.resolved"));
  // A new deploy re-arms; exactly `guard` after it is still inside.
  ASSERT_TRUE(h.engine().RecordDeploy("checkout", "v3", At("40m")));
  h.Set("error_rate", Value(0.31));
  events = h.Eval("1h10m");
  EXPECT_THAT(Kinds(events), ElementsAre("trigger.firing", "rollback.started"));
  EXPECT_EQ(events[1].version, "v3");
}

TEST(EngineRollbackTest, AVersionQueryDeployOpensTheGuard) {
  EngineHarness h(Checkout("0s", "guard = \"30m\"\nversion_query = 'build_info'"));
  Quiet(h);
  h.SetVersions({"v1"});
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.SetVersions({"v1", "v2"});  // a rolling update
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("20s");
  EXPECT_THAT(Kinds(events), ElementsAre("trigger.firing", "rollback.started"));
  EXPECT_EQ(events[1].version, "v2");
}

TEST(EngineRollbackTest, DaemonDryRunSkipsAndRecordsNothing) {
  EngineHarness h(Checkout("0s"), /*daemon_dry_run=*/true);
  Quiet(h);
  h.Set("error_rate", Value(0.31)).Set("latency", Value(5));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_THAT(Lines(events), ElementsAre("0s trigger.firing error_rate",
                                         "0s rollback.skipped error_rate (dry_run)",
                                         "0s trigger.firing latency",
                                         "0s rollback.skipped latency (dry_run)"));
  EXPECT_EQ(events[1].reason,
            "dry run: would run kubectl rollout undo deployment/checkout "
            "(error_rate: value 0.31 > 0.05 held 0s >= 0s)");
  ASSERT_TRUE(events[1].hook.has_value());
  EXPECT_EQ(events[1].hook->type, "exec");
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  ServiceStatus st = h.engine().Status().at(0);
  EXPECT_FALSE(st.last_rollback.has_value());
  EXPECT_TRUE(st.rollback_in_flight.empty());
}

TEST(EngineRollbackTest, ServiceDryRunCoversThatServiceOnly) {
  auto config = ConfigFrom({R"(
service = "canary"
dry_run = true
[[trigger]]
name = "errors"
query = 'errors'
above = 1
for = "0s"
[rollback]
http = { url = "https://ci.example.com/rollback" }
)",
                            R"(
service = "stable"
[[trigger]]
name = "errors"
query = 'errors'
above = 1
for = "0s"
[rollback]
exec = ["true"]
)"});
  EngineHarness h(config);
  // One query, shared by both services.
  ASSERT_EQ(h.engine().inputs().size(), 1u);
  h.SetInput(0, Value(5));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].service, "canary");
  EXPECT_EQ(events[1].kind, EventKind::kRollbackSkipped);
  EXPECT_EQ(events[1].skip_reason, "dry_run");
  ASSERT_TRUE(events[1].hook.has_value());
  EXPECT_EQ(events[1].hook->type, "http");
  EXPECT_EQ(events[1].hook->url, "https://ci.example.com/rollback");
  EXPECT_EQ(events[1].reason,
            "dry run: would run POST https://ci.example.com/rollback "
            "(errors: value 5 > 1 held 0s >= 0s)");
  EXPECT_EQ(events[3].service, "stable");
  EXPECT_EQ(events[3].kind, EventKind::kRollbackStarted);
  EXPECT_THAT(h.engine().RollbacksInFlight(), ElementsAre(events[3].id));
  EXPECT_NE(events[0].id, events[2].id);  // same trigger name, different services
}

TEST(EngineRollbackTest, PausedServicesSkipUntilResumed) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  EXPECT_FALSE(h.engine().SetPaused("nope", true));
  ASSERT_TRUE(h.engine().SetPaused("checkout", true));
  EXPECT_TRUE(h.engine().Status().at(0).paused);
  h.Set("error_rate", Value(0.31));
  std::vector<Event> events = h.Eval("0s");
  ASSERT_THAT(Lines(events), ElementsAre("0s trigger.firing error_rate",
                                         "0s rollback.skipped error_rate (paused)"));
  EXPECT_EQ(events[1].reason, "service is paused");
  ASSERT_TRUE(h.engine().SetPaused("checkout", false));
  // Resuming does not decide again for a trigger that is already firing.
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  Quiet(h);
  EXPECT_THAT(Kinds(h.Eval("20s")), ElementsAre("trigger.resolved"));
  h.Set("error_rate", Value(0.31));
  EXPECT_THAT(Kinds(h.Eval("30s")), ElementsAre("trigger.firing", "rollback.started"));
}

TEST(EngineRollbackTest, DecisionsFollowTheDocumentedOrder) {
  // paused > outside_guard > already_rolled_back > cooldown > dry_run.
  EngineHarness h(Checkout("0s", "guard = \"30m\""), /*daemon_dry_run=*/true);
  Quiet(h);
  h.engine().SetPaused("checkout", true);
  h.Set("error_rate", Value(0.31));
  EXPECT_EQ(Only(h.Eval("0s"), EventKind::kRollbackSkipped).skip_reason, "paused");
  h.engine().SetPaused("checkout", false);
  Quiet(h);
  h.Eval("10s");
  h.Set("error_rate", Value(0.31));
  EXPECT_EQ(Only(h.Eval("20s"), EventKind::kRollbackSkipped).skip_reason, "outside_guard");
  Quiet(h);
  h.Eval("30s");
  h.engine().RecordDeploy("checkout", "v2", At("40s"));
  h.Set("error_rate", Value(0.31));
  EXPECT_EQ(Only(h.Eval("50s"), EventKind::kRollbackSkipped).skip_reason, "dry_run");
}

TEST(EngineRollbackTest, AlertOnlyTriggersNeverDecide) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("orders", Value(1));
  EXPECT_THAT(Lines(h.Run("0s", "10m", "10s")), ElementsAre("0s trigger.firing orders"));
  // A service without [rollback] only alerts, whatever its triggers say.
  EngineHarness alert_only(R"(
service = "svc"
[[trigger]]
name = "t"
query = 'q'
above = 1
for = "0s"
)");
  alert_only.Set("t", Value(5));
  EXPECT_THAT(Kinds(alert_only.Eval("0s")), ElementsAre("trigger.firing"));
}

// --- Outcomes and verification ------------------------------------------------------------------

TEST(EngineRollbackTest, SuccessThenVerifiedWhenEveryRollbackTriggerClears) {
  EngineHarness h(Checkout());
  Quiet(h);
  h.Set("error_rate", Value(0.31)).Set("orders", Value(1));  // orders: alert only, keeps firing
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  const std::string id = StartedId(events);
  std::string cause;
  for (const Event& e : events) {
    if (e.kind == EventKind::kTriggerFiring && e.trigger == "error_rate") cause = e.id;
  }
  ASSERT_FALSE(cause.empty());
  bool found = false;
  events = h.Finish(id, true, "1m12s", "", &found);
  EXPECT_TRUE(found);
  ASSERT_THAT(Lines(events), ElementsAre("1m12s rollback.succeeded error_rate"));
  const Event ok = events[0];
  EXPECT_EQ(ok.rollback_id, id);
  EXPECT_EQ(ok.cause_id, cause);
  EXPECT_EQ(ok.severity, Severity::kCritical);
  EXPECT_EQ(ok.exit_status, 0);
  EXPECT_EQ(ok.duration, D("12s"));
  EXPECT_EQ(ok.output, "deployment.apps/checkout rolled back\n");
  EXPECT_EQ(ok.reason, "hook succeeded in 12s; verifying for 5m");
  ASSERT_TRUE(ok.hook.has_value());
  EXPECT_EQ(ok.hook->argv.at(0), "kubectl");
  EXPECT_THAT(ok.labels, ElementsAre(Pair("team", "payments")));
  EXPECT_NE(ok.id, id);
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  // Reported twice, or an id nobody knows: false, and nothing happens.
  std::vector<Event> none;
  RollbackOutcome o;
  o.success = true;
  EXPECT_FALSE(h.engine().RollbackFinished(id, o, At("1m13s"), &none));
  EXPECT_FALSE(h.engine().RollbackFinished("evt_0000000000000000", o, At("1m13s"), &none));
  EXPECT_TRUE(none.empty());

  EXPECT_THAT(Lines(h.Run("1m20s", "2m", "10s")), IsEmpty());  // still firing, within verify
  h.Set("error_rate", Value(0.01));
  events = h.Eval("2m12s");
  ASSERT_THAT(Lines(events), ElementsAre("2m12s trigger.resolved error_rate",
                                         "2m12s rollback.verified error_rate"));
  const Event& verified = events[1];
  EXPECT_EQ(verified.rollback_id, id);
  EXPECT_EQ(verified.severity, Severity::kCritical);
  EXPECT_EQ(verified.reason, "every rollback trigger cleared 1m after the hook");
  EXPECT_NE(verified.id, ok.id);
  EXPECT_THAT(Lines(h.Run("2m20s", "10m", "10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("orders"), "firing");
}

TEST(EngineRollbackTest, NotRecoveredAtTheVerifyDeadline) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("latency", Value(5));  // a warning trigger: not_recovered is critical nonetheless
  const std::string id = StartedId(h.Eval("0s"));
  ASSERT_THAT(Kinds(h.Finish(id, true, "10s")), ElementsAre("rollback.succeeded"));
  EXPECT_THAT(Lines(h.Run("20s", "5m", "10s")), IsEmpty());
  std::vector<Event> events = h.Eval("5m10s");
  ASSERT_THAT(Lines(events), ElementsAre("5m10s rollback.not_recovered latency"));
  EXPECT_EQ(events[0].severity, Severity::kCritical);
  EXPECT_EQ(events[0].rollback_id, id);
  EXPECT_EQ(events[0].reason, "still firing 5m after the hook (verify 5m): latency");
  // Once: no verified later, and no second rollback in this episode.
  EXPECT_THAT(Lines(h.Run("5m20s", "40m", "10s")), IsEmpty());
  h.Set("latency", Value(0.1));
  EXPECT_THAT(Kinds(h.Eval("40m10s")), ElementsAre("trigger.resolved"));
}

TEST(EngineRollbackTest, NotRecoveredNamesEveryFiringSeries) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("error_rate", Series({{L({{"pod", "a"}}), 1}}));
  h.Set("latency", Value(5));
  const std::string id = StartedId(h.Eval("0s"));
  h.Finish(id, true, "0s");
  EXPECT_EQ(Only(h.Eval("5m"), EventKind::kRollbackNotRecovered).reason,
            "still firing 5m after the hook (verify 5m): error_rate{pod=\"a\"}, latency");
}

TEST(EngineRollbackTest, FailureReportsAndDoesNotVerify) {
  EngineHarness h(Checkout("0s"));
  Quiet(h);
  h.Set("latency", Value(5));
  const std::string id = StartedId(h.Eval("0s"));
  std::vector<Event> events = h.Finish(id, false, "30s", "exit status 3");
  ASSERT_THAT(Lines(events), ElementsAre("30s rollback.failed latency"));
  EXPECT_EQ(events[0].severity, Severity::kCritical);
  EXPECT_EQ(events[0].reason, "hook failed: exit status 3");
  EXPECT_EQ(events[0].exit_status, 3);
  EXPECT_EQ(events[0].output, "error: boom\n");
  EXPECT_EQ(events[0].rollback_id, id);
  EXPECT_TRUE(h.engine().RollbacksInFlight().empty());
  // Still the same episode: no second attempt; and nothing to verify.
  EXPECT_THAT(Lines(h.Run("40s", "10m", "10s")), IsEmpty());
  h.Set("latency", Value(0.1));
  EXPECT_THAT(Kinds(h.Eval("10m10s")), ElementsAre("trigger.resolved"));
  // Without a reason the event still says it failed.
  h.Set("latency", Value(5));
  const std::string second = StartedId(h.Eval("40m"));
  EXPECT_EQ(Only(h.Finish(second, false, "40m5s"), EventKind::kRollbackFailed).reason,
            "hook failed: unknown error");
}

// --- Health checks ------------------------------------------------------------------------------

const char* kHealth = R"(
service = "api"
labels = { team = "core" }
[[health]]
name = "ready"
url = "http://127.0.0.1:8080/ready"
for = "30s"
severity = "critical"
labels = { probe = "http" }
[rollback]
exec = ["./undo.sh"]
verify = "1m"
)";

TEST(EngineHealthTest, AFailingProbeRunsTheSameStateMachine) {
  EngineHarness h(kHealth);
  const InputSpec& spec = h.engine().inputs().at(h.Ids("ready").query);
  EXPECT_EQ(spec.kind, InputSpec::Kind::kProbe);
  ASSERT_NE(spec.probe, nullptr);
  EXPECT_EQ(spec.probe->url, "http://127.0.0.1:8080/ready");

  h.Set("ready", Probe(true));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  h.Set("ready", Probe(false, "status 503, expected 200"));
  std::vector<Event> events = h.Run("5s", "35s", "5s");
  ASSERT_THAT(Lines(events), ElementsAre("5s trigger.pending ready", "35s trigger.firing ready",
                                         "35s rollback.started ready"));
  EXPECT_EQ(events[0].reason, "probe failed: status 503, expected 200, must hold for 30s");
  EXPECT_EQ(events[1].reason, "probe failed: status 503, expected 200 held 30s >= 30s");
  EXPECT_EQ(events[1].condition, "probe fails");
  EXPECT_DOUBLE_EQ(events[1].value.value_or(-1), 0);
  EXPECT_DOUBLE_EQ(events[1].threshold.value_or(-1), 1);
  EXPECT_THAT(events[1].labels, UnorderedElementsAre(Pair("team", "core"), Pair("probe", "http")));
  ASSERT_TRUE(events[2].hook.has_value());
  EXPECT_THAT(events[2].hook->argv.at(0), ::testing::EndsWith("undo.sh"));
  h.Finish(events[2].id, true, "40s");
  h.Set("ready", Probe(true));
  events = h.Eval("45s");
  ASSERT_THAT(Lines(events),
              ElementsAre("45s trigger.resolved ready", "45s rollback.verified ready"));
  EXPECT_EQ(events[0].reason, "probe passed after firing for 10s");
}

TEST(EngineHealthTest, AFailingProbeWithoutDetailSaysFailure) {
  EngineHarness h(kHealth);
  h.Set("ready", Probe(false));
  EXPECT_EQ(Only(h.Eval("0s"), EventKind::kTriggerPending).reason,
            "probe failed: failure, must hold for 30s");
}

TEST(EngineHealthTest, NoProbeResultOrANaNHolds) {
  EngineHarness h(kHealth);
  h.Set("ready", Probe(false, "connection refused"));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("ready", Empty());
  EXPECT_THAT(Lines(h.Eval("10s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("ready"), "pending");
  h.Set("ready", Value(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_THAT(Lines(h.Eval("20s")), IsEmpty());
  EXPECT_EQ(h.PhaseOf("ready"), "pending");
  h.Set("ready", Probe(false, "connection refused"));
  EXPECT_THAT(Kinds(h.Eval("30s")), ElementsAre("trigger.firing", "rollback.started"));
}

TEST(EngineHealthTest, AProbeErrorNeitherAdvancesNorResetsTheWindowAndSourceDownNamesTheProbe) {
  // A local fault (the daemon out of descriptors) is an error of the probe, not a breach.
  const QueryResult local = QueryResult::Error(
      "local fault: cannot open a socket: Too many open files (EMFILE); not the service's failure",
      InputError::kLocal);
  EngineHarness h(kHealth);
  h.Set("ready", Probe(false, "connection refused"));
  EXPECT_THAT(Kinds(h.Eval("0s")), ElementsAre("trigger.pending"));
  h.Set("ready", local);
  // Past the window's 30s, and nothing fires: errors do not advance it.
  EXPECT_THAT(Lines(h.Run("10s", "40s", "10s")), IsEmpty());  // 30s of errors is not > 30s
  EXPECT_EQ(h.PhaseOf("ready"), "pending");
  std::vector<Event> events = h.Eval("50s");
  ASSERT_THAT(Lines(events), ElementsAre("50s source.down ready"));
  EXPECT_EQ(
      events[0].reason,
      "probe \"ready\" (http://127.0.0.1:8080/ready): failing for 40s > for 30s: local fault: "
      "cannot open a socket: Too many open files (EMFILE); not the service's failure");
  EXPECT_EQ(events[0].severity, Severity::kWarning);
  // Nor do they reset it: the first failure after them still counts from 0s.
  h.Set("ready", Probe(false, "connection refused"));
  events = h.Eval("1m");
  ASSERT_THAT(Lines(events), ElementsAre("1m source.up ready", "1m trigger.firing ready",
                                         "1m rollback.started ready"));
  EXPECT_EQ(events[0].reason,
            "probe \"ready\" (http://127.0.0.1:8080/ready): answers again after failing for 50s");
}

TEST(EngineHealthTest, SourceDownOfAProbeNeverShowsItsCredentials) {
  EngineHarness h(R"(
service = "api"
[[health]]
name = "ready"
url = "https://probe:s3cret@api.example.com/ready?token=abc"
for = "0s"
)");
  h.Set("ready", QueryResult::Error("timeout after 1s", InputError::kTimeout));
  EXPECT_THAT(Lines(h.Eval("0s")), IsEmpty());
  const std::vector<Event> events = h.Eval("10s");
  ASSERT_THAT(Lines(events), ElementsAre("10s source.down ready"));
  EXPECT_EQ(events[0].reason,
            "probe \"ready\" (https://api.example.com/ready?redacted): failing for 10s > for 0s: "
            "timeout after 1s");
}

// --- Inputs -------------------------------------------------------------------------------------

TEST(EngineInputsTest, IdenticalQueriesShareOneInput) {
  auto config = ConfigFrom({R"(
service = "a"
[[trigger]]
name = "errors"
query = 'sum(rate(errors[1m]))'
above = 1
for = "0s"
[[trigger]]
name = "errors_hard"
query = 'sum(rate(errors[1m]))'
above = 10
for = "0s"
min_traffic_query = 'sum(rate(requests[1m]))'
min_traffic = 1
[[trigger]]
name = "ratio"
query = 'sum(rate(requests[1m]))'
baseline_query = 'sum(rate(errors[1m]))'
above_ratio = 2
for = "0s"
[[trigger]]
name = "other_source"
source = "eu"
query = 'sum(rate(errors[1m]))'
above = 1
for = "0s"
[[health]]
name = "ready"
url = "http://127.0.0.1/ready"
for = "0s"
[deploy]
version_query = 'sum(rate(requests[1m]))'
)",
                            R"(
service = "b"
[[trigger]]
name = "errors"
query = 'sum(rate(errors[1m]))'
above = 1
for = "0s"
)"});
  Engine engine(config);
  auto errors = engine.trigger_inputs("a", "errors");
  auto hard = engine.trigger_inputs("a", "errors_hard");
  auto ratio = engine.trigger_inputs("a", "ratio");
  auto other = engine.trigger_inputs("a", "other_source");
  auto ready = engine.trigger_inputs("a", "ready");
  auto b_errors = engine.trigger_inputs("b", "errors");
  ASSERT_TRUE(errors && hard && ratio && other && ready && b_errors);
  EXPECT_EQ(errors->query, hard->query);
  EXPECT_EQ(errors->baseline, -1);
  EXPECT_EQ(errors->traffic, -1);
  EXPECT_EQ(hard->traffic, ratio->query);
  EXPECT_EQ(ratio->baseline, errors->query);
  EXPECT_NE(other->query, errors->query);  // another source is another input
  EXPECT_EQ(engine.inputs().at(other->query).source, "eu");
  EXPECT_EQ(engine.version_input("a"), ratio->query);
  EXPECT_EQ(engine.version_input("b"), -1);
  EXPECT_EQ(engine.version_input("nope"), -1);
  EXPECT_EQ(b_errors->query, errors->query);  // across services too
  EXPECT_EQ(engine.inputs().size(), 4u);      // errors, requests, errors@eu, the probe
  EXPECT_EQ(engine.inputs().at(errors->query).query, "sum(rate(errors[1m]))");
  EXPECT_EQ(engine.inputs().at(ready->query).kind, InputSpec::Kind::kProbe);
  EXPECT_THAT(engine.service_inputs(0),
              UnorderedElementsAre(errors->query, ratio->query, other->query, ready->query));
  EXPECT_THAT(engine.service_inputs(1), ElementsAre(errors->query));
  EXPECT_FALSE(engine.trigger_inputs("a", "nope").has_value());
  EXPECT_FALSE(engine.trigger_inputs("nope", "errors").has_value());
}

}  // namespace
}  // namespace rollbackd::enginetest
