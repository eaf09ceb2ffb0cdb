#include "daemon/engine/event.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "daemon/engine/hash.h"

namespace rollbackd {
namespace {

constexpr std::array<std::string_view, kAllEventKindCount> kNames{
    "trigger.pending",    "trigger.firing",  "trigger.resolved",    "rollback.started",
    "rollback.succeeded", "rollback.failed", "rollback.verified",   "rollback.not_recovered",
    "rollback.skipped",   "source.down",     "source.up",           "cluster.down",
    "cluster.up",         "fleet.brake",     "fleet.brake_released"};

nlohmann::json Number(const std::optional<double>& v) {
  if (!v) return nullptr;
  return *v;  // NaN never reaches an event: the engine treats it as no data
}

}  // namespace

std::string_view EventKindName(EventKind k) { return kNames[static_cast<size_t>(k)]; }

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

std::string FormatTime(Time t) {
  auto ms = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string DescribeEvent(const Event& e, bool with_service) {
  std::string out(EventKindName(e.kind));
  const bool service = with_service && !e.service.empty();
  if (service) out += " " + e.service + (e.trigger.empty() ? "" : "/");
  if (!e.trigger.empty()) out += (service ? "" : " ") + e.trigger;
  std::vector<Labels::Pair> pairs(e.labels.begin(), e.labels.end());
  Labels labels(std::move(pairs));
  if (!labels.empty()) out += " " + labels.ToString();
  if (!e.skip_reason.empty()) out += " [" + e.skip_reason + "]";
  out += ": " + e.reason;
  return out;
}

std::string MakeEventId(EventKind kind, std::string_view service, std::string_view trigger,
                        uint64_t labels_hash, Time time) {
  using internal::HashField;
  uint64_t h = internal::kHashSeed;
  h = HashField(h, EventKindName(kind));
  h = HashField(h, service);
  h = HashField(h, trigger);
  h = HashField(h, std::to_string(labels_hash));
  h = HashField(h, std::to_string(time.time_since_epoch().count()));
  char buf[24];
  std::snprintf(buf, sizeof buf, "evt_%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  // Back off continuation bytes (10xxxxxx) so that the cut falls before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string EventToJson(const Event& e) {
  nlohmann::json j;
  j["event"] = EventKindName(e.kind);
  j["id"] = e.id;
  j["time"] = FormatTime(e.time);
  j["service"] = e.service;
  j["trigger"] = e.trigger;
  j["severity"] = SeverityName(e.severity);
  j["labels"] = e.labels;
  j["value"] = Number(e.value);
  j["threshold"] = Number(e.threshold);
  j["baseline"] = Number(e.baseline);
  j["condition"] = e.condition;
  j["reason"] = e.reason;
  j["version"] = e.version.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.version);
  const bool rollback =
      e.kind == EventKind::kRollbackStarted || e.kind == EventKind::kRollbackSucceeded ||
      e.kind == EventKind::kRollbackFailed || e.kind == EventKind::kRollbackVerified ||
      e.kind == EventKind::kRollbackNotRecovered || e.kind == EventKind::kRollbackSkipped;
  if (rollback) {
    nlohmann::json r;
    r["id"] = e.rollback_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.rollback_id);
    r["cause_id"] = e.cause_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.cause_id);
    r["skip_reason"] =
        e.skip_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.skip_reason);
    if (e.hook) {
      nlohmann::json h;
      h["type"] = e.hook->type;
      if (e.hook->type == "exec") h["argv"] = e.hook->argv;
      if (e.hook->type == "http") h["url"] = e.hook->url;
      r["hook"] = h;
    } else {
      r["hook"] = nullptr;
    }
    r["exit_status"] = e.exit_status ? nlohmann::json(*e.exit_status) : nlohmann::json(nullptr);
    r["duration_seconds"] =
        e.duration ? nlohmann::json(e.duration->count() / 1000.0) : nlohmann::json(nullptr);
    r["output"] = e.output;
    r["fencing_token"] =
        e.fencing_token ? nlohmann::json(*e.fencing_token) : nlohmann::json(nullptr);
    j["rollback"] = r;
  }
  if (e.compare) {
    j["u"] = e.compare->u;
    j["p_value"] = e.compare->p_value;
    j["effect"] = Number(e.compare->effect);
    j["n"] = {{"query", e.compare->n}, {"baseline", e.compare->n_baseline}};
  }
  if (e.brake) {
    j["brake"] = {{"rolled_back", e.brake->rolled_back},
                  {"held", e.brake->held},
                  {"max_rollbacks", e.brake->max_rollbacks},
                  {"window_seconds", e.brake->window.count() / 1000.0}};
  }
  // Replace invalid UTF-8 (hook output is arbitrary bytes) instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view InputErrorCategory(InputError e) {
  switch (e) {
    case InputError::kTimeout:
      return "timeout";
    case InputError::kNone:
    case InputError::kConnection:
      return "connection";
    case InputError::kLocal:
      return "local";
    case InputError::kHttpStatus:
      return "http_status";
    case InputError::kPromql:
      return "prometheus_error";
    case InputError::kWarnings:
      return "warnings";
    case InputError::kClock:
      return "clock";
    case InputError::kBadResponse:
    case InputError::kUnknownSource:
    case InputError::kInput:
      return "bad_response";
  }
  return "bad_response";
}

}  // namespace rollbackd
