// What the engine reads at one evaluation: for each input (a Prometheus query or a health probe)
// its result. Built by the daemon's sources, by `rollbackd test` from value series, or by
// benchmarks.
#ifndef ROLLBACKD_ENGINE_SAMPLES_H_
#define ROLLBACKD_ENGINE_SAMPLES_H_

#include <chrono>
#include <string>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/engine/labels.h"

namespace rollbackd {

// Wall-clock instants, milliseconds since the Unix epoch. The engine never reads a clock: every
// instant it knows was handed to it.
using Time = std::chrono::sys_time<std::chrono::milliseconds>;

struct Sample {
  Labels labels;
  double value = 0;  // NaN counts as no data for this series (0/0: an error rate without traffic)
};

// One input's result. Distinct cases, never folded into one number:
//   kSeries with samples       - values to compare
//   kSeries with no samples    - no data (the trigger's no_data policy decides)
//   kError                     - the value is unknown (Prometheus down, bad response): never a
//   breach
// A health probe reports kSeries with one sample: 1 when the probe passed, 0 when it failed, and
// `detail` saying what failed ("status 503, expected 200", "connection refused").
struct QueryResult {
  enum class Kind { kSeries, kError };
  Kind kind = Kind::kSeries;
  std::vector<Sample> series;
  std::string error;   // kError: the reason
  std::string detail;  // probes: what failed

  static QueryResult Error(std::string reason) {
    QueryResult r;
    r.kind = Kind::kError;
    r.error = std::move(reason);
    return r;
  }
  bool is_error() const { return kind == Kind::kError; }
};

// Indexed by input id (Engine::inputs()). nullptr: the input was not read this round; the triggers
// whose main input is missing are not evaluated (their interval is not due).
using Inputs = std::vector<const QueryResult*>;

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_SAMPLES_H_
