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

}  // namespace
}  // namespace rollbackd
