// Pieces every Prometheus response reader shares (instant and range): sample values as Prometheus
// writes them, text from a response made fit for people, logs and the state file, and the response
// envelope ({"status", "errorType", "error", "warnings", "data": {"resultType", "result"}}) around
// the data. Internal to daemon/sources (simdjson stays out of the layer's public headers).
#ifndef ROLLBACKD_SOURCES_PROM_VALUE_H_
#define ROLLBACKD_SOURCES_PROM_VALUE_H_

#include <simdjson.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/engine/labels.h"
#include "daemon/engine/samples.h"

namespace rollbackd::prom {

// "0.25", "NaN", "+Inf", "-Inf", "1e+06" -> the number; false for anything else.
bool ParseValue(std::string_view s, double* out);

// At most `max` bytes of `s`, control characters as spaces, invalid UTF-8 as '?', "..." when cut.
std::string Printable(std::string_view s, size_t max = 200);

// "malformed response: <simdjson's message for e>".
std::string Malformed(simdjson::error_code e);

// The error a reader answers for a response with `http_status`: a non-2xx status puts
// "HTTP <status>: " before `reason` and makes kBadResponse kHttpStatus. http_status is set.
QueryResult Failure(int http_status, std::string reason,
                    InputError kind = InputError::kBadResponse);

// A sample, [<unix time>, "<value>"]: the time in seconds and the value (ParseValue). False with
// `*error` when it is not a pair of a finite number and a value string.
bool ReadSamplePair(simdjson::ondemand::value v, double* time, double* value, std::string* error);

// A series' "metric" object: each label added to `labels` as views into the parser's string
// buffer (valid until labels->Build()). False with `*error` when it is not an object of strings.
bool ReadMetric(simdjson::ondemand::value metric, Labels::Builder* labels, std::string* error);

// Reads the value of data.result, given the data.resultType read before it in the body ("" when
// none came first). True: read, or left alone on purpose; false: the response fails with `*error`.
using ResultReader = std::function<bool(simdjson::ondemand::value result,
                                        std::string_view result_type, std::string* error)>;

// The envelope of a Prometheus API response. Reuses its parser's buffers across calls; one per
// thread.
class EnvelopeReader {
 public:
  // Reads `body` (the response to `http_status`) in one pass, calling `read_result` for each
  // data.result. nullopt when the envelope is a success: 2xx, status "success", no error, no
  // warnings, valid JSON to the end; `*result_type` is then data.resultType ("" when absent) and
  // the caller checks the type and that a result was read. Otherwise the error, in this order of
  // precedence: a body that is empty, not JSON, or not an object; a malformed status, data or
  // resultType, or what `read_result` refused; trailing content; status "error" or an error
  // message ("<errorType>: <error>", kPromql, promql_error_type set); a non-2xx status
  // ("unexpected response status"); a status other than "success"; warnings ("warnings: a; b",
  // kWarnings). Each through Failure().
  std::optional<QueryResult> Read(int http_status, std::string_view body,
                                  const ResultReader& read_result, std::string* result_type);

 private:
  simdjson::ondemand::parser parser_;
  std::string buffer_;  // the body plus simdjson's padding, reused
};

}  // namespace rollbackd::prom

#endif  // ROLLBACKD_SOURCES_PROM_VALUE_H_
