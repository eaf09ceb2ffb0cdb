// Loading a configuration for the daemon: the files (config/loader.h), with every diagnostic
// logged, and the secrets its sources, hooks and API read from files (secrets.h). All or nothing:
// nullopt when anything fails, and the daemon keeps what it runs with.
#ifndef ROLLBACKD_RUNTIME_CONFIG_SET_H_
#define ROLLBACKD_RUNTIME_CONFIG_SET_H_

#include <memory>
#include <optional>
#include <string>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "daemon/runtime/secrets.h"

namespace rollbackd {

struct ConfigSet {
  std::shared_ptr<const Config> config;
  ConfigSecrets secrets;
};

std::optional<ConfigSet> LoadConfigSet(const std::string& path);

// Whether `next` may replace `running`: not while it removes a service with a rollback in flight
// (logged). A change of daemon.state_dir or daemon.listen is allowed and waits for a restart
// (logged).
bool ReloadAllowed(const Config& running, const Config& next,
                   const std::vector<ServiceStatus>& status);

// "configuration <file>: 2 services, 5 triggers, 1 health checks, 7 inputs"
std::string ConfigSummary(const Config& config, size_t inputs);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_CONFIG_SET_H_
