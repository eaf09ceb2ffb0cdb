// rollbackd's notification channels end to end, against real receivers: Debian's Alertmanager
// (alerts appear with their labels, leave when resolved, a silence keeps Alertmanager's own
// receiver quiet), Slack-style and exec channels, and a webhook receiver that is down for 30 s
// while a rollback happens (with and without rollbackd being killed meanwhile): every event
// arrives, signed, none missing, duplicates only under the same webhook-id.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using Clock = std::chrono::steady_clock;

// The error rate of the sample service over 4 s, held 3 s; the hook deploys v1 back.
std::string Rule() {
  return ErrorRateRule({.labels = R"({ team = "payments" })", .verify = "20s"});
}

// The events rollbackd decided, from its decision log: id -> kind.
std::map<std::string, std::string> Decided(const Stack& s) {
  std::map<std::string, std::string> out;
  for (const json& d : ReadJsonLines(s.dir() + "/state/decisions.jsonl")) {
    out[d.value("id", "")] = d.value("event", "");
  }
  return out;
}

bool DecidedKind(const Stack& s, const std::string& kind) {
  for (const auto& [id, k] : Decided(s)) {
    if (k == kind) return true;
  }
  return false;
}

AlertmanagerOptions AmOptions(const std::string& webhook_url) {
  AlertmanagerOptions o;
  o.webhook_url = webhook_url;
  return o;
}

std::vector<json> AlertsOf(Alertmanager& am, const std::string& alertname) {
  return am.Alerts(AlertQuery{.filter = {{"alertname", alertname}}});
}

TEST(ChannelsIntegration, AlertmanagerSlackAndExecGetTheRollback) {
  TempDir receivers;
  WebhookReceiver am_hook(receivers.path() + "/am");      // Alertmanager's own receiver
  WebhookReceiver chat(receivers.path() + "/chat");       // Slack-style, unsigned
  Alertmanager am(AmOptions(am_hook.url("/alertmanager")));
  const std::string exec_out = receivers.path() + "/exec.jsonl";
  StackOptions options(Rule());
  options.with_receiver = false;
  options.daemon_extra = "external_url = \"http://rollbackd.test:9464\"\n";
  options.config_extra = R"toml(
[channel.am]
type   = "alertmanager"
url    = ")toml" + am.url() + R"toml("
resend = "2s"

[channel.chat]
type  = "slack"
url   = ")toml" + chat.url("/services/T0/B0/x") + R"toml("
title = "{service}: {event} ({trigger})"

[channel.script]
type    = "exec"
command = [")toml" + BinaryPath("rollbackd-webhook-receiver") +
                         R"toml(", "--stdin", "--out", ")toml" + exec_out + R"toml("]

[[route]]
match    = { severity = "critical" }
channels = ["am"]
continue = true

[[route]]
match_re = { event = "rollback\\..*" }
channels = ["chat", "script"]
)toml";
  Stack s(options);
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));

  // Firing: the alert is in Alertmanager with rollbackd's labels and annotations.
  ASSERT_TRUE(WaitFor([&] { return !AlertsOf(am, "error_rate").empty(); }, 30s))
      << s.daemon().log();
  json alert = AlertsOf(am, "error_rate")[0];
  EXPECT_EQ(alert["labels"]["service"], "shop");
  EXPECT_EQ(alert["labels"]["severity"], "critical");
  EXPECT_EQ(alert["labels"]["team"], "payments");
  EXPECT_GT(std::stod(alert["annotations"]["value"].get<std::string>()), 0.05);
  EXPECT_EQ(alert["annotations"]["threshold"], "0.05");
  EXPECT_EQ(alert["generatorURL"], "http://rollbackd.test:9464/api/v1/status");
  // ... and Alertmanager routed it to its receiver.
  ASSERT_TRUE(WaitFor([&] { return !am_hook.AlertmanagerNotifications().empty(); }, 10s));

  // The rollback's outcome reaches the alert; once resolved it leaves Alertmanager's alerts.
  ASSERT_TRUE(WaitFor([&] { return DecidedKind(s, "rollback.verified"); }, 60s))
      << s.daemon().log();
  ASSERT_TRUE(WaitFor([&] { return AlertsOf(am, "error_rate").empty(); }, 20s))
      << s.daemon().log();
  bool resolved_seen = false;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const json& n : am_hook.AlertmanagerNotifications()) {
          if (n["body"]["status"] == "resolved") resolved_seen = true;
        }
        return resolved_seen;
      },
      10s));

  // Slack: one message per rollback event (no group_wait), text and blocks.
  ASSERT_TRUE(WaitFor([&] { return chat.Deliveries().size() >= 3; }, 20s)) << s.daemon().log();
  std::set<std::string> headers;
  for (const json& d : chat.Deliveries()) {
    EXPECT_EQ(d["path"], "/services/T0/B0/x");
    const json& body = d["body"];
    ASSERT_TRUE(body.contains("text")) << d.dump();
    ASSERT_TRUE(body["blocks"].is_array()) << d.dump();
    headers.insert(body["blocks"][0]["text"]["text"].get<std::string>());
    EXPECT_NE(body.dump().find("rollbackd.test:9464/api/v1/status"), std::string::npos);
  }
  EXPECT_TRUE(headers.count("shop: rollback.started (error_rate)")) << ::testing::PrintToString(headers);
  EXPECT_TRUE(headers.count("shop: rollback.verified (error_rate)")) << ::testing::PrintToString(headers);

  // exec: the event JSON on stdin, the notification's identity in the environment.
  ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(exec_out).size() >= 3; }, 20s));
  std::set<std::string> kinds;
  for (const json& run : ReadJsonLines(exec_out)) {
    kinds.insert(run["stdin"]["event"].get<std::string>());
    EXPECT_EQ(run["env"]["ROLLBACKD_CHANNEL"], "script");
    EXPECT_EQ(run["env"]["ROLLBACKD_NOTIFICATION_ID"], run["stdin"]["id"]);
  }
  EXPECT_TRUE(kinds.count("rollback.started"));
  EXPECT_TRUE(kinds.count("rollback.succeeded"));
  EXPECT_FALSE(kinds.count("trigger.firing"));  // the route takes rollback events only
}

TEST(ChannelsIntegration, AnAlertmanagerSilenceKeepsItsReceiverQuiet) {
  TempDir receivers;
  WebhookReceiver am_hook(receivers.path() + "/am");
  Alertmanager am(AmOptions(am_hook.url("/alertmanager")));
  am.AddSilence({{"service", "shop"}}, std::chrono::seconds(3600));
  StackOptions options(Rule());
  options.with_receiver = false;
  options.config_extra = R"(
[channel.am]
type = "alertmanager"
url  = ")" + am.url() + R"("
[[route]]
channels = ["am"]
)";
  Stack s(options);
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  // rollbackd's alert reaches Alertmanager, which routes it (it is in a group) but mutes it.
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto alerts = AlertsOf(am, "error_rate");
        return !alerts.empty() && alerts[0]["status"]["state"] == "suppressed" &&
               !am.Groups(AlertQuery{.filter = {{"alertname", "error_rate"}}}).empty();
      },
      30s))
      << s.daemon().log();
  ASSERT_TRUE(WaitFor([&] { return DecidedKind(s, "rollback.verified"); }, 60s));
  // Resolved and re-sent with the outcome: still nothing for the receiver (group_interval 1 s).
  ASSERT_TRUE(WaitFor([&] { return AlertsOf(am, "error_rate").empty(); }, 20s));
  // Proving silence takes waiting: two of Alertmanager's group intervals, in which it would have
  // notified the resolution of an alert that was not muted.
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(am_hook.AlertmanagerNotifications().empty())
      << am_hook.AlertmanagerNotifications().size() << " notification(s) got through";
}

// A webhook receiver that refuses connections for 30 s while the rollback happens; optionally
// rollbackd is killed (SIGKILL) during the outage and started again.
void ReceiverOutage(bool kill_daemon) {
  TempDir receivers;
  const std::string secret = receivers.path() + "/webhook.secret";
  WriteFile(secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  WebhookReceiver audit(receivers.path() + "/audit", ReceiverOptions{.secret_file = secret});
  StackOptions options(Rule());
  options.with_receiver = false;
  options.config_extra = R"(
[channel.audit]
type        = "webhook"
url         = ")" + audit.url("/hooks/rollbackd") + R"("
secret_file = ")" + secret + R"("
timeout     = "2s"
[[route]]
channels = ["audit"]
)";
  Stack s(options);
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));

  audit.Kill9();  // connections are refused from now on
  const auto outage = Clock::now();
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(WaitFor([&] { return DecidedKind(s, "rollback.verified"); }, 60s))
      << s.daemon().log();
  std::map<std::string, std::string> decided = Decided(s);
  int rollback_events = 0;
  for (const auto& [id, kind] : decided) rollback_events += kind.rfind("rollback.", 0) == 0;
  EXPECT_GE(rollback_events, 3);  // started, succeeded, verified
  EXPECT_GT(s.DaemonMetric("rollbackd_outbox_notifications{channel=\"audit\"}").value_or(0), 0);

  if (kill_daemon) {
    s.Kill9Daemon();
    ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
    decided = Decided(s);
  }
  const auto elapsed = Clock::now() - outage;
  if (elapsed < 30s) std::this_thread::sleep_for(30s - elapsed);  // the outage lasts 30 s
  ASSERT_TRUE(audit.Restart());
  const auto back = Clock::now();

  auto delivered_ids = [&] {
    std::set<std::string> ids;
    for (const json& d : audit.Deliveries()) ids.insert(d.value("webhook_id", ""));
    return ids;
  };
  // The longest backoff step is 60 s at most; well before that the outbox empties.
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto ids = delivered_ids();
        for (const auto& [id, kind] : Decided(s)) {
          if (!ids.count(id)) return false;
        }
        return true;
      },
      90s))
      << s.daemon().log();
  std::printf("receiver back -> everything delivered: %.1f s\n",
              std::chrono::duration<double>(Clock::now() - back).count());

  // Every decided event arrived, signed; a webhook-id seen twice carries the same event.
  std::map<std::string, std::string> body_by_id;
  for (const json& d : audit.Deliveries()) {
    EXPECT_TRUE(d["verified"].get<bool>()) << d.dump();
    const std::string id = d.value("webhook_id", "");
    const std::string body = d["body"].dump();
    auto [it, inserted] = body_by_id.emplace(id, body);
    if (!inserted) {
      EXPECT_EQ(it->second, body) << "a duplicate of " << id << " differs";
    }
    EXPECT_EQ(d["body"].value("id", ""), id);
  }
  for (const auto& [id, kind] : Decided(s)) EXPECT_TRUE(body_by_id.count(id)) << kind << " " << id;
  ASSERT_TRUE(WaitFor(
      [&] {
        return s.DaemonMetric("rollbackd_outbox_notifications{channel=\"audit\"}") == 0.0;
      },
      10s));
  EXPECT_EQ(s.SampleState().value("deploys", -1), 2) << "the bad deploy and one rollback";
}

TEST(ChannelsIntegration, AReceiverDownFor30sGetsEveryEventAfterwards) { ReceiverOutage(false); }

TEST(ChannelsIntegration, AReceiverDownFor30sGetsEveryEventAfterRollbackdWasKilled) {
  ReceiverOutage(true);
}

}  // namespace
}  // namespace rollbackd::it
