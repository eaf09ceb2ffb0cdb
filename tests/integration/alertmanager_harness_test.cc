// The harness's real Alertmanager (Debian's 0.25) and the webhook receiver fixture, checked on
// their own before rollbackd's alertmanager and exec channels are tested against them: alerts
// posted to Alertmanager reach the receiver as Alertmanager's webhook, a silence keeps one quiet,
// an alert posted with a past endsAt leaves the API; the receiver comes back on its port after a
// SIGKILL; its --stdin mode records what an exec channel hands it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int64_t UnixMillis(SystemClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

json PostableAlert(const std::string& service, SystemClock::time_point starts,
                   SystemClock::time_point ends) {
  return {
      {"labels", {{"alertname", "HighErrorRate"}, {"service", service}, {"severity", "critical"}}},
      {"annotations", {{"summary", "error rate above 5% on " + service}}},
      {"startsAt", Rfc3339(starts)},
      {"endsAt", Rfc3339(ends)}};
}

// Alertmanager notifications (as the receiver recorded them) with an alert for `service` in
// `status` ("firing" or "resolved").
std::vector<json> NotificationsFor(const WebhookReceiver& r, const std::string& service,
                                   const std::string& status) {
  std::vector<json> out;
  for (const json& d : r.AlertmanagerNotifications()) {
    for (const json& a : d["body"]["alerts"]) {
      if (a["labels"].value("service", "") == service && a.value("status", "") == status) {
        out.push_back(d);
        break;
      }
    }
  }
  return out;
}

std::optional<json> OnlyAlert(const std::vector<json>& alerts) {
  if (alerts.size() != 1) return std::nullopt;
  return alerts[0];
}

TEST(AlertmanagerHarness, AlertIsNotifiedSilencedOneStaysQuietAndResolvedOneLeavesTheApi) {
  TempDir dir;
  WebhookReceiver receiver(dir.path());
  AlertmanagerOptions options;
  options.webhook_url = receiver.url("/alertmanager");
  options.group_wait = "0s";
  options.group_interval = "1s";
  Alertmanager am(options);

  // --cluster.listen-address= (empty) turns gossip off.
  const HttpResult status = Http("GET", am.url() + "/api/v2/status");
  ASSERT_EQ(status.status, 200) << status.error;
  EXPECT_EQ(json::parse(status.body)["cluster"]["status"], "disabled") << status.body;

  // 1. An alert posted now, ending in 5 minutes: listed, and notified as firing.
  const auto starts = SystemClock::now();
  HttpResult r = Http("POST", am.url() + "/api/v2/alerts",
                      json::array({PostableAlert("shop", starts, starts + 5min)}).dump(),
                      {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;

  const AlertQuery shop{.filter = {{"service", "shop"}}};
  std::optional<json> listed;
  ASSERT_TRUE(WaitFor(
      [&] {
        listed = OnlyAlert(am.Alerts(shop));
        return listed && (*listed)["status"]["state"] == "active";
      },
      10s, 50ms))
      << am.process().log();
  EXPECT_EQ((*listed)["labels"],
            json({{"alertname", "HighErrorRate"}, {"service", "shop"}, {"severity", "critical"}}));
  EXPECT_EQ((*listed)["receivers"], json::array({{{"name", "webhook"}}}));
  EXPECT_EQ((*listed)["startsAt"], Rfc3339(starts));
  EXPECT_EQ((*listed)["endsAt"], Rfc3339(starts + 5min));

  ASSERT_TRUE(
      WaitFor([&] { return !NotificationsFor(receiver, "shop", "firing").empty(); }, 15s, 20ms))
      << am.process().log();
  const json firing = NotificationsFor(receiver, "shop", "firing")[0];
  std::printf("alert posted -> firing notification received: %lld ms (group_wait 0s)\n",
              static_cast<long long>(firing["received_ms"].get<int64_t>() - UnixMillis(starts)));
  std::printf("Alertmanager webhook: %s\n", firing["body"].dump().c_str());
  EXPECT_EQ(firing["path"], "/alertmanager");
  EXPECT_EQ(firing["verified"], false);
  EXPECT_EQ(firing["signature_checked"], false);
  EXPECT_EQ(firing["error"], "");
  EXPECT_EQ(firing["responded"], 200);
  EXPECT_EQ(firing["content_type"], "application/json");
  const json& body = firing["body"];
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["receiver"], "webhook");
  EXPECT_EQ(body["externalURL"], am.url());
  EXPECT_EQ(body["groupLabels"], json({{"alertname", "HighErrorRate"}, {"service", "shop"}}));
  EXPECT_EQ(body["commonLabels"], (*listed)["labels"]);
  ASSERT_EQ(body["alerts"].size(), 1u);
  EXPECT_EQ(body["alerts"][0]["status"], "firing");
  EXPECT_EQ(body["alerts"][0]["labels"], (*listed)["labels"]);
  EXPECT_EQ(body["alerts"][0]["fingerprint"], (*listed)["fingerprint"]);
  EXPECT_EQ(body["alerts"][0]["annotations"]["summary"], "error rate above 5% on shop");

  // 2. A silence for service=cart, then an alert for cart: listed as suppressed, never notified.
  const std::string silence = am.AddSilence({{"service", "cart"}}, 1h);
  ASSERT_FALSE(silence.empty());
  ASSERT_TRUE(
      WaitFor([&] { return am.Silence(silence)["status"]["state"] == "active"; }, 10s, 50ms));

  r = Http(
      "POST", am.url() + "/api/v2/alerts",
      json::array({PostableAlert("cart", SystemClock::now(), SystemClock::now() + 5min)}).dump(),
      {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  const AlertQuery cart{.filter = {{"service", "cart"}}};
  ASSERT_TRUE(WaitFor(
      [&] {
        listed = OnlyAlert(am.Alerts(cart));
        return listed && (*listed)["status"]["state"] == "suppressed";
      },
      10s, 50ms));
  EXPECT_EQ((*listed)["status"]["silencedBy"], json::array({silence}));
  EXPECT_EQ((*listed)["status"]["inhibitedBy"], json::array());

  // The query flags: active=true&silenced=false is shop only; silenced=true&active=false is cart.
  AlertQuery unsilenced{.active = true, .silenced = false};
  std::vector<json> alerts = am.Alerts(unsilenced);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["labels"]["service"], "shop");
  alerts = am.Alerts(AlertQuery{.active = false, .silenced = true});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["labels"]["service"], "cart");

  // Quiet, soundly: the API computes "suppressed" when asked, so first wait until the dispatcher
  // has routed the cart alert into its aggregation group (flushed, muted, at once: group_wait 0s).
  // Then an unsilenced canary, posted after that, must be notified, and one more group_interval
  // must pass (the cart group's next flush): still nothing for cart.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const json& g : am.Groups()) {
          if (g["labels"].value("service", "") == "cart") return true;
        }
        return false;
      },
      10s, 50ms));
  r = Http(
      "POST", am.url() + "/api/v2/alerts",
      json::array({PostableAlert("canary", SystemClock::now(), SystemClock::now() + 5min)}).dump(),
      {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  ASSERT_TRUE(
      WaitFor([&] { return !NotificationsFor(receiver, "canary", "firing").empty(); }, 15s, 20ms));
  EXPECT_FALSE(
      WaitFor([&] { return !NotificationsFor(receiver, "cart", "firing").empty(); }, 1500ms, 50ms))
      << "a silenced alert was notified: " << ReadFile(receiver.out_path());

  // 3. The first alert again with endsAt in the past: gone from the API at once, and (with
  // send_resolved) notified as resolved at the group's next flush.
  const auto resolved_at = SystemClock::now();
  r = Http("POST", am.url() + "/api/v2/alerts",
           json::array({PostableAlert("shop", starts, SystemClock::now() - 1s)}).dump(),
           {"Content-Type: application/json"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  ASSERT_TRUE(WaitFor([&] { return am.Alerts(shop).empty(); }, 10s, 50ms))
      << json(am.Alerts(shop)).dump();
  for (const json& a : am.Alerts()) EXPECT_NE(a["labels"]["service"], "shop") << a.dump();
  ASSERT_TRUE(
      WaitFor([&] { return !NotificationsFor(receiver, "shop", "resolved").empty(); }, 15s, 20ms))
      << am.process().log();
  const json resolved_delivery = NotificationsFor(receiver, "shop", "resolved")[0];
  std::printf(
      "endsAt in the past posted -> resolved notification received: %lld ms "
      "(group_interval 1s)\n",
      static_cast<long long>(resolved_delivery["received_ms"].get<int64_t>() -
                             UnixMillis(resolved_at)));
  std::printf("resolved webhook: %s\n", resolved_delivery["body"].dump().c_str());
  const json& resolved = resolved_delivery["body"];
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["alerts"][0]["fingerprint"], body["alerts"][0]["fingerprint"]);

  // The silenced alert is still there, still suppressed, and was never notified.
  listed = OnlyAlert(am.Alerts(cart));
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)["status"]["state"], "suppressed");
  EXPECT_TRUE(NotificationsFor(receiver, "cart", "firing").empty());
  EXPECT_EQ(receiver.AlertmanagerNotifications().size(), receiver.Deliveries().size());
}

// A TCP connection to 127.0.0.1:port, or -1.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes (true) or `limit` passes (false).
bool ReadUntilClosed(int fd, std::chrono::milliseconds limit, std::string* got) {
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  while (Clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return true;  // a reset closes it too
    if (n > 0) got->append(buf, static_cast<size_t>(n));
  }
  return false;
}

// errno of bind() on 127.0.0.1:port without SO_REUSEADDR, 0 if it succeeds.
int PlainBindError(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int error = rc == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

TEST(WebhookReceiverFixture, RestartsOnTheSamePortRightAfterKill9) {
  TempDir dir;
  WebhookReceiver receiver(dir.path());
  const int port = receiver.port();

  // A keep-alive connection the receiver accepted and answered: when the receiver dies, its end is
  // closed first, so the kernel keeps it (FIN_WAIT_2, then TIME_WAIT once we close ours).
  const int fd = Connect(port);
  ASSERT_GE(fd, 0);
  const std::string request =
      "POST /before HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n{\"n\": \"one\"}\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(receiver.WaitDeliveries(1, 10s));
  // The receiver records a delivery before it answers: wait for the answer itself.
  std::string answer;
  const auto answered_by = Clock::now() + 10s;
  char buf[4096];
  while (answer.find("\r\n\r\nok") == std::string::npos && Clock::now() < answered_by) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;

  receiver.Kill9();
  std::string rest;
  const bool closed = ReadUntilClosed(fd, 10s, &rest);
  ::close(fd);
  ASSERT_TRUE(closed) << "the killed receiver's end of the connection was not closed";
  // The premise: without SO_REUSEADDR the port cannot be bound now.
  EXPECT_EQ(PlainBindError(port), EADDRINUSE) << std::strerror(PlainBindError(port));

  const auto restart = Clock::now();
  ASSERT_TRUE(receiver.Restart()) << ReadFile(dir.path() + "/receiver.log");
  std::printf("receiver restarted on the same port in %.3f s\n", SecondsSince(restart));
  EXPECT_EQ(receiver.port(), port);
  const HttpResult r =
      Http("POST", receiver.url("/after"), "{\"n\": \"two\"}", {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "ok");
  ASSERT_TRUE(receiver.WaitDeliveries(2, 10s));
  const std::vector<json> d = receiver.Deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0]["path"], "/before");
  EXPECT_EQ(d[0]["body"], json({{"n", "one"}}));
  EXPECT_EQ(d[1]["path"], "/after");
  EXPECT_EQ(d[1]["body"], json({{"n", "two"}}));
}

TEST(WebhookReceiverFixture, RecordsUnsignedPostsOnAnyPathWithoutASecret) {
  TempDir dir;
  ReceiverOptions options;
  options.fail_first = 1;
  WebhookReceiver receiver(dir.path(), options);

  // Slack-style JSON: the first accepted delivery is refused on purpose (503), the retry taken.
  const std::string slack = R"({"text":"rollback.started shop","blocks":[]})";
  HttpResult r = Http("POST", receiver.url("/services/T000/B000/XXXX"), slack,
                      {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 503);
  r = Http("POST", receiver.url("/services/T000/B000/XXXX"), slack,
           {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  // Not JSON: kept as a string.
  r = Http("POST", receiver.url("/plain?x=1"), "not json {", {"Content-Type: text/plain"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Http("GET", receiver.url("/")).status, 405);

  ASSERT_TRUE(receiver.WaitDeliveries(3, 10s));
  const std::vector<json> d = receiver.Deliveries();
  ASSERT_EQ(d.size(), 3u) << ReadFile(receiver.out_path());
  EXPECT_EQ(d[0]["responded"], 503);
  for (const json& x : d) {
    EXPECT_EQ(x["verified"], false);
    EXPECT_EQ(x["signature_checked"], false);
    EXPECT_EQ(x["error"], "");
    EXPECT_TRUE(x["webhook_id"].is_null());
    EXPECT_TRUE(x["webhook_timestamp"].is_null());
    EXPECT_TRUE(x["received_ms"].is_number_integer());
  }
  EXPECT_EQ(d[1]["path"], "/services/T000/B000/XXXX");
  EXPECT_EQ(d[1]["responded"], 200);
  EXPECT_EQ(d[1]["body"], json::parse(slack));
  EXPECT_EQ(d[1]["content_type"], "application/json");
  EXPECT_EQ(d[2]["path"], "/plain?x=1");
  EXPECT_EQ(d[2]["body"], "not json {");
}

// Runs the receiver in --stdin mode with `input` on stdin; the exit status, -1 when it hangs.
int RunStdin(const std::string& dir, const std::string& input, std::vector<std::string> args,
             std::vector<std::string> env = {}) {
  static int runs = 0;
  const std::string in = dir + "/stdin." + std::to_string(++runs);
  WriteFile(in, input);
  std::vector<std::string> argv = {BinaryPath("rollbackd-webhook-receiver"), "--stdin"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, dir + "/stdin.log", std::move(env), in);
  return p.WaitExit(10s).value_or(-1);
}

TEST(WebhookReceiverFixture, StdinModeAppendsOneLinePerRunAndExitsAsTold) {
  TempDir dir;
  const std::string out = dir.path() + "/exec.jsonl";
  const std::string event = R"({"event":"rollback.started","service":"shop","id":"evt_1"})";

  EXPECT_EQ(RunStdin(dir.path(), event + "\n", {"--out", out, "--", "extra", "--not-a-flag"},
                     {"ROLLBACKD_EVENT=rollback.started", "ROLLBACKD_SERVICE=shop",
                      "OTHER_VARIABLE=left-out"}),
            0);
  EXPECT_EQ(RunStdin(dir.path(), "plain text", {"--out", out, "--exit", "3"}), 3);
  std::vector<json> lines = ReadJsonLines(out);
  ASSERT_EQ(lines.size(), 2u) << ReadFile(out);
  EXPECT_EQ(lines[0]["stdin"], json::parse(event));
  EXPECT_EQ(lines[0]["argv"], json({BinaryPath("rollbackd-webhook-receiver"), "--stdin", "--out",
                                    out, "--", "extra", "--not-a-flag"}));
  EXPECT_EQ(lines[0]["env"]["ROLLBACKD_EVENT"], "rollback.started");
  EXPECT_EQ(lines[0]["env"]["ROLLBACKD_SERVICE"], "shop");
  EXPECT_FALSE(lines[0]["env"].contains("OTHER_VARIABLE"));
  for (const auto& [name, value] : lines[0]["env"].items()) {
    EXPECT_EQ(name.rfind("ROLLBACKD_", 0), 0u) << name;
  }
  EXPECT_EQ(lines[0]["exit"], 0);
  EXPECT_EQ(lines[1]["stdin"], "plain text");
  EXPECT_EQ(lines[1]["exit"], 3);

  // --fail-first 2: the runs that find fewer than 2 lines in the file fail; then success.
  const std::string retries = dir.path() + "/retries.jsonl";
  const std::vector<std::string> flaky = {"--out", retries, "--fail-first", "2", "--exit", "75"};
  EXPECT_EQ(RunStdin(dir.path(), event, flaky), 75);
  EXPECT_EQ(RunStdin(dir.path(), event, flaky), 75);
  EXPECT_EQ(RunStdin(dir.path(), event, flaky), 0);
  EXPECT_EQ(ReadJsonLines(retries).size(), 3u);

  // Concurrent runs with large inputs: whole lines, none interleaved.
  const std::string big = json({{"payload", std::string(100000, 'x')}}).dump();
  const std::string concurrent = dir.path() + "/concurrent.jsonl";
  WriteFile(dir.path() + "/big.json", big);
  std::vector<std::unique_ptr<Process>> procs;
  for (int i = 0; i < 8; ++i) {
    procs.push_back(std::make_unique<Process>(
        std::vector<std::string>{BinaryPath("rollbackd-webhook-receiver"), "--stdin", "--out",
                                 concurrent},
        dir.path() + "/concurrent.log", std::vector<std::string>{}, dir.path() + "/big.json"));
  }
  for (auto& p : procs) EXPECT_EQ(p->WaitExit(10s), 0);
  const std::vector<json> all = ReadJsonLines(concurrent);
  ASSERT_EQ(all.size(), 8u);
  for (const json& l : all) EXPECT_EQ(l["stdin"], json::parse(big));

  // A server flag in --stdin mode is a usage error (2), and nothing is written.
  EXPECT_EQ(RunStdin(dir.path(), event, {"--out", out, "--listen", "127.0.0.1:0"}), 2);
  EXPECT_EQ(ReadJsonLines(out).size(), 2u);
}

}  // namespace
}  // namespace rollbackd::it
