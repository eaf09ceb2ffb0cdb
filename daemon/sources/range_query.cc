#include "daemon/sources/range_query.h"

#include <algorithm>
#include <cstdio>

namespace rollbackd {

void RunRangeQuery(HttpTransport& http, PromRangeReader& reader, const PrometheusEndpoint& endpoint,
                   const std::string& promql, Time start, Time end, Duration step,
                   std::function<void(RangeResult)> done) {
  char step_text[32];
  std::snprintf(step_text, sizeof step_text, "%.3f", static_cast<double>(step.count()) / 1000.0);
  HttpRequest req = PrometheusPost(endpoint, "/api/v1/query_range",
                                   "query=" + FormEncode(promql) + "&start=" + PromTime(start) +
                                       "&end=" + PromTime(end) + "&step=" + step_text);
  req.timeout = std::max(req.timeout, kMinRangeQueryTimeout);
  http.Send(std::move(req), [&reader, done = std::move(done)](HttpResponse response) {
    if (!response.error.empty()) {
      RangeResult r;
      r.error = TransportFailure(response);
      done(std::move(r));
      return;
    }
    done(reader.Read(response.status, response.body));
  });
}

}  // namespace rollbackd
