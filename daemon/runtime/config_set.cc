#include "daemon/runtime/config_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/config/loader.h"

namespace rollbackd {

std::optional<ConfigSet> LoadConfigSet(const std::string& path) {
  Diagnostics diags;
  auto loaded = LoadConfig(path, &diags);
  for (const Diagnostic& d : diags.Sorted()) {
    if (d.level == Diagnostic::Level::kError) {
      spdlog::error("{}", d.ToString());
    } else {
      spdlog::warn("{}", d.ToString());
    }
  }
  if (!loaded) {
    spdlog::error("{}: {} configuration error(s)", path, diags.error_count());
    return std::nullopt;
  }
  std::vector<std::string> errors;
  auto secrets = LoadSecrets(*loaded, &errors);
  if (!secrets) {
    for (const std::string& e : errors) spdlog::error("{}: {}", path, e);
    return std::nullopt;
  }
  return ConfigSet{std::make_shared<const Config>(std::move(*loaded)), std::move(*secrets)};
}

std::string ConfigSummary(const Config& config, size_t inputs) {
  size_t triggers = 0, checks = 0;
  for (const Service& s : config.services) {
    triggers += s.triggers.size();
    checks += s.health.size();
  }
  return fmt::format("configuration {}: {} services, {} triggers, {} health checks, {} inputs{}",
                     config.file, config.services.size(), triggers, checks, inputs,
                     config.daemon.dry_run ? " (dry run: no hook will run)" : "");
}

bool ReloadAllowed(const Config& running, const Config& next,
                   const std::vector<ServiceStatus>& status) {
  for (const ServiceStatus& st : status) {
    if (st.rollback_in_flight.empty()) continue;
    if (std::none_of(next.services.begin(), next.services.end(),
                     [&](const Service& s) { return s.name == st.name; })) {
      spdlog::error(
          "service {} has rollback {} in flight and the new configuration removes it; "
          "reload again once it has finished",
          st.name, st.rollback_in_flight);
      return false;
    }
  }
  auto cluster_key = [](const Config& c) {
    if (!c.cluster) return std::string();
    std::string key = c.cluster->name + '\n' + c.cluster->prefix + '\n' +
                      std::to_string(c.cluster->lease_ttl.count());
    for (const std::string& url : c.cluster->etcd) key += '\n' + url;
    return key;
  };
  if (cluster_key(next) != cluster_key(running)) {
    spdlog::error(
        "[cluster] (its presence, name, etcd, prefix or lease_ttl) changed: a member cannot move "
        "between clusters while running; restart the daemon to apply it");
    return false;
  }
  if (next.daemon.state_dir != running.daemon.state_dir ||
      next.daemon.listen != running.daemon.listen) {
    spdlog::warn("reload: daemon.state_dir and daemon.listen take effect at the next restart");
  }
  return true;
}

}  // namespace rollbackd
