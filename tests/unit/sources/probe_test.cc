#include "daemon/sources/probe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "daemon/io/http_client.h"
#include "testing/fake_clock.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/test_http_server.h"

namespace rollbackd {
namespace {

using testutil::TestServer;
using namespace std::chrono_literals;

// Runs `start` (which calls back once) on a fresh loop, bounded by 10 s.
QueryResult RunOne(
    const std::function<void(HttpClient&, std::function<void(QueryResult)>)>& start) {
  boost::asio::io_context io;
  HttpClient client(io);
  std::optional<QueryResult> result;
  start(client, [&](QueryResult r) { result = std::move(r); });
  EXPECT_TRUE(testutil::RunUntil(io, [&] { return result.has_value(); }));
  return result.value_or(QueryResult::Error("no result"));
}

HealthCheck Check(const std::string& url) {
  HealthCheck h;
  h.name = "ready";
  h.url = url;
  h.timeout = 300ms;
  return h;
}

TEST(ProbeTest, ExpectedStatusPasses) {
  TestServer server;
  HealthCheck h = Check(server.Url("/ready"));
  QueryResult r = RunOne([&](HttpClient& c, auto done) { RunProbe(c, h, [done](ProbeOutcome o) { done(ProbeInput(o)); }); });
  ASSERT_FALSE(r.is_error());
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].value, 1);
  EXPECT_EQ(r.detail, "");
}

TEST(ProbeTest, UnexpectedStatusRefusedAndTimeoutAreFailuresWithTheReason) {
  TestServer server;
  HealthCheck bad = Check(server.Url("/status/503"));
  bad.expect_status = {200, 204};
  QueryResult r = RunOne([&](HttpClient& c, auto done) { RunProbe(c, bad, [done](ProbeOutcome o) { done(ProbeInput(o)); }); });
  ASSERT_FALSE(r.is_error()) << "a failed probe is a breach, never an unknown";
  EXPECT_EQ(r.series[0].value, 0);
  EXPECT_EQ(r.detail, "status 503, expected 200 or 204");

  HealthCheck slow = Check(server.Url("/slow"));
  r = RunOne([&](HttpClient& c, auto done) { RunProbe(c, slow, [done](ProbeOutcome o) { done(ProbeInput(o)); }); });
  EXPECT_EQ(r.series[0].value, 0);
  EXPECT_EQ(r.detail, "timeout after 300ms");

  HealthCheck refused = Check("http://127.0.0.1:1/ready");
  r = RunOne([&](HttpClient& c, auto done) { RunProbe(c, refused, [done](ProbeOutcome o) { done(ProbeInput(o)); }); });
  EXPECT_EQ(r.series[0].value, 0);
  EXPECT_NE(r.detail.find("Couldn't connect"), std::string::npos) << r.detail;
}

// The real client, keeping each response the prober got (to see what it held of the body).
class KeepingTransport : public HttpTransport {
 public:
  explicit KeepingTransport(HttpTransport& inner) : inner_(inner) {}
  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override {
    inner_.Send(std::move(request), [this, done = std::move(done)](HttpResponse r) {
      responses.push_back(r);
      done(std::move(r));
    });
  }
  std::vector<HttpResponse> responses;

 private:
  HttpTransport& inner_;
};

// Issue 17, finding 6: 8 probes of a 60 MB /health took RSS to 571 MB, each body held whole.
TEST(ProbeTest, AHugeBodyIsReadJudgedByItsStatusAndNotKept) {
  TestServer server;
  boost::asio::io_context io;
  HttpClient client(io);
  KeepingTransport http(client);
  std::vector<ProbeOutcome> outcomes;
  for (const char* target : {"/bytes/60000000", "/bytes/60000000/503"}) {
    HealthCheck h = Check(server.Url(target));
    h.timeout = 60s;
    RunProbe(http, h, [&](ProbeOutcome o) { outcomes.push_back(std::move(o)); });
  }
  ASSERT_TRUE(testutil::RunUntil(
      io, [&] { return outcomes.size() == 2; }, 60s));
  // In completion order; the first URL passes, the second fails on its status.
  std::sort(outcomes.begin(), outcomes.end(),
            [](const ProbeOutcome& a, const ProbeOutcome& b) { return a.status < b.status; });
  EXPECT_TRUE(outcomes[0].passed) << outcomes[0].detail;
  EXPECT_EQ(outcomes[0].status, 200);
  EXPECT_FALSE(outcomes[1].passed);
  EXPECT_EQ(outcomes[1].detail, "status 503, expected 200");
  ASSERT_EQ(http.responses.size(), 2u);
  for (const HttpResponse& r : http.responses) {
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.body_bytes, 60'000'000u) << "read to its end";
    EXPECT_EQ(r.body.size(), 0u) << "and none of it kept";
  }
}

TEST(ProbeTest, ALocalFaultIsAnErrorNeverABreach) {
  // The daemon could not even ask (out of descriptors): nothing is known about the service.
  HealthCheck h = Check("http://127.0.0.1:8080/ready");
  const QueryResult r = ProbeResult(
      HttpResponse::Failed(TransportError::kLocal,
                           "local fault: cannot open a socket: Too many open files (EMFILE)"),
      h);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error_kind, InputError::kLocal);
  EXPECT_EQ(r.error,
            "local fault: cannot open a socket: Too many open files (EMFILE); not the service's "
            "failure");
  EXPECT_TRUE(r.series.empty());
  // Every other transport failure stays a breach.
  for (TransportError t : {TransportError::kTimeout, TransportError::kConnection,
                           TransportError::kTls, TransportError::kOther}) {
    const QueryResult b = ProbeResult(HttpResponse::Failed(t, "x"), h);
    ASSERT_FALSE(b.is_error()) << TransportErrorName(t);
    EXPECT_EQ(b.series.at(0).value, 0);
  }
}

TEST(InstantQueryTest, PostsTheEncodedQueryAndTimeAndReadsTheAnswer) {
  TestServer server;
  PrometheusEndpoint ep;
  ep.config.url = server.Url("");
  ep.config.timeout = 2s;
  PromResponseReader reader;
  testing::FakeClock clock;
  const std::string promql =
      R"(sum(rate(http_requests_total{code=~"5..", job="a b"}[1m])) / 2 + 1)";
  QueryResult r = RunOne([&](HttpClient& c, auto done) {
    RunInstantQuery(c, clock, reader, ep, promql, Time(std::chrono::milliseconds(1700000000123)),
                    done);
  });
  ASSERT_FALSE(r.is_error()) << r.error;
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(*r.series[0].labels.Get("method"), "POST");
  EXPECT_EQ(*r.series[0].labels.Get("form"),
            "query=" + FormEncode(promql) + "&time=1700000000.123");
  EXPECT_EQ(r.series[0].value, 0.5);
}

TEST(InstantQueryTest, TransportAndHttpFailuresAreErrors) {
  PromResponseReader reader;
  testing::FakeClock clock;
  PrometheusEndpoint down;
  down.config.url = "http://127.0.0.1:1";
  QueryResult r = RunOne([&](HttpClient& c, auto done) {
    RunInstantQuery(c, clock, reader, down, "up", Time{}, done);
  });
  ASSERT_TRUE(r.is_error());
  EXPECT_NE(r.error.find("Couldn't connect"), std::string::npos) << r.error;

  TestServer server;
  PrometheusEndpoint wrong;
  wrong.config.url = server.Url("/status/503#");  // the path lands on the 503 route
  r = RunOne([&](HttpClient& c, auto done) {
    RunInstantQuery(c, clock, reader, wrong, "up", Time{}, done);
  });
  ASSERT_TRUE(r.is_error());
  EXPECT_NE(r.error.find("HTTP 503"), std::string::npos) << r.error;
}

// The Date header of a real answer against this host's real clock: in agreement, measured and read;
// a minute ahead, an error of kind kClock that says why, whatever the answer held.
TEST(InstantQueryTest, ADateHeaderBeyondMaxClockSkewMakesTheAnswerAnError) {
  TestServer server;
  PromResponseReader reader;
  boost::asio::io_context unused;
  AsioClock clock(unused);
  PrometheusEndpoint ep;
  ep.config.name = "default";
  ep.config.url = server.Url("/date/0");
  QueryResult r = RunOne(
      [&](HttpClient& c, auto done) { RunInstantQuery(c, clock, reader, ep, "up", Time{}, done); });
  ASSERT_FALSE(r.is_error()) << r.error;
  EXPECT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.clock_skew, 0) << "loopback, one clock";

  ep.config.url = server.Url("/date/60");
  r = RunOne(
      [&](HttpClient& c, auto done) { RunInstantQuery(c, clock, reader, ep, "up", Time{}, done); });
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error_kind, InputError::kClock);
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error.rfind("clock skew: Prometheus \"default\" is at least ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("s ahead of this host's clock"), std::string::npos) << r.error;
  EXPECT_GT(r.clock_skew, 58);
  EXPECT_LE(r.clock_skew, 60);

  // A bound wider than the skew reads the answer.
  ep.config.max_clock_skew = std::chrono::minutes(2);
  r = RunOne(
      [&](HttpClient& c, auto done) { RunInstantQuery(c, clock, reader, ep, "up", Time{}, done); });
  EXPECT_FALSE(r.is_error()) << r.error;

  // No Date header (the test server's plain route): read as it is, with a note.
  ep.config.url = server.Url("");
  r = RunOne(
      [&](HttpClient& c, auto done) { RunInstantQuery(c, clock, reader, ep, "up", Time{}, done); });
  EXPECT_FALSE(r.is_error()) << r.error;
  EXPECT_TRUE(std::isnan(r.clock_skew));
  EXPECT_EQ(r.clock_note, "no Date header");
}

TEST(FormEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(FormEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(FormEncode("{job=\"x y\"} & +"), "%7Bjob%3D%22x%20y%22%7D%20%26%20%2B");
  EXPECT_EQ(FormEncode("\xc3\xa9"), "%C3%A9");
}

}  // namespace
}  // namespace rollbackd
