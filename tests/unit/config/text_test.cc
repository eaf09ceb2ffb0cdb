#include "daemon/config/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

namespace rollbackd {
namespace {

TEST(ShortestNumberTest, PrintsPlainDecimalsWithTheFewestDigits) {
  EXPECT_EQ(ShortestNumber(1000000), "1000000");
  EXPECT_EQ(ShortestNumber(1000000.4), "1000000.4");
  EXPECT_EQ(ShortestNumber(0.1), "0.1");
  EXPECT_EQ(ShortestNumber(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(ShortestNumber(-2.5), "-2.5");
  EXPECT_EQ(ShortestNumber(0), "0");
  EXPECT_EQ(ShortestNumber(1e-7), "0.0000001");
  EXPECT_EQ(ShortestNumber(1e20), "100000000000000000000");
}

TEST(ShortestNumberTest, UsesAnExponentOnlyFarFromOne) {
  EXPECT_EQ(ShortestNumber(1e21), "1e+21");
  EXPECT_EQ(ShortestNumber(1e-8), "1e-08");
  EXPECT_EQ(ShortestNumber(1e-310), "1e-310");
}

TEST(ShortestNumberTest, WritesNonFiniteValuesAsPrometheusDoes) {
  EXPECT_EQ(ShortestNumber(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(ShortestNumber(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(ShortestNumber(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(ShortestNumberTest, ReadsBackAsTheSameDouble) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> exponent(-320, 320);
  std::uniform_real_distribution<double> mantissa(1, 10);
  for (int i = 0; i < 20000; ++i) {
    const double v = mantissa(rng) * std::pow(10.0, exponent(rng));
    if (!std::isfinite(v)) continue;
    const std::string text = ShortestNumber(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
}

}  // namespace
}  // namespace rollbackd
