#include "daemon/runtime/config_set.h"

#include <spdlog/spdlog.h>

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

}  // namespace rollbackd
