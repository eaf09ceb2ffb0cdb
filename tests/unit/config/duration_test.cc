#include "daemon/config/duration.h"

#include <gtest/gtest.h>

namespace rollbackd {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesEveryUnitAndCombinations) {
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {{"0s", 0},           {"250ms", 250},       {"15s", 15'000},
               {"2m", 120'000},     {"1h", 3'600'000},    {"1h30m", 5'400'000},
               {"1d", 86'400'000},  {"1w", 604'800'000},  {"1m30s500ms", 90'500},
               {"90s", 90'000},     {"0ms", 0},           {"2h0m5s", 7'205'000}};
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.has_value()) << c.text;
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(DurationTest, RejectsMalformed) {
  for (const char* text : {"", "s", "15", "-5s", "+5s", "1.5s", "5 s", " 5s", "5s ", "5S", "5sec",
                           "30m1h", "1m1m", "1y", "ms", "1h30", "99999999999999999999s"}) {
    EXPECT_FALSE(ParseDuration(text).has_value()) << '"' << text << '"';
  }
}

TEST(DurationTest, FormatsShortestAndRoundTrips) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(62'000)), "1m2s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(86'400'000 * 14LL)), "14d");
  EXPECT_EQ(FormatDuration(milliseconds(-1500)), "-1s500ms");
  for (int64_t ms : {1LL, 999LL, 1000LL, 61'001LL, 3'600'000LL, 93'784'005LL}) {
    EXPECT_EQ(ParseDuration(FormatDuration(milliseconds(ms)))->count(), ms);
  }
}

}  // namespace
}  // namespace rollbackd
