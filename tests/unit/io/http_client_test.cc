// The HTTP client against a real HTTP server on loopback (Boost.Beast, synchronous, one thread per
// connection), which counts the connections it accepts.
#include "daemon/io/http_client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/io/http_date.h"
#include "testing/sanitized.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/test_http_server.h"

namespace rollbackd {
namespace {

using testutil::TestServer;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Sends `requests` on one loop and runs it until every response arrived (10 s bound).
std::vector<HttpResponse> SendAll(std::vector<HttpRequest> requests, HttpClient* shared = nullptr,
                                  asio::io_context* shared_io = nullptr) {
  asio::io_context own_io;
  asio::io_context& io = shared_io != nullptr ? *shared_io : own_io;
  std::optional<HttpClient> own;
  if (shared == nullptr) own.emplace(io);
  HttpClient& client = shared != nullptr ? *shared : *own;
  std::vector<std::optional<HttpResponse>> got(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    client.Send(std::move(requests[i]), [&got, i](HttpResponse r) { got[i] = std::move(r); });
  }
  auto done = [&] {
    for (auto& g : got) {
      if (!g) return false;
    }
    return true;
  };
  testutil::RunUntil(io, done);
  std::vector<HttpResponse> out;
  for (auto& g : got) {
    EXPECT_TRUE(g.has_value()) << "no response within 10 s";
    out.push_back(g.value_or(HttpResponse{}));
  }
  return out;
}

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

TEST(HttpClientTest, GetsABody) {
  TestServer server;
  auto r = SendAll({Get(server.Url("/ok"))});
  EXPECT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, "hello");
}

TEST(HttpClientTest, NonSuccessStatusIsAResponseNotAnError) {
  TestServer server;
  auto r = SendAll({Get(server.Url("/status/503"))});
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(r[0].error, "");
  EXPECT_FALSE(r[0].ok());
  EXPECT_EQ(r[0].body, "down");
}

// Response headers: the final response's, names lower-cased, values trimmed, in order; the Date a
// server stamps is there for the clock check (sources/clock_skew.h).
TEST(HttpClientTest, KeepsTheResponseHeaders) {
  TestServer server;
  auto r = SendAll({Get(server.Url("/date/0/headers"))});
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  ASSERT_NE(r[0].Header("X-MIXED-CASE"), nullptr);
  EXPECT_EQ(*r[0].Header("x-mixed-case"), "padded value");
  ASSERT_NE(r[0].Header("x-empty"), nullptr);
  EXPECT_EQ(*r[0].Header("x-empty"), "");
  EXPECT_EQ(*r[0].Header("content-length"), "1");
  ASSERT_NE(r[0].Header("date"), nullptr);
  EXPECT_TRUE(ParseHttpDate(*r[0].Header("date")).has_value()) << *r[0].Header("date");
  EXPECT_EQ(r[0].Header("x-absent"), nullptr);
  for (const auto& [name, value] : r[0].headers) {
    for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
  }
}

TEST(HttpClientTest, ResponseHeadersAreBounded) {
  HttpResponse r;
  for (size_t i = 0; i < HttpResponse::kMaxHeaders; ++i) {
    EXPECT_TRUE(r.AddHeader("X-" + std::to_string(i), "v"));
  }
  EXPECT_FALSE(r.AddHeader("X-One-Too-Many", "v"));
  EXPECT_EQ(r.headers.size(), HttpResponse::kMaxHeaders);
  HttpResponse big;
  EXPECT_TRUE(big.AddHeader("A", std::string(HttpResponse::kMaxHeaderBytes - 10, 'x')));
  EXPECT_FALSE(big.AddHeader("B", std::string(20, 'y')));
  EXPECT_TRUE(big.AddHeader("C", "z"));
}

TEST(HttpClientTest, PostsWithHeadersAndAuth) {
  TestServer server;
  HttpRequest req = Get(server.Url("/echo"));
  req.method = "POST";
  req.body = R"({"event":"rollback.started"})";
  req.headers = {{"Content-Type", "application/json"}, {"webhook-id", "evt_1"}};
  req.bearer_token = "s3cret";
  auto r = SendAll({req});
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].body.substr(0, 5), "POST\n");
  EXPECT_NE(r[0].body.find("webhook-id: evt_1\n"), std::string::npos) << r[0].body;
  EXPECT_NE(r[0].body.find("Authorization: Bearer s3cret\n"), std::string::npos);
  EXPECT_NE(r[0].body.find("\n\n{\"event\":\"rollback.started\"}"), std::string::npos);
}

TEST(HttpClientTest, ConnectionsAreReused) {
  TestServer server;
  asio::io_context io;
  HttpClient client(io);
  for (int i = 0; i < 5; ++i) {
    auto r = SendAll({Get(server.Url("/ok"))}, &client, &io);
    ASSERT_TRUE(r[0].ok()) << r[0].error;
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, ManyRequestsAtOnce) {
  TestServer server;
  std::vector<HttpRequest> reqs;
  for (int i = 0; i < 20; ++i) reqs.push_back(Get(server.Url(i % 2 ? "/ok" : "/status/503")));
  auto r = SendAll(reqs);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r[i].status, i % 2 ? 200 : 503) << i;
}

TEST(HttpClientTest, RefusedIsATransportError) {
  int port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  auto r = SendAll({Get("http://127.0.0.1:" + std::to_string(port) + "/")});
  EXPECT_EQ(r[0].status, 0);
  EXPECT_NE(r[0].error.find("Couldn't connect"), std::string::npos) << r[0].error;
  EXPECT_NE(r[0].error.find("port " + std::to_string(port)), std::string::npos) << r[0].error;
}

// While alive, this process has no free descriptor: every one is taken, under a soft
// RLIMIT_NOFILE lowered to 1024 at most (a few hundred dups, not a million). Restored after.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 1024);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
    const int base = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (base < 0) {
      errno_ = errno;
      return;
    }
    fds_.push_back(base);
    for (rlim_t i = 0; i <= lowered.rlim_cur; ++i) {
      const int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) {
        errno_ = errno;
        return;
      }
      fds_.push_back(fd);
    }
  }
  ~NoFreeDescriptors() {
    for (int fd : fds_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  bool exhausted() const { return errno_ == EMFILE; }

 private:
  rlimit saved_{};
  std::vector<int> fds_;
  int errno_ = 0;
};

TEST(HttpClientTest, OutOfDescriptorsIsALocalFaultNotThePeers) {
  if (testing::kSanitized) GTEST_SKIP() << testing::kNoDescriptorsUnderSanitizers;
  // What curl 7.88 says here is CURLE_COULDNT_CONNECT without an errno, as for a refused
  // connection, and CURLE_COULDNT_RESOLVE_HOST for a name: only our own socket() call and the
  // resolver's words tell them apart.
  auto requests = [] {
    HttpRequest by_name = Get("http://rollbackd-test.invalid/");
    by_name.timeout = 3s;
    return std::vector<HttpRequest>{Get("http://127.0.0.1:1/"), by_name};
  };
  asio::io_context io;
  HttpClient client(io);
  std::vector<HttpResponse> r;
  {
    NoFreeDescriptors none;
    ASSERT_TRUE(none.exhausted());
    r = SendAll(requests(), &client, &io);
  }
  EXPECT_EQ(r[0].transport, TransportError::kLocal);
  EXPECT_EQ(r[0].error, "local fault: cannot open a socket: Too many open files (EMFILE)");
  EXPECT_EQ(r[1].transport, TransportError::kLocal);
  EXPECT_NE(r[1].error.find("local fault: cannot start a name lookup"), std::string::npos)
      << r[1].error;

  // With descriptors again, the same requests fail on the other side: refused, and a name that
  // does not resolve (or a resolver that does not answer: curl says the same for both).
  r = SendAll(requests(), &client, &io);
  EXPECT_EQ(r[0].transport, TransportError::kConnection) << r[0].error;
  EXPECT_NE(r[1].transport, TransportError::kLocal) << r[1].error;
}

TEST(HttpClientTest, TimeoutIsATransportErrorAndDoesNotBlockOthers) {
  TestServer server;
  HttpRequest slow = Get(server.Url("/slow"));
  slow.timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = SendAll({slow, Get(server.Url("/ok"))});
  EXPECT_EQ(r[0].error, "timeout after 300ms");
  EXPECT_TRUE(r[1].ok()) << r[1].error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1400ms);
}

TEST(HttpClientTest, OnlyHttpAndHttps) {
  auto r = SendAll({Get("file:///etc/passwd")});
  EXPECT_EQ(r[0].status, 0);
  EXPECT_FALSE(r[0].error.empty());
  EXPECT_TRUE(r[0].body.empty());
}

TEST(HttpClientTest, LargeBodiesArrive) {
  TestServer server;
  auto r = SendAll({Get(server.Url("/big"))});
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].body.size(), 3u << 20);
}

TEST(HttpClientTest, TheDefaultLimitKeepsTheWholeBodyAndCountsIt) {
  TestServer server;
  auto r = SendAll({Get(server.Url("/bytes/1000000"))});
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].body.size(), 1'000'000u);
  EXPECT_EQ(r[0].body_bytes, 1'000'000u);
  EXPECT_TRUE(r[0].body.ends_with("xend\n"));
}

// Issue 17, finding 6: every body was buffered up to 64 MiB, probes' included.
TEST(HttpClientTest, ABodyPastAFailLimitAbortsWithAClearError) {
  TestServer server;
  HttpRequest req = Get(server.Url("/bytes/100000"));
  req.body_limit = BodyLimit::Fail(65536);
  HttpRequest fits = Get(server.Url("/bytes/65536"));
  fits.body_limit = BodyLimit::Fail(65536);
  auto r = SendAll({req, fits});
  EXPECT_EQ(r[0].status, 0);
  EXPECT_EQ(r[0].transport, TransportError::kTooLarge);
  EXPECT_EQ(r[0].error, "response body larger than 65536 bytes");
  EXPECT_TRUE(r[0].body.empty());
  ASSERT_TRUE(r[1].ok()) << r[1].error;  // exactly at the limit is not past it
  EXPECT_EQ(r[1].body.size(), 65536u);
}

TEST(HttpClientTest, ADiscardedBodyIsReadToItsEndCountedAndNotKept) {
  TestServer server;
  asio::io_context io;
  HttpClient client(io);
  HttpRequest req = Get(server.Url("/bytes/60000000"));
  req.body_limit = BodyLimit::Discard();
  req.timeout = 60s;
  auto r = SendAll({req}, &client, &io);
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[0].body, "");
  EXPECT_EQ(r[0].body_bytes, 60'000'000u);
  // Read to its end: the connection is whole and serves the next request.
  auto again = SendAll({Get(server.Url("/ok"))}, &client, &io);
  EXPECT_EQ(again[0].body, "hello");
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientTest, AKeptHeadOrTailIsCutAtTheLimitAndTheRestCounted) {
  TestServer server;
  HttpRequest head = Get(server.Url("/bytes/3000000/503"));
  head.body_limit = BodyLimit::Head(1000);
  HttpRequest tail = Get(server.Url("/bytes/3000000"));
  tail.body_limit = BodyLimit::Tail(1000);
  auto r = SendAll({head, tail});
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(r[0].error, "");
  EXPECT_EQ(r[0].body, std::string(1000, 'x'));
  EXPECT_EQ(r[0].body_bytes, 3'000'000u);
  ASSERT_TRUE(r[1].ok()) << r[1].error;
  EXPECT_EQ(r[1].body, std::string(996, 'x') + "end\n");
  EXPECT_EQ(r[1].body_bytes, 3'000'000u);
}

TEST(HttpClientTest, DestroyingTheClientDropsCallbacks) {
  TestServer server;
  asio::io_context io;
  bool called = false;
  {
    HttpClient client(io);
    HttpRequest slow = Get(server.Url("/slow"));
    client.Send(slow, [&](HttpResponse) { called = true; });
    // Wait until the request reached the server, so it is really in flight.
    ASSERT_TRUE(testutil::RunUntil(io, [&] { return server.connections() == 1; }));
    EXPECT_EQ(client.in_flight(), 1u);
  }
  io.poll();  // leftover handlers must not call back
  EXPECT_FALSE(called);
}

TEST(HttpClientTest, ACompletionAlreadyQueuedIsDroppedWhenTheClientGoes) {
  // The response arrived and its callback is queued on the loop, but the client's owner is
  // destroyed before the loop runs it (a daemon torn down on a loop that lives on).
  TestServer server;
  asio::io_context io;
  bool called = false;
  {
    HttpClient client(io);
    client.Send(Get(server.Url("/ok")), [&](HttpResponse) { called = true; });
    ASSERT_TRUE(testutil::RunUntil(io, [&] { return client.in_flight() == 0 || called; }));
    ASSERT_FALSE(called) << "the callback must be posted, not run from the socket handler";
  }
  io.restart();
  io.poll();
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace rollbackd
