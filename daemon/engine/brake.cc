// The fleet brake ([daemon].brake): when many services breach at once the cause is usually shared
// (a dependency, the network, the monitoring plane), and rolling all of them back makes it worse.
// Per group of services (the values of the `by` labels; one group without `by`), at most
// max_rollbacks rollbacks start within any window; the next decision is held (rollback.skipped,
// "fleet_brake") and the group engages: one fleet.brake event per round that engages it, and every
// later decision is held too, until the operator releases it (Engine::ReleaseBrake) or a whole
// window passes without a new decision to hold (fleet.brake_released either way).
#include <algorithm>

#include "daemon/engine/engine_internal.h"
#include "daemon/engine/hash.h"
#include "daemon/config/text.h"

namespace rollbackd::internal {

std::string Brake::GroupOf(const LabelMap& labels) const {
  std::string key;
  if (!settings_) return key;
  for (const std::string& name : settings_->by) {
    auto it = labels.find(name);
    if (!key.empty()) key += ',';
    key += name + "=" + (it == labels.end() ? std::string() : it->second);
  }
  return key;
}

std::vector<std::string> Brake::RolledBack(const BrakeGroup& g, Time now) const {
  std::vector<std::string> out;
  for (const auto& [t, name] : g.started) {
    if (now - t < settings_->window) out.push_back(name);
  }
  return out;
}

void Brake::Prune(BrakeGroup& g, Time now) const {
  while (!g.started.empty() && now - g.started.front().first >= settings_->window) {
    g.started.pop_front();
  }
}

bool Brake::Admit(const std::string& group, const LabelMap& service_labels,
                  const std::string& service, Time now, std::string* reason) {
  BrakeGroup& g = groups_[group];
  if (g.labels.empty() && !settings_->by.empty()) {
    for (const std::string& name : settings_->by) {
      auto it = service_labels.find(name);
      g.labels[name] = it == service_labels.end() ? std::string() : it->second;
    }
  }
  Prune(g, now);
  if (!g.engaged && g.started.size() < static_cast<size_t>(settings_->max_rollbacks)) {
    g.started.emplace_back(now, service);
    return true;
  }
  if (!g.engaged) {
    g.engaged = true;
    g.since = now;
    g.announce = true;
  }
  g.last_candidate = now;
  if (std::find(g.held.begin(), g.held.end(), service) == g.held.end()) g.held.push_back(service);
  const std::vector<std::string> recent = RolledBack(g, now);
  *reason = "fleet brake" + (group.empty() ? std::string() : " (" + group + ")") + ": " +
            std::to_string(recent.size()) + " rollbacks within " +
            FormatDuration(settings_->window) + " (" + Join(recent) + "), at most " +
            std::to_string(settings_->max_rollbacks) +
            "; held until POST /api/v1/brake/release or " + FormatDuration(settings_->window) +
            " without another";
  return false;
}

Event Brake::MakeEvent(EventKind kind, const std::string& key, const BrakeGroup& g,
                       Time now) const {
  Event e;
  e.kind = kind;
  e.time = now;
  e.severity = Severity::kCritical;
  e.labels = g.labels;
  e.id = MakeEventId(kind, "", key, 0, now);
  BrakeInfo info;
  info.rolled_back = RolledBack(g, now);
  info.held = g.held;
  info.max_rollbacks = settings_->max_rollbacks;
  info.window = settings_->window;
  e.brake = std::move(info);
  return e;
}

void Brake::EndRound(Time now, std::vector<Event>* out) {
  for (auto& [key, g] : groups_) {
    if (g.announce) {
      g.announce = false;
      Event e = MakeEvent(EventKind::kFleetBrake, key, g, now);
      const std::vector<std::string>& recent = e.brake->rolled_back;
      e.reason = std::to_string(recent.size()) + " rollbacks within " +
                 FormatDuration(settings_->window) + " (" + Join(recent) +
                 ") reached max_rollbacks " + std::to_string(settings_->max_rollbacks) +
                 "; holding " + Join(g.held) +
                 ": many services breaching at once share a cause. Release with POST "
                 "/api/v1/brake/release once it is understood";
      out->push_back(std::move(e));
    } else if (g.engaged && now - g.last_candidate >= settings_->window) {
      Event e = MakeEvent(EventKind::kFleetBrakeReleased, key, g, now);
      e.severity = Severity::kWarning;
      e.reason = "no rollback to hold for " + FormatDuration(now - g.last_candidate) + " (window " +
                 FormatDuration(settings_->window) + "); it held " + Join(g.held) +
                 ", which are not rolled back";
      out->push_back(std::move(e));
      g.engaged = false;
      g.held.clear();
    }
  }
}

std::vector<std::string> Brake::Release(Time now, std::vector<Event>* out) {
  std::vector<std::string> held;
  for (auto& [key, g] : groups_) {
    if (!g.engaged) continue;
    Event e = MakeEvent(EventKind::kFleetBrakeReleased, key, g, now);
    e.severity = Severity::kWarning;
    e.reason = "released by the operator after " + FormatDuration(now - g.since) +
               "; services it held that still fire are decided again: " +
               (g.held.empty() ? std::string("none") : Join(g.held));
    out->push_back(std::move(e));
    held.insert(held.end(), g.held.begin(), g.held.end());
    g.engaged = false;
    g.announce = false;
    g.held.clear();
    g.started.clear();  // the count starts over from the release
  }
  return held;
}

}  // namespace rollbackd::internal
