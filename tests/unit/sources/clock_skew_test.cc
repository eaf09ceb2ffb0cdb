// Prometheus's clock against ours from its Date header: the least skew the request's duration and
// the header's whole seconds allow, and the judgement against max_clock_skew. Pure: no clock.
#include "daemon/sources/clock_skew.h"

#include <gtest/gtest.h>

#include <cmath>

#include "daemon/engine/samples.h"

namespace rollbackd {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

const WallTime kT0{seconds(1'800'000'000)};  // 2027-01-15T08:00:00Z

HttpDate Date(WallTime t) { return floor<seconds>(t); }

HttpResponse Answer(std::optional<std::string> date) {
  HttpResponse r;
  r.status = 200;
  r.AddHeader("Content-Type", "application/json");
  if (date) r.AddHeader("Date", *date);
  return r;
}

TEST(ClockSkewTest, TheLeastDifferenceTheRequestAllows) {
  // Prometheus stamped the answer somewhere in [sent, received]; its clock then read
  // [date, date + 1s).
  EXPECT_EQ(ClockSkew(Date(kT0), kT0, kT0), 0ms);
  EXPECT_EQ(ClockSkew(Date(kT0), kT0 + 999ms, kT0 + 999ms), 0ms) << "the same second";
  EXPECT_EQ(ClockSkew(Date(kT0), kT0 + 1500ms, kT0 + 1600ms), -500ms) << "behind by 0.5s at least";
  EXPECT_EQ(ClockSkew(Date(kT0 + 60s), kT0, kT0 + 20ms), 59980ms) << "ahead";
  EXPECT_EQ(ClockSkew(Date(kT0 - 60s), kT0, kT0 + 20ms), -59s) << "behind";
  // A slow answer widens what agrees: 4s in flight hides a 3s skew either way.
  EXPECT_EQ(ClockSkew(Date(kT0 + 3s), kT0, kT0 + 4s), 0ms);
  EXPECT_EQ(ClockSkew(Date(kT0 - 3s), kT0 - 4s, kT0), 0ms);
  EXPECT_EQ(ClockSkew(Date(kT0 + 10s), kT0, kT0 + 4s), 6s);
}

// Found by fuzz_http_date: a year past 2262 overflowed WallTime's nanoseconds (UBSan). Years up
// to 9999 are measured in milliseconds.
TEST(ClockSkewTest, DatesFarAheadOrBehindAreMeasuredWithoutOverflow) {
  const HttpDate far = sys_days{9999y / December / 31} + 23h + 59min + 59s;
  EXPECT_EQ(ClockSkew(far, kT0, kT0), Time(far) - Time(floor<seconds>(kT0)));
  const HttpDate early = sys_days{1900y / January / 1} + 0s;
  EXPECT_EQ(ClockSkew(early, kT0, kT0), Time(early) + 1s - Time(floor<seconds>(kT0)));
  SkewReading r = ReadClockSkew(Answer("Fri, 31 Dec 9999 23:59:59 GMT"), kT0, kT0, "eu", 5s);
  EXPECT_GT(r.seconds, 2.5e11);
  EXPECT_NE(r.error.find("its Date header says 9999-12-31T23:59:59.000Z"), std::string::npos)
      << r.error;
}

TEST(ClockSkewTest, WithinTheBoundIsMeasuredAndBeyondItIsAnError) {
  SkewReading in = ReadClockSkew(Answer(FormatHttpDate(kT0 + 5s)), kT0, kT0 + 10ms, "eu", 5s);
  EXPECT_DOUBLE_EQ(in.seconds, 4.99);
  EXPECT_EQ(in.error, "");
  EXPECT_EQ(in.note, "");

  SkewReading out = ReadClockSkew(Answer(FormatHttpDate(kT0 + 6s)), kT0, kT0 + 10ms, "eu", 5s);
  EXPECT_DOUBLE_EQ(out.seconds, 5.99);
  EXPECT_EQ(out.error,
            "clock skew: Prometheus \"eu\" is at least 5.9s ahead of this host's clock (its Date "
            "header says 2027-01-15T08:00:06.000Z; this host's clock said 2027-01-15T08:00:00.000Z "
            "when asking and 2027-01-15T08:00:00.010Z when answered), more than max_clock_skew "
            "5s: its answers are for another instant than the one asked; fix the clocks (NTP)");

  SkewReading behind = ReadClockSkew(Answer(FormatHttpDate(kT0 - 12s)), kT0, kT0 + 10ms, "eu", 10s);
  EXPECT_DOUBLE_EQ(behind.seconds, -11);
  EXPECT_NE(behind.error.find("is at least 11.0s behind this host's clock"), std::string::npos)
      << behind.error;
  EXPECT_NE(behind.error.find("more than max_clock_skew 10s"), std::string::npos);

  // The bound is inclusive, and a wider one takes a larger skew.
  EXPECT_EQ(ReadClockSkew(Answer(FormatHttpDate(kT0 + 6s)), kT0, kT0, "eu", 6s).error, "");
  EXPECT_EQ(ReadClockSkew(Answer(FormatHttpDate(kT0 + 1h)), kT0, kT0, "eu", 2h).error, "");
}

TEST(ClockSkewTest, NoUsableDateIsNotMeasuredAndNeverAnError) {
  SkewReading none = ReadClockSkew(Answer(std::nullopt), kT0, kT0, "eu", 5s);
  EXPECT_TRUE(std::isnan(none.seconds));
  EXPECT_EQ(none.note, "no Date header");
  EXPECT_EQ(none.error, "");

  SkewReading bad = ReadClockSkew(Answer("yesterday\x1b[31m"), kT0, kT0, "eu", 5s);
  EXPECT_TRUE(std::isnan(bad.seconds));
  EXPECT_EQ(bad.note, "Date header \"yesterday?[31m\": not an HTTP date (expected a day name)");
  EXPECT_EQ(bad.error, "");

  // Our own clock stepped back while the request was out: the interval means nothing.
  SkewReading stepped = ReadClockSkew(Answer(FormatHttpDate(kT0)), kT0, kT0 - 1h, "eu", 5s);
  EXPECT_TRUE(std::isnan(stepped.seconds));
  EXPECT_EQ(stepped.note, "") << "not the header's fault: nothing to say about the source";
  EXPECT_EQ(stepped.error, "");
}

}  // namespace
}  // namespace rollbackd
