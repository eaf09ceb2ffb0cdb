// rollbackd end to end: a real Prometheus scraping the sample service every second, a real webhook
// receiver that verifies signatures on its own, and the rollbackd binary. Each test injects a fault
// the way it happens in production (a bad deploy, a failing health endpoint, Prometheus dying) and
// asserts what the receivers and the service saw.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

// Error rate over 4 s (four scrapes), held for 3 s; the hook deploys v1 through the sample's own
// client. Deploys are detected from sample_build_info.
std::string ErrorRateRule(const std::string& rollback_to = "v1", const std::string& extra = "") {
  return R"(service  = "shop"
interval = "1s"

[[trigger]]
name     = "error_rate"
query    = 'sum(rate(sample_http_requests_total{code="500"}[4s])) / sum(rate(sample_http_requests_total[4s]))'
above    = 0.05
for      = "3s"
severity = "critical"

[deploy]
version_query = 'max by (version) (sample_build_info)'

[rollback]
exec     = ["${SAMPLE_BIN}", "deploy", "--url", "${SAMPLE_URL}", "--version", ")" +
         rollback_to + R"("]
timeout  = "10s"
cooldown = "1h"
verify   = "15s"
)" + extra;
}

int Deploys(Stack& s) { return s.SampleState().value("deploys", -1); }

TEST(DaemonIntegration, BadDeployIsRolledBackExactlyOnceAndVerified) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  const auto fault = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.SampleDeploy("v2"));

  ASSERT_TRUE(s.WaitEvent("rollback.started", 30s)) << s.daemon().log();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fault).count();
  std::printf("fault -> rollback.started delivered: %.1f s (for 3s, interval 1s, scrape 1s)\n",
              seconds);
  ASSERT_TRUE(s.WaitEvent("rollback.verified", 40s)) << s.daemon().log();

  EXPECT_EQ(s.SampleState().value("version", ""), "v1");
  EXPECT_EQ(Deploys(s), 2) << "the bad deploy and exactly one rollback";
  ASSERT_EQ(s.Events("rollback.started").size(), 1u);
  ASSERT_EQ(s.Events("rollback.succeeded").size(), 1u);
  const json started = s.Events("rollback.started")[0];
  EXPECT_EQ(started["service"], "shop");
  EXPECT_EQ(started["trigger"], "error_rate");
  EXPECT_EQ(started["severity"], "critical");
  EXPECT_EQ(started["version"], "v2");
  EXPECT_GT(started["value"].get<double>(), 0.05);
  EXPECT_EQ(s.Events("rollback.succeeded")[0]["rollback"]["id"], started["id"]);
  EXPECT_EQ(s.Events("trigger.firing").size(), 1u);

  // Every delivery carried a signature the receiver verified with its own implementation.
  for (const json& d : s.Deliveries()) {
    EXPECT_TRUE(d["verified"].get<bool>()) << d.dump();
  }
  // Nothing more happens once the service is healthy again.
  ASSERT_TRUE(s.WaitRounds(3));
  EXPECT_EQ(Deploys(s), 2);
  EXPECT_EQ(s.Events("rollback.started").size(), 1u);
  EXPECT_EQ(s.DaemonMetric("rollbackd_rollbacks_total{result=\"started\",service=\"shop\"}"), 1);

  // The decision log explains the rollback: the query as sent and the value read.
  const std::string decisions = ReadFile(s.dir() + "/state/decisions.jsonl");
  EXPECT_NE(decisions.find("rollback.started"), std::string::npos);
  EXPECT_NE(decisions.find("sample_http_requests_total"), std::string::npos);
}

TEST(DaemonIntegration, SpikeShorterThanForDoesNotRollBack) {
  // for = 8s; the spike lasts about 1 s and stays in the 4 s rate window for about 5 s.
  std::string rule = ErrorRateRule();
  rule.replace(rule.find("for      = \"3s\""), 15, "for      = \"8s\"");
  Stack s(StackOptions{rule});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleFault("error_rate=0.5"));
  ASSERT_TRUE(s.WaitEvent("trigger.pending", 15s)) << s.daemon().log();
  ASSERT_TRUE(s.SampleFault("clear=1"));
  // A pending trigger that never fired goes back to inactive without an event: watch the API.
  ASSERT_TRUE(WaitFor(
      [&] {
        json st = json::parse(Http("GET", s.daemon_url() + "/api/v1/status").body, nullptr, false);
        return !st.is_discarded() && st["services"][0]["triggers"][0]["state"] == "inactive";
      },
      30s))
      << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  EXPECT_TRUE(s.Events("trigger.firing").empty());
  EXPECT_TRUE(s.Events("rollback.started").empty());
  EXPECT_EQ(Deploys(s), 0);
}

TEST(DaemonIntegration, PrometheusDownIsSourceDownNeverARollback) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  s.StopPrometheus();
  ASSERT_TRUE(s.WaitEvent("source.down", 20s)) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(5));
  EXPECT_TRUE(s.Events("trigger.pending").empty());
  EXPECT_TRUE(s.Events("rollback.started").empty());
  EXPECT_EQ(Deploys(s), 0);
  EXPECT_GT(s.DaemonMetric("rollbackd_query_errors_total{reason=\"connection\",source=\"default\"}")
                .value_or(0),
            0);
  EXPECT_NE(s.Events("source.down")[0]["reason"].get<std::string>().find("default"),
            std::string::npos);
}

TEST(DaemonIntegration, FailingHealthEndpointRollsBack) {
  Stack s(StackOptions{R"(service  = "shop"
interval = "1s"

[[health]]
name          = "healthz"
url           = "${SAMPLE_URL}/healthz"
timeout       = "1s"
expect_status = [200]
for           = "3s"
severity      = "critical"

[rollback]
exec    = ["${SAMPLE_BIN}", "deploy", "--url", "${SAMPLE_URL}", "--version", "v1"]
timeout = "10s"
verify  = "15s"
)"});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v4"));  // v4: /healthz answers 503
  ASSERT_TRUE(s.WaitEvent("rollback.verified", 40s)) << s.daemon().log();
  const json firing = s.Events("trigger.firing").at(0);
  EXPECT_EQ(firing["trigger"], "healthz");
  EXPECT_NE(firing["reason"].get<std::string>().find("503"), std::string::npos) << firing.dump();
  EXPECT_EQ(s.Events("rollback.started").size(), 1u);
  EXPECT_EQ(s.SampleState().value("version", ""), "v1");
}

TEST(DaemonIntegration, Kill9RightAfterTheHookStartsStillRollsBackOnce) {
  // The hook deploys v2 again: the service stays bad, so only the engine's memory (state file and
  // journal) stops a second rollback after the restart.
  Stack s(StackOptions{ErrorRateRule("v2")});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  // Right after the hook ran: the sample counted its deploy; rollbackd may not have seen the exit.
  ASSERT_TRUE(WaitFor([&] { return Deploys(s) == 2; }, 30s, 5ms)) << s.daemon().log();
  s.Kill9Daemon();
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(8));
  EXPECT_EQ(Deploys(s), 2) << "the bad deploy and one hook run, none after the restart";
  EXPECT_LE(s.Events("rollback.started").size(), 1u);
  // The hook's outcome is in the journal: recorded before the kill, or as interrupted after the
  // restart. (Delivery of notifications across a kill -9 is the durable outbox's job.)
  const std::string journal = s.ReadJournal();
  EXPECT_NE(journal.find("\"outcome\""), std::string::npos) << journal;
  const std::string decisions = ReadFile(s.dir() + "/state/decisions.jsonl");
  EXPECT_TRUE(decisions.find("rollback.succeeded") != std::string::npos ||
              decisions.find("rollback.failed") != std::string::npos)
      << decisions;
  HttpResult status = Http("GET", s.daemon_url() + "/api/v1/status");
  json st = json::parse(status.body);
  EXPECT_EQ(st["services"][0]["triggers"][0]["state"], "firing") << status.body;
}

TEST(DaemonIntegration, DryRunDecidesButNeverRunsTheHook) {
  Stack s(StackOptions{ErrorRateRule(), "dry_run = true\n"});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.skipped", 30s)) << s.daemon().log();
  EXPECT_EQ(s.Events("rollback.skipped")[0]["rollback"]["skip_reason"], "dry_run");
  ASSERT_TRUE(s.WaitRounds(3));
  EXPECT_TRUE(s.Events("rollback.started").empty());
  EXPECT_EQ(Deploys(s), 1);
  EXPECT_EQ(s.ReadJournal(), "");
}

TEST(DaemonIntegration, SecondBadDeployWithinCooldownIsSkipped) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.verified", 40s)) << s.daemon().log();
  ASSERT_TRUE(s.WaitEvent("trigger.resolved", 20s)) << s.daemon().log();
  ASSERT_TRUE(s.SampleDeploy("v3"));
  ASSERT_TRUE(s.WaitEvent("rollback.skipped", 30s)) << s.daemon().log();
  EXPECT_EQ(s.Events("rollback.skipped")[0]["rollback"]["skip_reason"], "cooldown");
  EXPECT_EQ(s.Events("rollback.started").size(), 1u);
  EXPECT_EQ(s.SampleState().value("version", ""), "v3");
}

TEST(DaemonIntegration, PausedServiceIsNotRolledBackAndTheApiNeedsTheToken) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  const std::string pause = s.daemon_url() + "/api/v1/services/shop/pause";
  EXPECT_EQ(Http("POST", pause).status, 401);
  EXPECT_EQ(Http("POST", pause, "", {"Authorization: Bearer wrong"}).status, 401);
  ASSERT_EQ(Http("POST", pause, "", {"Authorization: Bearer " + s.api_token()}).status, 200);
  ASSERT_TRUE(s.WaitRounds(1));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.skipped", 30s)) << s.daemon().log();
  EXPECT_EQ(s.Events("rollback.skipped")[0]["rollback"]["skip_reason"], "paused");
  EXPECT_EQ(Deploys(s), 1);
  json st = json::parse(Http("GET", s.daemon_url() + "/api/v1/status").body);
  EXPECT_EQ(st["services"][0]["paused"], true);
}

TEST(DaemonIntegration, SighupWithABrokenRuleFileKeepsTheRunningConfiguration) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(1));
  WriteFile(s.dir() + "/rules/shop.toml",
            "service = \"shop\"\n[[trigger]]\nname = \"x\"\nfro = 1\n");
  s.daemon().Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] {
        return s.DaemonMetric("rollbackd_config_reloads_total{result=\"failure\"}").value_or(0) >=
               1;
      },
      10s))
      << s.daemon().log();
  EXPECT_NE(s.daemon().log().find("shop.toml:4:1"), std::string::npos) << s.daemon().log();
  EXPECT_EQ(s.DaemonMetric("rollbackd_config_last_reload_successful"), 0);
  // Still watching with the old rules: a bad deploy is still rolled back.
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.started", 30s)) << s.daemon().log();
  EXPECT_TRUE(s.daemon().running());
  EXPECT_EQ(s.daemon().Stop(), 0) << "SIGTERM drains and exits 0";
}

// Files that crashed toml++ (stack overflow) or would take the daemon's memory: each reload is
// refused with a located error and the daemon keeps rolling back on its old rules.
TEST(DaemonIntegration, SighupWithHostileRuleFilesKeepsRunning) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(1));
  std::string dotted = "a";
  for (int i = 0; i < 50000; ++i) dotted += ".a";
  const std::string files[] = {
      dotted + " = 1\n",
      "service = \"shop\"\nv = " + std::string(10000, '['),
      "service = \"shop\"\n" + std::string(100 << 20, '#'),
  };
  int failures = 0;
  for (const std::string& text : files) {
    WriteFile(s.dir() + "/rules/shop.toml", text);
    s.daemon().Signal(SIGHUP);
    ++failures;
    ASSERT_TRUE(WaitFor(
        [&] {
          return s.DaemonMetric("rollbackd_config_reloads_total{result=\"failure\"}").value_or(0) >=
                 failures;
        },
        20s))
        << s.daemon().log();
    ASSERT_TRUE(s.daemon().running()) << s.daemon().log();
  }
  EXPECT_NE(s.daemon().log().find("dotted parts"), std::string::npos) << s.daemon().log();
  EXPECT_NE(s.daemon().log().find("nested more than"), std::string::npos) << s.daemon().log();
  EXPECT_NE(s.daemon().log().find("limited to 4 MiB"), std::string::npos) << s.daemon().log();
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.started", 30s)) << s.daemon().log();
  EXPECT_EQ(s.daemon().Stop(), 0);
}

// Credentials in an http hook's URL (user info, a token in the query) reach no event, log line,
// state file, journal, decision log, outbox or delivered payload: live (the hook runs and fails
// against a closed port) and in dry run (where the reason says what would have run).
void ExpectHookUrlRedacted(bool dry_run) {
  const std::string user_secret = "PLANTED-USERINFO-7d1f";
  const std::string query_secret = "PLANTED-QUERY-93ab";
  std::string rule = ErrorRateRule();
  rule = rule.substr(0, rule.find("[rollback]")) + "[rollback]\nhttp = { url = \"http://rb:" +
         user_secret + "@127.0.0.1:1/rollback?token=" + query_secret +
         "\" }\ntimeout = \"2s\"\ncooldown = \"1h\"\n";
  Stack s(StackOptions{rule, dry_run ? "dry_run = true" : ""});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent(dry_run ? "rollback.skipped" : "rollback.failed", 30s))
      << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(1));
  EXPECT_EQ(s.daemon().Stop(), 0);
  std::string everything = s.daemon().log();
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(s.dir())) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (entry.path().parent_path().filename() == "rules" || name == "rollbackd.toml") continue;
    everything += ReadFile(entry.path().string());
    ++files;
  }
  for (const auto& d : s.Deliveries()) everything += d.dump();
  EXPECT_GT(files, 3);
  EXPECT_EQ(everything.find(user_secret), std::string::npos);
  EXPECT_EQ(everything.find(query_secret), std::string::npos);
  // What is shown instead: the URL without them.
  EXPECT_NE(everything.find("http://127.0.0.1:1/rollback?redacted"), std::string::npos);
}

TEST(DaemonIntegration, HookUrlCredentialsReachNoEventLogOrFile) { ExpectHookUrlRedacted(false); }
TEST(DaemonIntegration, HookUrlCredentialsStayOutOfTheDryRunReason) { ExpectHookUrlRedacted(true); }

}  // namespace
}  // namespace rollbackd::it
