#include "daemon/replay/time_arg.h"

#include <gtest/gtest.h>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd {
namespace {

using enginetest::D;
using enginetest::kT0;  // 2026-01-01T00:00:00Z

TEST(TimeArg, Rfc3339InUtcOrWithAnOffsetToTheMillisecond) {
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00Z"), kT0);
  EXPECT_EQ(ParseRfc3339("2026-01-01T01:30:00+01:30"), kT0);
  EXPECT_EQ(ParseRfc3339("2025-12-31T23:00:00-01:00"), kT0);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00.25Z"), kT0 + D("250ms"));
  EXPECT_EQ(ParseRfc3339("2026-01-01t00:00:01.123456z"), kT0 + D("1s") + D("123ms"));
}

TEST(TimeArg, RelativeToNow) {
  const Time now = kT0 + D("30d");
  std::string error;
  EXPECT_EQ(ParseTimeArg("now", now, &error), now);
  EXPECT_EQ(ParseTimeArg("-7d", now, &error), now - D("7d"));
  EXPECT_EQ(ParseTimeArg("-90m", now, &error), now - D("90m"));
  EXPECT_EQ(ParseTimeArg("-1h30m", now, &error), now - D("90m"));
  EXPECT_EQ(ParseTimeArg("2026-01-01T00:00:00Z", now, &error), kT0);
}

TEST(TimeArg, AnythingElseIsAClearError) {
  for (const char* bad :
       {"", "yesterday", "7d", "-7", "-7 d", "2026-01-01", "2026-01-01T00:00:00",
        "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00Zjunk"}) {
    std::string error;
    EXPECT_FALSE(ParseTimeArg(bad, kT0, &error)) << bad;
    EXPECT_NE(error.find("expected"), std::string::npos) << bad << ": " << error;
  }
}

}  // namespace
}  // namespace rollbackd
