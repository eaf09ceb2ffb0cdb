#include "daemon/ruletest/series_notation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rollbackd {
namespace {

using Kind = SeriesPoint::Kind;

// Renders points back as "1 _ err 2" for compact assertions.
std::string Render(const std::vector<SeriesPoint>& points) {
  std::string out;
  for (const auto& p : points) {
    if (!out.empty()) out += ' ';
    if (p.kind == Kind::kMissing) {
      out += '_';
    } else if (p.kind == Kind::kError) {
      out += "err";
    } else if (std::isnan(p.value)) {
      out += "NaN";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", p.value);
      out += buf;
    }
  }
  return out;
}

std::string Expand(const char* text) {
  std::string error;
  auto points = ExpandSeries(text, &error);
  if (!points) return "error: " + error;
  return Render(*points);
}

TEST(SeriesNotationTest, ExpandsLikePromtool) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"1 2 3", "1 2 3"},
      {"1+2x3", "1 3 5 7"},            // a, then n more: n+1 values
      {"-2+4x3", "-2 2 6 10"},         // promtool's own examples
      {"1-2x4", "1 -1 -3 -5 -7"},
      {"1x4", "1 1 1 1 1"},
      {"1 _x3 stale", "1 _ _ _ _"},    // _xn is n values, not n+1
      {"errx2 0.5", "err err 0.5"},
      {"err", "err"},
      {"0.001x2 0.2x1", "0.001 0.001 0.001 0.2 0.2"},
      {"1e-3+1e-3x2", "0.001 0.002 0.003"},  // exponents are not the operator
      {"NaN 5", "NaN 5"},
      {"  1   2 ", "1 2"},
      {"", ""},
      {"5x0", "5"},
  };
  for (const auto& c : cases) EXPECT_EQ(Expand(c.in), c.out) << c.in;
}

TEST(SeriesNotationTest, ReadsInfinities) {
  std::string error;
  auto points = ExpandSeries("Inf -Inf +Inf", &error);
  ASSERT_TRUE(points) << error;
  ASSERT_EQ(points->size(), 3u);
  EXPECT_TRUE(std::isinf((*points)[0].value) && (*points)[0].value > 0);
  EXPECT_TRUE(std::isinf((*points)[1].value) && (*points)[1].value < 0);
  EXPECT_TRUE(std::isinf((*points)[2].value) && (*points)[2].value > 0);
}

TEST(SeriesNotationTest, RejectsMalformedTokensNamingThem) {
  for (const char* bad : {"abc", "1x", "1xa", "1+x3", "x3", "1+2", "0x1p3", "1,2", "1x-3",
                          "1x99999999", "infinity"}) {
    std::string error;
    EXPECT_FALSE(ExpandSeries(bad, &error).has_value()) << bad;
    EXPECT_NE(error.find("bad value"), std::string::npos) << bad << ": " << error;
  }
}

// promtool (2.42, promql/parser/generated_parser.y) adds b once per step; k * b lands elsewhere.
TEST(SeriesNotationTest, RampsAccumulateBitForBitAsPromtool) {
  std::string error;
  auto points = ExpandSeries("10.37-0.2x4", &error);
  ASSERT_TRUE(points) << error;
  ASSERT_EQ(points->size(), 5u);
  double v = 10.37;
  for (int k = 0; k < 4; ++k) v += -0.2;
  EXPECT_EQ((*points)[4].value, v);
  EXPECT_EQ((*points)[4].value, 9.570000000000002);  // what promtool evaluates `a` to at 4m
  EXPECT_NE((*points)[4].value, 10.37 + 4 * -0.2);
  points = ExpandSeries("0.1+0.1x9", &error);
  ASSERT_TRUE(points) << error;
  EXPECT_EQ(points->back().value, 0.9999999999999999);  // ten additions of 0.1
}

TEST(SeriesNotationTest, ReadsNumbersAsPromtoolDoes) {
  std::string error;
  auto points = ExpandSeries("1e-310 INF nan -NaN +inf", &error);
  ASSERT_TRUE(points) << error;
  ASSERT_EQ(points->size(), 5u);
  EXPECT_EQ((*points)[0].value, 1e-310);  // a subnormal is a number
  EXPECT_TRUE(std::isinf((*points)[1].value));
  EXPECT_TRUE(std::isnan((*points)[2].value) && std::isnan((*points)[3].value));
  EXPECT_TRUE(std::isinf((*points)[4].value));
  EXPECT_EQ(Expand("NaN+1x2"), "NaN NaN NaN");
  EXPECT_EQ(Expand("1e400"), "error: bad value \"1e400\": number out of range");
  EXPECT_EQ(Expand("1+1e400x2"), "error: bad value \"1+1e400x2\": number out of range");
}

TEST(SeriesNotationTest, RefusesRepeatedWordsAsPromtoolDoes) {
  for (const char* word : {"stalex3", "NaNx3", "Infx3", "-infx3"}) {
    const std::string got = Expand(word);
    EXPECT_NE(got.find("a repetition needs a number or _ before 'x'"), std::string::npos)
        << word << ": " << got;
    EXPECT_NE(got.find("write _x3"), std::string::npos) << got;
  }
  EXPECT_EQ(Expand("stale stale"), "_ _");
}

TEST(SeriesNotationTest, AHugeCountIsTooLongNotMalformed) {
  for (const char* big : {"1x1000000000", "_x1000000000", "1+1x99999999999999999999999"}) {
    const std::string got = Expand(big);
    EXPECT_NE(got.find("series too long: at most 100000 points"), std::string::npos)
        << big << ": " << got;
  }
}

TEST(SeriesNotationTest, BoundsTheLength) {
  std::string error;
  EXPECT_TRUE(ExpandSeries("0x99998", &error).has_value());
  EXPECT_FALSE(ExpandSeries("0x99999 1", &error).has_value());
  EXPECT_NE(error.find("too long"), std::string::npos);
  EXPECT_FALSE(ExpandSeries("_x100001", &error).has_value());
}

TEST(SeriesKeyTest, ParsesNamesAndLabels) {
  std::string error;
  auto k = ParseSeriesKey("error_rate", &error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(k->name, "error_rate");
  EXPECT_TRUE(k->labels.empty());

  k = ParseSeriesKey(R"(p99.baseline{region="eu", pod = "a\"b",})", &error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(k->name, "p99.baseline");
  EXPECT_EQ(k->labels.ToString(), R"({pod="a\"b", region="eu"})");

  k = ParseSeriesKey("deploy.version{}", &error);
  ASSERT_TRUE(k) << error;
  EXPECT_TRUE(k->labels.empty());
}

TEST(SeriesKeyTest, RejectsMalformedSelectors) {
  struct Case {
    const char* in;
    const char* error;
  } cases[] = {
      {R"({a="b"})", "missing name"},
      {R"(x{a="b")", "expected '}'"},
      {R"(x{1a="b"})", "invalid label name"},
      {R"(x{a})", "expected ="},
      {R"(x{a=b})", "double-quoted"},
      {R"(x{a="b})", "unterminated"},
      {R"(x{a="b" c="d"})", "expected ','"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseSeriesKey(c.in, &error).has_value()) << c.in;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.in << ": " << error;
  }
}

}  // namespace
}  // namespace rollbackd
