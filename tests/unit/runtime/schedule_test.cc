#include "daemon/runtime/schedule.h"

#include <gtest/gtest.h>

#include <memory>

#include "daemon/config/loader.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using Clock = Schedule::Clock;

// Two services: "a" every 10s with a trigger, a baseline and a version query; "b" every 30s with
// a health check probed every 5s. Built from the rule format, as the daemon does.
std::shared_ptr<const Config> TwoServices() {
  Diagnostics d;
  auto a = ParseRuleFile(R"(service = "a"
interval = "10s"
[[trigger]]
name = "lat"
query = "q1"
baseline_query = "q2"
above_ratio = 2
for = "1m"
[deploy]
version_query = "v"
)",
                         "a.toml", &d);
  auto b = ParseRuleFile(R"(service = "b"
interval = "30s"
[[trigger]]
name = "err"
query = "q1"
above = 1
for = "1m"
[[health]]
name = "up"
url = "http://127.0.0.1:1/"
interval = "5s"
for = "1m"
)",
                         "b.toml", &d);
  EXPECT_FALSE(d.has_errors());
  auto c = std::make_shared<Config>();
  c->services = {*a, *b};
  return c;
}

std::vector<char> Due(Schedule& s, const Engine& e, Clock::time_point t) {
  std::vector<char> due(e.inputs().size(), 0);
  s.TakeDue(t, &due);
  return due;
}

int Count(const std::vector<char>& due) {
  return static_cast<int>(std::count(due.begin(), due.end(), 1));
}

TEST(ScheduleTest, SkippedServicesAreNotReadButMoveOn) {
  auto config = TwoServices();
  Engine engine(config);
  const Clock::time_point t0{};
  Schedule s(*config, engine, t0);
  std::vector<char> due(engine.inputs().size(), 0);
  size_t skipped = 0;
  // Cluster mode: another member owns "b" (index 1): its trigger and its probe are not read.
  s.TakeDue(t0, &due, 5ms, [](size_t service) { return service == 1; }, &skipped);
  EXPECT_EQ(skipped, 2u);
  const auto lat = *engine.trigger_inputs("a", "lat");
  EXPECT_EQ(due[static_cast<size_t>(lat.query)], 1);  // q1, which "a" shares with "b"
  EXPECT_EQ(due[static_cast<size_t>(engine.trigger_inputs("b", "up")->query)], 0);
  EXPECT_EQ(Count(due), 3);
  // The skipped units moved on: the probe is next due at +5s, not at once.
  EXPECT_EQ(s.next(), t0 + 5s);
}

TEST(ScheduleTest, EveryUnitReadsAtOnceFirstThenOnItsOwnPeriod) {
  auto config = TwoServices();
  Engine engine(config);
  const Clock::time_point t0{};
  Schedule s(*config, engine, t0);
  // q1 (shared by both services: read once), q2, v, the probe.
  EXPECT_EQ(Count(Due(s, engine, t0)), 4);
  EXPECT_EQ(s.next(), t0 + 5s);

  auto due = Due(s, engine, t0 + 5s);  // only the probe
  EXPECT_EQ(Count(due), 1);
  EXPECT_EQ(due[static_cast<size_t>(engine.trigger_inputs("b", "up")->query)], 1);

  due = Due(s, engine, t0 + 10s);  // the probe and service a: its trigger with its baseline
  const auto lat = *engine.trigger_inputs("a", "lat");
  EXPECT_EQ(due[static_cast<size_t>(lat.query)], 1);
  EXPECT_EQ(due[static_cast<size_t>(lat.baseline)], 1);
  EXPECT_EQ(due[static_cast<size_t>(engine.version_input("a"))], 1);
  EXPECT_EQ(Count(due), 4);
}

TEST(ScheduleTest, UnitsAFewMillisecondsApartShareARound) {
  auto config = TwoServices();
  Engine engine(config);
  const Clock::time_point t0{};
  Schedule s(*config, engine, t0);
  Due(s, engine, t0);
  EXPECT_EQ(Count(Due(s, engine, t0 + 10s - 3ms)), 4);  // a (10s) and the probe (5s x 2)
}

TEST(ScheduleTest, ALateRoundDoesNotCauseABurstOfCatchUpRounds) {
  auto config = TwoServices();
  Engine engine(config);
  const Clock::time_point t0{};
  Schedule s(*config, engine, t0);
  Due(s, engine, t0);
  // The loop was stuck for a minute: one round now, then every unit one period later.
  EXPECT_EQ(Count(Due(s, engine, t0 + 60s)), 4);
  EXPECT_EQ(s.next(), t0 + 65s);
  EXPECT_EQ(Count(Due(s, engine, t0 + 61s)), 0);
}

// Rounds that start late (a busy loop) still get their slots' instants: ten 1 s slots are exactly
// 10 s apart, so a 10 s `for` holds on the tenth, however late each round started.
TEST(SlotClockTest, InstantsAreTheSlotsNotWhenTheRoundsStarted) {
  SlotClock clock;
  const Clock::time_point s0{};
  const std::chrono::system_clock::time_point w0{std::chrono::milliseconds(1'700'000'000'000)};
  const std::chrono::microseconds late[] = {3ms, 0ms, 17ms, 250us, 900ms, 1ms, 40ms, 0ms, 2ms, 5ms, 0ms};
  std::vector<Time> at;
  for (int k = 0; k <= 10; ++k) {
    const auto slot = s0 + k * 1s;
    const auto now = slot + late[k];
    at.push_back(clock.At(slot, now, w0 + (now - s0)));
  }
  for (int k = 1; k <= 10; ++k) EXPECT_EQ(at[k] - at[k - 1], 1s) << k;
  EXPECT_EQ(at[10] - at[0], 10s);
  EXPECT_EQ(at[0], std::chrono::time_point_cast<std::chrono::milliseconds>(w0));
}

TEST(SlotClockTest, AWallClockStepMovesTheAnchorAndAStalledLoopTakesThePresent) {
  SlotClock clock;
  const Clock::time_point s0{};
  const std::chrono::system_clock::time_point w0{std::chrono::milliseconds(1'700'000'000'000)};
  const Time t0 = clock.At(s0, s0, w0);
  // The wall clock is stepped forward by an hour between two rounds: the instant follows it.
  const Time t1 = clock.At(s0 + 1s, s0 + 1s, w0 + 1s + 1h);
  EXPECT_EQ(t1 - t0, 1h + 1s);
  // ... and the next slots are exact again from the new anchor.
  EXPECT_EQ(clock.At(s0 + 2s, s0 + 2s + 30ms, w0 + 2s + 1h + 30ms) - t1, 1s);
  // A drift under a second keeps the anchor (slots stay exactly a period apart).
  EXPECT_EQ(clock.At(s0 + 3s, s0 + 3s, w0 + 3s + 1h + 400ms) - t1, 2s);
  // A round more than a second behind its slot is evaluated at the present.
  const Time late = clock.At(s0 + 4s, s0 + 9s, w0 + 9s + 1h);
  EXPECT_EQ(late, std::chrono::time_point_cast<std::chrono::milliseconds>(w0 + 9s + 1h));
}

}  // namespace
}  // namespace rollbackd
