// The notifier against real HTTP receivers on loopback: a recording receiver that answers with
// scripted statuses, a port nobody listens on, and one that accepts and never answers. Retry waits
// are a few milliseconds; every wait is bounded (RunUntil). The same notifier on fakes, as
// timelines without sleeping: notifier_timeline_test.cc.
#include "daemon/notify/notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config/loader.h"
#include "daemon/io/clock.h"
#include "daemon/io/exec_runner.h"
#include "daemon/io/http_client.h"
#include "tests/unit/loop_util.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Received {
  std::string target;                          // "/hook", "/api/v2/alerts"
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// A webhook receiver on 127.0.0.1:0 (Boost.Beast, synchronous, a thread per connection). It
// records every request and answers the n-th (from 0) with statuses[n], or with the last status
// once past the end.
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses)
      : statuses_(std::move(statuses)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Receiver() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }

  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }
  std::vector<Received> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.push_back(socket.native_handle());
      workers_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      Received got;
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        got.headers[name] = std::string(f.value());
      }
      got.body = req.body();
      got.target = std::string(req.target());
      int status;
      {
        std::lock_guard<std::mutex> lock(mu_);
        status = statuses_[std::min(requests_.size(), statuses_.size() - 1)];
        requests_.push_back(std::move(got));
      }
      http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
      res.body() = "status " + std::to_string(status);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  const std::vector<int> statuses_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<Received> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread accept_thread_;
};

// Accepts connections (the kernel does, into the backlog) and never answers.
class StuckReceiver {
 public:
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
};

// A URL where nothing listens: the port was bound and released.
std::string RefusingUrl() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return "http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/hook";
}

// The Standard Webhooks signature computed here with OpenSSL directly, not with SignWebhook.
std::string ExpectedSignature(const std::string& key, const Received& r) {
  const std::string content =
      r.headers.at("webhook-id") + "." + r.headers.at("webhook-timestamp") + "." + r.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, mac, static_cast<int>(mac_len));
  return "v1," + std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Event Firing(Severity severity = Severity::kCritical, std::string service = "checkout") {
  Event e;
  e.kind = EventKind::kTriggerFiring;
  e.time = Time(1'700'000'000'000ms);
  e.service = std::move(service);
  e.trigger = "error_rate";
  e.severity = severity;
  e.labels = {{"team", "payments"}};
  e.value = 0.31;
  e.threshold = 0.02;
  e.reason = "value 0.31 > 0.02 held 1m >= 1m";
  e.id = MakeEventId(e.kind, e.service, e.trigger, 0, e.time);
  return e;
}

// Everything this process logs while it lives. spdlog's default logger writes to stdout, the
// daemon's (SetUpLogging) to stderr: both are captured.
class LogCapture {
 public:
  LogCapture() {
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
  }
  ~LogCapture() { Text(); }
  std::string Text() {
    if (!text_) {
      text_ = testing::internal::GetCapturedStdout() + testing::internal::GetCapturedStderr();
    }
    return *text_;
  }

 private:
  std::optional<std::string> text_;
};

// The real clock's steady time and timers, with a wall clock that moves a second each time it is
// read, so that each attempt has its own webhook-timestamp and ages pass quickly.
class TickingClock : public Clock {
 public:
  TickingClock(Clock& real, Time& now) : real_(real), now_(now) {}
  WallTime WallNow() override { return now_ += 1s; }
  SteadyTime SteadyNow() override { return real_.SteadyNow(); }
  std::unique_ptr<Timer> NewTimer() override { return real_.NewTimer(); }

 private:
  Clock& real_;
  Time& now_;
};

class NotifierTest : public ::testing::Test {
 protected:
  NotifierTest() {
    char tmpl[] = "/tmp/rollbackd_notifier_test.XXXXXX";
    const char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    dir_ = made != nullptr ? made : "/tmp";
  }
  ~NotifierTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Retries after about 5 ms, 10 ms, 20 ms.
  NotifierOptions Fast() {
    NotifierOptions o;
    o.initial_backoff = 5ms;
    o.max_backoff = 20ms;
    return o;
  }

  // On the real transports and timers; the wall clock ticks a second per reading (TickingClock)
  // unless `clock` says otherwise.
  Notifier& Make(NotifierOptions options, Clock* clock = nullptr) {
    notifier_ = std::make_unique<Notifier>(http_, exec_, clock ? *clock : ticking_,
                                           RealFileSystem(), std::move(options));
    notifier_->SetObserver([this](std::string_view channel, std::string_view result) {
      outcomes_.push_back(std::string(channel) + ":" + std::string(result));
    });
    return *notifier_;
  }
  Notifier& Make() { return Make(Fast()); }

  void WriteSecret(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }

  // `toml` as rollbackd.toml in the test's folder; relative secret_file paths start there.
  Config Parse(const std::string& toml) {
    Diagnostics d;
    auto c = ParseDaemonConfig(toml, dir_ + "/rollbackd.toml", &d);
    EXPECT_TRUE(c.has_value()) << (d.all().empty() ? "" : d.all()[0].ToString());
    return c.value_or(Config{});
  }
  void Load(Notifier& n, const std::string& toml) {
    std::vector<std::string> errors;
    EXPECT_TRUE(n.Configure(Parse(toml), &errors)) << ::testing::PrintToString(errors);
  }

  // One webhook channel, "oncall", that every event goes to.
  static std::string Webhook(const std::string& url, const std::string& extra = "") {
    return "[channel.oncall]\ntype = \"webhook\"\nurl = \"" + url + "\"\n" + extra +
           "\n[[route]]\nchannels = [\"oncall\"]\n";
  }

  bool RunUntilOutcomes(size_t n) {
    return testutil::RunUntil(io_, [&] { return outcomes_.size() >= n; });
  }

  std::string dir_;
  Time now_ = Time(1'700'000'000'500ms);
  asio::io_context io_;
  HttpClient http_{io_};
  ExecRunner exec_{io_};
  AsioClock clock_{io_};
  TickingClock ticking_{clock_, now_};
  std::vector<std::string> outcomes_;   // "channel:result", in order
  std::unique_ptr<Notifier> notifier_;  // last: destroyed before the client and loop it uses
};

TEST_F(NotifierTest, WebhookIsSignedAsStandardWebhooksSay) {
  Receiver receiver({200});
  Notifier& n = Make();
  WriteSecret("oncall.secret", "s3cret-key\n");
  Load(n, Webhook(receiver.Url(), "secret_file = \"oncall.secret\""));
  const Event e = Firing();
  n.Send(e);
  EXPECT_EQ(n.pending(), 1u);
  ASSERT_TRUE(RunUntilOutcomes(1));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:delivered"));
  EXPECT_EQ(n.pending(), 0u);

  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  const Received& r = got[0];
  EXPECT_EQ(r.body, EventToJson(e));
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("user-agent"), "rollbackd");
  EXPECT_EQ(r.headers.at("webhook-id"), e.id);
  // Whole seconds of the (injected) clock at the attempt.
  const int64_t ts = std::stoll(r.headers.at("webhook-timestamp"));
  EXPECT_GT(ts, 1700000000);
  EXPECT_LE(ts, std::chrono::floor<std::chrono::seconds>(now_).time_since_epoch().count());
  EXPECT_EQ(r.headers.at("webhook-signature"), ExpectedSignature("s3cret-key", r));
}

TEST_F(NotifierTest, WebhookWithoutSecretIsNotSigned) {
  Receiver receiver({200});
  Notifier& n = Make();
  Load(n, Webhook(receiver.Url()));
  n.Send(Firing());
  ASSERT_TRUE(RunUntilOutcomes(1));
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.count("webhook-signature"), 0u);
  EXPECT_EQ(got[0].headers.count("webhook-id"), 1u);
}

TEST_F(NotifierTest, WhsecSecretKeysTheHmacWithTheDecodedBytes) {
  Receiver receiver({200});
  Notifier& n = Make();
  const std::string key("\x01\x02 binary \xff\x00 key", 17);
  WriteSecret("oncall.secret", "whsec_" + Base64(key) + "\n");
  Load(n, Webhook(receiver.Url(), "secret_file = \"oncall.secret\""));
  n.Send(Firing());
  ASSERT_TRUE(RunUntilOutcomes(1));
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.at("webhook-signature"), ExpectedSignature(key, got[0]));
}

TEST_F(NotifierTest, RetriesAfter503WithTheSameIdAndAFreshTimestamp) {
  Receiver receiver({503, 503, 200});
  Notifier& n = Make();
  WriteSecret("oncall.secret", "s3cret-key");
  Load(n, Webhook(receiver.Url(), "secret_file = \"oncall.secret\""));
  const Event e = Firing();
  n.Send(e);
  ASSERT_TRUE(RunUntilOutcomes(3));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:retrying", "oncall:delivered"));
  EXPECT_EQ(n.pending(), 0u);

  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].headers.at("webhook-id"), e.id) << i;
    if (i > 0) {  // each attempt is stamped anew
      EXPECT_GT(std::stoll(got[i].headers.at("webhook-timestamp")),
                std::stoll(got[i - 1].headers.at("webhook-timestamp")))
          << i;
    }
    EXPECT_EQ(got[i].headers.at("webhook-signature"), ExpectedSignature("s3cret-key", got[i])) << i;
    EXPECT_EQ(got[i].body, got[0].body) << i;
  }
}

TEST_F(NotifierTest, OnlyTransientStatusesAreRetried) {
  struct Case {
    int status;
    bool retried;
  };
  for (const Case c :
       {Case{408, true}, Case{429, true}, Case{500, true}, Case{502, true}, Case{400, false},
        Case{401, false}, Case{404, false}, Case{410, false}, Case{301, false}}) {
    SCOPED_TRACE(c.status);
    Receiver receiver({c.status, 200});
    outcomes_.clear();
    Notifier& n = Make();
    Load(n, Webhook(receiver.Url()));
    n.Send(Firing());
    ASSERT_TRUE(RunUntilOutcomes(c.retried ? 2 : 1));
    if (c.retried) {
      EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:delivered"));
      EXPECT_EQ(receiver.requests().size(), 2u);
    } else {
      EXPECT_THAT(outcomes_, ElementsAre("oncall:rejected"));
      EXPECT_EQ(receiver.requests().size(), 1u);
    }
    EXPECT_EQ(n.pending(), 0u);  // no retry waiting either
  }
}

TEST_F(NotifierTest, RejectionIsLoggedWithStatusAndTheStartOfTheBody) {
  Receiver receiver({400});
  Notifier& n = Make();
  WriteSecret("oncall.secret", "s3cret-key");
  Load(n, Webhook(receiver.Url(), "secret_file = \"oncall.secret\""));
  const Event e = Firing();
  LogCapture log;
  n.Send(e);
  ASSERT_TRUE(RunUntilOutcomes(1));
  const std::string text = log.Text();
  EXPECT_THAT(text, HasSubstr("notification to channel oncall rejected after 1 attempt: "
                              "trigger.firing of service checkout, notification " +
                              e.id + "; not retried; last error: HTTP 400: status 400"));
  EXPECT_THAT(text, Not(HasSubstr("s3cret-key")));
  EXPECT_THAT(text, Not(HasSubstr(receiver.Url())));
}

TEST_F(NotifierTest, RefusedConnectionsAreRetriedUntilMaxRetriesThenExpire) {
  Notifier& n = Make();
  Load(n, Webhook(RefusingUrl(), "max_retries = 2"));
  const Event e = Firing();
  LogCapture log;
  n.Send(e);
  ASSERT_TRUE(RunUntilOutcomes(3));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:retrying", "oncall:expired"));
  EXPECT_EQ(n.pending(), 0u);
  const std::string text = log.Text();
  EXPECT_THAT(text, HasSubstr("notification to channel oncall expired after 3 attempts: "
                              "trigger.firing of service checkout, notification " +
                              e.id + "; max_retries 2 reached; last error: "));
  EXPECT_THAT(text, HasSubstr("Couldn't connect"));
}

TEST_F(NotifierTest, GivesUpWhenTheNextAttemptWouldBeTooLate) {
  Notifier& n = Make();
  // The test clock moves a second per reading: old enough after the first attempt.
  Load(n, Webhook(RefusingUrl(), "max_age = \"1500ms\""));
  n.Send(Firing());
  ASSERT_TRUE(RunUntilOutcomes(1));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:expired"));
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(NotifierTest, RoutesDecideTheChannels) {
  Notifier& n = Make();
  Load(n, R"(
[channel.pager]
type = "log"
[channel.team]
type = "log"
[channel.rest]
type = "log"
[[route]]
match    = { severity = "critical" }
channels = ["pager"]
continue = true
[[route]]
match    = { service = "checkout" }
channels = ["team"]
[[route]]
channels = ["rest"]
)");
  // Log channels deliver inside Send: no loop to run.
  n.Send(Firing(Severity::kCritical, "checkout"));
  EXPECT_THAT(outcomes_, ElementsAre("pager:delivered", "team:delivered"));  // not "rest"
  outcomes_.clear();
  n.Send(Firing(Severity::kWarning, "checkout"));
  EXPECT_THAT(outcomes_, ElementsAre("team:delivered"));
  outcomes_.clear();
  n.Send(Firing(Severity::kWarning, "search"));
  EXPECT_THAT(outcomes_, ElementsAre("rest:delivered"));
}

TEST_F(NotifierTest, AnEventNoRouteMatchesIsNotSent) {
  Receiver receiver({200});
  Notifier& n = Make();
  Load(n, "[channel.oncall]\ntype = \"webhook\"\nurl = \"" + receiver.Url() +
              "\"\n[[route]]\nmatch = { severity = \"critical\" }\nchannels = [\"oncall\"]\n");
  n.Send(Firing(Severity::kWarning));
  EXPECT_EQ(n.pending(), 0u);  // a delivery would have started inside Send
  EXPECT_THAT(outcomes_, IsEmpty());
}

TEST_F(NotifierTest, MinSeverityFiltersPerChannel) {
  Notifier& n = Make();
  Load(n, R"(
[channel.all]
type = "log"
[channel.urgent]
type = "log"
min_severity = "critical"
[[route]]
channels = ["all", "urgent"]
)");
  n.Send(Firing(Severity::kWarning));
  EXPECT_THAT(outcomes_, ElementsAre("all:delivered"));
  outcomes_.clear();
  n.Send(Firing(Severity::kCritical));
  EXPECT_THAT(outcomes_, ElementsAre("all:delivered", "urgent:delivered"));
}

TEST_F(NotifierTest, LogChannelWritesTheEventJson) {
  Notifier& n = Make();
  Load(n, "[channel.audit]\ntype = \"log\"\n[[route]]\nchannels = [\"audit\"]\n");
  const Event e = Firing();
  LogCapture log;
  n.Send(e);
  EXPECT_THAT(log.Text(), HasSubstr("notification to channel audit: " + EventToJson(e)));
  EXPECT_THAT(outcomes_, ElementsAre("audit:delivered"));
}

TEST_F(NotifierTest, ConfigureFailureNamesTheFileAndKeepsTheOldConfiguration) {
  Notifier& n = Make();
  Load(n, "[channel.audit]\ntype = \"log\"\n[[route]]\nchannels = [\"audit\"]\n");

  WriteSecret("empty.secret", "\n");
  WriteSecret("bad.secret", "whsec_not*base64!");
  std::vector<std::string> errors;
  EXPECT_FALSE(n.Configure(Parse(R"(
[channel.missing]
type = "webhook"
url = "http://127.0.0.1:1/hook"
secret_file = "nowhere.secret"
[channel.empty]
type = "webhook"
url = "http://127.0.0.1:1/hook"
secret_file = "empty.secret"
[channel.bad]
type = "webhook"
url = "http://127.0.0.1:1/hook"
secret_file = "bad.secret"
[[route]]
channels = ["missing", "empty", "bad"]
)"),
                           &errors));
  EXPECT_THAT(errors, ElementsAre("channel.bad.secret_file: " + dir_ +
                                      "/bad.secret: a whsec_ secret must be followed by standard "
                                      "base64",
                                  "channel.empty.secret_file: " + dir_ +
                                      "/empty.secret: the secret is empty",
                                  "channel.missing.secret_file: " + dir_ +
                                      "/nowhere.secret: cannot read: No such file or directory"));
  for (const std::string& error : errors) EXPECT_THAT(error, Not(HasSubstr("not*base64")));

  n.Send(Firing());
  EXPECT_THAT(outcomes_, ElementsAre("audit:delivered"));
}

TEST_F(NotifierTest, ConfigureRejectsARouteToAnUnknownChannel) {
  Notifier& n = Make();
  Config c = Parse("[channel.audit]\ntype = \"log\"\n[[route]]\nchannels = [\"audit\"]\n");
  c.routes[0].channels.push_back("nowhere");  // the loader would refuse this; a caller may not
  std::vector<std::string> errors;
  EXPECT_FALSE(n.Configure(c, &errors));
  EXPECT_THAT(errors, ElementsAre("route[0].channels: unknown channel nowhere"));
}

TEST_F(NotifierTest, AfterAReloadQueuedNotificationsGoWithTheNewSettings) {
  Receiver before({503});
  Receiver after({200});
  Notifier& n = Make();
  WriteSecret("old.secret", "old-key");
  WriteSecret("new.secret", "new-key");
  Load(n, Webhook(before.Url(), "secret_file = \"old.secret\""));
  const Event e = Firing();
  n.Send(e);
  Load(n, Webhook(after.Url(), "secret_file = \"new.secret\""));
  ASSERT_TRUE(RunUntilOutcomes(2));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:delivered"));
  ASSERT_EQ(before.requests().size(), 1u);  // the attempt in flight at the reload
  const auto got = after.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.at("webhook-id"), e.id);
  EXPECT_EQ(got[0].headers.at("webhook-signature"), ExpectedSignature("new-key", got[0]));
}

TEST_F(NotifierTest, AReloadThatRemovesAChannelDropsItsQueue) {
  Notifier& n = Make();
  Load(n, Webhook(RefusingUrl()));
  n.Send(Firing());
  ASSERT_TRUE(RunUntilOutcomes(1));  // retrying
  EXPECT_EQ(n.pending(), 1u);
  Load(n, "[channel.audit]\ntype = \"log\"\n[[route]]\nchannels = [\"audit\"]\n");
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:dropped"));
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(NotifierTest, DrainWithNothingPendingCallsDoneSoon) {
  Notifier& n = Make();
  bool done = false;
  n.Drain(10s, [&] { done = true; });
  EXPECT_FALSE(done);  // never from inside Drain
  EXPECT_TRUE(testutil::RunUntil(
      io_, [&] { return done; }, 1s));
}

TEST_F(NotifierTest, DrainLetsRetriesFinish) {
  Receiver receiver({503, 200});
  Notifier& n = Make();
  Load(n, Webhook(receiver.Url()));
  n.Send(Firing());
  bool done = false;
  n.Drain(10s, [&] { done = true; });
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return done; }));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:delivered"));
  EXPECT_EQ(n.pending(), 0u);
}

TEST_F(NotifierTest, DrainAbandonsAStuckDeliveryAtTheLimit) {
  StuckReceiver receiver;
  Notifier& n = Make();
  Load(n, Webhook(receiver.Url(), "timeout = \"30s\""));
  const Event e = Firing();
  n.Send(e);
  LogCapture log;
  bool done = false;
  const auto start = std::chrono::steady_clock::now();
  n.Drain(100ms, [&] { done = true; });
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return done; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(n.pending(), 0u);  // without an outbox: lost, and said so
  EXPECT_THAT(outcomes_, ElementsAre("oncall:dropped"));
  EXPECT_THAT(log.Text(), HasSubstr("notification to channel oncall lost at shutdown: "
                                    "trigger.firing of service checkout, notification " +
                                    e.id));
}

TEST_F(NotifierTest, DestroyingWithDeliveriesPendingIsClean) {
  StuckReceiver stuck;
  NotifierOptions o = Fast();
  o.initial_backoff = o.max_backoff = 10s;  // the refused delivery waits for its retry
  Notifier& n = Make(o);
  Load(n, R"(
[channel.stuck]
type = "webhook"
url = ")" + stuck.Url() +
              R"("
timeout = "500ms"
[channel.down]
type = "webhook"
url = ")" + RefusingUrl() +
              R"("
[[route]]
channels = ["stuck", "down"]
)");
  n.Send(Firing());
  ASSERT_TRUE(RunUntilOutcomes(1));
  EXPECT_THAT(outcomes_, ElementsAre("down:retrying"));
  EXPECT_EQ(n.pending(), 2u);  // one waiting for its retry, one in flight

  notifier_.reset();
  // The stuck request times out in the client, which then calls back for a notifier that is gone.
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return http_.in_flight() == 0; }));
  io_.restart();
  io_.poll();
  EXPECT_THAT(outcomes_, ElementsAre("down:retrying"));
}

TEST_F(NotifierTest, OneChannelDeliversInTheOrderEventsHappened) {
  Receiver receiver({503, 200});  // the first attempt fails: the others wait behind it
  Notifier& n = Make();
  Load(n, Webhook(receiver.Url()));
  std::vector<Event> events;
  for (int i = 0; i < 3; ++i) {
    Event e = Firing();
    e.time += std::chrono::seconds(i);
    e.id = MakeEventId(e.kind, e.service, e.trigger, 0, e.time);
    events.push_back(e);
  }
  n.Send(events[0]);
  n.Send({events[1], events[2]});
  ASSERT_TRUE(RunUntilOutcomes(4));
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:delivered", "oncall:delivered",
                                     "oncall:delivered"));
  std::vector<std::string> ids;
  for (const Received& r : receiver.requests()) ids.push_back(r.headers.at("webhook-id"));
  EXPECT_THAT(ids, ElementsAre(events[0].id, events[0].id, events[1].id, events[2].id));
}

TEST_F(NotifierTest, TheOutboxKeepsWhatWasNotDeliveredAcrossARestart) {
  const std::string down = RefusingUrl();
  std::vector<Event> events;
  for (int i = 0; i < 3; ++i) {
    Event e = Firing(Severity::kCritical, "svc" + std::to_string(i));
    events.push_back(e);
  }
  {
    Notifier& n = Make();
    std::string error;
    ASSERT_TRUE(n.Open(dir_, &error)) << error;
    Load(n, Webhook(down));
    n.Send(events);
    ASSERT_TRUE(RunUntilOutcomes(1));  // the first attempt failed
    EXPECT_EQ(n.pending(), 3u);
    notifier_.reset();  // as a kill would: nothing is drained
  }
  EXPECT_TRUE(fs::exists(dir_ + "/outbox.jsonl"));
  Receiver receiver({200});
  outcomes_.clear();
  Notifier& n = Make();
  std::string error;
  ASSERT_TRUE(n.Open(dir_, &error)) << error;
  EXPECT_EQ(n.pending(), 0u);  // queued once the channels are known
  Load(n, Webhook(receiver.Url()));
  ASSERT_TRUE(RunUntilOutcomes(3));
  EXPECT_THAT(outcomes_,
              ElementsAre("oncall:delivered", "oncall:delivered", "oncall:delivered"));
  std::vector<std::string> ids;
  for (const Received& r : receiver.requests()) ids.push_back(r.headers.at("webhook-id"));
  EXPECT_THAT(ids, ElementsAre(events[0].id, events[1].id, events[2].id));
  EXPECT_EQ(receiver.requests()[1].body, EventToJson(events[1]));

  // Delivered means gone: a third start has nothing to send.
  notifier_.reset();
  Receiver third({200});
  Notifier& again = Make();
  ASSERT_TRUE(again.Open(dir_, &error)) << error;
  Load(again, Webhook(third.Url()));
  EXPECT_EQ(again.pending(), 0u);
}

TEST_F(NotifierTest, RecoverQueuesWhatTheOutboxNeverGotAndOnlyThat) {
  const Event e1 = Firing(Severity::kCritical, "a");
  const Event e2 = Firing(Severity::kCritical, "b");
  std::vector<OutboxEntry> round;
  std::string error;
  {
    Notifier& n = Make();
    ASSERT_TRUE(n.Open(dir_, &error)) << error;
    Load(n, Webhook(RefusingUrl()));
    round = n.Prepare({e1, e2});
    ASSERT_EQ(round.size(), 2u);
    n.Commit({round[0]});  // the crash comes before the second reaches the outbox
    notifier_.reset();
  }
  Receiver receiver({200});
  Notifier& n = Make();
  ASSERT_TRUE(n.Open(dir_, &error)) << error;
  Load(n, Webhook(receiver.Url()));
  EXPECT_EQ(n.Recover(round), 1u);
  ASSERT_TRUE(RunUntilOutcomes(2));
  std::vector<std::string> ids;
  for (const Received& r : receiver.requests()) ids.push_back(r.headers.at("webhook-id"));
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(e1.id, e2.id));
}

TEST_F(NotifierTest, AFullOutboxDropsTheOldestNotification) {
  Notifier& n = Make();
  std::string error;
  ASSERT_TRUE(n.Open(dir_, &error)) << error;
  Load(n, Webhook(RefusingUrl()) + "[outbox]\nmax_entries = 2\n");
  n.Send(Firing(Severity::kCritical, "a"));
  ASSERT_TRUE(RunUntilOutcomes(1));  // a: in flight, failed, waiting for its retry
  LogCapture log;
  n.Send(Firing(Severity::kCritical, "b"));
  n.Send(Firing(Severity::kCritical, "c"));  // a, the oldest, makes room
  EXPECT_EQ(n.pending(), 2u);
  EXPECT_THAT(outcomes_, ElementsAre("oncall:retrying", "oncall:dropped"));
  EXPECT_THAT(log.Text(), HasSubstr("notification to channel oncall dropped after 1 attempt: "
                                    "trigger.firing of service a"));
  EXPECT_THAT(log.Text(), HasSubstr("the outbox is full (max_entries 2"));
}

TEST_F(NotifierTest, SlackGetsTextAndBlocksAndGroupsOneServicesBurst) {
  Receiver receiver({200});
  Notifier& n = Make(Fast(), &clock_);  // the system's wall clock: group_wait is real time
  Load(n, R"(
[daemon]
external_url = "https://rollbackd.example"
[channel.chat]
type = "slack"
url = ")" + receiver.Url() + R"("
title = "{service}: {trigger} is {value}"
[[route]]
channels = ["chat"]
group_wait = "200ms"
)");
  Event latency = Firing();
  latency.trigger = "latency_p99";
  latency.value = 1.7;
  latency.threshold = 0.5;
  n.Send(Firing());
  n.Send(latency);  // within group_wait: one message
  ASSERT_TRUE(RunUntilOutcomes(2));
  EXPECT_THAT(outcomes_, ElementsAre("chat:delivered", "chat:delivered"));
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.count("webhook-signature"), 0u);
  const auto body = nlohmann::json::parse(got[0].body);
  EXPECT_THAT(body["text"].get<std::string>(), HasSubstr("checkout: error_rate is 0.31 (+1 more)"));
  const auto& blocks = body["blocks"];
  ASSERT_EQ(blocks.size(), 4u);  // header, a section per event, context
  EXPECT_EQ(blocks[0]["type"], "header");
  EXPECT_EQ(blocks[1]["type"], "section");
  EXPECT_THAT(blocks[2].dump(), HasSubstr("latency_p99"));
  EXPECT_THAT(blocks[2].dump(), HasSubstr("1.7 against threshold 0.5"));
  EXPECT_THAT(blocks[3].dump(), HasSubstr("<https://rollbackd.example/api/v1/status|status>"));
}

TEST_F(NotifierTest, AlertmanagerGetsAlertsWithLabelsAndAnnotations) {
  Receiver receiver({200});
  Notifier& n = Make();
  Load(n, R"(
[channel.am]
type = "alertmanager"
url = ")" + receiver.Url().substr(0, receiver.Url().size() - 5) + R"("
[[route]]
channels = ["am"]
)");
  Event firing = Firing();
  n.Send(firing);
  Event resolved = firing;
  resolved.kind = EventKind::kTriggerResolved;
  resolved.time += 30s;
  resolved.id = MakeEventId(resolved.kind, resolved.service, resolved.trigger, 0, resolved.time);
  n.Send(resolved);
  ASSERT_TRUE(RunUntilOutcomes(2));
  const auto got = receiver.requests();
  ASSERT_GE(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/api/v2/alerts");
  std::vector<nlohmann::json> alerts;
  for (const Received& r : got) {
    for (const auto& a : nlohmann::json::parse(r.body)) alerts.push_back(a);
  }
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["labels"]["alertname"], "error_rate");
  EXPECT_EQ(alerts[0]["labels"]["service"], "checkout");
  EXPECT_EQ(alerts[0]["labels"]["severity"], "critical");
  EXPECT_EQ(alerts[0]["labels"]["team"], "payments");
  EXPECT_EQ(alerts[0]["annotations"]["value"], "0.31");
  EXPECT_EQ(alerts[0]["annotations"]["threshold"], "0.02");
  EXPECT_EQ(alerts[0]["startsAt"], FormatTime(firing.time));
  EXPECT_EQ(alerts[1]["labels"], alerts[0]["labels"]);
  EXPECT_EQ(alerts[1]["endsAt"], FormatTime(resolved.time));
}

TEST_F(NotifierTest, ExecGetsTheEventOnStdinAndANonZeroExitIsRetried) {
  Notifier& n = Make();
  const std::string out = dir_ + "/stdin.json";
  Load(n, R"(
[channel.script]
type = "exec"
command = ["/usr/bin/tee", ")" + out + R"("]
[channel.failing]
type = "exec"
command = ["/bin/false"]
max_retries = 1
[[route]]
channels = ["script", "failing"]
)");
  const Event e = Firing();
  n.Send(e);
  ASSERT_TRUE(RunUntilOutcomes(3));
  EXPECT_THAT(outcomes_, ::testing::UnorderedElementsAre("script:delivered", "failing:retrying",
                                                         "failing:expired"));
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, EventToJson(e));
}

}  // namespace
}  // namespace rollbackd
