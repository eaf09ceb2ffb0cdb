// Loading and validating rollbackd.toml and rule files. Every function reports all problems it finds
// to `diags` as file:line:column: key: message, and returns nullopt when there was any error: a
// configuration is used whole or not at all, so the daemon can keep its last good one.
#ifndef ROLLBACKD_CONFIG_LOADER_H_
#define ROLLBACKD_CONFIG_LOADER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostics.h"
#include "daemon/config/model.h"

namespace rollbackd {

// Reads `path` and every rule file its [daemon].rules globs name (relative to `path`'s folder).
// A configuration without errors also gets CheckRoutes' warnings (daemon/config/route_check.h).
std::optional<Config> LoadConfig(const std::string& path, Diagnostics* diags);

// Reads rule files alone, as `rollbackd check FILE...` and `rollbackd test` do: no daemon config,
// so source names are not checked (every name is accepted) and the daemon settings are defaults.
std::optional<Config> LoadRuleFiles(const std::vector<std::string>& paths, Diagnostics* diags);

// From text, for tests. `file` only names the text in diagnostics and anchors relative paths.
std::optional<Service> ParseRuleFile(std::string_view text, const std::string& file,
                                     Diagnostics* diags);
// The daemon config alone: its rule globs are kept but not expanded.
std::optional<Config> ParseDaemonConfig(std::string_view text, const std::string& file,
                                        Diagnostics* diags);

// Checks what spans files: unique service names, sources and channels that exist.
// `check_sources` is false when no daemon config was given.
void ValidateConfig(const Config& config, bool check_sources, Diagnostics* diags);

// Names of services, triggers and health checks: [A-Za-z0-9_.-]+, as they appear in URLs, file
// names and environment variables.
bool IsValidName(std::string_view name);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_LOADER_H_
