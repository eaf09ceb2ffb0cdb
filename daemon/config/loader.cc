#include "daemon/config/loader.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>

#include "daemon/config/loader_internal.h"
#include "daemon/config/route_check.h"
#include "daemon/config/toml_reader.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

std::string DirOf(const std::string& file) {
  fs::path p = fs::path(file).parent_path();
  return p.empty() ? "." : p.string();
}

}  // namespace

std::string_view CompareDirectionName(CompareSpec::Direction d) {
  switch (d) {
    case CompareSpec::Direction::kIncrease:
      return "increase";
    case CompareSpec::Direction::kDecrease:
      return "decrease";
    case CompareSpec::Direction::kEither:
      return "either";
  }
  return "increase";
}

namespace config_internal {

// Appended, not `"\"" + std::string(s) + "\""`: GCC 12 at -O3 (Release) reports a false
// -Wrestrict in that operator+ once inlined (as in Diagnostic::ToString).
std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

std::string Where(const SourceLocation& l) {
  return l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
}

std::string Resolve(const std::string& file, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(DirOf(file)) / path).lexically_normal().string();
}

bool IsHttpUrl(std::string_view url) {
  auto rest = [&](std::string_view prefix) {
    return url.substr(0, prefix.size()) == prefix && url.size() > prefix.size();
  };
  return rest("http://") || rest("https://");
}

std::optional<Duration> PositiveDuration(TableReader& r, std::string_view key, bool required,
                                         bool allow_zero) {
  auto d = r.DurationValue(key, required);
  if (d && (d->count() < 0 || (!allow_zero && d->count() == 0))) {
    r.Error(key, allow_zero ? "must not be negative" : "must be longer than 0s");
    return std::nullopt;
  }
  return d;
}

std::optional<Severity> ReadSeverity(TableReader& r, std::string_view key) {
  auto s = r.String(key);
  if (!s) return std::nullopt;
  auto sev = ParseSeverity(*s);
  if (!sev) r.Error(key, "unknown severity " + Quote(*s) + " (critical, warning or info)");
  return sev;
}

}  // namespace config_internal

namespace {

using config_internal::IsHttpUrl;
using config_internal::ParseDaemonConfigTable;
using config_internal::ParseService;
using config_internal::Quote;
using config_internal::Resolve;
using config_internal::Where;

std::optional<Service> LoadRuleFile(const std::string& path, Diagnostics* diags) {
  std::string error;
  auto text = ReadTextFile(path, &error);
  if (!text) {
    diags->Error({path, 0, 0}, "", error);
    return std::nullopt;
  }
  return ParseRuleFile(*text, path, diags);
}

bool HasGlobMeta(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

std::optional<Service> ParseRuleFile(std::string_view text, const std::string& file,
                                     Diagnostics* diags) {
  auto root = ParseToml(text, file, diags);
  if (!root) return std::nullopt;
  return ParseService(*root, file, diags);
}

std::optional<Config> ParseDaemonConfig(std::string_view text, const std::string& file,
                                        Diagnostics* diags) {
  const int errors_before = diags->error_count();
  auto root = ParseToml(text, file, diags);
  if (!root) return std::nullopt;
  Config c = ParseDaemonConfigTable(*root, file, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return c;
}

void ValidateConfig(const Config& config, bool check_sources, Diagnostics* diags) {
  std::map<std::string, const Service*> names;
  for (const Service& s : config.services) {
    auto [it, inserted] = names.emplace(s.name, &s);
    if (!inserted) {
      diags->Error(s.where, "service",
                   "duplicate service " + Quote(s.name) + " (also in " + Where(it->second->where) +
                       ")");
    }
    if (!check_sources) continue;
    std::string defined = config.sources.empty()
                              ? std::string(" (") + config.file + " defines no [prometheus.*])"
                              : "";
    for (size_t i = 0; i < s.triggers.size(); ++i) {
      const Trigger& t = s.triggers[i];
      if (config.FindSource(t.source) == nullptr) {
        diags->Error(t.source_where, "trigger[" + std::to_string(i) + "].source",
                     "unknown source " + Quote(t.source) + defined);
      }
    }
    if (s.deploy && !s.deploy->version_query.empty() &&
        config.FindSource(s.deploy->source) == nullptr) {
      diags->Error(s.deploy->source_where, "deploy.source", "unknown source " + Quote(s.deploy->source) + defined);
    }
  }
}

std::optional<Config> LoadRuleFiles(const std::vector<std::string>& paths, Diagnostics* diags) {
  Config c;
  const int errors_before = diags->error_count();
  std::set<std::string> seen;  // a file named twice (rules/*.toml rules/a.toml) is read once
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(p, ec);
    if (!seen.insert(ec ? p : canonical.string()).second) continue;
    if (auto s = LoadRuleFile(p, diags)) c.services.push_back(std::move(*s));
  }
  ValidateConfig(c, /*check_sources=*/false, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return c;
}

std::optional<Config> LoadConfig(const std::string& path, Diagnostics* diags) {
  std::string error;
  auto text = ReadTextFile(path, &error);
  if (!text) {
    diags->Error({path, 0, 0}, "", error);
    return std::nullopt;
  }
  const int errors_before = diags->error_count();
  auto root = ParseToml(*text, path, diags);
  if (!root) return std::nullopt;
  Config config = ParseDaemonConfigTable(*root, path, diags);
  // Rule files are read even when rollbackd.toml has errors, so that one run reports every problem;
  // sources are then not checked, as one may be missing only because of such an error.
  const bool daemon_ok = diags->error_count() == errors_before;

  // Expand the rule globs; a file named twice is read once.
  std::set<std::string> seen;
  const toml::array* globs = (*root)["daemon"]["rules"].as_array();
  for (size_t i = 0; i < config.daemon.rules.size(); ++i) {
    const std::string pattern = Resolve(path, config.daemon.rules[i]);
    SourceLocation where = LocationOf(globs->get(i)->source(), path);
    std::string key = "daemon.rules[" + std::to_string(i) + "]";
    glob_t g{};
    // A folder that does not exist ("rules.d/*.toml" before rules.d is made) is a pattern that
    // matches nothing, not a read error; any other error (permissions) stops the expansion.
    auto on_error = [](const char*, int err) { return err == ENOENT || err == ENOTDIR ? 0 : 1; };
    int rc = glob(pattern.c_str(), 0, on_error, &g);
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    if (rc == GLOB_NOMATCH || (rc == 0 && matches.empty())) {
      if (HasGlobMeta(pattern)) {
        diags->Warning(where, key, "no rule file matches " + Quote(pattern));
      } else {
        diags->Error(where, key, "no such rule file " + Quote(pattern));
      }
      continue;
    }
    if (rc != 0) {
      diags->Error(where, key, "cannot read " + Quote(pattern));
      continue;
    }
    for (const std::string& m : matches) {
      if (!seen.insert(fs::weakly_canonical(m).string()).second) continue;
      if (auto s = LoadRuleFile(m, diags)) config.services.push_back(std::move(*s));
    }
  }
  ValidateConfig(config, /*check_sources=*/daemon_ok, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  // Advice about routes needs the whole, valid configuration (services included); `check` and
  // the daemon both load through here, so both report it.
  CheckRoutes(config, diags);
  if (config.services.empty()) {
    // An empty or truncated rollbackd.toml parses: say loudly that it watches nothing, in `check`
    // and in the daemon's log, rather than start (or reload into) a daemon that never acts.
    SourceLocation where{path, 1, 1};
    if (const toml::node* rules = root->at_path("daemon.rules").node()) {
      where = LocationOf(rules->source(), path);
    }
    diags->Warning(where, "daemon.rules",
                   config.daemon.rules.empty()
                       ? "no services: no rule files are named, so rollbackd watches nothing and "
                         "rolls nothing back (set daemon.rules, e.g. [\"/etc/rollbackd/rules.d/"
                         "*.toml\"])"
                       : "no services: no rule file defines one, so rollbackd watches nothing and "
                         "rolls nothing back");
  }
  return config;
}

// ---- model.h helpers ----

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "unknown";
}

std::optional<Severity> ParseSeverity(std::string_view s) {
  if (s == "info") return Severity::kInfo;
  if (s == "warning") return Severity::kWarning;
  if (s == "critical") return Severity::kCritical;
  return std::nullopt;
}

std::string_view NoDataName(NoDataPolicy p) {
  switch (p) {
    case NoDataPolicy::kOk: return "ok";
    case NoDataPolicy::kHold: return "hold";
    case NoDataPolicy::kBreach: return "breach";
  }
  return "unknown";
}

std::string_view ConditionKeyName(ConditionKind k) {
  return config_internal::kConditionKeys[static_cast<size_t>(k)];
}

std::string_view ChannelTypeName(ChannelType t) {
  switch (t) {
    case ChannelType::kWebhook: return "webhook";
    case ChannelType::kSlack: return "slack";
    case ChannelType::kAlertmanager: return "alertmanager";
    case ChannelType::kExec: return "exec";
    case ChannelType::kLog: return "log";
  }
  return "unknown";
}

const PrometheusSource* Config::FindSource(std::string_view name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const Channel* Config::FindChannel(std::string_view name) const {
  for (const auto& c : channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace rollbackd
