// The daemon's HTTP server on a real loopback port, on the test's loop, talked to by the HttpClient
// (what a well-behaved client sends) and by a raw socket (what it does not: garbage, half a
// request, silence, several requests on one connection).
#include "daemon/server/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/io/http_client.h"
#include "tests/unit/loop_util.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using RawResponse = http::response<http::string_body>;

ServerResponse Hello(const ServerRequest&) {
  ServerResponse r;
  r.body = "hello";
  return r;
}

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

// One connection speaking raw bytes. Its state is shared with its pending operations, so a wait
// that timed out leaves nothing dangling behind.
class RawClient {
 public:
  // `local`: the address to connect from (another peer: 127.0.0.2 is loopback too).
  RawClient(asio::io_context& io, const tcp::endpoint& server, const char* local = nullptr)
      : io_(io), state_(std::make_shared<State>(io)) {
    if (local != nullptr) {
      state_->socket.open(tcp::v4());
      state_->socket.bind({asio::ip::make_address(local), 0});
    }
    state_->socket.async_connect(server, [s = state_](error_code ec) {
      s->connect_result = ec;
      s->connected = true;
    });
  }
  ~RawClient() {
    error_code ignored;
    state_->socket.close(ignored);
  }

  error_code Connect() {
    EXPECT_TRUE(testutil::RunUntil(io_, [s = state_] { return s->connected; }));
    return state_->connect_result;
  }

  bool Send(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    auto done = std::make_shared<std::optional<error_code>>();
    asio::async_write(state_->socket, asio::buffer(*data),
                      [data, done](error_code ec, size_t) { *done = ec; });
    return testutil::RunUntil(io_, [done] { return done->has_value(); }) && !**done;
  }

  // The next response, nullopt when the connection closed first. `head`: it answers a HEAD, so
  // its Content-Length announces no body.
  std::optional<RawResponse> Read(bool head = false) {
    auto parser = std::make_shared<http::response_parser<http::string_body>>();
    parser->skip(head);
    auto done = std::make_shared<std::optional<error_code>>();
    http::async_read(state_->socket, state_->buffer, *parser,
                     [s = state_, parser, done](error_code ec, size_t) { *done = ec; });
    if (!testutil::RunUntil(io_, [done] { return done->has_value(); }) || **done) {
      return std::nullopt;
    }
    return parser->release();
  }

  // True when the server closes the connection within `limit`; what it sends first is skipped.
  bool WaitClosed(std::chrono::milliseconds limit = 10s) {
    auto closed = std::make_shared<bool>(false);
    ReadUntilClosed(state_, closed);
    return testutil::RunUntil(
        io_, [closed] { return *closed; }, limit);
  }

 private:
  struct State {
    explicit State(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    bool connected = false;
    error_code connect_result;
  };

  static void ReadUntilClosed(std::shared_ptr<State> s, std::shared_ptr<bool> closed) {
    s->buffer.consume(s->buffer.size());
    s->socket.async_read_some(s->buffer.prepare(64 << 10), [s, closed](error_code ec, size_t n) {
      if (ec) {
        *closed = ec != asio::error::operation_aborted;
        return;
      }
      s->buffer.commit(n);
      ReadUntilClosed(s, closed);
    });
  }

  asio::io_context& io_;
  std::shared_ptr<State> state_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  // Listens on `address`; every request is recorded in seen_, then answered by handler_.
  void Start(HttpServerOptions options = {}, const std::string& address = "127.0.0.1:0") {
    options.server_names.push_back("t");  // the raw requests' Host
    options.on_error = [this](const std::string& message) { errors_.push_back(message); };
    server_.emplace(
        io_,
        [this](const ServerRequest& r) {
          seen_.push_back(r);
          return handler_(r);
        },
        std::move(options));
    std::string error;
    ASSERT_TRUE(server_->Listen(address, &error)) << error;
  }

  tcp::endpoint Endpoint() const { return {asio::ip::make_address("127.0.0.1"), server_->port()}; }
  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + target;
  }

  HttpResponse Fetch(HttpRequest request) {
    auto got = std::make_shared<std::optional<HttpResponse>>();
    client_.Send(std::move(request), [got](HttpResponse r) { *got = std::move(r); });
    EXPECT_TRUE(testutil::RunUntil(io_, [got] { return got->has_value(); }));
    return got->value_or(HttpResponse{});
  }

  asio::io_context io_;
  HttpClient client_{io_};
  HttpServer::Handler handler_ = Hello;
  std::optional<HttpServer> server_;
  std::vector<ServerRequest> seen_;
  std::vector<std::string> errors_;
};

TEST_F(HttpServerTest, GetSplitsTheTargetIntoPathAndQuery) {
  Start();
  HttpResponse r = Fetch(Get(Url("/api/v1/status?x=1&y=2")));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "hello");
  r = Fetch(Get(Url("/metrics")));
  EXPECT_EQ(r.status, 200) << r.error;

  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].method, "GET");
  EXPECT_EQ(seen_[0].target, "/api/v1/status?x=1&y=2");
  EXPECT_EQ(seen_[0].path, "/api/v1/status");
  EXPECT_EQ(seen_[0].query, "x=1&y=2");
  EXPECT_EQ(seen_[0].body, "");
  EXPECT_EQ(seen_[0].remote.rfind("127.0.0.1:", 0), 0u) << seen_[0].remote;
  EXPECT_EQ(seen_[1].path, "/metrics");
  EXPECT_EQ(seen_[1].query, "");
}

TEST_F(HttpServerTest, PostBodyReachesTheHandler) {
  handler_ = [](const ServerRequest& r) {
    ServerResponse out;
    out.body = "got " + r.body;
    return out;
  };
  Start();
  HttpRequest post = Get(Url("/api/v1/ack"));
  post.method = "POST";
  post.body = R"({"rollback":"r-1"})";
  post.headers = {{"Content-Type", "application/json"}};
  HttpResponse r = Fetch(post);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, R"(got {"rollback":"r-1"})");
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].method, "POST");
  ASSERT_NE(seen_[0].Header("content-type"), nullptr);
  EXPECT_EQ(*seen_[0].Header("content-type"), "application/json");
}

TEST_F(HttpServerTest, HeaderNamesAreLowerCased) {
  Start();
  HttpRequest get = Get(Url("/"));
  get.headers = {{"X-Request-ID", "Abc-1"}};
  get.bearer_token = "s3cret";
  Fetch(get);
  ASSERT_EQ(seen_.size(), 1u);
  for (const auto& [name, value] : seen_[0].headers) {
    for (char c : name) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << name;
  }
  ASSERT_NE(seen_[0].Header("x-request-id"), nullptr);
  EXPECT_EQ(*seen_[0].Header("x-request-id"), "Abc-1");  // values untouched
  ASSERT_NE(seen_[0].Header("authorization"), nullptr);
  EXPECT_EQ(*seen_[0].Header("authorization"), "Bearer s3cret");
  EXPECT_EQ(seen_[0].Header("x-absent"), nullptr);
}

TEST_F(HttpServerTest, HandlerStatusPassesThrough) {
  handler_ = [](const ServerRequest&) {
    ServerResponse out;
    out.status = 404;
    out.body = "no such rule\n";
    return out;
  };
  Start();
  HttpResponse r = Fetch(Get(Url("/api/v1/rules/x")));
  EXPECT_EQ(r.status, 404) << r.error;
  EXPECT_EQ(r.body, "no such rule\n");
}

TEST_F(HttpServerTest, ALaterAnswerIsSentWhenItComesAndTheConnectionServesOn) {
  std::function<void(ServerResponse)> pending;
  handler_ = [&](const ServerRequest& r) {
    if (r.path != "/later") return Hello(r);
    ServerResponse out;
    out.later = [&](std::function<void(ServerResponse)> respond) { pending = std::move(respond); };
    return out;
  };
  Start();
  auto got = std::make_shared<std::optional<HttpResponse>>();
  client_.Send(Get(Url("/later")), [got](HttpResponse r) { *got = std::move(r); });
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return static_cast<bool>(pending); }));
  io_.poll();
  EXPECT_FALSE(got->has_value()) << "no answer before the handler gives one";
  ServerResponse answer;
  answer.status = 202;
  answer.body = "forwarded\n";
  pending(answer);
  ASSERT_TRUE(testutil::RunUntil(io_, [got] { return got->has_value(); }));
  EXPECT_EQ((*got)->status, 202);
  EXPECT_EQ((*got)->body, "forwarded\n");
  EXPECT_EQ(Fetch(Get(Url("/now"))).status, 200);
}

TEST_F(HttpServerTest, ResponsesCarryServerContentLengthAndExtraHeaders) {
  handler_ = [](const ServerRequest&) {
    ServerResponse out;
    out.status = 401;
    out.content_type = "application/json";
    out.body = R"({"error":"unauthorized"})";
    out.headers = {{"WWW-Authenticate", "Bearer realm=\"rollbackd\""}};
    return out;
  };
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 401);
  EXPECT_EQ((*r)[http::field::server], "rollbackd");
  EXPECT_EQ((*r)[http::field::content_type], "application/json");
  EXPECT_EQ((*r)[http::field::content_length], "24");
  EXPECT_EQ((*r)[http::field::www_authenticate], "Bearer realm=\"rollbackd\"");
  EXPECT_EQ(r->body(), R"({"error":"unauthorized"})");
}

TEST_F(HttpServerTest, ThrowingHandlerGets500AndTheServerKeepsServing) {
  handler_ = [](const ServerRequest& r) {
    if (r.path == "/boom") throw std::runtime_error("boom");
    return Hello(r);
  };
  Start();
  HttpResponse r = Fetch(Get(Url("/boom")));
  EXPECT_EQ(r.status, 500) << r.error;
  EXPECT_EQ(r.body, "internal server error\n");
  EXPECT_EQ(errors_, std::vector<std::string>{"GET /boom: handler threw: boom"});
  r = Fetch(Get(Url("/ok")));
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST_F(HttpServerTest, InvalidStatusFromTheHandlerGets500) {
  handler_ = [](const ServerRequest&) {
    ServerResponse out;
    out.status = 42;
    return out;
  };
  Start();
  EXPECT_EQ(Fetch(Get(Url("/x"))).status, 500);
  EXPECT_EQ(errors_, std::vector<std::string>{"GET /x: handler returned status 42"});
}

TEST_F(HttpServerTest, BodyOverMaxBodyGets413AndClose) {
  HttpServerOptions options;
  options.max_body = 16;
  Start(options);
  RawClient at_limit(io_, Endpoint());
  ASSERT_TRUE(at_limit.Send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n" +
                            std::string(16, 'a')));
  std::optional<RawResponse> r = at_limit.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);

  RawClient over(io_, Endpoint());
  ASSERT_TRUE(over.Send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n" +
                        std::string(17, 'a')));
  r = over.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413);
  EXPECT_EQ(r->body(), "request body larger than 16 bytes\n");
  EXPECT_TRUE(over.WaitClosed());
  EXPECT_EQ(seen_.size(), 1u);  // only the first reached the handler
}

TEST_F(HttpServerTest, MalformedRequestGets400AndClose) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("this is not http\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 400);
  EXPECT_EQ((*r)[http::field::server], "rollbackd");
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(seen_.empty());
}

// gzip as the only coding: the body's end is unknown. Read as no body, the body was served as a
// second request.
TEST_F(HttpServerTest, ATransferEncodingOtherThanChunkedGets400AndClose) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(
      c.Send("POST /one HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
             "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 400);
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(seen_.empty());  // neither the POST nor the smuggled GET reached the handler

  RawClient chunked(io_, Endpoint());
  ASSERT_TRUE(
      chunked.Send("POST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\n\r\n"));
  r = chunked.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].body, "hello");
}

TEST_F(HttpServerTest, OversizedHeaderGets431) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(
      c.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 431);
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_TRUE(seen_.empty());
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  RawClient c(io_, Endpoint());
  for (const char* target : {"/one", "/two"}) {
    ASSERT_TRUE(c.Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::optional<RawResponse> r = c.Read();
    ASSERT_TRUE(r.has_value()) << target;
    EXPECT_EQ(r->body(), "hello");
    EXPECT_TRUE(r->keep_alive());
  }
  // Pipelined: both requests in one write, answered in order.
  ASSERT_TRUE(
      c.Send("GET /three HTTP/1.1\r\nHost: t\r\n\r\nGET /four HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_TRUE(c.Read().has_value());
  EXPECT_TRUE(c.Read().has_value());

  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(seen_[3].path, "/four");
  for (const ServerRequest& r : seen_) EXPECT_EQ(r.remote, seen_[0].remote);
  EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(HttpServerTest, Http10ClosesAfterTheResponse) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->version(), 10u);
  EXPECT_EQ(r->body(), "hello");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, Http10KeepAliveIsHonoured) {
  Start();
  RawClient c(io_, Endpoint());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    std::optional<RawResponse> r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_TRUE(r->keep_alive());
  }
}

TEST_F(HttpServerTest, HeadGetsTheHeadersWithoutTheBody) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> head = c.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->result_int(), 200);
  EXPECT_EQ((*head)[http::field::content_length], "5");
  EXPECT_EQ(head->body(), "");
  // Had the body been sent, this would read it as the start of the next response.
  ASSERT_TRUE(c.Send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> get = c.Read();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->body(), "hello");
  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].method, "GET");
}

TEST_F(HttpServerTest, PortZeroPicksAFreePort) {
  Start();
  EXPECT_NE(server_->port(), 0);
  RawClient c(io_, Endpoint());
  EXPECT_FALSE(c.Connect());
}

TEST_F(HttpServerTest, ListenOnAPortInUseFailsWithAClearError) {
  Start();
  HttpServer other(io_, Hello);
  const std::string address = "127.0.0.1:" + std::to_string(server_->port());
  std::string error;
  EXPECT_FALSE(other.Listen(address, &error));
  EXPECT_EQ(error, "listen " + address + ": Address already in use");
  EXPECT_EQ(other.port(), 0);
}

TEST_F(HttpServerTest, ListenRejectsBadAddresses) {
  struct Case {
    const char* address;
    const char* error;
  };
  const Case cases[] = {
      {"9464", "listen 9464: expected host:port, e.g. 127.0.0.1:9464"},
      {"::1:9464", "listen ::1:9464: an IPv6 address needs brackets, e.g. [::1]:9464"},
      {"[::1]9464", "listen [::1]9464: expected [IPv6 address]:port, e.g. [::1]:9464"},
      {"127.0.0.1:65536", "listen 127.0.0.1:65536: bad port `65536`"},
      {"127.0.0.1:", "listen 127.0.0.1:: bad port ``"},
      {"127.0.0.1:80x", "listen 127.0.0.1:80x: bad port `80x`"},
      {"example.com:80", "listen example.com:80: `example.com` is not an IP address or localhost"},
  };
  for (const Case& c : cases) {
    HttpServer server(io_, Hello);
    std::string error;
    EXPECT_FALSE(server.Listen(c.address, &error)) << c.address;
    EXPECT_EQ(error, c.error);
  }
}

TEST_F(HttpServerTest, ListenSucceedsOnce) {
  Start();
  std::string error;
  EXPECT_FALSE(server_->Listen("127.0.0.1:0", &error));
  EXPECT_EQ(error, "listen 127.0.0.1:0: already listening");
}

TEST_F(HttpServerTest, LocalhostMeansIpv4Loopback) {
  Start({}, "localhost:0");
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_TRUE(c.Read().has_value());
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  {
    tcp::acceptor probe(io_);
    error_code ec;
    probe.open(tcp::v6(), ec);
    if (!ec) probe.bind({asio::ip::address_v6::loopback(), 0}, ec);
    if (ec) GTEST_SKIP() << "no IPv6 loopback: " << ec.message();
  }
  Start({}, "[::1]:0");
  RawClient c(io_, {asio::ip::address_v6::loopback(), server_->port()});
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "hello");
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].remote.rfind("[::1]:", 0), 0u) << seen_[0].remote;
}

// A handler that holds the answer to /hold until the test gives it: the connection is busy.
class HeldAnswers {
 public:
  HttpServer::Handler Handler() {
    return [this](const ServerRequest& r) {
      if (r.path != "/hold") return Hello(r);
      ServerResponse out;
      out.later = [this](std::function<void(ServerResponse)> respond) {
        held_.push_back(std::move(respond));
      };
      return out;
    };
  }
  size_t held() const { return held_.size(); }
  void ReleaseAll() {
    for (auto& respond : held_) respond(Hello({}));
    held_.clear();
  }

 private:
  std::vector<std::function<void(ServerResponse)>> held_;
};

TEST_F(HttpServerTest, AtTheCapANewConnectionTakesTheLongestIdleOnesPlace) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(options);
  RawClient oldest(io_, Endpoint());
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 1; }));
  RawClient kept(io_, Endpoint());
  ASSERT_TRUE(kept.Send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(kept.Read().has_value());  // kept alive, idle since after `oldest`

  RawClient newest(io_, Endpoint());
  EXPECT_TRUE(oldest.WaitClosed());
  ASSERT_TRUE(newest.Send("GET /two HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = newest.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  ASSERT_TRUE(kept.Send("GET /three HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = kept.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(server_->counters().evicted_idle, 1u);
  EXPECT_EQ(server_->counters().refused, 0u);
}

TEST_F(HttpServerTest, AtTheCapASlowRequestMakesRoomWhenNoneIsIdle) {
  HeldAnswers answers;
  handler_ = answers.Handler();
  HttpServerOptions options;
  options.max_connections = 2;
  options.slow_request = Duration::zero();
  Start(options);
  RawClient busy(io_, Endpoint());
  ASSERT_TRUE(busy.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return answers.held() == 1; }));
  RawClient trickling(io_, Endpoint());
  ASSERT_TRUE(trickling.Send("GET / HTTP/1.1\r\nHo"));  // and no more
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 2; }));
  io_.poll();  // the server has read what `trickling` sent

  RawClient newest(io_, Endpoint());
  EXPECT_TRUE(trickling.WaitClosed());
  ASSERT_TRUE(newest.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = newest.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  answers.ReleaseAll();
  r = busy.Read();
  ASSERT_TRUE(r.has_value()) << "a connection being answered is never evicted";
  EXPECT_EQ(r->body(), "hello");
  EXPECT_EQ(server_->counters().evicted_slow, 1u);
}

TEST_F(HttpServerTest, AConnectionAmidARequestIsNotEvictedBeforeSlowRequest) {
  HeldAnswers answers;
  handler_ = answers.Handler();
  HttpServerOptions options;
  options.max_connections = 1;
  options.slow_request = std::chrono::hours(1);
  Start(options);
  RawClient reading(io_, Endpoint());
  ASSERT_TRUE(reading.Send("GET / HTTP/1.1\r\nHo"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 1; }));
  io_.poll();
  RawClient second(io_, Endpoint());
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = second.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503);
  ASSERT_TRUE(reading.Send("st: t\r\n\r\n"));
  r = reading.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
}

TEST_F(HttpServerTest, WhenEveryConnectionIsBusyANewOneGets503) {
  HeldAnswers answers;
  handler_ = answers.Handler();
  HttpServerOptions options;
  options.max_connections = 1;
  Start(options);
  RawClient first(io_, Endpoint());
  ASSERT_TRUE(first.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return answers.held() == 1; }));

  RawClient second(io_, Endpoint());
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = second.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503);
  EXPECT_EQ(r->body(), "too many connections\n");
  EXPECT_TRUE(second.WaitClosed());

  answers.ReleaseAll();
  r = first.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(seen_.size(), 1u);
  EXPECT_EQ(server_->counters().refused, 1u);
}

TEST_F(HttpServerTest, ConnectionsFarOverTheLimitAreClosedUnanswered) {
  HeldAnswers answers;
  handler_ = answers.Handler();
  HttpServerOptions options;
  options.max_connections = 1;
  Start(options);
  RawClient served(io_, Endpoint());
  ASSERT_TRUE(served.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return answers.held() == 1; }));
  RawClient refused(io_, Endpoint());
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 2; }));
  RawClient dropped(io_, Endpoint());
  EXPECT_TRUE(dropped.WaitClosed());
  EXPECT_EQ(server_->connections(), 2u);
  answers.ReleaseAll();
}

TEST_F(HttpServerTest, APeerAtItsCapMakesRoomFromItsOwnConnections) {
  HttpServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_peer = 2;
  Start(options);
  RawClient mine(io_, Endpoint());  // 127.0.0.1
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 1; }));
  RawClient a(io_, Endpoint(), "127.0.0.2");
  if (a.Connect()) GTEST_SKIP() << "cannot connect from 127.0.0.2";
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 2; }));
  RawClient b(io_, Endpoint(), "127.0.0.2");
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 3; }));
  RawClient c(io_, Endpoint(), "127.0.0.2");
  EXPECT_TRUE(a.WaitClosed()) << "the peer's own longest idle connection made room";
  EXPECT_EQ(server_->connections(), 3u);
  for (RawClient* client : {&mine, &b, &c}) {
    ASSERT_TRUE(client->Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::optional<RawResponse> r = client->Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200);
  }
  EXPECT_EQ(server_->counters().evicted_idle, 1u);
}

TEST_F(HttpServerTest, ARequestForAnotherHostGets421) {
  Start();
  for (const char* host : {"evil.example", "rebound.attacker.example:9464", "t.evil"}) {
    RawClient c(io_, Endpoint());
    ASSERT_TRUE(c.Send(std::string("GET /api/v1/status HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"));
    std::optional<RawResponse> r = c.Read();
    ASSERT_TRUE(r.has_value()) << host;
    EXPECT_EQ(r->result_int(), 421) << host;
    EXPECT_TRUE(c.WaitClosed()) << host;
  }
  EXPECT_TRUE(seen_.empty()) << "the handler never sees them";
  EXPECT_EQ(server_->counters().misdirected, 3u);
  for (const char* host : {"127.0.0.1:1", "localhost", "LOCALHOST:9464", "a.localhost", "T"}) {
    RawClient c(io_, Endpoint());
    ASSERT_TRUE(c.Send(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"));
    std::optional<RawResponse> r = c.Read();
    ASSERT_TRUE(r.has_value()) << host;
    EXPECT_EQ(r->result_int(), 200) << host;
  }
}

TEST_F(HttpServerTest, AnHttp11RequestWithoutHostGets400AndHttp10IsServed) {
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 400);
  RawClient old(io_, Endpoint());
  ASSERT_TRUE(old.Send("GET / HTTP/1.0\r\n\r\n"));
  r = old.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
}

TEST(HostNamesThisServerTest, IpAddressesLocalhostAndListedNames) {
  const std::vector<std::string> names = {"rollbackd.example.com"};
  for (const char* yes : {"127.0.0.1", "127.0.0.1:9464", "10.1.2.3:80", "[::1]", "[::1]:9464",
                          "localhost", "localhost.", "Localhost:1", "x.localhost",
                          "rollbackd.example.com", "ROLLBACKD.example.com:443"}) {
    EXPECT_TRUE(HostNamesThisServer(yes, names)) << yes;
  }
  for (const char* no :
       {"", ":9464", "evil.example", "localhost.evil.example", "127.0.0.1:x", "127.0.0.1:", "[::1",
        "[::1]x", "[nonsense]:1", "::1", "127.1", "rollbackd.example.com.evil", "example.com"}) {
    EXPECT_FALSE(HostNamesThisServer(no, names)) << no;
  }
}

TEST_F(HttpServerTest, SlowRequestIsClosedAfterReadTimeout) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::hours(1);
  options.read_timeout = 200ms;
  Start(options);
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n"));  // and never the blank line
  EXPECT_TRUE(c.WaitClosed(5s));
  EXPECT_TRUE(seen_.empty());
  EXPECT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 0; }));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = 200ms;
  options.read_timeout = std::chrono::hours(1);
  Start(options);
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.Read().has_value());
  EXPECT_TRUE(c.WaitClosed(5s));
}

TEST_F(HttpServerTest, DestroyingTheServerClosesOpenConnections) {
  Start();
  RawClient idle(io_, Endpoint());
  ASSERT_TRUE(idle.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.Read().has_value());
  RawClient half(io_, Endpoint());
  ASSERT_TRUE(half.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 2; }));

  server_.reset();
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_TRUE(half.WaitClosed());
  EXPECT_EQ(seen_.size(), 1u);
  EXPECT_TRUE(errors_.empty());
}

TEST_F(HttpServerTest, DestroyingTheServerWhileAResponseIsBeingWritten) {
  // More than the socket buffers hold, and the client does not read: the write stays pending.
  handler_ = [](const ServerRequest&) {
    ServerResponse out;
    out.body.assign(64 << 20, 'x');
    return out;
  };
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(testutil::RunUntil(io_, [&] { return seen_.size() == 1; }));
  EXPECT_EQ(server_->connections(), 1u);

  server_.reset();
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, DestroyingTheServerFromItsHandler) {
  handler_ = [this](const ServerRequest& r) {
    server_.reset();
    return Hello(r);
  };
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_FALSE(c.Read().has_value());  // closed without an answer
  EXPECT_EQ(seen_.size(), 1u);
  EXPECT_FALSE(server_.has_value());
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAndRefusesNewOnes) {
  Start();
  const tcp::endpoint endpoint = Endpoint();
  RawClient idle(io_, endpoint);
  ASSERT_TRUE(idle.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.Read().has_value());

  server_->Stop();
  EXPECT_TRUE(idle.WaitClosed());
  RawClient late(io_, endpoint);
  EXPECT_EQ(late.Connect(), asio::error::connection_refused);
  EXPECT_TRUE(testutil::RunUntil(io_, [&] { return server_->connections() == 0; }));
  std::string error;
  EXPECT_FALSE(server_->Listen("127.0.0.1:0", &error));
  EXPECT_EQ(error, "listen 127.0.0.1:0: server stopped");
}

TEST_F(HttpServerTest, StopFromTheHandlerFinishesThatResponse) {
  handler_ = [this](const ServerRequest& r) {
    server_->Stop();
    return Hello(r);
  };
  Start();
  RawClient c(io_, Endpoint());
  ASSERT_TRUE(c.Send("GET /shutdown HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<RawResponse> r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "hello");
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(c.WaitClosed());
}

}  // namespace
}  // namespace rollbackd
