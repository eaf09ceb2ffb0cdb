// The range reader: chunks under the 11,000-points limit, at most kRangeQueriesInFlight per
// source, answers merged in step order whatever order they came in, failures kept per chunk.
#include "daemon/replay/range_reader.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <string>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd {
namespace {

using enginetest::D;
using enginetest::kT0;

// Holds every request until the test answers it.
class HeldTransport : public HttpTransport {
 public:
  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override {
    held.emplace_back(std::move(request), std::move(done));
    max_held = std::max(max_held, held.size());
  }
  std::vector<std::pair<HttpRequest, std::function<void(HttpResponse)>>> held;
  size_t max_held = 0;
};

// The value of form field `name` in `body`.
std::string Field(const std::string& body, const std::string& name) {
  const size_t at = body.find(name + "=");
  if (at == std::string::npos) return "";
  const size_t begin = at + name.size() + 1;
  return body.substr(begin, body.find('&', begin) - begin);
}

// A matrix answer to `req`: one series, value = the step index, at every instant asked for.
HttpResponse Answer(const HttpRequest& req) {
  const double start = std::stod(Field(req.body, "start"));
  const double end = std::stod(Field(req.body, "end"));
  const double step = std::stod(Field(req.body, "step"));
  std::string values;
  for (double t = start; t <= end + 1e-6; t += step) {
    char point[64];
    std::snprintf(point, sizeof point, "%s[%.3f,\"%.0f\"]", values.empty() ? "" : ",", t,
                  (t - 1767225600.0) / step);
    values += point;
  }
  HttpResponse r;
  r.status = 200;
  r.body =
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[)" +
      values + "]}]}}";
  return r;
}

TEST(RangeReader, ChunksUnderTheLimitBoundedInFlightMergedInOrder) {
  HeldTransport http;
  PrometheusEndpoint ep;
  ep.config.name = "default";
  ep.config.url = "http://prom:9090";
  ep.bearer_token = "s3cret";
  RangeReader reader(http, {{"default", ep}});
  // 40,320 steps: four requests per query; two queries on one source.
  const Grid grid{kT0, D("15s"), 40320};
  std::vector<InputHistory> got;
  bool done = false;
  reader.Read({{0, "default", "up", grid}, {1, "default", "down", grid}},
              [&](std::vector<InputHistory> h) {
                got = std::move(h);
                done = true;
              });
  size_t answered = 0;
  // Answer the newest first: chunks come back out of order.
  while (!http.held.empty() && answered < 100) {
    auto [req, cb] = std::move(http.held.back());
    http.held.pop_back();
    EXPECT_EQ(req.url, "http://prom:9090/api/v1/query_range");
    EXPECT_EQ(req.bearer_token, "s3cret");
    const double points =
        (std::stod(Field(req.body, "end")) - std::stod(Field(req.body, "start"))) / 15 + 1;
    EXPECT_LE(points, 11000);
    cb(Answer(req));
    ++answered;
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(answered, 8u);
  EXPECT_EQ(reader.requests_sent(), 8u);
  EXPECT_LE(http.max_held, kRangeQueriesInFlight);
  EXPECT_EQ(http.max_held, kRangeQueriesInFlight);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].input, 1);
  ASSERT_EQ(got[0].series.size(), 1u) << "one label set across chunks";
  const InputHistory::Series& s = got[0].series[0];
  ASSERT_EQ(s.steps.size(), 40320u);
  for (uint32_t k = 0; k < 40320; k += 997) {
    ASSERT_EQ(s.steps[k], k);
    ASSERT_EQ(s.values[k], k);
  }
  EXPECT_TRUE(got[0].failures.empty());
}

TEST(RangeReader, AFailedChunkIsKeptWithItsStepsAndTheRestIsRead) {
  HeldTransport http;
  PrometheusEndpoint ep;
  ep.config.url = "http://prom:9090";
  RangeReader reader(http, {{"default", ep}});
  std::vector<InputHistory> got;
  reader.Read({{0, "default", "up", Grid{kT0, D("15s"), 25000}},
               {1, "nowhere", "up", Grid{kT0, D("15s"), 10}}},
              [&](std::vector<InputHistory> h) { got = std::move(h); });
  size_t n = 0;
  while (!http.held.empty() && n < 10) {
    auto [req, cb] = std::move(http.held.front());
    http.held.erase(http.held.begin());
    if (n++ == 1) {
      HttpResponse r;
      r.status = 422;
      r.body = R"({"status":"error","errorType":"execution","error":"boom"})";
      cb(r);
    } else {
      cb(Answer(req));
    }
  }
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].failures.size(), 1u);
  EXPECT_EQ(got[0].failures[0].first, 11000u);
  EXPECT_EQ(got[0].failures[0].last, 21999u);
  EXPECT_EQ(got[0].failures[0].error.error_kind, InputError::kPromql);
  EXPECT_EQ(got[0].series[0].steps.size(), 25000u - 11000u);
  ASSERT_EQ(got[1].failures.size(), 1u);
  EXPECT_EQ(got[1].failures[0].error.error_kind, InputError::kUnknownSource);
}

}  // namespace
}  // namespace rollbackd
