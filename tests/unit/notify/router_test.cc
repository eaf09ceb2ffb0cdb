#include "daemon/notify/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config/loader.h"

namespace rollbackd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Router FromToml(const std::string& routes) {
  Diagnostics d;
  auto c = ParseDaemonConfig(R"(
[channel.oncall]
type = "log"
[channel.am]
type = "log"
[channel.chat]
type = "log"
[channel.audit]
type = "log"
)" + routes,
                             "rollbackd.toml", &d);
  EXPECT_TRUE(c.has_value()) << (d.all().empty() ? "" : d.all()[0].ToString());
  return Router(c ? c->routes : std::vector<Route>{});
}

Event Ev(EventKind kind, Severity sev, std::string service = "checkout",
         LabelMap labels = {{"team", "payments"}}) {
  Event e;
  e.kind = kind;
  e.severity = sev;
  e.service = std::move(service);
  e.trigger = "error_rate";
  e.labels = std::move(labels);
  return e;
}

const char* kRoutes = R"(
[[route]]
match_re = { event = "rollback\\..*" }
channels = ["audit"]
continue = true
[[route]]
match    = { severity = "critical" }
channels = ["oncall", "am"]
continue = true
[[route]]
match    = { severity = "critical", team = "payments" }
channels = ["chat"]
[[route]]
match    = { severity = "warning" }
channels = ["chat"]
[[route]]
channels = ["am"]
)";

TEST(RouterTest, FirstMatchWinsUnlessContinue) {
  Router r = FromToml(kRoutes);
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kCritical)),
              ElementsAre("oncall", "am", "chat"));
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kRollbackStarted, Severity::kCritical)),
              ElementsAre("audit", "oncall", "am", "chat"));
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kWarning)),
              ElementsAre("chat"));
  // Critical, but another team: the third route does not match, and nothing stops before the
  // catch-all; "am" is listed once.
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kCritical, "search",
                               {{"team", "search"}})),
              ElementsAre("oncall", "am"));
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kSourceDown, Severity::kInfo)), ElementsAre("am"));
}

TEST(RouterTest, RegexesAreAnchored) {
  Router r = FromToml(R"(
[[route]]
match_re = { service = "check" }
channels = ["oncall"]
[[route]]
match_re = { service = "check.*|pay-.+" }
channels = ["chat"]
)");
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "checkout")),
              ElementsAre("chat"));
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "pay-eu")),
              ElementsAre("chat"));
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "pay-")), IsEmpty());
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "check")),
              ElementsAre("oncall"));
}

TEST(RouterTest, AMissingLabelMatchesAsEmpty) {
  Router r = FromToml(R"(
[[route]]
match = { region = "" }
channels = ["oncall"]
[[route]]
match_re = { region = "eu|us" }
channels = ["chat"]
)");
  EXPECT_THAT(r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo)), ElementsAre("oncall"));
  EXPECT_THAT(
      r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "x", {{"region", "eu"}})),
      ElementsAre("chat"));
  EXPECT_THAT(
      r.ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kInfo, "x", {{"region", "ap"}})),
      IsEmpty());
}

TEST(RouterTest, NoRoutesNoChannels) {
  EXPECT_THAT(Router({}).ChannelsFor(Ev(EventKind::kTriggerFiring, Severity::kCritical)),
              IsEmpty());
}

}  // namespace
}  // namespace rollbackd
