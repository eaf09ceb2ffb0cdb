// The range-query reader of `rollbackd replay` (daemon/sources/prom_range_response.h) on any body,
// at a success and an error HTTP status: nothing may crash it or pass for data that is not. What it
// accepts must be well formed: every series has as many times as values, and an error is never
// data at once.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/sources/prom_range_response.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* reader = new rollbackd::PromRangeReader();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const int status : {200, 422, 503}) {
    const rollbackd::RangeResult r = reader->Read(status, body);
    if (r.is_error()) {
      if (!r.series.empty()) rollbackd::fuzz::Fail("an error that also carries series");
      if (r.error->error.empty()) rollbackd::fuzz::Fail("an error without a reason");
      continue;
    }
    if (status != 200) rollbackd::fuzz::Fail("data from a non-2xx answer");
    for (const rollbackd::RangeSeries& s : r.series) {
      if (s.times.size() != s.values.size()) {
        rollbackd::fuzz::Fail("a series with " + std::to_string(s.times.size()) + " times and " +
                              std::to_string(s.values.size()) + " values");
      }
    }
  }
  return 0;
}
