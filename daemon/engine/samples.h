// What the engine reads at one evaluation: for each input (a Prometheus query or a health probe)
// its result. Built by the daemon's sources, by `rollbackd test` from value series, or by
// benchmarks.
#ifndef ROLLBACKD_ENGINE_SAMPLES_H_
#define ROLLBACKD_ENGINE_SAMPLES_H_

#include <chrono>
#include <limits>
#include <string>
#include <string_view>
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

// Why an input's value is unknown: a closed set, so that metrics and logs never parse `error`.
enum class InputError {
  kNone,
  kTimeout,        // no answer within the source's timeout
  kConnection,     // refused, reset, DNS, TLS: no HTTP answer
  kLocal,          // the daemon's own side (out of descriptors, memory, local ports): not asked
  kHttpStatus,     // an HTTP status that is not 2xx, without a Prometheus error in the body
  kPromql,         // Prometheus answered "status": "error" (`promql_error_type`: bad_data, ...)
  kWarnings,       // a success with warnings: a partial answer is not evidence
  kBadResponse,    // malformed, truncated, an unsupported result type, too large
  kUnknownSource,  // no such [prometheus.<name>] (validation makes it unreachable)
  // The clocks disagree: Prometheus's Date header and ours differ by more than the source's
  // max_clock_skew, or ours went back (RoundRunner): an answer for the wrong instant is no evidence
  kClock,
  kInput,  // `rollbackd test`'s "err"
};
// The metrics' `reason` label: "timeout", "connection", "local", "http_status",
// "prometheus_error", "warnings", "bad_response", "clock".
std::string_view InputErrorCategory(InputError e);

// One input's result. Distinct cases, never folded into one number:
//   kSeries with samples       - values to compare
//   kSeries with no samples    - no data (the trigger's no_data policy decides)
//   kError                     - the value is unknown (Prometheus down, bad response): never a
//   breach; `error_kind` says which way, `error` in words
// A health probe reports kSeries with one sample: 1 when the probe passed, 0 when it failed, and
// `detail` saying what failed ("status 503, expected 200", "connection refused"); it reports
// kError only when its failure says nothing about the service (a local fault, or the whole round's
// probes failing alike: see RoundRunner).
struct QueryResult {
  enum class Kind { kSeries, kError };
  Kind kind = Kind::kSeries;
  std::vector<Sample> series;
  InputError error_kind = InputError::kNone;
  std::string error;              // kError: the reason, for people
  int http_status = 0;            // the response's status when one came (0: none)
  std::string promql_error_type;  // kPromql: Prometheus' errorType
  std::string detail;             // probes: what failed
  // Prometheus queries: its clock minus ours, in seconds, from the answer's Date header: the
  // smallest difference that the request's duration and the header's whole seconds allow (0 when
  // they agree). NaN when not measured; then `clock_note` says why when the answer's header is why.
  double clock_skew = std::numeric_limits<double>::quiet_NaN();
  std::string clock_note;  // "no Date header", "Date header \"...\": not an HTTP date (...)"

  static QueryResult Error(std::string reason, InputError kind = InputError::kBadResponse) {
    QueryResult r;
    r.kind = Kind::kError;
    r.error_kind = kind;
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
