// The daemon's behaviour as timelines on a fake clock: windows, hooks, verification, reload, pause,
// cooldown, drain and restart, each run in microseconds without a sleep.
#include "tests/unit/runtime/daemon_timeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::Timeline;

constexpr const char* kTrigger = "above = 0.05\nfor = \"10s\"\nseverity = \"critical\"";

// Breaching from `from` until the hook ran (or for good without one).
std::function<std::optional<double>(Duration)> BreachFrom(Timeline& t, Duration from) {
  return [&t, from](Duration at) -> std::optional<double> {
    const bool rolled_back = !t.hooks().runs.empty() && !t.hooks().runs.back()->done;
    return at >= from && !rolled_back ? 0.5 : 0.01;
  };
}

TEST(DaemonTimeline, TheHookRunsOnceWhenTheWindowHasHeldAndTheRecoveryIsVerified) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  ASSERT_TRUE(t.Start());
  t.Advance(20s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s"));
  EXPECT_THAT(t.Decisions(), ElementsAre("3s trigger.pending", "13s trigger.firing",
                                         "13s rollback.started", "13s rollback.succeeded",
                                         "14s trigger.resolved", "14s rollback.verified"));
  // Each decided event reached the webhook once, with its own id.
  std::vector<std::string> kinds;
  for (const auto& [id, payload] : t.Deliveries()) {
    EXPECT_EQ(id, payload["id"]);
    kinds.push_back(payload["event"]);
  }
  EXPECT_EQ(kinds.size(), 6u);
  EXPECT_EQ(t.inputs().queries, 21u) << "one query a second, t=0s to t=20s";
}

TEST(DaemonTimeline, AReloadDuringAPendingWindowKeepsItUnlessTheTriggerChanged) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  ASSERT_TRUE(t.Start());
  t.Advance(8s);
  t.WriteRule(kTrigger, "labels = { team = \"web\" }\n");  // the trigger itself is unchanged
  t.Reload();
  t.Advance(12s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s")) << "the window went on across the reload";

  Timeline u(kTrigger);
  u.value = BreachFrom(u, 3s);
  ASSERT_TRUE(u.Start());
  u.Advance(8s);
  u.WriteRule("above = 0.05\nfor = \"11s\"\nseverity = \"critical\"");
  u.Reload();
  u.Advance(20s);
  EXPECT_THAT(u.HookRuns(), ElementsAre("19s")) << "a changed trigger starts anew at the reload";
}

TEST(DaemonTimeline, ABadReloadKeepsTheRunningConfiguration) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  ASSERT_TRUE(t.Start());
  t.Advance(5s);
  t.WriteRule("above = \"not a number\"\n");
  t.Reload();
  t.Advance(15s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s"));
}

TEST(DaemonTimeline, APausedServiceSkipsTheRollbackAndResumes) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  ASSERT_TRUE(t.Start());
  t.Advance(5s);
  EXPECT_EQ(t.daemon().control().SetPaused("web", true), ControlResult::kDone);
  EXPECT_EQ(t.daemon().control().SetPaused("nope", true), ControlResult::kUnknownService);
  t.Advance(15s);
  EXPECT_THAT(t.HookRuns(), IsEmpty());
  const auto d = t.Decisions();
  EXPECT_NE(std::find(d.begin(), d.end(), "13s rollback.skipped"), d.end())
      << ::testing::PrintToString(d);
  EXPECT_EQ(t.daemon().control().SetPaused("web", false), ControlResult::kDone);
  t.Advance(10s);
  EXPECT_THAT(t.HookRuns(), IsEmpty()) << "one decision per firing episode: resuming does not "
                                          "roll back an episode already skipped";
}

TEST(DaemonTimeline, ASecondEpisodeWithinTheCooldownIsSkipped) {
  Timeline t("above = 0.05\nfor = \"2s\"\nseverity = \"critical\"");  // cooldown 30m
  // Breaching 3s..10s, then 20s..30s: two episodes, the hook "fixes" nothing.
  t.value = [](Duration at) -> std::optional<double> {
    return (at >= 3s && at < 10s) || (at >= 20s && at < 30s) ? 0.5 : 0.0;
  };
  ASSERT_TRUE(t.Start());
  t.Advance(40s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("5s"));
  const auto d = t.Decisions();
  EXPECT_NE(std::find(d.begin(), d.end(), "22s rollback.skipped"), d.end())
      << ::testing::PrintToString(d);
}

TEST(DaemonTimeline, DrainWaitsForTheRunningHookThenDeliversItsOutcome) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  t.hooks().hold = true;
  ASSERT_TRUE(t.Start());
  t.Advance(14s);
  ASSERT_EQ(t.hooks().running(), 1u);
  bool done = false;
  t.Shutdown(&done);
  t.Advance(30s);
  EXPECT_FALSE(done) << "a drain waits for a running hook";
  ASSERT_TRUE(t.hooks().Finish(0, testing::FakeHookRunner::Succeeded()));
  t.Advance(1s);
  EXPECT_TRUE(done);
  const auto d = t.Decisions();
  EXPECT_EQ(d.back(), "44s rollback.succeeded");
  EXPECT_EQ(t.Deliveries().back().second["event"], "rollback.succeeded");
  EXPECT_EQ(t.inputs().queries, 15u) << "no evaluation after the stop";
}

// A breach from 3s and a hook that does not end by itself: at 15s it runs (started at 13s).
void RunUntilTheHookRuns(Timeline& t) {
  t.value = BreachFrom(t, 3s);
  t.hooks().hold = true;
  ASSERT_TRUE(t.Start());
  t.Advance(15s);
  ASSERT_EQ(t.hooks().running(), 1u);
}

TEST(DaemonTimeline, ARestartWithARollbackInFlightReportsItInterruptedAndNeverRerunsIt) {
  Timeline t(kTrigger);
  ASSERT_NO_FATAL_FAILURE(RunUntilTheHookRuns(t));
  ASSERT_EQ(t.hooks().running(), 1u);
  ASSERT_TRUE(t.Crash());
  t.Advance(20s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s")) << "the interrupted hook never runs again";
  const auto records = t.DecisionRecords();
  ASSERT_FALSE(records.empty());
  const nlohmann::json& last = records.back();
  EXPECT_EQ(last["event"], "rollback.failed");
  EXPECT_THAT(last["reason"].get<std::string>(), ::testing::HasSubstr("interrupted"));
  EXPECT_EQ(t.Decisions().back(), "15s rollback.failed");
}

// The hook's supervisor outlives the daemon (io/supervisor.h): after a crash, the new life asks
// what became of the hook instead of calling it interrupted.
std::vector<std::string> Kinds(const std::vector<std::string>& decisions, const std::string& kind) {
  std::vector<std::string> out;
  for (const std::string& d : decisions) {
    if (d.ends_with(" " + kind)) out.push_back(d);
  }
  return out;
}

TEST(DaemonTimeline, AHookThatFinishedWhileTheDaemonWasDownIsReportedWithItsRealOutcome) {
  Timeline t(kTrigger);
  ASSERT_NO_FATAL_FAILURE(RunUntilTheHookRuns(t));
  ASSERT_EQ(t.hooks().running(), 1u);
  const HookRun& run = t.hooks().runs[0]->run;
  EXPECT_EQ(run.record, "/state/hooks/" + run.rollback_id);
  const std::string record = run.record;
  ASSERT_TRUE(t.Crash([&](testing::FakeHookRunner& hooks) {
    hooks.resumed[record] = {ResumedHook::State::kFinished, testing::FakeHookRunner::Succeeded(),
                             ""};
  }));
  t.Advance(20s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s")) << "never run again";
  ASSERT_EQ(t.hooks().resumes.size(), 1u);
  EXPECT_EQ(t.hooks().resumes[0].first, record);
  const auto d = t.Decisions();
  EXPECT_THAT(Kinds(d, "rollback.succeeded"), ElementsAre("15s rollback.succeeded"))
      << ::testing::PrintToString(d);
  EXPECT_TRUE(Kinds(d, "rollback.failed").empty()) << "nobody is paged for a rollback that worked";
  EXPECT_THAT(t.hooks().forgotten, ElementsAre(record)) << "the journal has it: the record goes";
  const std::string journal = t.fs().Contents("/state/journal.jsonl").value_or("");
  EXPECT_NE(journal.find("\"success\":true"), std::string::npos) << journal;
}

TEST(DaemonTimeline, AHookStillRunningAfterARestartIsWaitedForAndItsFailureReported) {
  Timeline t(kTrigger);
  ASSERT_NO_FATAL_FAILURE(RunUntilTheHookRuns(t));
  ASSERT_TRUE(t.Crash([](testing::FakeHookRunner& hooks) { hooks.resume_hold = true; }));
  t.Advance(10s);
  ASSERT_EQ(t.hooks().resumes.size(), 1u);
  EXPECT_TRUE(Kinds(t.Decisions(), "rollback.failed").empty()) << "not interrupted: it still runs";
  EXPECT_TRUE(Kinds(t.Decisions(), "rollback.succeeded").empty());
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s"));

  bool done = false;
  t.Shutdown(&done);
  t.Advance(5s);
  EXPECT_FALSE(done) << "a drain waits for the resumed hook too";
  RollbackOutcome failed;
  failed.exit_code = 3;
  failed.error = "exit status 3";
  ASSERT_TRUE(t.hooks().EndResume(0, {ResumedHook::State::kFinished, failed, ""}));
  t.Advance(1s);
  EXPECT_TRUE(done);
  const auto records = t.DecisionRecords();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back()["event"], "rollback.failed");
  EXPECT_EQ(records.back()["reason"].get<std::string>().find("interrupted"), std::string::npos)
      << records.back().dump();
  EXPECT_EQ(t.Decisions().back(), "30s rollback.failed");
}

TEST(DaemonTimeline, AHookThatNeverStartedBeforeTheCrashIsReportedSoAndNotRun) {
  Timeline t(kTrigger);
  ASSERT_NO_FATAL_FAILURE(RunUntilTheHookRuns(t));
  const std::string record = t.hooks().runs[0]->run.record;
  ASSERT_TRUE(t.Crash([&](testing::FakeHookRunner& hooks) {
    hooks.resumed[record] = {ResumedHook::State::kNotStarted, {}, ""};
  }));
  t.Advance(5s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s"));
  const auto records = t.DecisionRecords();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back()["event"], "rollback.failed");
  EXPECT_THAT(records.back()["reason"].get<std::string>(),
              ::testing::HasSubstr("before the hook started; it was not run"));
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// The fleet brake in the daemon: a service rolled back again and again (cooldown = "0s") is a
// fleet of one. The brake holds the second rollback, survives a crash, and the operator's release
// lets the held one go.
TEST(DaemonTimelineBrake, TheBrakeHoldsSurvivesACrashAndTheReleaseLetsTheHeldRollbackGo) {
  Timeline t(kTrigger, "", "brake = { max_rollbacks = 1, window = \"10m\" }\n");
  t.dir().Write("rules/web.toml", R"(service = "web"
[[trigger]]
name = "errors"
query = "errors"
above = 0.05
for = "0s"
[rollback]
exec = ["/bin/rollback"]
timeout = "1m"
verify = "2s"
cooldown = "0s"
)");
  // Breaching in [3s, 5s) and from 10s on: two episodes.
  t.value = [](Duration at) -> std::optional<double> {
    return (at >= 3s && at < 5s) || at >= 10s ? 0.5 : 0.01;
  };
  ASSERT_TRUE(t.Start());
  t.Advance(12s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("3s"));
  std::vector<std::string> skipped;
  for (const auto& e : t.DecisionRecords()) {
    if (e["event"] == "rollback.skipped") skipped.push_back(e["rollback"]["skip_reason"]);
  }
  EXPECT_THAT(skipped, ElementsAre("fleet_brake"));
  bool delivered = false;
  for (const auto& [id, payload] : t.Deliveries()) {
    if (payload["event"] == "fleet.brake") {
      delivered = true;
      EXPECT_EQ(payload["severity"], "critical");
      EXPECT_EQ(payload["brake"]["held"], nlohmann::json::array({"web"}));
      EXPECT_EQ(payload["brake"]["rolled_back"], nlohmann::json::array({"web"}));
    }
  }
  EXPECT_TRUE(delivered) << "fleet.brake reached the webhook";

  // A crash does not lift it.
  ASSERT_TRUE(t.Crash());
  t.Advance(3s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("3s"));
  auto state = nlohmann::json::parse(t.daemon().control().StatusDocument());
  EXPECT_EQ(state["brake"]["engaged"], true);
  EXPECT_EQ(state["brake"]["groups"][0]["held"], nlohmann::json::array({"web"}));

  // The operator's release: web still fires, so it is decided again and rolls back once.
  auto released = t.daemon().control().ReleaseBrake();
  ASSERT_TRUE(released.has_value());
  EXPECT_THAT(released->held, ElementsAre("web"));
  t.Advance(3s);
  EXPECT_EQ(t.HookRuns().size(), 2u);
  state = nlohmann::json::parse(t.daemon().control().StatusDocument());
  EXPECT_EQ(state["brake"]["engaged"], false);
  std::vector<std::string> kinds;
  for (const auto& e : t.DecisionRecords()) {
    const std::string k = e["event"];
    if (k.rfind("fleet.", 0) == 0 || k == "rollback.started") kinds.push_back(k);
  }
  // The decision log since the crash (what it wrote before was not yet durable).
  EXPECT_THAT(kinds, ElementsAre("fleet.brake_released", "rollback.started"));
  EXPECT_NE(t.daemon().control().MetricsText().find("rollbackd_fleet_brake_engaged{group=\"\"} 0"),
            std::string::npos);
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// A comparison's samples change every round without an event; they reach state.json at least
// once a minute, so a crash keeps them (up to a minute old) instead of starting the window anew.
TEST(DaemonTimelineCompare, QuietRoundsStillSaveTheSamplesOnceAMinute) {
  Timeline t(kTrigger);
  t.dir().Write("rules/web.toml", R"(service = "web"
[[trigger]]
name = "latency"
query = "canary"
baseline_query = "stable"
compare = { test = "mann_whitney", window = "3m", confidence = 0.98, min_effect = 1.2, min_samples = 30 }
for = "0s"
)");
  ASSERT_TRUE(t.Start());
  t.Advance(90s);  // canary and stable answer alike: no event at all
  EXPECT_TRUE(t.Decisions().empty());
  ASSERT_TRUE(t.Crash());
  const auto text = t.fs().Contents("/state/state.json");
  ASSERT_TRUE(text.has_value());
  const auto state = nlohmann::json::parse(*text);
  const auto& series = state["services"]["web"]["rules"]["latency"]["series"];
  ASSERT_EQ(series.size(), 1u);
  EXPECT_GE(series[0]["samples"].size(), 55u);
  EXPECT_GE(series[0]["baseline_samples"].size(), 55u);
}

}  // namespace
}  // namespace rollbackd
