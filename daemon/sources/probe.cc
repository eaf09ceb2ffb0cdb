#include "daemon/sources/probe.h"

#include <algorithm>
#include <cstdio>

#include "daemon/sources/clock_skew.h"

namespace rollbackd {

ProbeOutcome ReadProbe(const HttpResponse& response, const HealthCheck& check) {
  ProbeOutcome o;
  o.status = response.status;
  o.transport = response.transport;
  o.elapsed = response.elapsed;
  if (!response.error.empty()) {
    o.detail = response.error;
  } else if (std::find(check.expect_status.begin(), check.expect_status.end(), response.status) ==
             check.expect_status.end()) {
    std::string expected;
    for (int s : check.expect_status)
      expected += (expected.empty() ? "" : " or ") + std::to_string(s);
    o.detail = "status " + std::to_string(response.status) + ", expected " + expected;
  } else {
    o.passed = true;
  }
  return o;
}

QueryResult ProbeInput(const ProbeOutcome& outcome) {
  if (outcome.transport == TransportError::kLocal) {
    return QueryResult::Error(outcome.detail + "; not the service's failure", InputError::kLocal);
  }
  QueryResult r;
  r.http_status = outcome.status;
  r.detail = outcome.detail;
  r.series.push_back({Labels(), outcome.passed ? 1.0 : 0.0});
  return r;
}

void RunProbe(HttpTransport& http, const HealthCheck& check,
              std::function<void(ProbeOutcome)> done) {
  HttpRequest req;
  req.url = check.url;
  req.timeout = check.timeout;
  // Only the status counts: the body is read to its end (the answer must be whole, the
  // connection stays reusable) and none of it is kept.
  req.body_limit = BodyLimit::Discard();
  // A copy: a configuration reload may replace `check` while the probe is in flight.
  http.Send(std::move(req), [check, done = std::move(done)](HttpResponse response) {
    done(ReadProbe(response, check));
  });
}

QueryResult TransportFailure(const HttpResponse& response) {
  InputError kind = InputError::kConnection;
  if (response.transport == TransportError::kTimeout) kind = InputError::kTimeout;
  if (response.transport == TransportError::kTooLarge) kind = InputError::kBadResponse;
  if (response.transport == TransportError::kLocal) kind = InputError::kLocal;
  return QueryResult::Error(response.error, kind);
}

std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

HttpRequest PrometheusPost(const PrometheusEndpoint& endpoint, std::string_view path,
                           std::string form) {
  const PrometheusSource& src = endpoint.config;
  HttpRequest req;
  req.method = "POST";
  req.url = src.url + std::string(path);
  req.timeout = src.timeout;
  req.body = std::move(form);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  for (const auto& [k, v] : src.headers) req.headers.emplace_back(k, v);
  req.bearer_token = endpoint.bearer_token;
  req.basic_username = src.basic_auth_username;
  req.basic_password = endpoint.basic_password;
  req.ca_file = src.tls.ca_file;
  req.cert_file = src.tls.cert_file;
  req.key_file = src.tls.key_file;
  req.insecure_skip_verify = src.tls.insecure_skip_verify;
  return req;
}

std::string PromTime(Time t) {
  const int64_t ms = t.time_since_epoch().count();
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(secs),
                static_cast<long long>(ms - secs * 1000));
  return text;
}

void RunInstantQuery(HttpTransport& http, Clock& clock, PromResponseReader& reader,
                     const PrometheusEndpoint& endpoint, const std::string& promql, Time at,
                     std::function<void(QueryResult)> done) {
  HttpRequest req = PrometheusPost(endpoint, "/api/v1/query",
                                   "query=" + FormEncode(promql) + "&time=" + PromTime(at));
  const WallTime sent = clock.WallNow();
  http.Send(std::move(req), [&reader, &clock, sent, source = endpoint.config.name,
                             bound = endpoint.config.max_clock_skew,
                             done = std::move(done)](HttpResponse response) {
    if (!response.error.empty()) {
      done(TransportFailure(response));
      return;
    }
    const WallTime received = clock.WallNow();
    QueryResult r = reader.Read(response.status, response.body);
    SkewReading skew = ReadClockSkew(response, sent, received, source, bound);
    if (!skew.error.empty()) {
      // The clocks first: an answer for another instant is no evidence, whatever it says.
      if (r.is_error()) skew.error += "; the answer itself: " + r.error;
      r = QueryResult::Error(std::move(skew.error), InputError::kClock);
      r.http_status = response.status;
    }
    r.clock_skew = skew.seconds;
    r.clock_note = std::move(skew.note);
    done(std::move(r));
  });
}

}  // namespace rollbackd
