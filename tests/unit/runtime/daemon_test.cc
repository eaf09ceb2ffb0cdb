// The daemon in-process, on a test loop: its API, its hook ordering and its memory across restarts.
// Health checks against a real loopback HTTP server stand in for Prometheus, so these run in a
// fraction of a second (tests/integration runs the real Prometheus).
#include "daemon/runtime/daemon.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "daemon/io/exec_runner.h"
#include "daemon/io/file_system.h"
#include "daemon/io/http_client.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/test_http_server.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rollbackd-daemon-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rules");
    Write(path("api.token"), "s3cret-token\n");
    WriteConfig("api_token_file = \"api.token\"\n");
    WriteRule(server_.Url("/status/503"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  void WriteConfig(const std::string& extra) {
    Write(path("rollbackd.toml"),
          "[daemon]\nstate_dir = \"state\"\nrules = [\"rules/*.toml\"]\n"
          "interval = \"50ms\"\n" +
              extra);
  }
  // One health check that fails while `url` fails; the hook appends a line to hook.log.
  void WriteRule(const std::string& url, const std::string& extra = "") {
    Write(path("rules/web.toml"),
          "service = \"web\"\n\n[[health]]\nname = \"ready\"\nurl = \"" + url +
              "\"\ntimeout = \"1s\"\nfor = \"150ms\"\nseverity = "
              "\"critical\"\n" +
              extra +
              "\n[rollback]\nexec = [\"/bin/sh\", \"-c\", \"echo "
              "$ROLLBACKD_EVENT_ID >> " +
              path("hook.log") + "\"]\ntimeout = \"5s\"\nverify = \"10s\"\n");
  }

  // The check fails at once; the hook writes "started" to hook.log, then hangs for 30 s.
  void WriteHangingHookRule() {
    Write(path("rules/web.toml"),
          "service = \"web\"\n\n[[health]]\nname = \"ready\"\nurl = \"" +
              server_.Url("/status/503") +
              "\"\nfor = \"100ms\"\n\n[rollback]\nexec = [\"/bin/sh\", \"-c\", \"echo started >> " +
              path("hook.log") + "; sleep 30\"]\ntimeout = \"1m\"\n");
  }

  std::unique_ptr<Daemon> NewDaemon() {
    DaemonOptions o;
    o.config_path = path("rollbackd.toml");
    o.version = "test";
    o.listen_override = "127.0.0.1:0";
    return std::make_unique<Daemon>(
        DaemonEnv{io_, clock_, RealFileSystem(), inputs_, hooks_, client_, exec_, {}}, o);
  }

  HttpResponse Call(const Daemon& d, const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = "") {
    HttpRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(d.port()) + target;
    req.body = body;
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    std::optional<HttpResponse> out;
    client_.Send(req, [&](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(testutil::RunUntil(io_, [&] { return out.has_value(); }));
    return out.value_or(HttpResponse{});
  }

  json Status(const Daemon& d) {
    return json::parse(Call(d, "GET", "/api/v1/status").body, nullptr, false);
  }

  bool Ready(const Daemon& d) {
    return testutil::RunUntil(
        io_, [&] { return Call(d, "GET", "/readyz").status == 200; }, 5s);
  }

  double Rounds(const Daemon& d) {
    const std::string body = Call(d, "GET", "/metrics").body;
    const std::string key = "\nrollbackd_evaluations_total ";
    const size_t at = body.find(key);
    return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size()));
  }

  // Lets the daemon evaluate `n` more rounds: "nothing more happened" is then a fact, not a guess.
  bool WaitRounds(const Daemon& d, int n) {
    const double start = Rounds(d);
    return testutil::RunUntil(io_, [&] { return Rounds(d) >= start + n; });
  }

  bool WaitForMetric(const Daemon& d, const std::string& line) {
    std::string last;
    const bool seen = testutil::RunUntil(io_, [&] {
      last = Call(d, "GET", "/metrics").body;
      return last.find(line) != std::string::npos;
    });
    if (!seen) ADD_FAILURE() << "no " << line << " in\n" << last;
    return seen;
  }

  std::string HookLog() const { return Slurp(path("hook.log")); }

  testutil::TestServer server_;
  fs::path dir_;
  boost::asio::io_context io_;
  // The real effects, as RunDaemon builds them.
  AsioClock clock_{io_};
  HttpClient client_{io_};
  ExecRunner exec_{io_};
  HttpInputReader inputs_{client_, clock_};
  TransportHookRunner hooks_{exec_, client_, clock_};
};

TEST_F(DaemonTest, ServesHealthReadinessMetricsAndStatus) {
  WriteRule(server_.Url("/ok"));
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  EXPECT_EQ(Call(*d, "GET", "/healthz").status, 200);
  ASSERT_TRUE(Ready(*d));
  HttpResponse m = Call(*d, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("rollbackd_build_info{version=\"test\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("rollbackd_evaluations_total"), std::string::npos);
  EXPECT_NE(m.body.find("rollbackd_probe_duration_seconds_count{check=\"ready\",service=\"web\"}"),
            std::string::npos)
      << m.body;
  json st = Status(*d);
  ASSERT_FALSE(st.is_discarded());
  EXPECT_EQ(st["ready"], true);
  EXPECT_EQ(st["services"][0]["name"], "web");
  EXPECT_EQ(st["services"][0]["triggers"][0]["name"], "ready");
  EXPECT_EQ(st["services"][0]["triggers"][0]["kind"], "health");
  EXPECT_EQ(st["services"][0]["triggers"][0]["state"], "inactive");
  EXPECT_EQ(st["services"][0]["triggers"][0]["series"][0]["value"], 1.0);
  EXPECT_EQ(Call(*d, "GET", "/nope").status, 404);
  EXPECT_EQ(Call(*d, "GET", "/api/v1/deploys").status, 405);
}

TEST_F(DaemonTest, MutatingCallsNeedTheBearerToken) {
  WriteRule(server_.Url("/ok"));
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/web/pause").status, 401);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/web/pause", "", "s3cret-tokeN").status, 401);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys", R"({"service":"web","version":"v2"})").status, 401);
  EXPECT_EQ(Status(*d)["services"][0]["paused"], false);

  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/web/pause", "", "s3cret-token").status, 200);
  EXPECT_EQ(Status(*d)["services"][0]["paused"], true);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/nope/pause", "", "s3cret-token").status, 404);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/web/resume", "", "s3cret-token").status, 200);
  EXPECT_EQ(Status(*d)["services"][0]["paused"], false);
}

TEST_F(DaemonTest, WithoutATokenFileTheMutatingApiIsDisabled) {
  WriteConfig("");
  WriteRule(server_.Url("/ok"));
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  EXPECT_EQ(Call(*d, "POST", "/api/v1/services/web/pause", "", "anything").status, 403);
}

TEST_F(DaemonTest, DeployApiValidatesAndRecords) {
  WriteRule(server_.Url("/ok"));
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  const std::string t = "s3cret-token";
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys", "not json", t).status, 400);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys", R"({"service":"web"})", t).status, 400);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys", R"({"service":"x","version":"v2"})", t).status,
            404);
  // An ESC sequence or a newline in the version forged a log line: one line of text only.
  for (const char* forged : {R"({"service":"web","version":"v2\u001b[2K\rINFO ok"})",
                             R"({"service":"web","version":"v2\nrollback.succeeded"})"}) {
    const auto res = Call(*d, "POST", "/api/v1/deploys", forged, t);
    EXPECT_EQ(res.status, 400) << forged;
    EXPECT_NE(res.body.find("one line of text"), std::string::npos) << res.body;
  }
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys",
                 R"({"service":"web","version":")" + std::string(1025, 'v') + "\"}", t)
                .status,
            400);
  EXPECT_EQ(Call(*d, "POST", "/api/v1/deploys", R"({"service":"web","version":"v2"})", t).status,
            202);
  json st = Status(*d);
  EXPECT_EQ(st["services"][0]["version"], "v2");
  EXPECT_TRUE(st["services"][0]["last_deploy"].is_string());
}

TEST_F(DaemonTest, RollsBackOnceAndNotAgainAfterARestart) {
  {
    auto d = NewDaemon();
    ASSERT_TRUE(d->Start());
    ASSERT_TRUE(testutil::RunUntil(
        io_, [&] { return Count(Slurp(path("state/journal.jsonl")), "\"outcome\"") == 1; }));
    // Keep evaluating while the check still fails: one firing episode, one rollback.
    ASSERT_TRUE(testutil::RunUntil(
        io_, [&] { return Status(*d)["services"][0]["last_rollback"].is_string(); }));
    ASSERT_TRUE(WaitRounds(*d, 5));
    bool stopped = false;
    d->Shutdown([&] { stopped = true; });
    ASSERT_TRUE(testutil::RunUntil(io_, [&] { return stopped; }));
  }
  EXPECT_EQ(Count(HookLog(), "\n"), 1u);
  const std::string journal = Slurp(path("state/journal.jsonl"));
  EXPECT_EQ(Count(journal, "\"intent\""), 1u);
  EXPECT_LT(journal.find("\"intent\""), journal.find("\"outcome\""));
  const std::string decisions = Slurp(path("state/decisions.jsonl"));
  EXPECT_EQ(Count(decisions, "\"rollback.started\""), 1u);
  EXPECT_EQ(Count(decisions, "\"rollback.succeeded\""), 1u);

  // Restart on the same state_dir with the check still failing: still firing, no second hook.
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(Ready(*d));
  ASSERT_TRUE(WaitRounds(*d, 5));
  json st = Status(*d);
  EXPECT_EQ(st["services"][0]["triggers"][0]["state"], "firing") << st.dump();
  EXPECT_EQ(Count(HookLog(), "\n"), 1u);
}

TEST_F(DaemonTest, AnInterruptedHookIsReportedAndNeverRerun) {
  // The hook writes a line, then hangs; the daemon is destroyed without draining (as in a crash:
  // its destructor kills the hook's group). The state says "in flight", the journal has no outcome.
  WriteHangingHookRule();
  {
    auto d = NewDaemon();
    ASSERT_TRUE(d->Start());
    ASSERT_TRUE(testutil::RunUntil(io_, [&] { return HookLog() == "started\n"; }));
  }
  EXPECT_EQ(Count(Slurp(path("state/journal.jsonl")), "\"outcome\""), 0u);

  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(Ready(*d));
  ASSERT_TRUE(WaitRounds(*d, 5));
  EXPECT_EQ(HookLog(), "started\n") << "the interrupted hook must not run again";
  const std::string journal = Slurp(path("state/journal.jsonl"));
  EXPECT_EQ(Count(journal, "\"outcome\""), 1u) << journal;
  EXPECT_NE(journal.find("interrupted"), std::string::npos) << journal;
  const std::string decisions = Slurp(path("state/decisions.jsonl"));
  EXPECT_EQ(Count(decisions, "\"rollback.failed\""), 1u);
  json st = Status(*d);
  EXPECT_TRUE(st["services"][0]["rollback_in_flight"].is_null()) << st.dump();
  EXPECT_EQ(st["services"][0]["triggers"][0]["state"], "firing");
}

TEST_F(DaemonTest, AnHttpHookPostsTheSignedEventAndItsStatusIsTheOutcome) {
  Write(path("hook.secret"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  Write(path("rules/web.toml"),
        "service = \"web\"\n\n[[health]]\nname = \"ready\"\nurl = \"" + server_.Url("/status/503") +
            "\"\nfor = \"100ms\"\n\n[rollback]\nhttp = { url = \"" + server_.Url("/echo") +
            "\", secret_file = \"../hook.secret\", headers = { X-Team = \"web\" } }\n");
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(testutil::RunUntil(
      io_, [&] { return Count(Slurp(path("state/decisions.jsonl")), "rollback.succeeded") == 1; }));
  const std::string decisions = Slurp(path("state/decisions.jsonl"));
  const size_t at = decisions.find("\"rollback.succeeded\"");
  const json succeeded = json::parse(decisions.substr(
      decisions.rfind('\n', at) + 1, decisions.find('\n', at) - decisions.rfind('\n', at) - 1));
  EXPECT_EQ(succeeded["rollback"]["exit_status"], 200);
  // The echo of what the hook received: a signed POST of the rollback.started payload.
  const std::string echoed = succeeded["rollback"]["output"];
  EXPECT_EQ(echoed.rfind("POST\n", 0), 0u) << echoed;
  EXPECT_NE(echoed.find("webhook-signature: v1,"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find("X-Team: web"), std::string::npos) << echoed;
  EXPECT_NE(echoed.find("\"event\":\"rollback.started\""), std::string::npos) << echoed;
  EXPECT_NE(Slurp(path("state/journal.jsonl")).find(server_.Url("/echo")), std::string::npos);
}

TEST_F(DaemonTest, ASecondDaemonOnTheSameStateDirRefusesToStart) {
  WriteRule(server_.Url("/ok"));
  auto first = NewDaemon();
  ASSERT_TRUE(first->Start());
  auto second = NewDaemon();
  EXPECT_FALSE(second->Start());
}

TEST_F(DaemonTest, AnInvalidConfigurationDoesNotStart) {
  Write(path("rules/web.toml"), "service = \"web\"\n[[trigger]]\nname = \"x\"\n");
  auto d = NewDaemon();
  EXPECT_FALSE(d->Start());
}

TEST_F(DaemonTest, ReloadRejectsABrokenFileAndKeepsUnchangedTriggerState) {
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(testutil::RunUntil(
      io_, [&] { return Status(*d)["services"][0]["triggers"][0]["state"] == "firing"; }));
  const json firing = Status(*d)["services"][0]["triggers"][0]["series"][0]["firing_since"];

  Write(path("rules/web.toml"), "service = \"web\"\n[[health]]\nname = \"ready\"\nfro = 1\n");
  d->Reload();  // applied at once, or when the round being read ends
  EXPECT_TRUE(WaitForMetric(*d, "rollbackd_config_reloads_total{result=\"failure\"} 1"));
  EXPECT_EQ(Status(*d)["services"][0]["triggers"][0]["state"], "firing");

  // A valid change elsewhere (a label on the service) keeps the check's firing episode.
  WriteRule(server_.Url("/status/503"));
  std::string rule = Slurp(path("rules/web.toml"));
  rule.insert(rule.find('\n') + 1, "labels = { team = \"web\" }\n");
  Write(path("rules/web.toml"), rule);
  d->Reload();
  EXPECT_TRUE(WaitForMetric(*d, "rollbackd_config_reloads_total{result=\"success\"} 2"));
  json st = Status(*d);
  EXPECT_EQ(st["services"][0]["triggers"][0]["state"], "firing");
  EXPECT_EQ(st["services"][0]["triggers"][0]["series"][0]["firing_since"], firing);
  ASSERT_TRUE(WaitRounds(*d, 5));
  EXPECT_EQ(Count(HookLog(), "\n"), 1u);
}

TEST_F(DaemonTest, AStateFileThatCannotBeReadStopsTheStart) {
  // Starting fresh would forget cooldowns, pauses and firing episodes: a second rollback.
  fs::create_directories(path("state"));
  Write(path("state/state.json"), "{\"format\": 1, \"services\": [tru");
  auto d = NewDaemon();
  EXPECT_FALSE(d->Start());
}

TEST_F(DaemonTest, AReloadThatRemovesAServiceWithARollbackInFlightIsRejected) {
  WriteHangingHookRule();
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return HookLog() == "started\n"; }));
  fs::rename(path("rules/web.toml"), path("rules/web.toml.off"));
  Write(path("rules/api.toml"), "service = \"api\"\n[[health]]\nname = \"up\"\nurl = \"" +
                                    server_.Url("/ok") + "\"\nfor = \"1s\"\n");
  d->Reload();  // applied at once, or when the round being read ends
  EXPECT_TRUE(WaitForMetric(*d, "rollbackd_config_reloads_total{result=\"failure\"} 1"));
  json st = Status(*d);
  EXPECT_EQ(st["services"][0]["name"], "web");
  EXPECT_TRUE(st["services"][0]["rollback_in_flight"].is_string());
}

TEST_F(DaemonTest, ServesTheStatusPageHistoryAndEventsAndForgetsAServiceTheReloadRemoved) {
  auto d = NewDaemon();  // the check fails: pending, then firing
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(testutil::RunUntil(
      io_, [&] { return Status(*d)["services"][0]["triggers"][0]["state"] == "firing"; }));
  const HttpResponse page = Call(*d, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>rollbackd</title>"), std::string::npos);

  const json h = json::parse(Call(*d, "GET", "/api/v1/history?service=web").body, nullptr, false);
  ASSERT_FALSE(h.is_discarded());
  EXPECT_EQ(h["bucket_seconds"], 15.0);  // interval 50ms: buckets of 15 s
  ASSERT_EQ(h["series"].size(), 1u);
  EXPECT_EQ(h["series"][0]["trigger"], "ready");
  ASSERT_EQ(h["series"][0]["points"].size(), 1u);
  EXPECT_EQ(h["series"][0]["points"][0][3], "firing");  // the worst of the bucket
  EXPECT_EQ(h["series"][0]["points"][0][1], 0.0);       // the probe's value: failed
  EXPECT_EQ(Call(*d, "GET", "/api/v1/history?service=nope").status, 404);

  const json ev = json::parse(Call(*d, "GET", "/api/v1/events?service=web").body, nullptr, false);
  ASSERT_FALSE(ev.is_discarded());
  ASSERT_GE(ev["events"].size(), 2u);
  EXPECT_EQ(ev["events"][0]["event"], "trigger.pending");
  EXPECT_EQ(ev["events"][1]["event"], "trigger.firing");
  EXPECT_FALSE(ev["events"][1]["reason"].get<std::string>().empty());

  // A reload that replaces the service: the old one's history goes, the new one's begins.
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return Count(HookLog(), "\n") == 1; }));
  fs::remove(path("rules/web.toml"));
  Write(path("rules/api.toml"), "service = \"api\"\n[[health]]\nname = \"up\"\nurl = \"" +
                                    server_.Url("/ok") + "\"\nfor = \"1s\"\n");
  ASSERT_TRUE(testutil::RunUntil(
      io_, [&] { return Status(*d)["services"][0]["rollback_in_flight"].is_null(); }));
  d->Reload();
  EXPECT_TRUE(WaitForMetric(*d, "rollbackd_config_reloads_total{result=\"success\"} 2"));
  EXPECT_EQ(Call(*d, "GET", "/api/v1/history?service=web").status, 404);
  ASSERT_TRUE(WaitRounds(*d, 2));
  EXPECT_TRUE(WaitForMetric(*d, "rollbackd_history_series 1"));
  const json api = json::parse(Call(*d, "GET", "/api/v1/history?service=api").body, nullptr, false);
  ASSERT_EQ(api["series"].size(), 1u);
  EXPECT_EQ(api["series"][0]["trigger"], "up");
}

TEST_F(DaemonTest, ShutdownWaitsForARunningHook) {
  Write(path("rules/web.toml"),
        "service = \"web\"\n\n[[health]]\nname = \"ready\"\nurl = \"" + server_.Url("/status/503") +
            "\"\nfor = \"100ms\"\n\n[rollback]\nexec = [\"/bin/sh\", \"-c\", \"sleep 0.3; echo "
            "done >> " +
            path("hook.log") + "\"]\ntimeout = \"5s\"\n");
  auto d = NewDaemon();
  ASSERT_TRUE(d->Start());
  ASSERT_TRUE(testutil::RunUntil(
      io_, [&] { return Count(Slurp(path("state/journal.jsonl")), "\"intent\"") == 1; }));
  bool stopped = false;
  d->Shutdown([&] { stopped = true; });
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return stopped; }));
  EXPECT_EQ(HookLog(), "done\n");
  EXPECT_EQ(Count(Slurp(path("state/journal.jsonl")), "\"outcome\""), 1u);
}

}  // namespace
}  // namespace rollbackd
