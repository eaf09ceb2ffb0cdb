// Prometheus range queries (/api/v1/query_range), for `rollbackd replay`: one request, its answer
// read into a matrix, every failure a typed error as for an instant query.
#ifndef ROLLBACKD_SOURCES_RANGE_QUERY_H_
#define ROLLBACKD_SOURCES_RANGE_QUERY_H_

#include <functional>
#include <string>

#include "daemon/config/duration.h"
#include "daemon/io/transport.h"
#include "daemon/sources/probe.h"
#include "daemon/sources/prom_range_response.h"

namespace rollbackd {

// A range query may take longer than the instant query a source's `timeout` is meant for: at
// least this long.
inline constexpr Duration kMinRangeQueryTimeout = std::chrono::seconds(30);

// POST /api/v1/query_range with query, start, end (seconds.millis) and step (seconds); Prometheus
// evaluates `promql` at start, start + step, ... up to end. `done` gets the matrix or the error
// (transport failures as TransportFailure classifies them). `reader` must outlive `http`'s
// callbacks; `endpoint` is copied.
void RunRangeQuery(HttpTransport& http, PromRangeReader& reader, const PrometheusEndpoint& endpoint,
                   const std::string& promql, Time start, Time end, Duration step,
                   std::function<void(RangeResult)> done);

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_RANGE_QUERY_H_
