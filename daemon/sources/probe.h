// Health probes and Prometheus instant queries, as engine inputs. Thin adapters over an
// HttpTransport: every failure becomes a typed value the engine understands, with the reason in
// words. InputReader is the interface the daemon reads through (tests pass a fake).
#ifndef ROLLBACKD_SOURCES_PROBE_H_
#define ROLLBACKD_SOURCES_PROBE_H_

#include <functional>
#include <string>

#include "daemon/config/model.h"
#include "daemon/engine/samples.h"
#include "daemon/io/clock.h"
#include "daemon/io/transport.h"
#include "daemon/sources/prom_response.h"

namespace rollbackd {

// A probe's outcome: passed when an HTTP response came with an expected status.
struct ProbeOutcome {
  bool passed = false;
  int status = 0;  // the response's status; 0 when none came
  TransportError transport = TransportError::kNone;
  std::string detail;  // why it failed: "status 503, expected 200", "timeout after 1s"
  Duration elapsed{0};
};

ProbeOutcome ReadProbe(const HttpResponse& response, const HealthCheck& check);

// A probe as an engine input: one series, 1 when it passed, else 0 with `detail`: a service that
// does not answer is a breach, not an unknown. Except a local fault (TransportError::kLocal: the
// daemon could not even ask, out of descriptors or memory): an error (InputError::kLocal) saying
// so, never a breach.
QueryResult ProbeInput(const ProbeOutcome& outcome);
inline QueryResult ProbeResult(const HttpResponse& response, const HealthCheck& check) {
  return ProbeInput(ReadProbe(response, check));
}

// GET check.url with check.timeout. The body is read to its end within the timeout and not kept
// (BodyLimit::Discard): a probe's memory does not grow with the endpoint's body.
void RunProbe(HttpTransport& http, const HealthCheck& check,
              std::function<void(ProbeOutcome)> done);

// What a source needs at query time; the daemon reads token and password files into it.
struct PrometheusEndpoint {
  PrometheusSource config;
  std::string bearer_token;
  std::string basic_password;
};

// A transport failure as an input error: timeout, connection (TLS included), local, bad response
// (too large).
QueryResult TransportFailure(const HttpResponse& response);

// A POST of `form` (application/x-www-form-urlencoded) to `path` under the source's URL, with its
// headers, auth, TLS options and timeout: what every Prometheus API call sends.
HttpRequest PrometheusPost(const PrometheusEndpoint& endpoint, std::string_view path,
                           std::string form);

// "1700000000.250": an instant as the Prometheus API takes it (seconds, millisecond fraction).
std::string PromTime(Time t);

// POST /api/v1/query with query=<promql>&time=<at, seconds.millis>; `done` gets the response read
// by `reader` (errors included). The form body keeps long queries out of URL length limits.
// The answer's Date header is compared with `clock`'s wall time when asking and when answered
// (clock_skew.h): beyond the source's max_clock_skew the result is an InputError::kClock error
// whatever the answer said; QueryResult::clock_skew carries the measure either way.
// `reader` and `clock` must outlive `http`'s callbacks; `endpoint` is copied.
void RunInstantQuery(HttpTransport& http, Clock& clock, PromResponseReader& reader,
                     const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
                     std::function<void(QueryResult)> done);

// application/x-www-form-urlencoded, RFC 3986 unreserved characters kept.
std::string FormEncode(std::string_view s);

// Where a round's inputs come from.
class InputReader {
 public:
  virtual ~InputReader() = default;
  // `done` runs later on the loop, never inside the call.
  virtual void Query(const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
                     std::function<void(QueryResult)> done) = 0;
  virtual void Probe(const HealthCheck& check, std::function<void(ProbeOutcome)> done) = 0;
};

// The real one: Prometheus' HTTP API and HTTP probes over `http`; `clock` for the Date check.
class HttpInputReader : public InputReader {
 public:
  HttpInputReader(HttpTransport& http, Clock& clock) : http_(http), clock_(clock) {}
  void Query(const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
             std::function<void(QueryResult)> done) override {
    RunInstantQuery(http_, clock_, reader_, endpoint, promql, at, std::move(done));
  }
  void Probe(const HealthCheck& check, std::function<void(ProbeOutcome)> done) override {
    RunProbe(http_, check, std::move(done));
  }

 private:
  HttpTransport& http_;
  Clock& clock_;
  PromResponseReader reader_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_PROBE_H_
