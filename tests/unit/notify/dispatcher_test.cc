// The dispatcher on an injected clock: routing, repeats, resolutions, group_wait, Alertmanager's
// alerts and the state that survives restarts. No I/O; every test runs in microseconds.
#include "daemon/notify/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const Time kT0 = Time(1'700'000'000'000ms);

Channel MakeChannel(std::string name, ChannelType type) {
  Channel c;
  c.name = std::move(name);
  c.type = type;
  c.url = "http://127.0.0.1:1/";
  return c;
}

Route MakeRoute(std::vector<std::string> channels,
                std::vector<RouteMatcher> matchers = {}) {
  Route r;
  r.channels = std::move(channels);
  r.matchers = std::move(matchers);
  return r;
}

Event MakeEvent(EventKind kind, Time t, std::string service = "checkout",
                std::string trigger = "error_rate", Severity severity = Severity::kCritical) {
  Event e;
  e.kind = kind;
  e.time = t;
  e.service = std::move(service);
  e.trigger = std::move(trigger);
  e.severity = severity;
  e.labels = {{"pod", "a"}};
  e.value = 0.3;
  e.threshold = 0.05;
  e.reason = "because";
  e.id = MakeEventId(kind, e.service, e.trigger, 7, t);
  return e;
}

std::vector<std::string> Channels(const Dispatch& d) {
  std::vector<std::string> out;
  for (const OutboxEntry& e : d.queued) out.push_back(e.channel);
  for (const auto& l : d.logs) out.push_back("log:" + l.channel);
  return out;
}

class DispatcherTest : public ::testing::Test {
 protected:
  Config config_;
};

TEST_F(DispatcherTest, FirstMatchWinsUnlessContinueAndSeverityAndLabelsRoute) {
  config_.channels = {MakeChannel("pager", ChannelType::kWebhook),
                      MakeChannel("chat", ChannelType::kSlack),
                      MakeChannel("audit", ChannelType::kWebhook)};
  config_.routes = {MakeRoute({"pager"}, {{"severity", "critical", false}}),
                    MakeRoute({"chat"}, {{"pod", "a|b", true}}), MakeRoute({"audit"})};
  config_.routes[0].continue_matching = true;
  Dispatcher d(config_);
  EXPECT_THAT(Channels(d.OnEvent(MakeEvent(EventKind::kTriggerPending, kT0), kT0)),
              ElementsAre("pager", "chat"));
  Event warning = MakeEvent(EventKind::kTriggerPending, kT0, "search", "latency", Severity::kWarning);
  warning.labels = {{"pod", "c"}};
  EXPECT_THAT(Channels(d.OnEvent(warning, kT0)), ElementsAre("audit"));
}

TEST_F(DispatcherTest, AChannelReachedTwiceGetsTheEventOnceAndMinSeverityFilters) {
  config_.channels = {MakeChannel("a", ChannelType::kWebhook), MakeChannel("b", ChannelType::kWebhook)};
  config_.channels[1].min_severity = Severity::kCritical;
  config_.routes = {MakeRoute({"a", "b"}), MakeRoute({"a"})};
  config_.routes[0].continue_matching = true;
  Dispatcher d(config_);
  EXPECT_THAT(Channels(d.OnEvent(MakeEvent(EventKind::kTriggerPending, kT0), kT0)),
              ElementsAre("a", "b"));
  Event warning = MakeEvent(EventKind::kTriggerPending, kT0, "checkout", "x", Severity::kWarning);
  EXPECT_THAT(Channels(d.OnEvent(warning, kT0)), ElementsAre("a"));
}

TEST_F(DispatcherTest, RepeatResendsAStillFiringTriggerWithANewIdUntilItResolves) {
  config_.channels = {MakeChannel("pager", ChannelType::kWebhook)};
  config_.routes = {MakeRoute({"pager"})};
  config_.routes[0].repeat = 30min;
  Dispatcher d(config_);
  const Event firing = MakeEvent(EventKind::kTriggerFiring, kT0);
  Dispatch first = d.OnEvent(firing, kT0);
  ASSERT_EQ(first.queued.size(), 1u);
  EXPECT_EQ(first.queued[0].id, firing.id);
  EXPECT_EQ(d.NextDue(), kT0 + 30min);
  EXPECT_THAT(d.Due(kT0 + 29min).queued, IsEmpty());

  Dispatch r1 = d.Due(kT0 + 30min);
  ASSERT_EQ(r1.queued.size(), 1u);
  EXPECT_EQ(r1.queued[0].id, firing.id + "-r1");
  const json p1 = json::parse(r1.queued[0].payload);
  EXPECT_EQ(p1["id"], firing.id + "-r1");
  EXPECT_EQ(p1["repeat"], 1);
  EXPECT_EQ(p1["event"], "trigger.firing");
  EXPECT_EQ(p1["time"], FormatTime(kT0));  // when it started firing
  EXPECT_EQ(d.NextDue(), kT0 + 60min);
  // A late evaluation of Due does not bunch up repeats.
  Dispatch r2 = d.Due(kT0 + 75min);
  ASSERT_EQ(r2.queued.size(), 1u);
  EXPECT_EQ(r2.queued[0].id, firing.id + "-r2");
  EXPECT_EQ(d.NextDue(), kT0 + 105min);

  Dispatch resolved = d.OnEvent(MakeEvent(EventKind::kTriggerResolved, kT0 + 80min), kT0 + 80min);
  EXPECT_THAT(Channels(resolved), ElementsAre("pager"));
  EXPECT_EQ(d.NextDue(), std::nullopt);
  EXPECT_THAT(d.Due(kT0 + 200min).queued, IsEmpty());
}

TEST_F(DispatcherTest, ResolutionsFollowTheFiringAndSendResolvedFalseStopsThem) {
  config_.channels = {MakeChannel("pager", ChannelType::kWebhook),
                      MakeChannel("chat", ChannelType::kSlack)};
  // The pager hears only firings, but then also their end; chat never hears resolutions.
  config_.routes = {MakeRoute({"pager"}, {{"event", "trigger.firing", false}}),
                    MakeRoute({"chat"})};
  config_.routes[0].continue_matching = true;
  config_.routes[1].send_resolved = false;
  Dispatcher d(config_);
  EXPECT_THAT(Channels(d.OnEvent(MakeEvent(EventKind::kTriggerFiring, kT0), kT0)),
              ElementsAre("pager", "chat"));
  EXPECT_THAT(Channels(d.OnEvent(MakeEvent(EventKind::kTriggerResolved, kT0 + 1min), kT0 + 1min)),
              ElementsAre("pager"));
}

TEST_F(DispatcherTest, GroupWaitDelaysGroupingChannelsOnlyAndGroupsByService) {
  config_.channels = {MakeChannel("chat", ChannelType::kSlack),
                      MakeChannel("hook", ChannelType::kWebhook)};
  config_.routes = {MakeRoute({"chat", "hook"}, {{"service", "checkout", false}}),
                    MakeRoute({"chat"})};
  config_.routes[0].group_wait = 10s;
  Dispatcher d(config_);
  Dispatch a = d.OnEvent(MakeEvent(EventKind::kTriggerPending, kT0), kT0);
  Dispatch b = d.OnEvent(MakeEvent(EventKind::kTriggerPending, kT0, "search"), kT0);
  ASSERT_EQ(a.queued.size(), 2u);
  ASSERT_EQ(b.queued.size(), 1u);
  EXPECT_EQ(a.queued[0].group, "checkout");
  EXPECT_EQ(a.queued[0].not_before, kT0 + 10s);
  EXPECT_EQ(a.queued[0].created, kT0);
  EXPECT_EQ(a.queued[1].channel, "hook");
  EXPECT_EQ(a.queued[1].not_before, kT0);  // a webhook carries one event: nothing to wait for
  EXPECT_EQ(b.queued[0].group, "search");
  EXPECT_EQ(b.queued[0].not_before, kT0);
}

TEST_F(DispatcherTest, LogChannelsAreWrittenAtOnceNotQueued) {
  config_.channels = {MakeChannel("audit", ChannelType::kLog)};
  config_.routes = {MakeRoute({"audit"})};
  Dispatcher d(config_);
  const Event e = MakeEvent(EventKind::kRollbackStarted, kT0);
  Dispatch out = d.OnEvent(e, kT0);
  EXPECT_THAT(out.queued, IsEmpty());
  ASSERT_EQ(out.logs.size(), 1u);
  EXPECT_EQ(out.logs[0].payload, EventToJson(e));
}

TEST_F(DispatcherTest, EventsOfNoTriggerBecomeAlertsWithAFixedAlertname) {
  config_.channels = {MakeChannel("am", ChannelType::kAlertmanager)};
  config_.routes = {MakeRoute({"am"})};
  Dispatcher d(config_);
  for (auto [kind, name] : {std::pair{EventKind::kFleetBrake, "RollbackdFleetBrake"},
                            std::pair{EventKind::kClusterDown, "RollbackdClusterDown"}}) {
    Event e = MakeEvent(kind, kT0);
    e.service.clear();
    e.trigger.clear();
    e.labels.clear();
    Dispatch out = d.OnEvent(e, kT0);
    ASSERT_EQ(out.queued.size(), 1u) << EventKindName(kind);
    // Alertmanager refuses an alert without an alertname: the whole batch would be lost.
    EXPECT_EQ(json::parse(out.queued[0].payload)["labels"]["alertname"], name);
  }
}

TEST_F(DispatcherTest, AlertmanagerAlertsCarryTheRollbackOutcomeAndEndWhenResolved) {
  config_.channels = {MakeChannel("am", ChannelType::kAlertmanager)};
  config_.routes = {MakeRoute({"am"})};
  config_.daemon.external_url = "https://rollbackd.example";
  Dispatcher d(config_);
  // Pending means nothing to Alertmanager.
  EXPECT_THAT(d.OnEvent(MakeEvent(EventKind::kTriggerPending, kT0), kT0).queued, IsEmpty());
  Dispatch firing = d.OnEvent(MakeEvent(EventKind::kTriggerFiring, kT0), kT0);
  ASSERT_EQ(firing.queued.size(), 1u);
  const json alert = json::parse(firing.queued[0].payload);
  EXPECT_EQ(alert["labels"]["alertname"], "error_rate");
  EXPECT_EQ(alert["labels"]["pod"], "a");
  EXPECT_EQ(alert["generatorURL"], "https://rollbackd.example/api/v1/status");
  EXPECT_FALSE(alert.contains("endsAt"));
  EXPECT_FALSE(alert["annotations"].contains("rollback"));

  Event started = MakeEvent(EventKind::kRollbackStarted, kT0 + 1s);
  Dispatch update = d.OnEvent(started, kT0 + 1s);
  ASSERT_EQ(update.queued.size(), 1u);
  EXPECT_EQ(json::parse(update.queued[0].payload)["annotations"]["rollback"], "started");
  EXPECT_EQ(update.queued[0].id, started.id);  // each update is a notification of its own
  ASSERT_EQ(d.FiringAlerts("am").size(), 1u);
  EXPECT_EQ(d.FiringAlerts("am")[0]["annotations"]["rollback"], "started");

  Dispatch resolved = d.OnEvent(MakeEvent(EventKind::kTriggerResolved, kT0 + 1min), kT0 + 1min);
  ASSERT_EQ(resolved.queued.size(), 1u);
  const json end = json::parse(resolved.queued[0].payload);
  EXPECT_EQ(end["endsAt"], FormatTime(kT0 + 1min));
  EXPECT_EQ(end["labels"], alert["labels"]);
  EXPECT_THAT(d.FiringAlerts("am"), IsEmpty());

  // The verification comes after the resolution: the resolved alert is updated, still ended.
  Dispatch verified = d.OnEvent(MakeEvent(EventKind::kRollbackVerified, kT0 + 2min), kT0 + 2min);
  ASSERT_EQ(verified.queued.size(), 1u);
  const json late = json::parse(verified.queued[0].payload);
  EXPECT_EQ(late["annotations"]["rollback"], "verified");
  EXPECT_EQ(late["endsAt"], FormatTime(kT0 + 1min));
}

TEST_F(DispatcherTest, SourceDownIsAnAlertOfItsOwnThatSourceUpEnds) {
  config_.channels = {MakeChannel("am", ChannelType::kAlertmanager)};
  config_.routes = {MakeRoute({"am"})};
  Dispatcher d(config_);
  Dispatch down = d.OnEvent(MakeEvent(EventKind::kSourceDown, kT0), kT0);
  ASSERT_EQ(down.queued.size(), 1u);
  const json alert = json::parse(down.queued[0].payload);
  EXPECT_EQ(alert["labels"]["alertname"], "RollbackdSourceDown");
  EXPECT_EQ(alert["labels"]["trigger"], "error_rate");
  Dispatch up = d.OnEvent(MakeEvent(EventKind::kSourceUp, kT0 + 1min), kT0 + 1min);
  ASSERT_EQ(up.queued.size(), 1u);
  EXPECT_EQ(json::parse(up.queued[0].payload)["labels"], alert["labels"]);
  EXPECT_TRUE(json::parse(up.queued[0].payload).contains("endsAt"));
}

TEST_F(DispatcherTest, WhatFiresSurvivesARestartAndRepeatsGoOn) {
  config_.channels = {MakeChannel("pager", ChannelType::kWebhook)};
  config_.routes = {MakeRoute({"pager"})};
  config_.routes[0].repeat = 10min;
  std::string saved;
  {
    Dispatcher d(config_);
    d.OnEvent(MakeEvent(EventKind::kTriggerFiring, kT0), kT0);
    d.Due(kT0 + 10min);
    EXPECT_TRUE(d.TakeChanged());
    saved = d.SaveState();
    EXPECT_FALSE(d.TakeChanged());
  }
  Dispatcher d(config_);
  std::string error;
  ASSERT_TRUE(d.RestoreState(saved, kT0 + 12min, &error)) << error;
  EXPECT_EQ(d.firing(), 1u);
  EXPECT_EQ(d.NextDue(), kT0 + 20min);
  Dispatch r2 = d.Due(kT0 + 20min);
  ASSERT_EQ(r2.queued.size(), 1u);
  EXPECT_THAT(r2.queued[0].id, ::testing::EndsWith("-r2"));
  EXPECT_FALSE(d.RestoreState("{\"version\": 2}", kT0, &error));
  EXPECT_FALSE(d.RestoreState("not json", kT0, &error));
}

TEST_F(DispatcherTest, AReloadKeepsWhatFiresAndForgetsRemovedTriggers) {
  Service s;
  s.name = "checkout";
  Trigger t;
  t.name = "error_rate";
  s.triggers = {t};
  config_.services = {s};
  config_.channels = {MakeChannel("pager", ChannelType::kWebhook)};
  config_.routes = {MakeRoute({"pager"})};
  config_.routes[0].repeat = 10min;
  Dispatcher old(config_);
  old.OnEvent(MakeEvent(EventKind::kTriggerFiring, kT0), kT0);
  old.OnEvent(MakeEvent(EventKind::kTriggerFiring, kT0, "checkout", "gone"), kT0);
  EXPECT_EQ(old.firing(), 2u);

  config_.routes[0].repeat = 5min;  // the new route decides from now on
  Dispatcher next(config_);
  next.CarryOver(old, kT0 + 1min);
  EXPECT_EQ(next.firing(), 1u);
  EXPECT_EQ(next.NextDue(), kT0 + 6min);
}

}  // namespace
}  // namespace rollbackd
