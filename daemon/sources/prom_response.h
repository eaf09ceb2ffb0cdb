// Reading a Prometheus HTTP API instant-query response (/api/v1/query) into the engine's input.
// Nothing a server sends can crash the reader or count as a breach by accident: every shape that is
// not a well-formed success becomes QueryResult::Error with the reason.
#ifndef ROLLBACKD_SOURCES_PROM_RESPONSE_H_
#define ROLLBACKD_SOURCES_PROM_RESPONSE_H_

#include <memory>
#include <string_view>

#include "daemon/engine/samples.h"

namespace rollbackd {

// Reuses its parser's buffers across calls; one per thread (the daemon has one loop).
class PromResponseReader {
 public:
  // `fast_path` false reads every body with the general reader (tests compare the two; benchmarks
  // show each).
  explicit PromResponseReader(bool fast_path = true);
  ~PromResponseReader();
  PromResponseReader(const PromResponseReader&) = delete;
  PromResponseReader& operator=(const PromResponseReader&) = delete;

  // `http_status` is the response's status code; `body` its bytes. Cases:
  //   2xx, status "success", resultType vector or scalar  -> series (values as Prometheus sends
  //     them: "NaN" and "+Inf" are read as such; the engine treats them as no data)
  //   status "error" (any HTTP status)                      -> error "<errorType>: <error>"
  //   a non-empty "warnings" array                          -> error "warnings: ..." (a partial
  //     answer, e.g. a Thanos store down, is not evidence)
  //   non-2xx without a JSON error, matrix/string results, malformed or truncated JSON, a value
  //     that is not a number                                -> error with the reason
  QueryResult Read(int http_status, std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_PROM_RESPONSE_H_
