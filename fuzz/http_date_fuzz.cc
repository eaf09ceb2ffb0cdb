// The Date header of a Prometheus answer (RFC 9110 HTTP dates), and the clock-skew judgement on it.
// A date read formats as IMF-fixdate and reads back the same; a refusal has a reason; the skew
// measured is an error exactly when it passes the bound.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/io/http_date.h"
#include "daemon/sources/clock_skew.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollbackd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (auto date = ParseHttpDate(text, &error)) {
    const std::string again = FormatHttpDate(*date);
    if (ParseHttpDate(again) != date) fuzz::Fail("a date read does not read back: " + again);
  } else if (error.empty()) {
    fuzz::Fail("a date refused without a reason");
  }
  HttpResponse response;
  response.status = 200;
  response.AddHeader("Date", text);
  const WallTime now{std::chrono::seconds(1'800'000'000)};
  const SkewReading skew = ReadClockSkew(response, now, now + std::chrono::milliseconds(250),
                                         "fuzz", std::chrono::seconds(5));
  if (!skew.error.empty() && std::isnan(skew.seconds)) fuzz::Fail("an error without a measure");
  if (!std::isnan(skew.seconds) && (std::abs(skew.seconds) > 5) != !skew.error.empty()) {
    fuzz::Fail("the skew and the judgement disagree");
  }
  // (received is after sent here: a header is then the only reason not to measure.)
  if (std::isnan(skew.seconds) && skew.note.empty()) fuzz::Fail("unmeasured without a note");
  return 0;
}
