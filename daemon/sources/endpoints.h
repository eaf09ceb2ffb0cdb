// The Prometheus sources of a configuration, ready to query: each source's settings with the
// secrets its files name (bearer token, basic-auth password) read in. Shared by the daemon
// (runtime/secrets.h) and `rollbackd replay`.
#ifndef ROLLBACKD_SOURCES_ENDPOINTS_H_
#define ROLLBACKD_SOURCES_ENDPOINTS_H_

#include <map>
#include <string>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/sources/probe.h"

namespace rollbackd {

// By source name. A file that cannot be read adds one message to `errors` naming the key and the
// file, never the content; its source is still in the map, without that secret. A file every user
// of the host can read is loaded and adds a message to `warnings` (when given).
std::map<std::string, PrometheusEndpoint> LoadEndpoints(
    const Config& config, std::vector<std::string>* errors,
    std::vector<std::string>* warnings = nullptr);

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_ENDPOINTS_H_
