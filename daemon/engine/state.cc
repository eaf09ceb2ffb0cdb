// Engine state as JSON: what the daemon persists in state_dir so that restarts and reloads keep
// pending windows, firing triggers, snapshots, cooldowns and rollbacks in flight.
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/engine/engine.h"
#include "daemon/engine/engine_internal.h"
#include "daemon/engine/hash.h"
#include "daemon/engine/json_int.h"

namespace rollbackd {

using internal::Phase;
using internal::Rule;
using internal::SeriesState;
using internal::ServiceRuntime;
using nlohmann::json;

namespace {

constexpr int kFormat = 1;

json TimeJson(const std::optional<Time>& t) {
  if (!t) return nullptr;
  return t->time_since_epoch().count();
}

std::optional<Time> TimeFrom(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Time(std::chrono::milliseconds(JsonInt(j)));
}

json NumberJson(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

double NumberFrom(const json& j) { return j.is_null() ? internal::kNaN : j.get<double>(); }

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Phase PhaseFrom(const std::string& s) {
  if (s == "pending") return Phase::kPending;
  if (s == "firing") return Phase::kFiring;
  return Phase::kInactive;
}

Severity SeverityFrom(const json& j) {
  return ParseSeverity(j.get<std::string>()).value_or(Severity::kCritical);
}

// One service's state. `values`: with the last values read, which change every round; without
// them the text changes only with a decision (cluster mode writes it to etcd on change).
json ServiceJson(const ServiceRuntime& s, bool values) {
  json rules = json::object();
  for (const Rule& r : s.rules) {
    json series = json::array();
    for (const auto& [labels, st] : r.series) {
      json labels_json = json::object();
      for (const auto& [k, v] : labels.pairs()) labels_json[std::string(k)] = v;
      json one = {{"labels", labels_json},
                  {"phase", internal::PhaseName(st.phase)},
                  {"pending_since", st.pending_since.time_since_epoch().count()},
                  {"firing_since", st.firing_since.time_since_epoch().count()},
                  {"snapshot", NumberJson(st.snapshot)},
                  {"firing_id", st.firing_id}};
      if (values) one["last_value"] = NumberJson(st.last_value);
      if (!st.step_since.empty()) {
        json since = json::array();
        for (Time t : st.step_since) {
          since.push_back(t == internal::kNotHeld ? json(nullptr)
                                                  : json(t.time_since_epoch().count()));
        }
        one["step_since"] = std::move(since);
      }
      if (st.fired_step >= 0) one["fired_step"] = st.fired_step;
      // A comparison's windows: in state.json (a restart keeps them), not in the decision state
      // that cluster mode writes on change (they change every round).
      if (values && r.compare) {
        auto window = [](const std::vector<std::pair<Time, double>>& w) {
          json out = json::array();
          for (const auto& [t, v] : w) out.push_back({t.time_since_epoch().count(), v});
          return out;
        };
        one["samples"] = window(st.samples);
        one["baseline_samples"] = window(st.baseline_samples);
      }
      series.push_back(std::move(one));
    }
    json rule = {{"fingerprint", Hex(r.fingerprint)},
                 {"error_since", TimeJson(r.error_since)},
                 {"source_down", r.source_down},
                 {"series", std::move(series)}};
    if (values) rule["last_error"] = r.last_error;
    rules[r.name] = std::move(rule);
  }
  json in_flight = nullptr;
  if (s.in_flight) {
    in_flight = {{"id", s.in_flight->id},
                 {"cause_id", s.in_flight->cause_id},
                 {"trigger", s.in_flight->trigger},
                 {"labels", s.in_flight->labels},
                 {"severity", SeverityName(s.in_flight->severity)},
                 {"started", s.in_flight->started.time_since_epoch().count()}};
  }
  json verifying = nullptr;
  if (s.verifying) {
    verifying = {{"rollback_id", s.verifying->rollback_id},
                 {"trigger", s.verifying->trigger},
                 {"labels", s.verifying->labels},
                 {"severity", SeverityName(s.verifying->severity)},
                 {"since", s.verifying->since.time_since_epoch().count()},
                 {"deadline", s.verifying->deadline.time_since_epoch().count()}};
  }
  json out = {{"paused", s.paused},
              {"versions", s.versions},
              {"versions_known", s.versions_known},
              {"version", s.version},
              {"last_deploy", TimeJson(s.last_deploy)},
              {"episode_rollback_id", s.episode_rollback_id},
              {"last_rollback", TimeJson(s.last_rollback)},
              {"in_flight", std::move(in_flight)},
              {"verifying", std::move(verifying)},
              {"rules", std::move(rules)}};
  if (s.brake_held) out["brake_held"] = true;  // only when set: the text stays as it was
  return out;
}

json BrakeJson(const internal::Brake& brake) {
  json groups = json::object();
  for (const auto& [key, g] : brake.groups()) {
    json started = json::array();
    for (const auto& [t, service] : g.started) {
      started.push_back({{"time", t.time_since_epoch().count()}, {"service", service}});
    }
    groups[key] = {{"labels", g.labels},
                   {"started", std::move(started)},
                   {"engaged", g.engaged},
                   {"since", g.since.time_since_epoch().count()},
                   {"last_candidate", g.last_candidate.time_since_epoch().count()},
                   {"held", g.held}};
  }
  return groups;
}

void BrakeFrom(const json& j, internal::Brake& brake) {
  brake.groups().clear();
  for (const auto& [key, gj] : j.items()) {
    internal::BrakeGroup g;
    g.labels = gj.at("labels").get<LabelMap>();
    for (const json& x : gj.at("started")) {
      g.started.emplace_back(Time(std::chrono::milliseconds(JsonInt(x.at("time")))),
                             x.at("service").get<std::string>());
    }
    g.engaged = gj.at("engaged").get<bool>();
    g.since = Time(std::chrono::milliseconds(JsonInt(gj.at("since"))));
    g.last_candidate = Time(std::chrono::milliseconds(JsonInt(gj.at("last_candidate"))));
    g.held = gj.at("held").get<std::vector<std::string>>();
    brake.groups()[key] = std::move(g);
  }
}

// `current` with its state cleared: the definition, and nothing decided yet.
ServiceRuntime Fresh(const ServiceRuntime& current) {
  ServiceRuntime s;
  s.def = current.def;
  s.rules.reserve(current.rules.size());
  s.inputs = current.inputs;
  s.version_input = current.version_input;
  s.version_match = current.version_match;
  s.version_match_slots = current.version_match_slots;
  s.dry_run = current.dry_run;
  s.active = current.active;
  s.brake_group = current.brake_group;
  for (const Rule& r : current.rules) {
    Rule copy = r;  // the definition; its state comes from the JSON alone
    copy.series.clear();
    copy.epoch = 0;
    copy.error_since.reset();
    copy.source_down = false;
    copy.last_error.clear();
    s.rules.push_back(std::move(copy));
  }
  return s;
}

// Reads `j` (as ServiceJson wrote it, with or without values) into `s` (fresh). Throws
// json::exception.
void ServiceFrom(const json& j, ServiceRuntime& s) {
  s.paused = j.at("paused").get<bool>();
  s.versions = j.at("versions").get<std::vector<std::string>>();
  s.versions_known = j.at("versions_known").get<bool>();
  s.version = j.at("version").get<std::string>();
  s.last_deploy = TimeFrom(j.at("last_deploy"));
  s.episode_rollback_id = j.at("episode_rollback_id").get<std::string>();
  s.last_rollback = TimeFrom(j.at("last_rollback"));
  s.brake_held = j.value("brake_held", false);
  // Kept even if [rollback] was removed since: an unfinished rollback must still be reported.
  if (const json& f = j.at("in_flight"); !f.is_null()) {
    s.in_flight = internal::InFlight{f.at("id").get<std::string>(),
                                     f.at("cause_id").get<std::string>(),
                                     f.at("trigger").get<std::string>(),
                                     f.at("labels").get<LabelMap>(),
                                     SeverityFrom(f.at("severity")),
                                     Time(std::chrono::milliseconds(JsonInt(f.at("started"))))};
  }
  if (const json& v = j.at("verifying"); !v.is_null()) {
    s.verifying = internal::Verifying{v.at("rollback_id").get<std::string>(),
                                      v.at("trigger").get<std::string>(),
                                      v.at("labels").get<LabelMap>(),
                                      SeverityFrom(v.at("severity")),
                                      Time(std::chrono::milliseconds(JsonInt(v.at("since")))),
                                      Time(std::chrono::milliseconds(JsonInt(v.at("deadline"))))};
  }
  const json& rules = j.at("rules");
  for (Rule& r : s.rules) {
    auto rit = rules.find(r.name);
    if (rit == rules.end() || rit->at("fingerprint").get<std::string>() != Hex(r.fingerprint)) {
      continue;  // new or changed: starts anew
    }
    r.error_since = TimeFrom(rit->at("error_since"));
    r.source_down = rit->at("source_down").get<bool>();
    r.last_error = rit->value("last_error", std::string());
    for (const json& sj : rit->at("series")) {
      std::vector<Labels::Pair> pairs;
      for (const auto& [k, v] : sj.at("labels").items())
        pairs.emplace_back(k, v.get<std::string>());
      SeriesState st;
      st.phase = PhaseFrom(sj.at("phase").get<std::string>());
      st.pending_since = Time(std::chrono::milliseconds(JsonInt(sj.at("pending_since"))));
      st.firing_since = Time(std::chrono::milliseconds(JsonInt(sj.at("firing_since"))));
      st.last_value = sj.contains("last_value") ? NumberFrom(sj.at("last_value")) : internal::kNaN;
      st.snapshot = NumberFrom(sj.at("snapshot"));
      st.firing_id = sj.at("firing_id").get<std::string>();
      // The fingerprint covers the steps: a count that differs is a damaged file, not a change.
      if (auto it = sj.find("step_since"); it != sj.end() && it->size() == r.steps.size()) {
        for (const json& t : *it) {
          st.step_since.push_back(t.is_null() ? internal::kNotHeld
                                              : Time(std::chrono::milliseconds(JsonInt(t))));
        }
      }
      if (r.compare) {
        auto window = [&sj](const char* key, std::vector<std::pair<Time, double>>* w) {
          auto it = sj.find(key);
          if (it == sj.end()) return;
          for (const json& x : *it) {
            if (w->size() >= static_cast<size_t>(kMaxCompareSamples)) break;
            w->emplace_back(Time(std::chrono::milliseconds(JsonInt(x.at(0)))),
                            x.at(1).get<double>());
          }
        };
        window("samples", &st.samples);
        window("baseline_samples", &st.baseline_samples);
      }
      const int fired = sj.value("fired_step", -1);
      if (fired >= 0 && static_cast<size_t>(fired) < r.steps.size()) {
        st.fired_step = static_cast<int8_t>(fired);
      }
      r.series.Insert(Labels(std::move(pairs)), std::move(st));
    }
  }
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string Engine::SaveState() const {
  json services = json::object();
  for (const ServiceRuntime& s : impl_->services) services[s.def->name] = ServiceJson(s, true);
  json root = {{"format", kFormat}, {"services", std::move(services)}};
  // A restart must not reset the count: a crash loop would otherwise lift the brake.
  if (!impl_->brake.groups().empty()) root["brake"] = BrakeJson(impl_->brake);
  return Dump(root);
}

bool Engine::RestoreState(std::string_view text, std::string* error) {
  // Parse and apply to copies first: a bad file changes nothing.
  std::vector<ServiceRuntime> restored;
  internal::Brake brake = impl_->brake;
  try {
    json root = json::parse(text);
    if (JsonIntOr<int>(root, "format", 0) != kFormat) {
      *error = "unsupported state format " + root.value("format", json(nullptr)).dump();
      return false;
    }
    const json& services = root.at("services");
    for (const ServiceRuntime& current : impl_->services) {
      ServiceRuntime s = Fresh(current);
      if (auto it = services.find(s.def->name); it != services.end()) {
        ServiceFrom(*it, s);
        impl_->RecountFiring(s);
      }
      restored.push_back(std::move(s));
    }
    if (auto it = root.find("brake"); it != root.end()) BrakeFrom(*it, brake);
  } catch (const json::exception& e) {
    *error = std::string("invalid state: ") + e.what();
    return false;
  }
  impl_->services = std::move(restored);
  impl_->brake = std::move(brake);
  return true;
}

// The fields ServiceJson writes without values, in the same order: keep the two together.
uint64_t Engine::ServiceStateHash(size_t index) const {
  using internal::HashField;
  if (index >= impl_->services.size()) return 0;
  const ServiceRuntime& s = impl_->services[index];
  uint64_t h = internal::kHashSeed;
  auto num = [&h](int64_t v) {
    h = HashField(h, std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
  };
  auto real = [&num](double v) {
    int64_t bits = 0;
    if (std::isfinite(v)) std::memcpy(&bits, &v, sizeof bits);
    num(std::isfinite(v) ? bits : 0x7ff8dead);
  };
  auto time = [&num](const std::optional<Time>& t) { num(t ? t->time_since_epoch().count() : -1); };
  for (const Rule& r : s.rules) {
    h = HashField(h, r.name);
    num(static_cast<int64_t>(r.fingerprint));
    time(r.error_since);
    num(r.source_down);
    for (const auto& [labels, st] : r.series) {
      for (const auto& [k, v] : labels.pairs()) {
        h = HashField(h, k);
        h = HashField(h, v);
      }
      num(static_cast<int64_t>(st.phase));
      num(st.pending_since.time_since_epoch().count());
      num(st.firing_since.time_since_epoch().count());
      real(st.snapshot);
      h = HashField(h, st.firing_id);
      for (Time t : st.step_since) num(t.time_since_epoch().count());
      num(st.fired_step);
    }
  }
  num(s.paused);
  for (const std::string& v : s.versions) h = HashField(h, v);
  num(s.versions_known);
  h = HashField(h, s.version);
  time(s.last_deploy);
  h = HashField(h, s.episode_rollback_id);
  time(s.last_rollback);
  num(s.brake_held);
  if (s.in_flight) {
    h = HashField(h, s.in_flight->id);
    num(s.in_flight->started.time_since_epoch().count());
  }
  if (s.verifying) {
    h = HashField(h, s.verifying->rollback_id);
    num(s.verifying->deadline.time_since_epoch().count());
  }
  return h;
}

std::string Engine::SaveServiceState(std::string_view service) const {
  const ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return "";
  return Dump({{"format", kFormat}, {"service", ServiceJson(*s, false)}});
}

bool Engine::RestoreServiceState(std::string_view service, std::string_view text,
                                 std::string* error) {
  ServiceRuntime* current = impl_->FindService(service);
  if (current == nullptr) {
    *error = "unknown service " + std::string(service);
    return false;
  }
  ServiceRuntime s = Fresh(*current);
  if (!text.empty()) {
    try {
      json root = json::parse(text);
      if (JsonIntOr<int>(root, "format", 0) != kFormat) {
        *error = "unsupported state format " + root.value("format", json(nullptr)).dump();
        return false;
      }
      ServiceFrom(root.at("service"), s);
    } catch (const json::exception& e) {
      *error = std::string("invalid state: ") + e.what();
      return false;
    }
  }
  impl_->RecountFiring(s);
  *current = std::move(s);
  return true;
}

bool Engine::active(size_t index) const {
  return index < impl_->services.size() && impl_->services[index].active;
}

bool Engine::SetActive(std::string_view service, bool active) {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return false;
  s->active = active;
  return true;
}

}  // namespace rollbackd
