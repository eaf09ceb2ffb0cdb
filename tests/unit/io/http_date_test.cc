// HTTP dates (RFC 9110 5.6.7): IMF-fixdate and the two obsolete forms a recipient must read, and
// everything else refused with a reason.
#include "daemon/io/http_date.h"

#include <gtest/gtest.h>

namespace rollbackd {
namespace {

using namespace std::chrono;

// RFC 9110's example instant: Sun, 06 Nov 1994 08:49:37 GMT.
const HttpDate kExample = sys_days{1994y / November / 6} + 8h + 49min + 37s;

TEST(HttpDateTest, ReadsTheThreeFormsOfRfc9110) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);  // RFC 850, obsolete
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), kExample);        // asctime, obsolete
  EXPECT_EQ(ParseHttpDate("Sun Nov 06 08:49:37 1994"), kExample);
  // What Prometheus (Go's net/http) sends.
  EXPECT_EQ(ParseHttpDate("Fri, 15 Jan 2027 08:00:00 GMT"), HttpDate(seconds(1'800'000'000)));
  EXPECT_EQ(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), HttpDate(seconds(0)));
  EXPECT_EQ(ParseHttpDate("Thu, 29 Feb 2024 23:59:59 GMT"),
            sys_days{2024y / February / 29} + 23h + 59min + 59s);
  EXPECT_EQ(ParseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT"),
            sys_days{9999y / December / 31} + 23h + 59min + 59s);
  // A leap second is the next second.
  EXPECT_EQ(ParseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT"), sys_days{2017y / January / 1} + 0s);
  // RFC 850's two-digit years: 00-69 are 20YY.
  EXPECT_EQ(ParseHttpDate("Friday, 15-Jan-27 08:00:00 GMT"), HttpDate(seconds(1'800'000'000)));
  // A clock that never got the time (no RTC, no NTP) stamps 1970 or so: read, so that it shows.
  EXPECT_EQ(ParseHttpDate("Mon, 01 Jan 1900 00:00:00 GMT"), sys_days{1900y / January / 1} + 0s);
}

TEST(HttpDateTest, RefusesWhatIsNotAnHttpDateWithAReason) {
  const char* const bad[] = {
      "",
      "now",
      "1700000000",
      "2027-01-15T08:00:00Z",
      "Sun, 06 Nov 1994 08:49:37 UTC",   // the zone is always GMT
      "Sun, 06 Nov 1994 08:49:37 GMT ",  // trailing text (the client trims whitespace)
      "Sun, 6 Nov 1994 08:49:37 GMT",    // two digits
      "sun, 06 nov 1994 08:49:37 GMT",   // names are case-sensitive
      "Sun, 06 November 1994 08:49:37 GMT",
      "Sun,  06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 94 08:49:37 GMT",
      "Sun, 06 Nov 1994 8:49:37 GMT",
      "Sun, 06 Nov 1994 08:49 GMT",
      "Sunday, 06-Nov-1994 08:49:37 GMT",
      "Sun Nov  6 08:49:37 1994 GMT",
      "Sun Nov 6 08:49:37 1994",
      "Sun, 06 Nov 1994 08:49:37 GMT\r\nX: y",
  };
  for (const char* text : bad) {
    std::string error;
    EXPECT_FALSE(ParseHttpDate(text, &error).has_value()) << text;
    EXPECT_NE(error.find("not an HTTP date"), std::string::npos) << text << ": " << error;
  }
}

TEST(HttpDateTest, RefusesFieldsOutOfRange) {
  const std::pair<const char*, const char*> cases[] = {
      {"Mon, 32 Jan 2024 00:00:00 GMT", "no such day: 32 Jan 2024"},
      {"Thu, 30 Feb 2024 00:00:00 GMT", "no such day: 30 Feb 2024"},
      {"Thu, 29 Feb 2023 00:00:00 GMT", "no such day: 29 Feb 2023"},
      {"Mon, 00 Jan 2024 00:00:00 GMT", "no such day: 0 Jan 2024"},
      {"Mon, 01 Jan 2024 24:00:00 GMT", "time of day out of range"},
      {"Mon, 01 Jan 2024 00:60:00 GMT", "time of day out of range"},
      {"Mon, 01 Jan 2024 00:00:61 GMT", "time of day out of range"},
      {"Mon, 01 Jan 0000 00:00:00 GMT", "year 0 out of range"},
      {"Mon, 01 Jan 1899 00:00:00 GMT", "year 1899 out of range"},
      // The day name must be the date's: a Date that contradicts itself is not trusted.
      {"Mon, 06 Nov 1994 08:49:37 GMT", "the day name is not that date's (Sun)"},
      {"Monday, 06-Nov-94 08:49:37 GMT", "the day name is not that date's (Sun)"},
  };
  for (const auto& [text, why] : cases) {
    std::string error;
    EXPECT_FALSE(ParseHttpDate(text, &error).has_value()) << text;
    EXPECT_EQ(error, why) << text;
  }
}

TEST(HttpDateTest, FormatsImfFixdateThatReadsBack) {
  EXPECT_EQ(FormatHttpDate(kExample + 999ms), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(system_clock::time_point(seconds(1'800'000'000))),
            "Fri, 15 Jan 2027 08:00:00 GMT");
  for (int64_t s = -86400 * 365; s < int64_t{86400} * 365 * 100; s += 86400 * 37 + 3671) {
    const system_clock::time_point t{seconds(1'000'000'000 + s)};
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(t)), floor<seconds>(t)) << FormatHttpDate(t);
  }
}

}  // namespace
}  // namespace rollbackd
