// Events: what the engine decides and what channels, webhooks and the decision log receive. The
// JSON form (ToJson) is the documented, stable payload (docs/events.md).
#ifndef ROLLBACKD_ENGINE_EVENT_H_
#define ROLLBACKD_ENGINE_EVENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/samples.h"

namespace rollbackd {

enum class EventKind {
  kTriggerPending,
  kTriggerFiring,
  kTriggerResolved,
  kRollbackStarted,
  kRollbackSucceeded,
  kRollbackFailed,
  kRollbackVerified,
  kRollbackNotRecovered,
  kRollbackSkipped,
  kSourceDown,
  kSourceUp,
  // Cluster mode: this member lost (and regained) contact with etcd. Not a service's event: no
  // service, trigger or labels, and not among the kEventKindCount kinds route checks reason about.
  kClusterDown,
  kClusterUp,
  // The fleet brake ([daemon].brake) engaged, and released: about a group of services, not one.
  kFleetBrake,
  kFleetBrakeReleased,
};
inline constexpr int kEventKindCount = 11;  // the services' kinds
inline constexpr int kAllEventKindCount = 15;

std::string_view EventKindName(EventKind k);  // "trigger.firing"
std::optional<EventKind> ParseEventKind(std::string_view name);

// Why a rollback was not started (rollback.skipped's skip_reason).
inline constexpr std::string_view kSkipDryRun = "dry_run";
inline constexpr std::string_view kSkipPaused = "paused";
inline constexpr std::string_view kSkipCooldown = "cooldown";
inline constexpr std::string_view kSkipOutsideGuard = "outside_guard";
inline constexpr std::string_view kSkipAlreadyRolledBack = "already_rolled_back";
inline constexpr std::string_view kSkipFleetBrake = "fleet_brake";

// fleet.brake and fleet.brake_released: the group's rollbacks that engaged the brake, and the
// services it held.
struct BrakeInfo {
  std::vector<std::string> rolled_back;  // services rolled back within the window, oldest first
  std::vector<std::string> held;         // services whose rollback was held, in order
  int max_rollbacks = 0;
  Duration window{0};
};

struct HookInfo {
  std::string type;               // "exec" or "http"
  std::vector<std::string> argv;  // exec
  std::string url;                // http, redacted (config/redact.h): never user info or a query
  std::string method;             // http; not in the payload
};

// The events of a `compare` trigger: the test's numbers (docs/events.md).
struct CompareInfo {
  double u = 0;
  double p_value = 1;
  std::optional<double> effect;  // absent when infinite or undefined (a median of 0, or < 0)
  int n = 0;                     // the query's samples
  int n_baseline = 0;            // the baseline's
};

struct Event {
  EventKind kind = EventKind::kTriggerPending;
  std::string id;  // unique; derived from kind, service, trigger, labels and evaluation instant
  Time time{};
  std::string service;
  std::string trigger;  // trigger or health check name
  Severity severity = Severity::kWarning;
  LabelMap labels;  // series labels, then the service's, then the trigger's (later ones win)
  std::optional<double> value;
  std::optional<double> threshold;  // the effective bound: for above_ratio 1.5, 1.5 x baseline
  std::optional<double> baseline;
  std::string condition;  // "above_ratio 1.5"; rollback.started/skipped carry their trigger's;
                          // empty for source events and hook outcomes
  std::string reason;     // why, in words and numbers
  std::string version;    // the deployed version last seen, if known

  // rollback.*
  std::string skip_reason;  // rollback.skipped only
  std::string rollback_id;  // the id of the rollback.started event this one belongs to
  std::string cause_id;     // the trigger.firing event that led to the decision
  std::optional<HookInfo> hook;
  std::optional<int> exit_status;
  std::optional<Duration> duration;
  std::string output;  // the tail of the hook's output
  // rollback.started in cluster mode: the etcd revision of the rollback's intent, strictly
  // increasing across the cluster (docs/operations.md, "The fencing token").
  std::optional<int64_t> fencing_token;

  std::optional<BrakeInfo> brake;      // fleet.brake, fleet.brake_released
  std::optional<CompareInfo> compare;  // trigger.* of a `compare` trigger, once it has tested
};

// The JSON payload as documented in docs/events.md; `time` is RFC 3339 UTC with milliseconds.
// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t max);

// A deploy's `version` is kept to this many bytes (a label value, or the API's, can be any size;
// it reaches every event, the state file and a hook's environment).
inline constexpr size_t kMaxVersionBytes = 1024;

std::string EventToJson(const Event& e);
// "2026-11-21T19:04:19.123Z"
std::string FormatTime(Time t);

// One line for people, as `rollbackd test -v` and `rollbackd replay` print an event after its time:
// "trigger.firing error_rate {code="500"}: value 0.3 > 0.05 held 1m >= 1m", with the service
// ("shop/error_rate") when `with_service`, and a skip reason in brackets.
std::string DescribeEvent(const Event& e, bool with_service);

// A deterministic id from the event's identity: kind, service, trigger, labels and time.
std::string MakeEventId(EventKind kind, std::string_view service, std::string_view trigger,
                        uint64_t labels_hash, Time time);

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_EVENT_H_
