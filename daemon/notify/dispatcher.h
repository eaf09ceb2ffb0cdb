// What to send where and when, without I/O or clocks of its own (time comes in as arguments, so
// tests run on an injected clock):
//  - routes each event ([[route]]: first match wins, `continue`, match / match_re) to channels,
//    after each channel's min_severity; a channel reached by several routes gets the event once,
//    with the options of the first of them;
//  - remembers what fires (trigger.firing, source.down) per series, and to which channels it went,
//    so that `repeat` re-sends it while it fires (a new id, `"repeat": n`) and its resolution
//    (trigger.resolved, source.up) reaches the channels that heard about it (send_resolved);
//  - keeps, per alertmanager channel, the alerts it holds, with the rollback outcome as an
//    annotation; rollback.* events update the alerts of their trigger, firing or just resolved;
//  - gives each notification its group (its service) and, on channels that group (slack,
//    alertmanager), its not_before (its route's group_wait).
// log channels are left to the caller (no outbox): Dispatch returns them separately.
#ifndef ROLLBACKD_NOTIFY_DISPATCHER_H_
#define ROLLBACKD_NOTIFY_DISPATCHER_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/event.h"
#include "daemon/notify/outbox.h"
#include "daemon/notify/render.h"
#include "daemon/notify/router.h"

namespace rollbackd {

// Resolved alerts stay this long (and at most kRecentResolvedMax of them) so that a rollback
// outcome that comes after the resolution still reaches the alert.
inline constexpr Duration kRecentResolvedKeep = std::chrono::hours(1);
inline constexpr size_t kRecentResolvedMax = 256;

struct Dispatch {
  std::vector<OutboxEntry> queued;  // for the outbox (seq not assigned yet), in event order
  struct LogNote {
    std::string channel;
    std::string payload;
  };
  std::vector<LogNote> logs;  // log channels: written at once, no outbox
};

class Dispatcher {
 public:
  // `config`'s channels and routes were validated by the loader (names resolve, regexes compile).
  explicit Dispatcher(const Config& config);

  // What `event` causes at `now`.
  Dispatch OnEvent(const Event& event, Time now);
  // Repeats due at `now` (their next one is scheduled from `now`).
  Dispatch Due(Time now);
  // When Due next has something; nullopt when nothing repeats.
  std::optional<Time> NextDue() const;

  // The alerts alertmanager channel `channel` holds firing now (without endsAt), for re-sending.
  std::vector<nlohmann::json> FiringAlerts(const std::string& channel) const;

  // After a reload: takes over what `old` knew fires. Channels that no longer exist are
  // forgotten; the new routes decide repeats from now on.
  void CarryOver(const Dispatcher& old, Time now);

  // What fires, for state_dir (restored after a restart so that repeats and resolutions go on).
  std::string SaveState() const;
  bool RestoreState(const std::string& text, Time now, std::string* error);
  // True when SaveState would say something new since the last call.
  bool TakeChanged();

  size_t firing() const { return firing_.size(); }
  const std::string& external_url() const { return external_url_; }

 private:
  struct Target {
    std::string channel;
    size_t route = 0;
    Duration repeat{0};  // 0: no repeat
    Time next_repeat{};
    int repeats = 0;
    bool send_resolved = true;
  };
  struct Firing {
    nlohmann::json event;   // the trigger.firing / source.down payload
    std::string trigger;    // for rollback.* events
    std::string service;
    std::vector<Target> targets;
    std::string rollback_note;  // the latest rollback outcome, for alertmanager's annotation
    std::optional<Time> resolved;        // set once resolved (kept for late rollback outcomes)
    nlohmann::json resolved_event;       // the resolution's payload
  };
  struct ChannelInfo {
    Channel config;
    ChannelTemplates templates;
  };

  // The targets of `event` after routing and min_severity, in route order, each channel once.
  std::vector<Target> Route(const Event& event, Time now) const;
  void Queue(Dispatch* out, const Target& t, const Event& e, const std::string& id,
             const std::string& payload, Time now) const;
  void QueueAlert(Dispatch* out, const std::string& channel, const Firing& f,
                  const std::string& cause_id, Time now) const;
  Duration GroupWait(const Channel& c, size_t route) const;
  static std::string Key(const Event& e);
  void PruneResolved(Time now);
  // Re-routes what `firing` and `resolved` hold under this configuration (reload, restart).
  void Adopt(std::map<std::string, Firing> firing, std::map<std::string, Firing> resolved,
             Time now);

  std::map<std::string, ChannelInfo> channels_;
  std::vector<rollbackd::Route> routes_;
  Router router_;
  std::string external_url_;
  std::map<std::string, Firing> firing_;    // by Key
  std::map<std::string, Firing> resolved_;  // recently resolved, by Key
  std::vector<std::pair<std::string, std::string>> known_triggers_;  // (service, trigger)
  bool changed_ = false;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_DISPATCHER_H_
