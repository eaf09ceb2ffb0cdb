// The API cannot be locked out (issue 17, finding 5): against a real `rollbackd run`, 500 idle
// connections and 64 that trickle a request a byte at a time, all from the loopback peer that
// Prometheus and the operator use too. While they are held, /healthz, /metrics and an authorised
// pause must each answer within 1 s: the scrape and the pause button survive an incident's leaky
// client. (Before the fix, the 65th connection on got 503 and the 129th was closed unanswered.)
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <thread>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Connections that hold the daemon's API: `idle` ones connect and say nothing; `trickling` ones
// send a request's start and then one byte every 100 ms until the daemon closes them.
class Attack {
 public:
  Attack(int port, int idle, int trickling) : server_(asio::ip::make_address("127.0.0.1"), port) {
    for (int i = 0; i < idle; ++i) Idle();
    for (int i = 0; i < trickling; ++i) Trickle(std::make_shared<Conn>(io_));
    thread_ = std::thread([this] {
      while (!stop_) io_.run_for(std::chrono::milliseconds(50));
    });
  }
  ~Attack() {
    stop_ = true;
    thread_.join();
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io), timer(io) {}
    tcp::socket socket;
    asio::steady_timer timer;
  };

  void Idle() {
    auto c = std::make_shared<Conn>(io_);
    c->socket.async_connect(server_, [c](error_code) {});
    idle_.push_back(c);  // held open on this side whatever the daemon does
  }

  void Trickle(std::shared_ptr<Conn> c) {
    c->socket.async_connect(server_, [this, c](error_code ec) {
      if (ec || stop_) return;
      static const std::string start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      asio::async_write(c->socket, asio::buffer(start), [this, c](error_code ec, size_t) {
        if (!ec) Tick(c);
      });
    });
  }

  void Tick(std::shared_ptr<Conn> c) {
    c->timer.expires_after(std::chrono::milliseconds(100));
    c->timer.async_wait([this, c](error_code ec) {
      if (ec || stop_) return;
      asio::async_write(c->socket, asio::buffer("a", 1), [this, c](error_code ec, size_t) {
        if (!ec) Tick(c);
      });
    });
  }

  asio::io_context io_;
  tcp::endpoint server_;
  std::vector<std::shared_ptr<Conn>> idle_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ApiLockout, HealthzMetricsAndAnAuthorisedPauseAnswerUnder500IdleAnd64TricklingConnections) {
  // 564 sockets here, and curl's: more than a default soft limit of 1024 leaves room for.
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_GE(files.rlim_cur, 1024u);

  Stack s(StackOptions{ErrorRateRule()});  // the sample is healthy: it never fires
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  const std::string url = s.daemon_url();
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  const std::vector<std::string> auth = {"Authorization: Bearer " + s.api_token()};

  Attack attack(port, 500, 64);
  // Let the attack settle: every idle connection opened, the tricklers into their requests
  // (longer than the server's 1 s slow-request mark, as a real one would be).
  const auto settled = std::chrono::steady_clock::now() + 3s;
  ASSERT_TRUE(WaitFor([&] { return std::chrono::steady_clock::now() >= settled; }, 10s));

  for (int round = 0; round < 3; ++round) {
    const HttpResult healthz = Http("GET", url + "/healthz", "", {}, 1s);
    EXPECT_EQ(healthz.status, 200) << "round " << round << ": " << healthz.error;
    const HttpResult metrics = Http("GET", url + "/metrics", "", {}, 1s);
    EXPECT_EQ(metrics.status, 200) << "round " << round << ": " << metrics.error;
    const HttpResult pause =
        Http("POST", url + "/api/v1/services/shop/" + (round % 2 == 0 ? "pause" : "resume"), "",
             auth, 1s);
    EXPECT_EQ(pause.status, 200) << "round " << round << ": " << pause.error << pause.body;
  }
  const HttpResult metrics = Http("GET", url + "/metrics", "", {}, 1s);
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  const std::optional<double> idle =
      MetricValue(metrics.body, "rollbackd_api_evictions_total{reason=\"idle\"}");
  ASSERT_TRUE(idle.has_value()) << metrics.body;
  EXPECT_GE(*idle, 400) << "the idle connections made room";
  const std::optional<double> open = MetricValue(metrics.body, "rollbackd_api_connections");
  ASSERT_TRUE(open.has_value());
  EXPECT_LE(*open, 128) << "bounded: 64 served and at most 64 being refused";
}

}  // namespace
}  // namespace rollbackd::it
