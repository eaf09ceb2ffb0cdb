#include "daemon/runtime/status_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "daemon/engine/event.h"

namespace rollbackd {
namespace {

using nlohmann::json;

json OptionalNumber(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json OptionalTime(const std::optional<Time>& t) { return t ? json(FormatTime(*t)) : json(nullptr); }
json OptionalString(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// One trigger or health check with its series; its state is the worst of theirs.
json RuleJson(const ServiceStatus& s, const std::string& name, const char* kind) {
  json series = json::array();
  std::string worst = "inactive";
  for (const SeriesStatus& x : s.series) {
    if (x.trigger != name) continue;
    json labels = json::object();
    for (const auto& [k, v] : x.labels.pairs()) labels[std::string(k)] = v;
    series.push_back({{"labels", labels},
                      {"state", x.state},
                      {"value", OptionalNumber(x.value)},
                      {"threshold", OptionalNumber(x.threshold)},
                      {"baseline", OptionalNumber(x.baseline)},
                      {"pending_since", OptionalTime(x.pending_since)},
                      {"firing_since", OptionalTime(x.firing_since)}});
    if (x.state == "firing" || (x.state == "pending" && worst == "inactive")) worst = x.state;
  }
  json last_error = nullptr;
  for (const auto& [trigger, error] : s.errors) {
    if (trigger == name) last_error = error;
  }
  return {{"name", name},
          {"kind", kind},
          {"state", worst},
          {"last_error", last_error},
          {"series", series}};
}

}  // namespace

std::string StatusJson(const Config& config, const std::vector<ServiceStatus>& status,
                       const DaemonInfo& info) {
  json services = json::array();
  for (const ServiceStatus& s : status) {
    const Service* def = nullptr;
    for (const Service& c : config.services) {
      if (c.name == s.name) def = &c;
    }
    json triggers = json::array();
    if (def != nullptr) {
      for (const Trigger& t : def->triggers) triggers.push_back(RuleJson(s, t.name, "trigger"));
      for (const HealthCheck& h : def->health) triggers.push_back(RuleJson(s, h.name, "health"));
    }
    services.push_back({{"name", s.name},
                        {"paused", s.paused},
                        {"dry_run", config.daemon.dry_run || (def != nullptr && def->dry_run)},
                        {"version", OptionalString(s.version)},
                        {"last_deploy", OptionalTime(s.last_deploy)},
                        {"last_rollback", OptionalTime(s.last_rollback)},
                        {"rollback_in_flight", OptionalString(s.rollback_in_flight)},
                        {"triggers", triggers}});
    if (info.cluster) {
      const std::string owner = info.cluster->owner(s.name);
      services.back()["owner"] = OptionalString(owner);
      services.back()["evaluated_here"] = s.active;
    }
  }
  json doc = {{"version", info.version},
              {"config_file", config.file},
              {"ready", info.ready},
              {"dry_run", config.daemon.dry_run},
              {"services", services}};
  if (config.daemon.brake) {
    json groups = json::array();
    for (const BrakeStatus& b : info.brake) {
      groups.push_back({{"group", b.group},
                        {"labels", b.labels},
                        {"engaged", b.engaged},
                        {"since", b.since ? json(FormatTime(*b.since)) : json(nullptr)},
                        {"rolled_back", b.rolled_back},
                        {"held", b.held}});
    }
    doc["brake"] = {{"max_rollbacks", config.daemon.brake->max_rollbacks},
                    {"window_seconds", config.daemon.brake->window.count() / 1000.0},
                    {"by", config.daemon.brake->by},
                    {"engaged", std::any_of(info.brake.begin(), info.brake.end(),
                                            [](const BrakeStatus& b) { return b.engaged; })},
                    {"groups", std::move(groups)}};
  }
  if (info.cluster) {
    doc["cluster"] = {{"name", info.cluster->name},
                      {"members", info.cluster->members},
                      {"healthy", info.cluster->healthy},
                      {"lease", {{"id", std::to_string(info.cluster->lease)},
                                 {"live", info.cluster->live}}}};
  }
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string StatusLine(const std::vector<ServiceStatus>& status) {
  size_t firing = 0, in_flight = 0, paused = 0;
  for (const ServiceStatus& s : status) {
    for (const SeriesStatus& x : s.series) firing += x.state == "firing" ? 1 : 0;
    in_flight += s.rollback_in_flight.empty() ? 0 : 1;
    paused += s.paused ? 1 : 0;
  }
  return fmt::format("watching {} service(s); {} series firing; {} rollback(s) running; {} paused",
                     status.size(), firing, in_flight, paused);
}

}  // namespace rollbackd
