// Reading a Prometheus range-query response (/api/v1/query_range, resultType "matrix") for
// `rollbackd replay`. As with the instant reader (prom_response.h), nothing a server sends can
// crash it or pass for data: every shape that is not a well-formed matrix success becomes an error
// with the reason, classified as the live daemon classifies an instant query's.
#ifndef ROLLBACKD_SOURCES_PROM_RANGE_RESPONSE_H_
#define ROLLBACKD_SOURCES_PROM_RANGE_RESPONSE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "daemon/engine/samples.h"

namespace rollbackd {

// One series of a matrix: its samples in time order, times in ms since the epoch.
struct RangeSeries {
  Labels labels;
  std::vector<int64_t> times;
  std::vector<double> values;  // as Prometheus sent them ("NaN", "+Inf" included)
};

struct RangeResult {
  std::vector<RangeSeries> series;
  // Set when the answer is not data: QueryResult::Kind::kError with error_kind, error,
  // http_status and promql_error_type as an instant query's error would carry them.
  std::optional<QueryResult> error;
  bool is_error() const { return error.has_value(); }
};

// Reuses its parser's buffers across calls; one per thread.
class PromRangeReader {
 public:
  PromRangeReader();
  ~PromRangeReader();
  PromRangeReader(const PromRangeReader&) = delete;
  PromRangeReader& operator=(const PromRangeReader&) = delete;

  // `http_status` and `body` of the response. Cases:
  //   2xx, status "success", resultType "matrix"  -> series
  //   status "error" (any HTTP status)            -> error "<errorType>: <error>" (kPromql)
  //   a non-empty "warnings" array                -> error "warnings: ..." (kWarnings)
  //   non-2xx without a JSON error, another result type, native histograms, malformed or
  //     truncated JSON, a value that is not a number -> error with the reason
  RangeResult Read(int http_status, std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_PROM_RANGE_RESPONSE_H_
