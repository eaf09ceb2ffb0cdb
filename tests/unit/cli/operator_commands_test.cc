// status, pause, resume and deploy against the daemon's real API (Api on the real HttpServer, on a
// loop in a thread of its own) over a fake DaemonControl: in-process for the messages, and through
// the built binary where the exit status and what reaches stdout are the contract.
#include "daemon/cli/operator_commands.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "daemon/runtime/api.h"
#include "daemon/server/http_server.h"
#include "testing/cli_run.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;

constexpr const char kToken[] = "s3cret-token-7f1e";

constexpr const char kStatusDoc[] = R"JSON({"version": "0.1.0", "ready": true, "dry_run": false,
  "services": [
    {"name": "shop", "paused": false, "dry_run": false, "version": "v2", "rollback_in_flight": null,
     "triggers": [{"name": "error_rate", "kind": "trigger", "state": "firing", "last_error": null,
       "series": [{"labels": {}, "state": "firing", "value": 0.3, "threshold": 0.05,
                   "baseline": null, "pending_since": "2026-12-03T18:00:00.000Z",
                   "firing_since": "2026-12-03T18:00:05.000Z"}]}]},
    {"name": "cart", "paused": true, "dry_run": false, "version": null, "rollback_in_flight": null,
     "triggers": []}]})JSON";

// What the API asked of the daemon, from the server's thread.
class FakeControl : public DaemonControl {
 public:
  bool ready() const override { return true; }
  bool stopping() const override { return false; }
  std::string MetricsText() override { return ""; }
  std::string StatusDocument() override { return kStatusDoc; }
  ControlResult RecordDeploy(const std::string& service, const std::string& version) override {
    return Record("deploy " + service + " " + version, service);
  }
  ControlResult SetPaused(const std::string& service, bool paused) override {
    return Record((paused ? "pause " : "resume ") + service, service);
  }
  // "remote" is owned by m2; no member owns "orphan"; etcd does not take "etcd-down"'s.
  void Forward(const std::string& service, const std::string& op, const std::string&,
               std::function<void(Forwarded)> done) override {
    Record("forward " + op + " " + service, "");
    if (service == "etcd-down") {
      done(Forwarded{false, "", "connection refused"});
    } else {
      done(Forwarded{true, service == "orphan" ? "" : "m2", ""});
    }
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  ControlResult Record(const std::string& call, const std::string& service) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
    if (service == "remote" || service == "orphan" || service == "etcd-down") {
      return ControlResult::kNotOwner;
    }
    if (service == "unsaved") return ControlResult::kNotSaved;
    return service == "shop" || service == "cart" || service.empty()
               ? ControlResult::kDone
               : ControlResult::kUnknownService;
  }
  std::mutex mu_;
  std::vector<std::string> calls_;
};

// A loopback port that nothing listens on: bound, read back and closed again.
int ClosedPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  const int port = a.local_endpoint().port();
  a.close();
  return port;
}

class OperatorCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(kToken); }
  void TearDown() override { Stop(); }

  void Start(const std::string& token) {
    api_.SetToken(token);
    io_.restart();
    server_.emplace(io_, [this](const ServerRequest& r) { return api_.Handle(r); });
    std::string error;
    ASSERT_TRUE(server_->Listen("127.0.0.1:0", &error)) << error;
    thread_ = std::thread([this] { io_.run(); });
  }
  void Stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  // A daemon config naming this server and, unless `token_file` is "", a token file.
  std::string Config(const std::string& token_file, const std::string& host = "127.0.0.1") {
    return dir_.Write(
        "rollbackd.toml",
        "[daemon]\nlisten = \"" + host + ":" + std::to_string(server_->port()) + "\"\n" +
            (token_file.empty() ? std::string() : "api_token_file = \"" + token_file + "\"\n"));
  }

  struct Result {
    int exit;
    std::string out, err;
  };
  Result Cli(const std::string& command, const std::vector<std::string>& args) {
    std::ostringstream out, err;
    OperatorEnv env;
    env.default_config = dir_.Path("absent.toml");
    const int exit = OperatorMain(command, args, out, err, env);
    return {exit, out.str(), err.str()};
  }

  testutil::TempDir dir_;
  FakeControl control_;
  Api api_{control_};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::optional<HttpServer> server_;
  std::thread thread_;
};

TEST_F(OperatorCommandsTest, StatusShowsTheTableOfTheLiveApi) {
  const Result r = Cli("status", {"--url", Url()});
  EXPECT_EQ(r.exit, kExitOk) << r.err;
  EXPECT_EQ(r.out.rfind("SERVICE  VERSION  TRIGGER     STATE   VALUE  THRESHOLD  SINCE\n"
                        "shop     v2       error_rate  firing  0.3    0.05       ",
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("\ncart     -        -"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\npaused: cart"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(OperatorCommandsTest, StatusJsonIsTheDocumentFilteredByService) {
  const Result r = Cli("status", {"--url", Url() + "/", "--json", "--service", "cart"});
  ASSERT_EQ(r.exit, kExitOk) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["services"].size(), 1u);
  EXPECT_EQ(doc["services"][0]["name"], "cart");
  EXPECT_EQ(doc["version"], "0.1.0");
  const Result all = Cli("status", {"--url", Url(), "--json"});
  EXPECT_EQ(nlohmann::json::parse(all.out), nlohmann::json::parse(kStatusDoc));
}

TEST_F(OperatorCommandsTest, StatusOfAnUnknownServiceNamesTheKnownOnes) {
  for (const char* flag : {"", "--json"}) {
    std::vector<std::string> args = {"--url", Url(), "--service", "nope"};
    if (*flag) args.push_back(flag);
    const Result r = Cli("status", args);
    EXPECT_EQ(r.exit, kExitFailed);
    EXPECT_EQ(r.err, "rollbackd: the daemon has no service nope (it has: shop, cart)\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(OperatorCommandsTest, TheAddressComesFromTheConfigAndAWildcardIsReachedOnLoopback) {
  for (const char* host : {"127.0.0.1", "0.0.0.0", "localhost"}) {
    const Result r = Cli("status", {"--config", Config("", host), "--json"});
    EXPECT_EQ(r.exit, kExitOk) << host << ": " << r.err;
  }
  // --url wins over the config's address.
  const std::string config = Config("");
  const int closed = ClosedPort();
  const Result r =
      Cli("status", {"--config", config, "--url", "127.0.0.1:" + std::to_string(closed)});
  EXPECT_EQ(r.exit, kExitUnreachable);
}

TEST_F(OperatorCommandsTest, WithoutFlagsTheDefaultConfigIsUsedWhenItExists) {
  std::string error;
  auto absent = ResolveTarget({}, dir_.Path("absent.toml"), &error);
  ASSERT_TRUE(absent) << error;
  EXPECT_EQ(absent->base_url, "http://127.0.0.1:9464");
  EXPECT_EQ(absent->token_file, "");
  const std::string token = dir_.Write("api.token", std::string(kToken) + "\n");
  auto present = ResolveTarget({}, Config("api.token"), &error);
  ASSERT_TRUE(present) << error;
  EXPECT_EQ(present->base_url, Url());
  EXPECT_EQ(present->token_file, token);  // relative to the config
  // With --url alone the default config's token is not sent elsewhere.
  auto url_only = ResolveTarget({"http://10.0.0.1:1", "", ""}, Config("api.token"), &error);
  ASSERT_TRUE(url_only);
  EXPECT_EQ(url_only->token_file, "");
}

TEST_F(OperatorCommandsTest, ABrokenConfigIsReportedWithItsProblems) {
  const std::string config = dir_.Write("bad.toml", "[daemon]\nlisten = \"nocolon\"\n");
  const Result r = Cli("status", {"--config", config});
  EXPECT_EQ(r.exit, kExitFailed);
  EXPECT_NE(r.err.find("cannot use " + config + ":\n  " + config + ":2:"), std::string::npos)
      << r.err;
  const Result missing = Cli("pause", {"--config", dir_.Path("nope.toml"), "shop"});
  EXPECT_EQ(missing.exit, kExitFailed);
  EXPECT_NE(missing.err.find(dir_.Path("nope.toml")), std::string::npos) << missing.err;
}

TEST_F(OperatorCommandsTest, PauseAndResumeWithTheConfigsToken) {
  dir_.Write("api.token", std::string(kToken) + "\n");
  const std::string config = Config("api.token");
  const Result paused = Cli("pause", {"--config", config, "shop"});
  EXPECT_EQ(paused.exit, kExitOk) << paused.err;
  EXPECT_EQ(paused.out,
            "paused shop: automatic rollbacks are skipped (rollback.skipped, paused) until "
            "`rollbackd resume shop`\n");
  const Result resumed = Cli("resume", {"--config", config, "shop"});
  EXPECT_EQ(resumed.exit, kExitOk) << resumed.err;
  EXPECT_EQ(resumed.out, "resumed shop: automatic rollbacks run again\n");
  EXPECT_EQ(control_.calls(), (std::vector<std::string>{"pause shop", "resume shop"}));
}

TEST_F(OperatorCommandsTest, AWrongTokenIsRefusedAndNeverPrinted) {
  const std::string file = dir_.Write("wrong.token", "not-the-token\n");
  const Result r = Cli("pause", {"--url", Url(), "--token-file", file, "shop"});
  EXPECT_EQ(r.exit, kExitUnauthorized);
  EXPECT_EQ(r.err, "rollbackd: the daemon at " + Url() + " refused the token from " + file +
                       " (401: a valid bearer token is required)\n");
  EXPECT_EQ(r.err.find("not-the-token"), std::string::npos);
  EXPECT_TRUE(control_.calls().empty());
}

TEST_F(OperatorCommandsTest, NoTokenConfiguredSaysWhereOneComesFrom) {
  const Result r = Cli("resume", {"--config", Config(""), "shop"});
  EXPECT_EQ(r.exit, kExitUnauthorized);
  EXPECT_NE(r.err.find("needs the API token (401: a valid bearer token is required): pass "
                       "--token-file FILE, or --config FILE with [daemon].api_token_file"),
            std::string::npos)
      << r.err;
  const Result unreadable = Cli("pause", {"--url", Url(), "--token-file", dir_.Path("no"), "shop"});
  EXPECT_EQ(unreadable.exit, kExitUnauthorized);
  EXPECT_EQ(unreadable.err.rfind(
                "rollbackd: cannot read the API token: cannot read " + dir_.Path("no"), 0),
            0u)
      << unreadable.err;
}

TEST_F(OperatorCommandsTest, ADaemonWithoutATokenHasTheMutatingApiDisabled) {
  Stop();
  Start("");
  const std::string file = dir_.Write("api.token", kToken);
  const Result r = Cli("deploy", {"--url", Url(), "--token-file", file, "shop", "v3"});
  EXPECT_EQ(r.exit, kExitApiDisabled);
  EXPECT_NE(r.err.find("has its mutating API disabled (403: the mutating API is disabled: set "
                       "daemon.api_token_file)"),
            std::string::npos)
      << r.err;
}

TEST_F(OperatorCommandsTest, UnknownServiceIsItsOwnExitStatus) {
  const std::string file = dir_.Write("api.token", kToken);
  for (const char* command : {"pause", "resume"}) {
    const Result r = Cli(command, {"--url", Url(), "--token-file", file, "nope"});
    EXPECT_EQ(r.exit, kExitUnknownService) << command;
    EXPECT_EQ(r.err, "rollbackd: the daemon at " + Url() +
                         " has no service nope (404; `rollbackd status` lists its services)\n");
  }
  const Result d = Cli("deploy", {"--url", Url(), "--token-file", file, "nope", "v1"});
  EXPECT_EQ(d.exit, kExitUnknownService) << d.err;
}

TEST_F(OperatorCommandsTest, DeployIsRecorded) {
  const std::string file = dir_.Write("api.token", kToken);
  const Result r = Cli("deploy", {"--url", Url(), "--token-file", file, "shop", "v7 \"quoted\""});
  EXPECT_EQ(r.exit, kExitOk) << r.err;
  EXPECT_EQ(r.out, "recorded the deploy of shop version v7 \"quoted\"\n");
  EXPECT_EQ(control_.calls(), std::vector<std::string>{"deploy shop v7 \"quoted\""});
}

TEST_F(OperatorCommandsTest, AChangeForwardedToTheOwnerInClusterModeIsDone) {
  const std::string file = dir_.Write("api.token", kToken);
  const Result r = Cli("pause", {"--url", Url(), "--token-file", file, "remote"});
  EXPECT_EQ(r.exit, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "pause of remote handed through etcd to its owner, member m2, which applies it\n");
  EXPECT_EQ(control_.calls(), (std::vector<std::string>{"pause remote", "forward pause remote"}));
}

TEST_F(OperatorCommandsTest, ForwardedWithoutAnOwnerOrNotTakenByEtcd) {
  const std::string file = dir_.Write("api.token", kToken);
  const Result orphan = Cli("deploy", {"--url", Url(), "--token-file", file, "orphan", "v2"});
  EXPECT_EQ(orphan.exit, kExitOk) << orphan.err;
  EXPECT_EQ(orphan.out,
            "deploy of orphan handed through etcd to its next owner (no member owns it right "
            "now), which applies it\n");
  const Result down = Cli("resume", {"--url", Url(), "--token-file", file, "etcd-down"});
  EXPECT_EQ(down.exit, kExitFailed);
  EXPECT_EQ(down.err, "rollbackd: the daemon at " + Url() +
                          " answered 503: not applied: etcd did not take the request for the "
                          "owner of etcd-down (connection refused); try again\n");
  EXPECT_EQ(down.out, "");
}

TEST_F(OperatorCommandsTest, AppliedButNotSavedIsAFailureThatSaysSo) {
  const std::string file = dir_.Write("api.token", kToken);
  const Result r = Cli("pause", {"--url", Url(), "--token-file", file, "unsaved"});
  EXPECT_EQ(r.exit, kExitFailed);
  EXPECT_EQ(r.err, "rollbackd: the daemon at " + Url() +
                       " answered 500: applied, but the state could not be saved: it will not "
                       "survive a restart (see the log)\n");
}

TEST_F(OperatorCommandsTest, ADaemonThatIsDownIsNamedByItsAddress) {
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  for (const char* command : {"status", "pause"}) {
    std::vector<std::string> args = {"--url", url};
    if (std::string(command) == "pause") args.push_back("shop");
    const Result r = Cli(command, args);
    EXPECT_EQ(r.exit, kExitUnreachable) << command;
    EXPECT_EQ(r.err.rfind("rollbackd: cannot reach the daemon at " + url + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("is rollbackd running"), std::string::npos) << r.err;
  }
}

TEST_F(OperatorCommandsTest, NotARollbackdApi) {
  const Result r = Cli("status", {"--url", Url() + "/prefix"});
  EXPECT_EQ(r.exit, kExitFailed);
  EXPECT_NE(r.err.find("answered 404 (not found: /prefix/api/v1/status): is that address a "
                       "rollbackd API?"),
            std::string::npos)
      << r.err;
}

// The binary: exit statuses and stdout as a script sees them (stdout is a file here, not a
// terminal: no colour even without NO_COLOR).
TEST_F(OperatorCommandsTest, TheBinaryPrintsTheTableWithoutColourAndExitsAsDocumented) {
  const std::string file = dir_.Write("api.token", std::string(kToken) + "\n");
  const std::string wrong = dir_.Write("wrong.token", "nope\n");
  testutil::CliRun status = testutil::RunRollbackd({"status", "--url", Url()}, {"TERM=xterm"});
  EXPECT_EQ(status.exit, 0) << status.err;
  EXPECT_EQ(status.out.rfind("SERVICE  VERSION  TRIGGER", 0), 0u) << status.out;
  EXPECT_NE(status.out.find("firing"), std::string::npos);
  EXPECT_EQ(status.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(testutil::RunRollbackd({"status", "--url", Url(), "--service", "nope"}).exit, 1);
  EXPECT_EQ(testutil::RunRollbackd({"pause", "--url", Url(), "--token-file", file, "shop"}).exit,
            0);
  testutil::CliRun refused =
      testutil::RunRollbackd({"pause", "--url", Url(), "--token-file", wrong, "shop"});
  EXPECT_EQ(refused.exit, 4);
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(testutil::RunRollbackd({"resume", "--url", Url(), "--token-file", file, "nope"}).exit,
            6);
  EXPECT_EQ(
      testutil::RunRollbackd({"deploy", "--url", Url(), "--token-file", file, "shop", "v9"}).exit,
      0);
  const std::string down = "http://127.0.0.1:" + std::to_string(ClosedPort());
  testutil::CliRun unreachable = testutil::RunRollbackd({"status", "--url", down});
  EXPECT_EQ(unreachable.exit, 3);
  EXPECT_NE(unreachable.err.find(down), std::string::npos) << unreachable.err;
  EXPECT_EQ(control_.calls(),
            (std::vector<std::string>{"pause shop", "resume nope", "deploy shop v9"}));
}

TEST_F(OperatorCommandsTest, OnATerminalStatesAreColouredUnlessNoColorIsSet) {
  const testutil::CliRun tty =
      testutil::RunRollbackdOnTerminal({"status", "--url", Url()}, {"TERM=xterm"});
  EXPECT_EQ(tty.exit, 0) << tty.out;
  EXPECT_NE(tty.out.find("\x1b[1;31mfiring\x1b[0m"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\x1b[33mpaused\x1b[0m: cart"), std::string::npos) << tty.out;
  const testutil::CliRun no_color =
      testutil::RunRollbackdOnTerminal({"status", "--url", Url()}, {"TERM=xterm", "NO_COLOR=1"});
  EXPECT_EQ(no_color.exit, 0) << no_color.out;
  EXPECT_NE(no_color.out.find("firing"), std::string::npos) << no_color.out;
  EXPECT_EQ(no_color.out.find('\x1b'), std::string::npos) << no_color.out;
  // An empty NO_COLOR does not count (no-color.org).
  const testutil::CliRun empty =
      testutil::RunRollbackdOnTerminal({"status", "--url", Url()}, {"TERM=xterm", "NO_COLOR="});
  EXPECT_NE(empty.out.find("\x1b[1;31mfiring"), std::string::npos) << empty.out;
}

}  // namespace
}  // namespace rollbackd
