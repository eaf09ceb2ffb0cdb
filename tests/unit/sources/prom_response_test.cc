// Every shape a Prometheus server (or something pretending to be one) can send.
#include "daemon/sources/prom_response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

QueryResult Read(std::string_view body, int status = 200) {
  PromResponseReader reader;
  return reader.Read(status, body);
}

TEST(PromResponseTest, ReadsAVector) {
  QueryResult r = Read(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"__name__":"up","job":"api","instance":"a:1"},"value":[1700000000.123,"1"]},
    {"metric":{"job":"api","instance":"b:1"},"value":[1700000000.123,"0.25"]}]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].labels.ToString(), R"({__name__="up", instance="a:1", job="api"})");
  EXPECT_EQ(r.series[0].value, 1);
  EXPECT_EQ(r.series[1].value, 0.25);
}

TEST(PromResponseTest, ReadsAScalarAndAnEmptyVector) {
  QueryResult r = Read(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"42.5"]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_TRUE(r.series[0].labels.empty());
  EXPECT_EQ(r.series[0].value, 42.5);

  r = Read(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  EXPECT_TRUE(r.series.empty());  // no data, not an error
}

TEST(PromResponseTest, FieldOrderDoesNotMatter) {
  QueryResult r = Read(R"({"data":{"result":[{"value":[1,"3"],"metric":{}}],"resultType":"vector"},"status":"success"})");
  ASSERT_FALSE(r.is_error()) << r.error;
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].value, 3);
}

TEST(PromResponseTest, SpecialValuesAreReadAsTheyAre) {
  QueryResult r = Read(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"a":"1"},"value":[1,"NaN"]},{"metric":{"a":"2"},"value":[1,"+Inf"]},
    {"metric":{"a":"3"},"value":[1,"-Inf"]},{"metric":{"a":"4"},"value":[1,"1e+06"]}]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  ASSERT_EQ(r.series.size(), 4u);
  EXPECT_TRUE(std::isnan(r.series[0].value));
  EXPECT_TRUE(std::isinf(r.series[1].value) && r.series[1].value > 0);
  EXPECT_TRUE(std::isinf(r.series[2].value) && r.series[2].value < 0);
  EXPECT_EQ(r.series[3].value, 1e6);
}

TEST(PromResponseTest, EscapedLabelValuesAreUnescaped) {
  QueryResult r = Read(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"path":"/a\"b\\c\u00e9"},"value":[1,"1"]}]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  EXPECT_EQ(*r.series[0].labels.Get("path"), "/a\"b\\c\xc3\xa9");
}

struct BadCase {
  const char* name;
  int status;
  const char* body;
  const char* reason;  // substring of the error
};

class PromResponseErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PromResponseErrorTest, BecomesAnErrorWithItsReason) {
  const BadCase& c = GetParam();
  QueryResult r = Read(c.body, c.status);
  ASSERT_TRUE(r.is_error()) << c.name;
  EXPECT_TRUE(r.series.empty()) << c.name;
  EXPECT_NE(r.error.find(c.reason), std::string::npos) << c.name << ": " << r.error;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PromResponseErrorTest,
    ::testing::Values(
        BadCase{"promql_error", 400,
                R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})",
                "HTTP 400: bad_data: parse error at char 5"},
        BadCase{"timeout_error_200", 200,
                R"({"status":"error","errorType":"timeout","error":"query timed out"})",
                "timeout: query timed out"},
        BadCase{"gateway_html", 502, "<html><body>Bad Gateway</body></html>",
                "HTTP 502: <html><body>Bad Gateway"},
        BadCase{"non_2xx_success_body", 503,
                R"({"status":"success","data":{"resultType":"vector","result":[]}})",
                "HTTP 503"},
        BadCase{"empty_body", 200, "", "empty response"},
        BadCase{"not_json", 200, "hello", "malformed response"},
        BadCase{"json_array", 200, "[1,2]", "not a JSON object"},
        BadCase{"truncated", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"val)",
                "malformed"},
        BadCase{"truncated_after_value", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]})",
                "malformed"},
        BadCase{"trailing_garbage", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[]}}}})", "malformed"},
        BadCase{"warnings", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.9"]}]},"warnings":["store gateway down"]})",
                "warnings: store gateway down"},
        BadCase{"matrix", 200,
                R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}})",
                "a range (matrix)"},
        BadCase{"string_result", 200,
                R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})",
                "not a number"},
        BadCase{"native_histogram", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}})",
                "native histogram"},
        BadCase{"value_not_string", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,0.5]}]}})",
                "value is not a number"},
        BadCase{"value_garbage", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5abc"]}]}})",
                "value is not a number"},
        BadCase{"value_plus_sign", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+5"]}]}})",
                "value is not a number"},
        BadCase{"value_missing", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
                "no \"value\""},
        BadCase{"value_short_pair", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}})",
                "[time, \"value\"]"},
        BadCase{"value_long_pair", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1","2"]}]}})",
                "[time, \"value\"]"},
        BadCase{"label_not_string", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}})",
                "label value is not a string"},
        BadCase{"metric_not_object", 200,
                R"({"status":"success","data":{"resultType":"vector","result":[{"metric":"x","value":[1,"1"]}]}})",
                "\"metric\" is not an object"},
        BadCase{"result_not_array", 200,
                R"({"status":"success","data":{"resultType":"vector","result":{}}})",
                "\"result\" is not an array"},
        BadCase{"no_result", 200, R"({"status":"success","data":{"resultType":"vector"}})",
                "no data.result"},
        BadCase{"no_status", 200, R"({"data":{"resultType":"vector","result":[]}})",
                "status is not \"success\""},
        BadCase{"data_not_object", 200, R"({"status":"success","data":[]})",
                "\"data\" is not an object"},
        BadCase{"scalar_bad", 200,
                R"({"status":"success","data":{"resultType":"scalar","result":[1,"x"]}})",
                "not a number"},
        BadCase{"control_chars_in_error", 500, "\x01\x02oops\n", "HTTP 500:   oops"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

// Both readers' answers to `body`, equal in every field that matters (NaN equal to NaN).
void ExpectSameAnswer(std::string_view body, int status = 200) {
  PromResponseReader fast(/*fast_path=*/true), general(/*fast_path=*/false);
  QueryResult a = fast.Read(status, body), b = general.Read(status, body);
  const std::string shown(body);
  ASSERT_EQ(a.is_error(), b.is_error()) << shown << "\n" << a.error << "\n" << b.error;
  ASSERT_EQ(a.error, b.error) << shown;
  ASSERT_EQ(a.series.size(), b.series.size()) << shown;
  for (size_t i = 0; i < a.series.size(); ++i) {
    EXPECT_EQ(a.series[i].labels, b.series[i].labels) << shown;
    const double x = a.series[i].value, y = b.series[i].value;
    EXPECT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << shown << ": " << x << " " << y;
  }
}

// Found by fuzz/prom_response_fuzz.cc: the fast path checked a sample's time by the JSON grammar
// alone and took 10000E522, which the general reader refuses (no double holds it): the same body
// was a value on one path and an error on the other. Such a time now goes to the general reader.
TEST(PromResponseTest, ATimeNoDoubleHoldsIsAnErrorOnBothPaths) {
  const std::string huge(400, '9');
  for (const std::string& time :
       {std::string("10000E522"), std::string("1e400"), huge, std::string("-") + huge + ".5"}) {
    const std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)"
                             R"({"metric":{"a":"b"},"value":[)" +
                             time + R"(,"0"]}]}})";
    ExpectSameAnswer(body);
    QueryResult r = PromResponseReader().Read(200, body);
    ASSERT_TRUE(r.is_error()) << time;
    EXPECT_THAT(r.error, ::testing::HasSubstr("time is not a number")) << time;
  }
  // Times as Prometheus writes them still read, on the fast path as on the general one.
  const std::string ok = R"({"status":"success","data":{"resultType":"vector","result":[)"
                         R"({"metric":{"a":"b"},"value":[1700000000.123,"0.5"]}]}})";
  ExpectSameAnswer(ok);
  ASSERT_EQ(PromResponseReader().Read(200, ok).series.size(), 1u);
}

// The fast path reads Prometheus's own compact shape and gives every other body to the general
// reader; where it accepts a body, it must give exactly the general reader's answer. Checked on a
// response, every cut of it, every byte replaced by each JSON structural character (and a few
// others), and whitespace put between any two bytes.
TEST(PromResponseTest, FastPathAndGeneralReaderAgreeOnMutatedBodies) {
  const std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)"
                           R"({"metric":{"__name__":"up","job":"api","instance":"a:1"},"value":[1700000000.123,"1"]},)"
                           R"({"metric":{},"value":[-1.5e3,"NaN"]},)"
                           R"({"metric":{"b":"2","a":"éx","b":"3"},"value":[0,"+Inf"]},)"
                           R"({"metric":{"z":"Ã©tÃ©"},"value":[17E-2,"-0.25e-3"]}]}})";
  ExpectSameAnswer(body);
  ExpectSameAnswer(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  const std::string alphabet = "{}[]:,\"\\ \n0-+.eEaN\x01\xff";
  for (size_t i = 0; i <= body.size(); ++i) {
    ExpectSameAnswer(body.substr(0, i));
    if (i == body.size()) break;
    for (char c : alphabet) {
      std::string m = body;
      m[i] = c;
      ExpectSameAnswer(m);
      ExpectSameAnswer(m, 503);
    }
    std::string spaced = body;
    spaced.insert(i, " \n");
    ExpectSameAnswer(spaced);
    std::string removed = body;
    removed.erase(i, 1);
    ExpectSameAnswer(removed);
    if (HasFailure()) return;  // one report, not thousands
  }
}

TEST(PromResponseTest, ReaderIsReusableAfterAnError) {
  PromResponseReader reader;
  EXPECT_TRUE(reader.Read(200, "{\"status\":").is_error());
  QueryResult r = reader.Read(200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"7"]}})");
  ASSERT_FALSE(r.is_error()) << r.error;
  EXPECT_EQ(r.series[0].value, 7);
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// A proxy's error page can be Latin-1, or cut inside a UTF-8 character: the reason still goes
// into logs and the state file (strict JSON), so it must come out as valid UTF-8.
TEST(PromResponseReasonTest, ReasonsAreValidUtf8WhateverTheServerSent) {
  PromResponseReader reader;
  QueryResult latin1 = reader.Read(502, "<html>Fehler: \xfc" "berlastet</html>");
  ASSERT_TRUE(latin1.is_error());
  EXPECT_NO_THROW(nlohmann::json(latin1.error).dump()) << latin1.error;
  EXPECT_NE(latin1.error.find("Fehler: ?berlastet"), std::string::npos) << latin1.error;

  std::string cut(199, 'a');
  cut += "\xc3\xa9\xc3\xa9";  // the first 'é' straddles the 200-byte cut
  QueryResult long_page = reader.Read(503, cut);
  ASSERT_TRUE(long_page.is_error());
  EXPECT_NO_THROW(nlohmann::json(long_page.error).dump()) << long_page.error;

  QueryResult utf8 = reader.Read(500, "überlastet");
  EXPECT_NE(utf8.error.find("überlastet"), std::string::npos) << utf8.error;
}

}  // namespace
}  // namespace rollbackd
