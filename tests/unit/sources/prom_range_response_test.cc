// The range-query (matrix) reader: good bodies become series at their instants; every other body
// an error with the reason, classified as an instant query's would be.
#include "daemon/sources/prom_range_response.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace rollbackd {
namespace {

constexpr const char* kMatrix = R"J({"status":"success","data":{"resultType":"matrix","result":[
  {"metric":{"code":"500","job":"shop"},"values":[[1700000000,"0.25"],[1700000015.5,"NaN"],[1700000030,"+Inf"]]},
  {"metric":{},"values":[[1700000000,"1e+06"]]}]}})J";

TEST(PromRangeReader, ReadsEverySeriesWithItsInstantsAndValues) {
  PromRangeReader reader;
  RangeResult r = reader.Read(200, kMatrix);
  ASSERT_FALSE(r.is_error()) << r.error->error;
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].labels.ToString(), "{code=\"500\", job=\"shop\"}");
  EXPECT_EQ(r.series[0].times, (std::vector<int64_t>{1700000000000, 1700000015500, 1700000030000}));
  EXPECT_EQ(r.series[0].values[0], 0.25);
  EXPECT_TRUE(std::isnan(r.series[0].values[1]));
  EXPECT_TRUE(std::isinf(r.series[0].values[2]));
  EXPECT_TRUE(r.series[1].labels.empty());
  EXPECT_EQ(r.series[1].values, (std::vector<double>{1e6}));
  // The reader is reused: the second body is read on its own.
  RangeResult again =
      reader.Read(200, R"J({"status":"success","data":{"resultType":"matrix","result":[]}})J");
  ASSERT_FALSE(again.is_error());
  EXPECT_TRUE(again.series.empty());
}

struct BadBody {
  int status;
  const char* body;
  InputError kind;
  const char* reason;  // a part of the error
};

class PromRangeReaderErrors : public ::testing::TestWithParam<BadBody> {};

TEST_P(PromRangeReaderErrors, AreErrorsWithTheReason) {
  const BadBody& b = GetParam();
  PromRangeReader reader;
  RangeResult r = reader.Read(b.status, b.body);
  ASSERT_TRUE(r.is_error()) << b.body;
  EXPECT_TRUE(r.error->is_error());
  EXPECT_EQ(r.error->error_kind, b.kind) << r.error->error;
  EXPECT_NE(r.error->error.find(b.reason), std::string::npos) << r.error->error;
  EXPECT_TRUE(r.series.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, PromRangeReaderErrors,
    ::testing::Values(
        BadBody{
            400,
            R"J({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})J",
            InputError::kPromql, "bad_data: exceeded maximum resolution"},
        BadBody{422,
                R"J({"status":"error","errorType":"execution","error":"many-to-many matching"})J",
                InputError::kPromql, "execution: many-to-many"},
        BadBody{503, "Service Unavailable", InputError::kHttpStatus,
                "HTTP 503: Service Unavailable"},
        BadBody{200, "", InputError::kBadResponse, "empty response"},
        BadBody{200, "not json", InputError::kBadResponse, "malformed response: not"},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"])J",
            InputError::kBadResponse, "malformed"},
        BadBody{
            200,
            R"J({"status":"success","warnings":["store down"],"data":{"resultType":"matrix","result":[]}})J",
            InputError::kWarnings, "warnings: store down"},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}})J",
            InputError::kBadResponse, "unsupported result type \"vector\""},
        BadBody{200, R"J({"status":"success","data":{"resultType":"scalar","result":[1,"1"]}})J",
                InputError::kBadResponse, "unsupported result type \"scalar\""},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}})J",
            InputError::kBadResponse, "value is not a number"},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["1","1"]]}]}})J",
            InputError::kBadResponse, "time is not a number"},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1]]}]}})J",
            InputError::kBadResponse, "not [time, \"value\"]"},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1},"values":[]}]}})J",
            InputError::kBadResponse, "label value is not a string"},
        BadBody{200,
                R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})J",
                InputError::kBadResponse, "no \"values\""},
        BadBody{
            200,
            R"J({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}})J",
            InputError::kBadResponse, "native histogram"},
        BadBody{200, R"J({"status":"success","data":{"resultType":"matrix"}})J",
                InputError::kBadResponse, "no data.result"},
        BadBody{200,
                R"J({"status":"success","data":{"resultType":"matrix","result":[]}} trailing)J",
                InputError::kBadResponse, "malformed response"}));

TEST(PromRangeReader, AnErrorKeepsTheHttpStatusAndPromqlErrorType) {
  PromRangeReader reader;
  RangeResult r = reader.Read(400, R"J({"status":"error","errorType":"bad_data","error":"x"})J");
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error->http_status, 400);
  EXPECT_EQ(r.error->promql_error_type, "bad_data");
}

}  // namespace
}  // namespace rollbackd
