#include "daemon/notify/dispatcher.h"

#include <algorithm>

#include "daemon/engine/json_int.h"

namespace rollbackd {
namespace {

using nlohmann::json;

bool FiringLike(EventKind k) {
  return k == EventKind::kTriggerFiring || k == EventKind::kSourceDown ||
         k == EventKind::kClusterDown || k == EventKind::kFleetBrake;
}
bool ResolvingLike(EventKind k) {
  return k == EventKind::kTriggerResolved || k == EventKind::kSourceUp ||
         k == EventKind::kClusterUp || k == EventKind::kFleetBrakeReleased;
}
bool IsRollback(EventKind k) {
  switch (k) {
    case EventKind::kRollbackStarted:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackFailed:
    case EventKind::kRollbackVerified:
    case EventKind::kRollbackNotRecovered:
    case EventKind::kRollbackSkipped:
      return true;
    default:
      return false;
  }
}

int64_t Millis(Time t) { return t.time_since_epoch().count(); }
Time FromMillis(int64_t ms) { return Time(std::chrono::milliseconds(ms)); }

// The routing identity of a stored payload: what Router matches on.
Event RoutingEvent(const json& payload) {
  Event e;
  e.kind = ParseEventKind(payload.value("event", "")).value_or(EventKind::kTriggerFiring);
  e.service = payload.value("service", "");
  e.trigger = payload.value("trigger", "");
  e.severity = ParseSeverity(payload.value("severity", "")).value_or(Severity::kWarning);
  if (auto it = payload.find("labels"); it != payload.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      if (v.is_string()) e.labels[k] = v.get<std::string>();
    }
  }
  return e;
}

// "started", "failed: exit status 1", "skipped: cooldown", ...: the alert's `rollback` annotation.
std::string RollbackNote(const Event& e) {
  std::string kind(EventKindName(e.kind));
  std::string note = kind.substr(kind.find('.') + 1);
  if (e.kind == EventKind::kRollbackSkipped) note += ": " + e.skip_reason;
  if (e.kind == EventKind::kRollbackFailed && !e.reason.empty()) note += ": " + e.reason;
  return note;
}

}  // namespace

Dispatcher::Dispatcher(const Config& config)
    : routes_(config.routes), router_(config.routes), external_url_(config.daemon.external_url) {
  for (const Channel& c : config.channels) {
    channels_.emplace(c.name, ChannelInfo{c, ChannelTemplates::For(c)});
  }
  for (const Service& s : config.services) {
    for (const Trigger& t : s.triggers) known_triggers_.emplace_back(s.name, t.name);
    for (const HealthCheck& h : s.health) known_triggers_.emplace_back(s.name, h.name);
  }
}

std::string Dispatcher::Key(const Event& e) {
  std::string key = e.service;
  key += '\x1f';
  key += e.trigger;
  key += '\x1f';
  key += (e.kind == EventKind::kSourceDown || e.kind == EventKind::kSourceUp)     ? "source"
         : (e.kind == EventKind::kClusterDown || e.kind == EventKind::kClusterUp) ? "cluster"
         : (e.kind == EventKind::kFleetBrake || e.kind == EventKind::kFleetBrakeReleased)
             ? "fleet"
             : "trigger";
  for (const auto& [k, v] : e.labels) {
    key += '\x1f';
    key += k;
    key += '=';
    key += v;
  }
  return key;
}

std::vector<Dispatcher::Target> Dispatcher::Route(const Event& event, Time now) const {
  std::vector<Target> out;
  for (size_t i : router_.RoutesFor(event)) {
    const rollbackd::Route& r = routes_[i];
    for (const std::string& name : r.channels) {
      auto it = channels_.find(name);
      if (it == channels_.end()) continue;  // the loader rejects this; be safe anyway
      const Channel& c = it->second.config;
      if (c.min_severity && event.severity < *c.min_severity) continue;
      if (std::any_of(out.begin(), out.end(), [&](const Target& t) { return t.channel == name; })) {
        continue;
      }
      Target t;
      t.channel = name;
      t.route = i;
      t.repeat = r.repeat.value_or(Duration(0));
      t.next_repeat = now + t.repeat;
      t.send_resolved = r.send_resolved;
      out.push_back(std::move(t));
    }
  }
  return out;
}

void Dispatcher::Queue(Dispatch* out, const Target& t, const Event& e, const std::string& id,
                       const std::string& payload, Time now) const {
  const ChannelInfo& ch = channels_.at(t.channel);
  if (ch.config.type == ChannelType::kLog) {
    out->logs.push_back({t.channel, payload});
    return;
  }
  OutboxEntry entry;
  entry.channel = t.channel;
  entry.group = e.service;
  entry.id = id;
  entry.kind = std::string(EventKindName(e.kind));
  entry.service = e.service;
  entry.created = now;
  entry.not_before = now + GroupWait(ch.config, t.route);
  entry.payload = payload;
  out->queued.push_back(std::move(entry));
}

Duration Dispatcher::GroupWait(const Channel& c, size_t route) const {
  // Only channels that carry several notifications in one request wait to group them.
  const bool groups = c.type == ChannelType::kSlack || c.type == ChannelType::kAlertmanager;
  return groups && route < routes_.size() ? routes_[route].group_wait : Duration(0);
}

void Dispatcher::QueueAlert(Dispatch* out, const std::string& channel, const Firing& f,
                            const std::string& cause_id, Time now) const {
  const ChannelInfo& ch = channels_.at(channel);
  json alert = AlertFor(f.event, ch.templates, f.rollback_note, external_url_);
  if (f.resolved) alert["endsAt"] = Rfc3339(*f.resolved);
  const Target* t = nullptr;
  for (const Target& x : f.targets) {
    if (x.channel == channel) t = &x;
  }
  OutboxEntry entry;
  entry.channel = channel;
  entry.group = f.service;
  // The id of the event that changed the alert: each update is a notification of its own.
  entry.id = cause_id;
  entry.kind = f.resolved ? "alert.resolved" : "alert.firing";
  entry.service = f.service;
  entry.created = now;
  entry.not_before = now + GroupWait(ch.config, t ? t->route : routes_.size());
  entry.payload = alert.dump(-1, ' ', false, json::error_handler_t::replace);
  out->queued.push_back(std::move(entry));
}

Dispatch Dispatcher::OnEvent(const Event& e, Time now) {
  Dispatch out;
  PruneResolved(now);
  const std::string payload = EventToJson(e);
  auto is_am = [&](const std::string& channel) {
    return channels_.at(channel).config.type == ChannelType::kAlertmanager;
  };

  if (FiringLike(e.kind)) {
    Firing f;
    f.event = json::parse(payload);
    f.trigger = e.trigger;
    f.service = e.service;
    f.targets = Route(e, now);
    for (const Target& t : f.targets) {
      if (is_am(t.channel)) {
        QueueAlert(&out, t.channel, f, e.id, now);
      } else {
        Queue(&out, t, e, e.id, payload, now);
      }
    }
    const std::string key = Key(e);
    resolved_.erase(key);
    firing_[key] = std::move(f);
    changed_ = true;
    return out;
  }

  if (ResolvingLike(e.kind)) {
    const std::string key = Key(e);
    std::vector<Target> targets;
    for (Target& t : Route(e, now)) {
      if (t.send_resolved || is_am(t.channel)) targets.push_back(std::move(t));
    }
    auto it = firing_.find(key);
    if (it != firing_.end()) {
      // Whoever heard that it fires hears that it stopped (alertmanager channels always).
      for (const Target& t : it->second.targets) {
        const bool known = std::any_of(targets.begin(), targets.end(),
                                       [&](const Target& x) { return x.channel == t.channel; });
        if (!known && (t.send_resolved || is_am(t.channel))) targets.push_back(t);
      }
    }
    Firing f;
    if (it != firing_.end()) {
      f = std::move(it->second);
      firing_.erase(it);
    } else {
      // Firing before this daemon knew (state lost): the resolution describes the series well
      // enough for Alertmanager, which matches alerts by labels.
      f.event = json::parse(payload);
      f.event["event"] = e.kind == EventKind::kSourceUp    ? "source.down"
                         : e.kind == EventKind::kClusterUp ? "cluster.down"
                                                           : "trigger.firing";
      f.trigger = e.trigger;
      f.service = e.service;
    }
    f.resolved = e.time;
    f.resolved_event = json::parse(payload);
    for (const Target& t : targets) {
      if (is_am(t.channel)) {
        QueueAlert(&out, t.channel, f, e.id, now);
      } else {
        Queue(&out, t, e, e.id, payload, now);
      }
    }
    f.targets = std::move(targets);
    resolved_[key] = std::move(f);
    changed_ = true;
    return out;
  }

  for (const Target& t : Route(e, now)) {
    if (!is_am(t.channel)) Queue(&out, t, e, e.id, payload, now);
  }
  if (IsRollback(e.kind)) {
    // The alerts of the trigger that led to this rollback carry its outcome.
    const std::string note = RollbackNote(e);
    for (auto* table : {&firing_, &resolved_}) {
      for (auto& [key, f] : *table) {
        if (f.service != e.service || f.trigger != e.trigger) continue;
        f.rollback_note = note;
        changed_ = true;
        for (const Target& t : f.targets) {
          if (is_am(t.channel)) QueueAlert(&out, t.channel, f, e.id, now);
        }
      }
    }
  }
  return out;
}

Dispatch Dispatcher::Due(Time now) {
  Dispatch out;
  for (auto& [key, f] : firing_) {
    for (Target& t : f.targets) {
      if (t.repeat <= Duration(0) || t.next_repeat > now) continue;
      if (channels_.at(t.channel).config.type == ChannelType::kAlertmanager) continue;
      ++t.repeats;
      t.next_repeat = now + t.repeat;
      json payload = f.event;
      const std::string id = f.event.value("id", "") + "-r" + std::to_string(t.repeats);
      payload["id"] = id;
      payload["repeat"] = t.repeats;
      const Event routing = RoutingEvent(f.event);
      Queue(&out, t, routing, id, payload.dump(-1, ' ', false, json::error_handler_t::replace),
            now);
      changed_ = true;
    }
  }
  return out;
}

std::optional<Time> Dispatcher::NextDue() const {
  std::optional<Time> next;
  for (const auto& [key, f] : firing_) {
    for (const Target& t : f.targets) {
      if (t.repeat <= Duration(0)) continue;
      if (channels_.at(t.channel).config.type == ChannelType::kAlertmanager) continue;
      if (!next || t.next_repeat < *next) next = t.next_repeat;
    }
  }
  return next;
}

std::vector<json> Dispatcher::FiringAlerts(const std::string& channel) const {
  std::vector<json> out;
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return out;
  for (const auto& [key, f] : firing_) {
    for (const Target& t : f.targets) {
      if (t.channel == channel) {
        out.push_back(AlertFor(f.event, ch->second.templates, f.rollback_note, external_url_));
      }
    }
  }
  return out;
}

void Dispatcher::PruneResolved(Time now) {
  for (auto it = resolved_.begin(); it != resolved_.end();) {
    if (it->second.resolved && now - *it->second.resolved > kRecentResolvedKeep) {
      it = resolved_.erase(it);
      changed_ = true;
    } else {
      ++it;
    }
  }
  while (resolved_.size() > kRecentResolvedMax) {
    auto oldest = std::min_element(resolved_.begin(), resolved_.end(), [](const auto& a, const auto& b) {
      return a.second.resolved < b.second.resolved;
    });
    resolved_.erase(oldest);
    changed_ = true;
  }
}

void Dispatcher::Adopt(std::map<std::string, Firing> firing, std::map<std::string, Firing> resolved,
                       Time now) {
  auto known = [&](const Firing& f) {
    // Without services (a configuration of channels only, as in tests) nothing is unknown.
    return known_triggers_.empty() ||
           std::find(known_triggers_.begin(), known_triggers_.end(),
                     std::make_pair(f.service, f.trigger)) != known_triggers_.end();
  };
  auto reroute = [&](Firing& f) {
    std::vector<Target> targets = Route(RoutingEvent(f.event), now);
    for (Target& t : targets) {
      for (const Target& old : f.targets) {
        if (old.channel != t.channel) continue;
        t.repeats = old.repeats;
        if (old.repeat == t.repeat) t.next_repeat = old.next_repeat;
      }
    }
    f.targets = std::move(targets);
  };
  firing_.clear();
  resolved_.clear();
  for (auto& [key, f] : firing) {
    if (!known(f)) continue;  // the engine forgot it too; Alertmanager expires it at endsAt
    reroute(f);
    firing_.emplace(key, std::move(f));
  }
  for (auto& [key, f] : resolved) {
    // Resolved alerts keep the channels that heard them (for a late rollback outcome).
    std::erase_if(f.targets, [&](const Target& t) { return channels_.count(t.channel) == 0; });
    resolved_.emplace(key, std::move(f));
  }
  changed_ = true;
}

void Dispatcher::CarryOver(const Dispatcher& old, Time now) {
  Adopt(old.firing_, old.resolved_, now);
}

bool Dispatcher::TakeChanged() {
  const bool c = changed_;
  changed_ = false;
  return c;
}

std::string Dispatcher::SaveState() const {
  auto firing_json = [](const std::string& key, const Firing& f) {
    json targets = json::array();
    for (const Target& t : f.targets) {
      targets.push_back({{"channel", t.channel},
                         {"route", t.route},
                         {"repeat_ms", t.repeat.count()},
                         {"next_repeat", Millis(t.next_repeat)},
                         {"repeats", t.repeats},
                         {"send_resolved", t.send_resolved}});
    }
    json j = {{"key", key},
              {"event", f.event},
              {"service", f.service},
              {"trigger", f.trigger},
              {"rollback_note", f.rollback_note},
              {"targets", targets}};
    if (f.resolved) {
      j["resolved"] = Millis(*f.resolved);
      j["resolved_event"] = f.resolved_event;
    }
    return j;
  };
  json firing = json::array();
  for (const auto& [key, f] : firing_) firing.push_back(firing_json(key, f));
  json resolved = json::array();
  for (const auto& [key, f] : resolved_) resolved.push_back(firing_json(key, f));
  const json state = {{"version", 1}, {"firing", firing}, {"resolved", resolved}};
  return state.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool Dispatcher::RestoreState(const std::string& text, Time now, std::string* error) {
  const json state = json::parse(text, nullptr, false);
  if (state.is_discarded() || !state.is_object() || JsonIntOr<int>(state, "version", 0) != 1) {
    *error = "not a notification state (version 1)";
    return false;
  }
  auto read = [&](const json& list, std::map<std::string, Firing>* out) {
    for (const json& j : list) {
      Firing f;
      f.event = j.at("event");
      f.service = j.at("service").get<std::string>();
      f.trigger = j.at("trigger").get<std::string>();
      f.rollback_note = j.value("rollback_note", "");
      if (j.contains("resolved")) {
        f.resolved = FromMillis(JsonInt(j.at("resolved")));
        f.resolved_event = j.value("resolved_event", json::object());
      }
      for (const json& t : j.at("targets")) {
        Target target;
        target.channel = t.at("channel").get<std::string>();
        target.route = JsonInt<size_t>(t.at("route"));
        target.repeat = Duration(JsonInt(t.at("repeat_ms")));
        target.next_repeat = FromMillis(JsonInt(t.at("next_repeat")));
        target.repeats = JsonInt<int>(t.at("repeats"));
        target.send_resolved = t.value("send_resolved", true);
        f.targets.push_back(std::move(target));
      }
      (*out)[j.at("key").get<std::string>()] = std::move(f);
    }
  };
  std::map<std::string, Firing> firing, resolved;
  try {
    read(state.at("firing"), &firing);
    read(state.at("resolved"), &resolved);
  } catch (const json::exception& e) {
    *error = std::string("malformed notification state: ") + e.what();
    return false;
  }
  Adopt(std::move(firing), std::move(resolved), now);
  return true;
}

}  // namespace rollbackd
