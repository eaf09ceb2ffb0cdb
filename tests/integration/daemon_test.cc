// rollbackd end to end: a real Prometheus scraping the sample service every second, a real webhook
// receiver that verifies signatures on its own, and the rollbackd binary. Each test injects a fault
// the way it happens in production (a bad deploy, a failing health endpoint, Prometheus dying) and
// asserts what the receivers and the service saw.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "testing/sanitized.h"
#include "testing/harness.h"

namespace rollbackd::it {
namespace {

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
  Stack s(StackOptions{ErrorRateRule({.hold = "8s"})});
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
  Stack s(StackOptions{ErrorRateRule({.rollback_to = "v2"})});
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

TEST(DaemonIntegration, Kill9WhileTheHookRunsReportsItsRealOutcomeAfterTheRestart) {
  // The hook takes 3 s, then deploys v1 (sh is the hook's program here, a user's choice; the
  // daemon runs argv). kill -9 of the daemon alone, as a crash: the hook's supervisor survives it.
  Stack s(StackOptions{ErrorRateRule({.verify = "10s", .hook_delay = "3", .timeout = "30s"})});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  ASSERT_TRUE(s.SampleDeploy("v2"));
  // The hook runs: its supervisor has written its record.
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!std::filesystem::exists(s.dir() + "/state/hooks")) return false;
        for (const auto& f : std::filesystem::directory_iterator(s.dir() + "/state/hooks")) {
          if (f.path().extension() == ".running") return true;
        }
        return false;
      },
      30s, 10ms))
      << s.daemon().log();
  s.Kill9Daemon();
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitEvent("rollback.succeeded", 30s)) << s.daemon().log();
  ASSERT_TRUE(s.WaitEvent("rollback.verified", 30s)) << s.daemon().log();
  EXPECT_TRUE(s.Events("rollback.failed").empty()) << "nobody is paged for a rollback that worked";
  EXPECT_EQ(s.Events("rollback.started").size(), 1u);
  EXPECT_EQ(Deploys(s), 2) << "the bad deploy and the one hook run";
  EXPECT_EQ(s.SampleState().value("version", ""), "v1");
  const std::string journal = s.ReadJournal();
  EXPECT_NE(journal.find("\"success\":true"), std::string::npos) << journal;
  EXPECT_TRUE(std::filesystem::is_empty(s.dir() + "/state/hooks")) << "records go once journaled";
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

// The lowest descriptor number of `pid` that is free or a socket. A soft RLIMIT_NOFILE there
// leaves every descriptor it holds working, but refuses new ones (a new descriptor takes the
// lowest free number, and numbers at or above the limit are refused) for as long as no lower one
// is closed: sockets come and go (a probe's, an API connection's), the rest below is the loop's
// own (epoll, timers, the log, the state files) and stays. -1 when /proc cannot tell.
int FirstFreeOrSocketFd(pid_t pid) {
  std::set<int> held;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec) continue;  // closed meanwhile: as good as free
    if (target.starts_with("socket:")) continue;
    held.insert(std::stoi(entry.path().filename().string()));
  }
  if (held.empty()) return -1;
  int n = 0;
  while (held.contains(n)) ++n;
  return n;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(DaemonIntegration, OutOfDescriptorsIsALocalFaultNeverARollback) {
  if (testing::kSanitized) GTEST_SKIP() << testing::kNoDescriptorsUnderSanitizers;
  // ?close=1: the sample closes each connection, so every probe needs a socket of its own (a kept
  // connection would need none and would pass).
  Stack s(StackOptions{R"(service  = "shop"
interval = "1s"

[[health]]
name     = "healthz"
url      = "${SAMPLE_URL}/healthz?close=1"
timeout  = "1s"
for      = "2s"
severity = "critical"

[rollback]
exec    = ["${SAMPLE_BIN}", "deploy", "--url", "${SAMPLE_URL}", "--version", "v1"]
timeout = "10s"
)"});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  const pid_t pid = s.daemon().pid();
  rlimit before{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &before), 0) << std::strerror(errno);
  const int limit = FirstFreeOrSocketFd(pid);
  if (limit < 0) GTEST_SKIP() << "cannot read /proc/" << pid << "/fd";
  // Only the soft limit: raising it back needs no privilege.
  rlimit lowered = before;
  lowered.rlim_cur = static_cast<rlim_t>(limit);
  if (::prlimit(pid, RLIMIT_NOFILE, &lowered, nullptr) != 0) {
    GTEST_SKIP() << "prlimit(" << pid << ", RLIMIT_NOFILE) failed: " << std::strerror(errno);
  }
  const std::string fault = "local fault: cannot open a socket: Too many open files (EMFILE)";
  // Rounds go on (one debug line per failed probe); the API cannot accept while the daemon is
  // out of descriptors, so the log is what shows them.
  const bool down = WaitFor(
      [&] {
        const std::string log = s.daemon().log();
        return Count(log, fault) >= 5 && log.find("source.down shop/healthz") != std::string::npos;
      },
      30s);
  lowered.rlim_cur = before.rlim_cur;
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &lowered, nullptr), 0) << std::strerror(errno);
  ASSERT_TRUE(down) << "limit " << limit << "\n" << s.daemon().log();

  const std::string log = s.daemon().log();
  const size_t at = log.find("source.down shop/healthz");
  const std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find("probe \"healthz\" (" + s.sample_url() + "/healthz?redacted): failing for"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(fault + "; not the service's failure"), std::string::npos) << line;
  EXPECT_NE(log.find("inputs of the round failed on this host's side, held as errors: " + fault),
            std::string::npos)
      << log;

  // Descriptors again: the probe answers, and the outage was never a breach.
  ASSERT_TRUE(WaitFor(
      [&] { return s.daemon().log().find("source.up shop/healthz") != std::string::npos; }, 30s))
      << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(3));
  ASSERT_TRUE(s.WaitEvent("source.up", 30s)) << s.daemon().log();
  EXPECT_NE(s.Events("source.up")[0]["reason"].get<std::string>().find("answers again"),
            std::string::npos);
  EXPECT_EQ(s.Events("source.down").size(), 1u);  // delivered late, from the outbox
  const std::string after = s.daemon().log();
  EXPECT_EQ(after.find("trigger.pending shop/healthz"), std::string::npos) << after;
  EXPECT_EQ(after.find("rollback.started"), std::string::npos) << after;
  EXPECT_EQ(after.find("healthz?close=1"), std::string::npos) << "a probe URL's query is redacted";
  EXPECT_TRUE(s.Events("rollback.started").empty());
  EXPECT_EQ(Deploys(s), 0);
}

TEST(DaemonIntegration, AFullStateDiskRefusesTheHookLoudlyAndLosesNothingDecided) {
  // RLIMIT_FSIZE is how a test gets a real EFBIG: every write past the limit fails, as on a full
  // disk (and the process is sent SIGXFSZ, whose default is to dump core). Set on the running
  // daemon only, so Prometheus, the sample and the receiver write on.
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  const pid_t pid = s.daemon().pid();
  rlimit before{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &before), 0) << std::strerror(errno);
  rlimit full = before;
  full.rlim_cur = 1;  // the journal, the outbox and the state file are all longer than a byte
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &full, nullptr), 0) << std::strerror(errno);
  ASSERT_TRUE(s.SampleDeploy("v2"));
  const bool failed = s.WaitEvent("rollback.failed", 30s);
  const bool alive = s.daemon().running();
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &before, nullptr), 0) << std::strerror(errno);
  ASSERT_TRUE(alive) << "a full disk killed the daemon\n" << s.daemon().log();
  ASSERT_TRUE(failed) << s.daemon().log();
  // Decided, refused loudly, sent from memory: the hook never ran without its intent on disk.
  ASSERT_EQ(s.Events("rollback.started").size(), 1u);
  const json refused = s.Events("rollback.failed")[0];
  EXPECT_NE(refused["reason"].get<std::string>().find("hook not run"), std::string::npos)
      << refused.dump();
  EXPECT_NE(refused["reason"].get<std::string>().find("File too large"), std::string::npos)
      << refused.dump();
  EXPECT_EQ(Deploys(s), 1) << "the bad deploy only";
  EXPECT_GT(s.DaemonMetric("rollbackd_state_write_errors_total{file=\"outbox\"}").value_or(0), 0);
  EXPECT_GT(s.DaemonMetric("rollbackd_state_write_errors_total{file=\"state\"}").value_or(0), 0);

  // Space again: the decision reaches the state dir, so a restart neither runs the hook nor
  // decides the same rollback a second time.
  ASSERT_TRUE(s.WaitRounds(3));
  s.StopDaemon();
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(5));
  EXPECT_EQ(s.Events("rollback.started").size(), 1u) << s.daemon().log();
  EXPECT_EQ(s.Events("rollback.failed").size(), 1u);
  EXPECT_EQ(Deploys(s), 1);
  EXPECT_EQ(s.ReadJournal().find("\"type\":\"intent\""), std::string::npos) << s.ReadJournal();
  EXPECT_TRUE(s.daemon().running());
}

}  // namespace
}  // namespace rollbackd::it
