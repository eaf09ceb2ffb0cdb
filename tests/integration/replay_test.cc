// `rollbackd replay` against a real Prometheus. Equivalence: a live daemon runs a bad deploy to its
// rollback and verification; replaying the same window of the same Prometheus gives the same
// events for the same triggers at the same instants, to one step. History: days of samples
// written with Prometheus' own backfill (promtool tsdb create-blocks-from openmetrics) and served
// by a real Prometheus, replayed across the 11,000-points-per-request limit.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

// "2026-03-01T12:00:00.123Z" -> ms since the epoch.
int64_t ParseMs(const std::string& s) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

std::string FormatMs(int64_t ms) {
  return Rfc3339(Clock::time_point(std::chrono::milliseconds(ms)));
}

// Runs the rollbackd binary with `args`; its stdout, and the exit status in `status`.
std::string RunRollbackd(const std::string& dir, const std::vector<std::string>& args,
                         int* status) {
  std::string cmd = std::string(ROLLBACKD_BINARY);
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " >" + dir + "/replay.out 2>" + dir + "/replay.err";
  const int rc = std::system(cmd.c_str());
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return ReadFile(dir + "/replay.out");
}

struct Seen {
  std::string kind;
  std::string trigger;
  int64_t ms = 0;
};

TEST(ReplayIntegration, ReplayOfALiveRunGivesTheSameEventsAtTheSameInstants) {
  Stack s(StackOptions{ErrorRateRule()});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(3));
  const int64_t before_deploy =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.verified", 45s)) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));

  std::vector<Seen> live;
  for (const char* kind :
       {"trigger.pending", "trigger.firing", "trigger.resolved", "rollback.started",
        "rollback.succeeded", "rollback.failed", "rollback.verified", "rollback.not_recovered",
        "rollback.skipped", "source.down", "source.up"}) {
    for (const json& e : s.Events(kind)) {
      live.push_back({kind, e.value("trigger", ""), ParseMs(e.value("time", ""))});
    }
  }
  ASSERT_FALSE(live.empty());
  int64_t first = live.front().ms, last = live.front().ms;
  for (const Seen& e : live) {
    first = std::min(first, e.ms);
    last = std::max(last, e.ms);
  }
  // On the live daemon's own grid (its rounds are 1 s apart, through one anchor): from a whole
  // number of steps before its first event, at or before the deploy.
  const int64_t steps_back = (first - before_deploy) / 1000 + 1;
  const int64_t from = first - steps_back * 1000;
  const int64_t to = last + 2000;
  // Prometheus has the last scrapes in its head: a query at `to` sees what the daemon saw.
  int status = -1;
  const std::string out = RunRollbackd(s.dir(),
                                       {"replay", "--config", s.dir() + "/rollbackd.toml", "--from",
                                        FormatMs(from), "--to", FormatMs(to), "--format", "json"},
                                       &status);
  ASSERT_EQ(status, 0) << ReadFile(s.dir() + "/replay.err");
  const json report = json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_TRUE(report["query_errors"].empty()) << report["query_errors"].dump();

  std::vector<Seen> replayed;
  for (const json& e : report["events"]) {
    replayed.push_back({e["event"], e.value("trigger", ""), ParseMs(e["time"])});
  }
  std::string timeline = "live:\n";
  for (const Seen& e : live)
    timeline += "  " + FormatMs(e.ms) + " " + e.kind + " " + e.trigger + "\n";
  timeline += "replayed:\n";
  for (const Seen& e : replayed)
    timeline += "  " + FormatMs(e.ms) + " " + e.kind + " " + e.trigger + "\n";

  EXPECT_EQ(replayed.size(), live.size()) << timeline;
  std::vector<bool> used(replayed.size(), false);
  for (const Seen& l : live) {
    bool found = false;
    for (size_t i = 0; i < replayed.size() && !found; ++i) {
      if (used[i] || replayed[i].kind != l.kind || replayed[i].trigger != l.trigger) continue;
      if (std::llabs(replayed[i].ms - l.ms) > 1000) continue;  // one step
      used[i] = true;
      found = true;
    }
    EXPECT_TRUE(found) << "live " << l.kind << " at " << FormatMs(l.ms) << " not replayed\n"
                       << timeline;
  }
  // The bad deploy was found from version_query's history, as live.
  for (const json& e : report["events"]) {
    if (e["event"] == "rollback.started") {
      EXPECT_EQ(e["version"], "v2");
    }
  }
}

// A Prometheus with no scrape target serving the blocks in `data`.
class BackfilledPrometheus {
 public:
  explicit BackfilledPrometheus(const std::string& dir) : port_(FreePort()) {
    WriteFile(dir + "/prometheus.yml", "global:\n  scrape_interval: 1m\nscrape_configs: []\n");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            ROLLBACKD_PROMETHEUS, "--config.file=" + dir + "/prometheus.yml",
            "--storage.tsdb.path=" + dir + "/data", "--storage.tsdb.retention.time=30d",
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        dir + "/prometheus.log");
    ready_ =
        WaitFor(
            [&] { return !process_->running() || Http("GET", url() + "/-/ready").status == 200; },
            60s) &&
        process_->running();
  }
  bool ready() const { return ready_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_->log(); }

 private:
  int port_;
  bool ready_ = false;
  std::unique_ptr<Process> process_;
};

TEST(ReplayIntegration, ThreeDaysOfBackfilledHistoryAcrossTheRequestLimit) {
  TempDir dir;
  const std::string d = dir.path();
  // Three days at 15 s, ending an hour ago, on whole hours: 17,281 steps, two requests per query.
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  const int64_t end = (now_s / 3600 - 1) * 3600;
  const int64_t start = end - 3 * 86400;
  const int64_t bad = start + 36 * 3600;  // v2 deployed; errors for 10 minutes
  const std::string pod = "<img src=x onerror=alert(1)>";
  {
    std::ofstream om(d + "/history.om");
    om << "# TYPE app_error_ratio gauge\n";
    for (int64_t t = start; t <= end; t += 15) {
      const double v = t >= bad && t < bad + 600 ? 0.3 : 0.01;
      om << "app_error_ratio{pod=\"" << pod << "\"} " << v << " " << t << "\n";
    }
    om << "# TYPE app_build_info gauge\n";
    for (int64_t t = start; t <= end; t += 15) {
      om << "app_build_info{version=\"" << (t < bad ? "v1" : "v2") << "\"} 1 " << t << "\n";
    }
    om << "# EOF\n";
  }
  const std::string cmd = std::string(ROLLBACKD_PROMTOOL) +
                          " tsdb create-blocks-from openmetrics " + d + "/history.om " + d +
                          "/data >" + d + "/promtool.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(d + "/promtool.log");
  BackfilledPrometheus prom(d);
  ASSERT_TRUE(prom.ready()) << prom.log();

  fs::create_directories(d + "/rules");
  WriteFile(d + "/rollbackd.toml",
            "[daemon]\nrules = [\"rules/*.toml\"]\ninterval = \"15s\"\n"
            "[prometheus.default]\nurl = \"" +
                prom.url() + "\"\n");
  WriteFile(d + "/rules/shop.toml", R"(service = "shop"
[[trigger]]
name     = "error_ratio"
query    = 'max by (pod) (app_error_ratio)'
above    = 0.05
for      = "1m"
severity = "critical"

[[health]]
name = "ping"
url  = "http://127.0.0.1:1/healthz"
for  = "30s"

[deploy]
version_query = 'max by (version) (app_build_info)'

[rollback]
exec     = ["/bin/false"]
cooldown = "1h"
verify   = "15m"
)");
  int status = -1;
  const std::string args_from = FormatMs(start * 1000), args_to = FormatMs(end * 1000);
  const std::string out =
      RunRollbackd(d,
                   {"replay", "--config", d + "/rollbackd.toml", "--from", args_from, "--to",
                    args_to, "--format", "json", "--html", d + "/replay.html"},
                   &status);
  ASSERT_EQ(status, 0) << ReadFile(d + "/replay.err");
  const json r = json::parse(out, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;
  EXPECT_EQ(r["services"][0]["steps"], 17281);
  EXPECT_EQ(r["requests"], 4) << "two queries, each in two requests of at most 11,000 points";
  EXPECT_TRUE(r["query_errors"].empty()) << r["query_errors"].dump();
  EXPECT_EQ(r["services"][0]["not_replayed"], json::array({"ping"}));

  std::vector<std::pair<std::string, int64_t>> events;  // kind, seconds after the bad deploy
  for (const json& e : r["events"]) {
    events.emplace_back(e["event"], ParseMs(e["time"]) / 1000 - bad);
  }
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"trigger.pending", 0},     {"trigger.firing", 60},    {"rollback.started", 60},
      {"rollback.succeeded", 60}, {"trigger.resolved", 600}, {"rollback.verified", 600}};
  EXPECT_EQ(events, expected) << r["events"].dump(1);
  for (const json& e : r["events"]) {
    if (e["event"] == "rollback.started") {
      EXPECT_EQ(e["version"], "v2");
    }
  }
  ASSERT_EQ(r["summary"].size(), 1u);
  EXPECT_EQ(r["summary"][0]["fired"], 1);
  EXPECT_EQ(r["summary"][0]["rolled_back"], 1);
  EXPECT_EQ(r["summary"][0]["longest_firing_seconds"], 540);

  // The plot: self-contained, the label value from Prometheus shown as text.
  const std::string html = ReadFile(d + "/replay.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find(pod), std::string::npos) << "a label value reached the page unescaped";
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);

  // The text report: the timeline as `rollbackd test -v` prints it, then the summary.
  const std::string text = RunRollbackd(
      d, {"replay", "--config", d + "/rollbackd.toml", "--from", args_from, "--to", args_to},
      &status);
  ASSERT_EQ(status, 0) << ReadFile(d + "/replay.err");
  EXPECT_NE(text.find(FormatMs((bad + 60) * 1000) + " rollback.started error_ratio"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("shop/error_ratio: 1 time pending, fired 1 time, would have rolled back 1 "
                      "time, longest firing 9m"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("health checks not replayed (no history): ping"), std::string::npos);
}

TEST(ReplayIntegration, BadFlagsAndTimesExitTwoHelpExitsZero) {
  TempDir dir;
  int status = -1;
  EXPECT_NE(RunRollbackd(dir.path(), {"replay", "--help"}, &status).find("--from"),
            std::string::npos);
  EXPECT_EQ(status, 0);
  RunRollbackd(dir.path(), {"replay", "--config", "x.toml", "--from", "yesterday", "--to", "now"},
               &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(ReadFile(dir.path() + "/replay.err").find("--from: \"yesterday\" is not a time"),
            std::string::npos);
  RunRollbackd(dir.path(),
               {"replay", "--config", "x.toml", "--from", "-1h", "--to", "now", "--hook", "maybe"},
               &status);
  EXPECT_EQ(status, 2);
  RunRollbackd(dir.path(), {"replay", "--bogus"}, &status);
  EXPECT_EQ(status, 2);
}

}  // namespace
}  // namespace rollbackd::it
