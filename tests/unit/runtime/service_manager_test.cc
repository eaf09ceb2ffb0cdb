#include "daemon/runtime/service_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/fake_clock.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

size_t Pings(const std::vector<std::string>& sent) {
  return static_cast<size_t>(std::count(sent.begin(), sent.end(), "WATCHDOG=1"));
}

TEST(ServiceManagerTest, WatchdogPingsComeFromTheLoopSoAStalledLoopSendsNone) {
  testing::FakeClock clock;
  std::vector<std::string> sent;
  ServiceManager sm(clock, [&](const std::string& m) { sent.push_back(m); });
  sm.StartWatchdog(500ms);
  clock.Advance(5s);
  EXPECT_EQ(Pings(sent), 11u) << "at 0s, then every 500ms";
  // A handler that blocks the loop for 10 periods: no ping comes meanwhile (systemd's watchdog
  // then restarts the daemon); once the loop turns again the pings resume, without a burst.
  sent.clear();
  clock.Spend(5s);
  EXPECT_EQ(Pings(sent), 0u);
  clock.RunReady();
  EXPECT_EQ(Pings(sent), 1u);
  clock.Advance(1s);
  EXPECT_EQ(Pings(sent), 3u);
}

TEST(ServiceManagerTest, StatesAreSentAsSystemdExpectsThem) {
  testing::FakeClock clock;
  std::vector<std::string> sent;
  ServiceManager sm(clock, [&](const std::string& m) { sent.push_back(m); });
  sm.Ready("watching 1 service(s)");
  sm.Reloading();
  sm.Stopping();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0], "READY=1\nSTATUS=watching 1 service(s)");
  EXPECT_EQ(sent[1].rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << sent[1];
  EXPECT_EQ(sent[2], "STOPPING=1");
  EXPECT_EQ(sm.watchdog_period(), Duration(0)) << "no watchdog unless asked";
  sent.clear();
  sm.Status("watching 1 service(s)");  // what READY=1 said already
  sm.Status("watching 2 service(s)");
  sm.Status("watching 2 service(s)");
  EXPECT_EQ(sent, std::vector<std::string>{"STATUS=watching 2 service(s)"}) << "only changes";
}

}  // namespace
}  // namespace rollbackd
