// Prometheus's clock against this host's, from the Date header of its answers (RFC 9110: a server
// with a clock stamps every answer). The daemon asks for each instant by its own clock (`time=`):
// ahead of Prometheus, it asks for samples not scraped yet (rate() windows empty, series vanish);
// behind, its decisions lag. Either way an answer is for the wrong instant, so beyond the source's
// max_clock_skew it is held as an error (InputError::kClock): never a breach, never a
// resolution. Pure: the instants are passed in.
#ifndef ROLLBACKD_SOURCES_CLOCK_SKEW_H_
#define ROLLBACKD_SOURCES_CLOCK_SKEW_H_

#include <limits>
#include <string>

#include "daemon/config/duration.h"
#include "daemon/io/clock.h"
#include "daemon/io/http_date.h"
#include "daemon/io/transport.h"

namespace rollbackd {

// Prometheus's clock minus ours: the smallest difference that an answer stamped `date` allows,
// when it was asked at `sent` and answered at `received` by our clock. The server stamped it at
// some instant in between, and a Date has whole seconds (its clock then read [date, date + 1s)),
// so that is max(0, date - received) when Prometheus is ahead, min(0, date + 1s - sent) when it is
// behind, 0 when the two intervals meet. Requires sent <= received.
Duration ClockSkew(HttpDate date, WallTime sent, WallTime received);

struct SkewReading {
  double seconds = std::numeric_limits<double>::quiet_NaN();  // ClockSkew; NaN: not measured
  // Why not measured, when the answer's header is why: "no Date header", "Date header \"x\": ...".
  std::string note;
  std::string error;  // |skew| > bound: the reason, in words (naming `source`); else empty
};

// Reads the Date header of `response` (an HTTP answer of source `source`) and judges it against
// `bound` (the source's max_clock_skew). No Date header, one that is not an HTTP date (both with a
// note), or our own clock stepping back during the request (without): not measured, never an
// error.
SkewReading ReadClockSkew(const HttpResponse& response, WallTime sent, WallTime received,
                          const std::string& source, Duration bound);

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_CLOCK_SKEW_H_
