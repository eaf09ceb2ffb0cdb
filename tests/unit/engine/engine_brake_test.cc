// The fleet brake: past max_rollbacks within the window (per group), decisions are held with
// skip_reason "fleet_brake" and one fleet.brake is raised; it lets go on the operator's release
// (held services still firing are decided again) or after a window with nothing to hold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string Service(const std::string& name, const std::string& cluster) {
  return R"(
service = ")" +
         name + R"("
labels = { cluster = ")" +
         cluster + R"(" }
[rollback]
exec = ["/bin/true"]
cooldown = "0s"
[[trigger]]
name = "errors"
query = 'errors_)" +
         name + R"('
above = 0.05
for = "0s"
)";
}

std::shared_ptr<Config> Fleet(int n, int max, std::vector<std::string> by = {},
                              std::vector<std::string> clusters = {}) {
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) {
    texts.push_back(
        Service("s" + std::to_string(i), clusters.empty() ? "eu" : clusters[i % clusters.size()]));
  }
  auto config = std::make_shared<Config>();
  for (size_t i = 0; i < texts.size(); ++i) {
    Diagnostics d;
    auto s = ParseRuleFile(texts[i], "r" + std::to_string(i) + ".toml", &d);
    if (!s) throw std::invalid_argument("bad rule file");
    config->services.push_back(std::move(*s));
  }
  config->daemon.brake = BrakeSettings{max, D("10m"), std::move(by), {}};
  return config;
}

// "s0 rollback.started", "fleet.brake", ...
std::vector<std::string> Decisions(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (e.kind == EventKind::kTriggerFiring || e.kind == EventKind::kTriggerResolved) continue;
    std::string line =
        (e.service.empty() ? "" : e.service + " ") + std::string(EventKindName(e.kind));
    if (!e.skip_reason.empty()) line += " (" + e.skip_reason + ")";
    out.push_back(line);
  }
  return out;
}

class Fleet5 {
 public:
  explicit Fleet5(std::shared_ptr<Config> config) : h(std::move(config)) {
    for (size_t i = 0; i < h.engine().config().services.size(); ++i) Set(i, 0.0);
  }
  void Set(size_t i, double v) {
    const std::string name = h.engine().config().services[i].name;
    h.SetInput(h.Ids("errors", name).query, Value(v));
  }
  EngineHarness h;
};

TEST(EngineBrakeTest, TheRollbackPastTheLimitIsHeldAndOneFleetBrakeListsTheHeld) {
  Fleet5 f(Fleet(5, 3));
  EXPECT_THAT(f.h.Eval("0s"), IsEmpty());
  for (size_t i = 0; i < 5; ++i) f.Set(i, 0.5);
  std::vector<Event> events = f.h.Eval("15s");
  EXPECT_THAT(Decisions(events),
              ElementsAre("s0 rollback.started", "s1 rollback.started", "s2 rollback.started",
                          "s3 rollback.skipped (fleet_brake)", "s4 rollback.skipped (fleet_brake)",
                          "fleet.brake"));
  const Event& skipped = events[7];
  ASSERT_EQ(skipped.service, "s3");
  EXPECT_EQ(skipped.reason,
            "fleet brake: 3 rollbacks within 10m (s0, s1, s2), at most 3; held until POST "
            "/api/v1/brake/release or 10m without another");
  const Event& brake = events.back();
  EXPECT_EQ(brake.severity, Severity::kCritical);
  ASSERT_TRUE(brake.brake.has_value());
  EXPECT_THAT(brake.brake->rolled_back, ElementsAre("s0", "s1", "s2"));
  EXPECT_THAT(brake.brake->held, ElementsAre("s3", "s4"));
  EXPECT_EQ(brake.brake->max_rollbacks, 3);
  auto state = f.h.engine().BrakeState(At("15s"));
  ASSERT_EQ(state.size(), 1u);
  EXPECT_TRUE(state[0].engaged);
}

TEST(EngineBrakeTest, RollbacksSpreadOverMoreThanTheWindowAreNotHeld) {
  Fleet5 f(Fleet(4, 1));
  f.h.Eval("0s");
  f.Set(0, 0.5);
  EXPECT_THAT(Decisions(f.h.Eval("15s")), ElementsAre("s0 rollback.started"));
  f.Set(1, 0.5);
  EXPECT_THAT(Decisions(f.h.Eval("10m15s")), ElementsAre("s1 rollback.started"));
  f.Set(2, 0.5);
  EXPECT_THAT(Decisions(f.h.Eval("10m30s")),
              ElementsAre("s2 rollback.skipped (fleet_brake)", "fleet.brake"));
}

TEST(EngineBrakeTest, WhileEngagedEveryDecisionIsHeldUntilAWindowPassesWithoutOne) {
  Fleet5 f(Fleet(5, 1));
  f.h.Eval("0s");
  f.Set(0, 0.5);
  f.Set(1, 0.5);
  EXPECT_THAT(
      Decisions(f.h.Eval("15s")),
      ElementsAre("s0 rollback.started", "s1 rollback.skipped (fleet_brake)", "fleet.brake"));
  // Long after s0's rollback left the window, the engaged brake still holds a new one.
  f.Set(2, 0.5);
  EXPECT_THAT(Decisions(f.h.Eval("9m")), ElementsAre("s2 rollback.skipped (fleet_brake)"));
  EXPECT_THAT(Decisions(f.h.Eval("18m45s")), IsEmpty());
  std::vector<Event> events = f.h.Eval("19m");
  ASSERT_THAT(Decisions(events), ElementsAre("fleet.brake_released"));
  EXPECT_EQ(events[0].reason,
            "no rollback to hold for 10m (window 10m); it held s1, s2, which are not rolled back");
  // Released on its own: the held services are not decided again.
  EXPECT_THAT(Decisions(f.h.Eval("19m15s")), IsEmpty());
  f.Set(3, 0.5);
  EXPECT_THAT(Decisions(f.h.Eval("19m30s")), ElementsAre("s3 rollback.started"));
}

TEST(EngineBrakeTest, TheOperatorsReleaseDecidesTheHeldServicesStillFiringAgain) {
  Fleet5 f(Fleet(5, 2));
  f.h.Eval("0s");
  for (size_t i = 0; i < 5; ++i) f.Set(i, 0.5);
  f.h.Eval("15s");  // s0, s1 started; s2, s3, s4 held
  f.Set(3, 0.0);    // s3 recovered on its own
  f.h.Eval("30s");
  std::vector<Event> released;
  EXPECT_THAT(f.h.engine().ReleaseBrake(At("40s"), &released), ElementsAre("s2", "s3", "s4"));
  ASSERT_THAT(Decisions(released), ElementsAre("fleet.brake_released"));
  // The count starts over at the release: s2 and s4 go (s3 no longer fires).
  std::vector<Event> events = f.h.Eval("45s");
  EXPECT_THAT(Decisions(events), ElementsAre("s2 rollback.started", "s4 rollback.started"));
  EXPECT_EQ(events[0].reason.rfind("errors: still firing when the fleet brake was released", 0), 0u)
      << events[0].reason;
  // Decided once: the next round is quiet.
  EXPECT_THAT(Decisions(f.h.Eval("1m")), IsEmpty());
}

TEST(EngineBrakeTest, GroupsByALabelCountApart) {
  Fleet5 f(Fleet(4, 1, {"cluster"}, {"eu", "us"}));  // s0 eu, s1 us, s2 eu, s3 us
  f.h.Eval("0s");
  for (size_t i = 0; i < 4; ++i) f.Set(i, 0.5);
  std::vector<Event> events = f.h.Eval("15s");
  EXPECT_THAT(
      Decisions(events),
      ElementsAre("s0 rollback.started", "s1 rollback.started", "s2 rollback.skipped (fleet_brake)",
                  "s3 rollback.skipped (fleet_brake)", "fleet.brake", "fleet.brake"));
  EXPECT_EQ(events[events.size() - 2].labels, (LabelMap{{"cluster", "eu"}}));
  EXPECT_EQ(events.back().labels, (LabelMap{{"cluster", "us"}}));
}

TEST(EngineBrakeTest, TheBrakeSurvivesARestart) {
  Fleet5 f(Fleet(3, 1));
  f.h.Eval("0s");
  f.Set(0, 0.5);
  f.h.Eval("15s");
  const std::string saved = f.h.engine().SaveState();
  Fleet5 after(Fleet(3, 1));
  std::string error;
  ASSERT_TRUE(after.h.engine().RestoreState(saved, &error)) << error;
  after.Set(0, 0.5);
  after.Set(1, 0.5);
  EXPECT_THAT(Decisions(after.h.Eval("30s")),
              ElementsAre("s1 rollback.skipped (fleet_brake)", "fleet.brake"));
}

TEST(EngineBrakeTest, DryRunAndPauseComeBeforeTheBrakeAndAreNotCounted) {
  auto config = Fleet(3, 1);
  config->services[0].dry_run = true;
  Fleet5 f(config);
  ASSERT_TRUE(f.h.engine().SetPaused("s1", true));
  f.h.Eval("0s");
  f.Set(0, 0.5);
  f.Set(1, 0.5);
  f.Set(2, 0.5);
  // Neither the dry run's skip nor the paused one uses up the one rollback the window allows.
  EXPECT_THAT(Decisions(f.h.Eval("15s")),
              ElementsAre("s0 rollback.skipped (dry_run)", "s1 rollback.skipped (paused)",
                          "s2 rollback.started"));
}

}  // namespace
}  // namespace rollbackd::enginetest
