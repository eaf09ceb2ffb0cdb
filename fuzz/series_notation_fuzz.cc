// The rule test file's series notation ("1+2x3 _ err") and series keys
// (`name{label="value"}`): the first line is a key, the rest a series.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/ruletest/series_notation.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollbackd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t newline = text.find('\n');
  const std::string_view key = text.substr(0, newline);
  const std::string_view series = newline == std::string_view::npos ? "" : text.substr(newline + 1);
  std::string error;
  if (auto k = ParseSeriesKey(key, &error)) {
    if (k->name.empty()) fuzz::Fail("a key without a name");
  } else if (error.empty()) {
    fuzz::Fail("a key refused without a reason");
  }
  error.clear();
  for (const std::string_view t : {series, key}) {
    if (auto points = ExpandSeries(t, &error)) {
      if (points->size() > kMaxSeriesPoints) fuzz::Fail("more than kMaxSeriesPoints points");
    } else if (error.empty()) {
      fuzz::Fail("a series refused without a reason");
    }
  }
  return 0;
}
