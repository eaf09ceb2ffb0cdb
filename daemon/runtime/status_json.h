// The document GET /api/v1/status serves (docs/api.md): every service, trigger, health check and
// series with state, value, threshold, baseline and timestamps.
#ifndef ROLLBACKD_RUNTIME_STATUS_JSON_H_
#define ROLLBACKD_RUNTIME_STATUS_JSON_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"

namespace rollbackd {

struct DaemonInfo {
  std::string version;
  bool ready = false;
  // Cluster mode: the document gains "cluster" and each service its "owner".
  struct Cluster {
    std::string name;
    std::vector<std::string> members;
    bool healthy = false;
    bool live = false;
    int64_t lease = 0;
    std::function<std::string(const std::string& service)> owner;
  };
  std::optional<Cluster> cluster;
  // [daemon].brake: the document gains "brake" (docs/api.md).
  std::vector<BrakeStatus> brake;
};

std::string StatusJson(const Config& config, const std::vector<ServiceStatus>& status,
                       const DaemonInfo& info);

// systemd's one-line status, what `systemctl status` shows: "watching 3 service(s); 1 series
// firing; 0 rollback(s) running; 0 paused".
std::string StatusLine(const std::vector<ServiceStatus>& status);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_STATUS_JSON_H_
