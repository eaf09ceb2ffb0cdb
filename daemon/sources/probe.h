// Health probes and Prometheus instant queries, as engine inputs. Thin adapters over HttpClient:
// every failure becomes a value the engine understands, with the reason in words.
#ifndef ROLLBACKD_SOURCES_PROBE_H_
#define ROLLBACKD_SOURCES_PROBE_H_

#include <functional>
#include <string>

#include "daemon/config/model.h"
#include "daemon/engine/samples.h"
#include "daemon/io/http_client.h"
#include "daemon/sources/prom_response.h"

namespace rollbackd {

// A probe's HTTP outcome as an engine input: one series, 1 when the status is expected, else 0 with
// `detail` saying why ("status 503, expected 200", "timeout after 1s", "Failed to connect ...").
// A probe never returns an error: a service that does not answer is a breach, not an unknown.
QueryResult ProbeResult(const HttpResponse& response, const HealthCheck& check);

// GET check.url with check.timeout; `done` gets ProbeResult.
void RunProbe(HttpClient& client, const HealthCheck& check, std::function<void(QueryResult)> done);

// What a source needs at query time; the daemon reads token and password files into it.
struct PrometheusEndpoint {
  PrometheusSource config;
  std::string bearer_token;
  std::string basic_password;
};

// POST /api/v1/query with query=<promql>&time=<at, seconds.millis>; `done` gets the response read
// by `reader` (errors included). The form body keeps long queries out of URL length limits.
// `reader` must outlive `client` (the daemon owns both for its lifetime); `endpoint` is copied.
void RunInstantQuery(HttpClient& client, PromResponseReader& reader,
                     const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
                     std::function<void(QueryResult)> done);

// application/x-www-form-urlencoded, RFC 3986 unreserved characters kept.
std::string FormEncode(std::string_view s);

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_PROBE_H_
