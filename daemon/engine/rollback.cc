// Deploys and rollbacks, per service. A deploy (a new `version` value, or RecordDeploy) takes
// baseline snapshots and opens the guard window. When a rollback = true trigger fires, Decide
// starts at most one rollback per firing episode, or says why not (paused, outside the guard,
// already rolled back, cooldown, dry run) in rollback.skipped; once the hook has succeeded
// (RollbackFinished), verification reports rollback.verified or rollback.not_recovered.
#include <algorithm>
#include <cmath>

#include "daemon/config/redact.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/engine_internal.h"

namespace rollbackd {

namespace {

HookInfo MakeHookInfo(const RollbackHook& h) {
  HookInfo info;
  if (h.http) {
    info.type = "http";
    info.method = h.http->method;
    info.url = RedactUrl(h.http->url);  // events, logs and state never carry credentials
  } else {
    info.type = "exec";
    info.argv = h.exec;
  }
  return info;
}

std::string DescribeHook(const HookInfo& h) {
  if (h.type == "http") return (h.method.empty() ? "POST" : h.method) + " " + h.url;
  std::string out;
  for (const auto& a : h.argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

}  // namespace

namespace internal {

// A deploy is a `version` value that was not in the previous read and is not the version
// already known as deployed: a rolling update {v1} -> {v1, v2} -> {v2} is one deploy of v2, and
// a deploy posted to the API before Prometheus sees it is not counted twice.
void Evaluator::ObserveVersions(ServiceRuntime& s, const QueryResult& result) {
  if (result.is_error() || result.series.empty()) return;  // unknown: keep what we knew
  const SeriesView series = View(s.version_match, s.version_match_slots, result,
                                 &s.version_picked);
  std::vector<std::string> versions;
  for (size_t i = 0; i < series.size(); ++i) {
    if (auto v = series[i].labels.Get("version")) versions.emplace_back(Utf8Prefix(*v, kMaxVersionBytes));
  }
  if (versions.empty()) return;
  std::sort(versions.begin(), versions.end());
  versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
  if (!s.versions_known) {
    // The first read names what runs now; it is not a deploy.
    s.versions_known = true;
    s.versions = std::move(versions);
    if (s.version.empty()) s.version = s.versions.back();
    return;
  }
  std::string added;
  for (const std::string& v : versions) {
    if (v != s.version && !std::binary_search(s.versions.begin(), s.versions.end(), v)) {
      added = v;
    }
  }
  s.versions = std::move(versions);
  if (!added.empty()) ApplyDeploy(s, added, now_);
}

void Evaluator::ApplyDeploy(ServiceRuntime& s, std::string_view version, Time now) {
  s.last_deploy = now;
  s.version = std::string(Utf8Prefix(version, kMaxVersionBytes));
  for (Rule& r : s.rules) {
    if (r.baseline != BaselineKind::kSnapshot) continue;
    for (auto& [labels, st] : r.series) st.snapshot = st.last_value;
  }
}

void Evaluator::Decide(ServiceRuntime& s, Rule& r, const Event& firing) {
  const RollbackHook& hook = *s.def->rollback;
  Event e = Make(EventKind::kRollbackSkipped, s, &r, firing.labels, 0);
  e.id = MakeEventId(EventKind::kRollbackSkipped, firing.id, "", 0, now_);
  e.severity = firing.severity;  // an escalation step's, when one fired
  e.condition = firing.condition;
  e.value = firing.value;
  e.threshold = firing.threshold;
  e.baseline = firing.baseline;
  e.cause_id = firing.id;
  e.hook = MakeHookInfo(hook);
  // A pointer, not a copy of the optional: GCC 12 at -Os (MinSizeRel) reported the copy as
  // -Wmaybe-uninitialized, falsely.
  const Duration* guard =
      s.def->deploy && s.def->deploy->guard ? &*s.def->deploy->guard : nullptr;
  if (s.paused) {
    e.skip_reason = kSkipPaused;
    e.reason = "service is paused";
  } else if (guard && !s.last_deploy) {
    e.skip_reason = kSkipOutsideGuard;
    e.reason = "no deploy seen; rollbacks are armed only within guard " + FormatDuration(*guard) +
               " after a deploy";
  } else if (guard && now_ - *s.last_deploy > *guard) {
    e.skip_reason = kSkipOutsideGuard;
    e.reason = "last deploy (" + (s.version.empty() ? std::string("unknown") : s.version) +
               ") was " + FormatDuration(now_ - *s.last_deploy) + " ago > guard " +
               FormatDuration(*guard);
  } else if (!s.episode_rollback_id.empty()) {
    e.skip_reason = kSkipAlreadyRolledBack;
    e.rollback_id = s.episode_rollback_id;
    e.reason = "rollback " + s.episode_rollback_id + " already started in this firing episode";
  } else if (s.last_rollback && now_ - *s.last_rollback < hook.cooldown) {
    e.skip_reason = kSkipCooldown;
    e.reason = "last rollback " + FormatDuration(now_ - *s.last_rollback) + " ago < cooldown " +
               FormatDuration(hook.cooldown);
  } else if (s.dry_run) {
    e.skip_reason = kSkipDryRun;
    e.reason = "dry run: would run " + DescribeHook(*e.hook) + " (" + firing.trigger + ": " +
               firing.reason + ")";
  } else if (brake_ != nullptr && brake_->enabled() &&
             !brake_->Admit(s.brake_group, s.def->labels, s.def->name, now_, &e.reason)) {
    e.skip_reason = kSkipFleetBrake;
    s.brake_held = true;
  } else {
    e.kind = EventKind::kRollbackStarted;
    e.id = MakeEventId(EventKind::kRollbackStarted, firing.id, "", 0, now_);
    e.rollback_id = e.id;
    e.reason = firing.trigger + ": " + firing.reason;
    s.episode_rollback_id = e.id;
    s.last_rollback = now_;
    s.in_flight = InFlight{e.id, firing.id, r.name, e.labels, firing.severity, now_};
  }
  out_->push_back(std::move(e));
}

void Evaluator::Redecide(ServiceRuntime& s) {
  for (Rule& r : s.rules) {
    if (!r.rollback) continue;
    for (auto& [labels, st] : r.series) {
      if (st.phase != Phase::kFiring) continue;
      // The trigger.firing it stands for was sent when it fired; this decision refers to it.
      Event firing;
      firing.kind = EventKind::kTriggerFiring;
      firing.id = st.firing_id;
      firing.trigger = r.name;
      firing.labels = EventLabels(r, labels);
      firing.severity = st.fired_step >= 0 && static_cast<size_t>(st.fired_step) < r.steps.size()
                            ? r.steps[st.fired_step].severity
                            : r.severity;
      firing.condition = ConditionText(r);
      if (std::isfinite(st.last_value)) firing.value = st.last_value;
      if (std::isfinite(st.last_threshold)) firing.threshold = st.last_threshold;
      if (std::isfinite(st.last_baseline)) firing.baseline = st.last_baseline;
      firing.reason = "still firing when the fleet brake was released (firing since " +
                      FormatTime(st.firing_since) + ")";
      Decide(s, r, firing);
      return;
    }
  }
}

void Evaluator::AfterService(ServiceRuntime& s) {
  if (s.brake_redecide) {
    s.brake_redecide = false;
    if (s.brake_held && s.firing_rollback_series > 0 && s.episode_rollback_id.empty() &&
        !s.in_flight) {
      s.brake_held = false;
      Redecide(s);
    }
  }
  if (s.verifying) {
    Verifying& v = *s.verifying;
    if (s.firing_rollback_series == 0 || now_ >= v.deadline) {
      const bool ok = s.firing_rollback_series == 0;
      Event e = Make(ok ? EventKind::kRollbackVerified : EventKind::kRollbackNotRecovered, s,
                     nullptr, v.labels, 0);
      e.id = MakeEventId(e.kind, v.rollback_id, "", 0, now_);
      e.trigger = v.trigger;
      e.severity = ok ? v.severity : Severity::kCritical;
      e.rollback_id = v.rollback_id;
      if (ok) {
        e.reason = "every rollback trigger cleared " + FormatDuration(now_ - v.since) +
                   " after the hook";
      } else {
        std::string still;
        for (const Rule& r : s.rules) {
          if (!r.rollback) continue;
          for (const auto& [labels, st] : r.series) {
            if (st.phase != Phase::kFiring) continue;
            if (!still.empty()) still += ", ";
            still += r.name + (labels.empty() ? "" : labels.ToString());
          }
        }
        e.reason = "still firing " + FormatDuration(now_ - v.since) + " after the hook (verify " +
                   FormatDuration(v.deadline - v.since) + "): " + still;
      }
      out_->push_back(std::move(e));
      s.verifying.reset();
    }
  }
  // The episode ends when nothing that can roll back is firing any more.
  if (s.firing_rollback_series == 0 && !s.in_flight) {
    s.episode_rollback_id.clear();
    s.brake_held = false;
  }
}

}  // namespace internal

using internal::Evaluator;
using internal::InFlight;
using internal::ServiceRuntime;
using internal::Verifying;

bool Engine::RecordDeploy(std::string_view service, std::string_view version, Time now) {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return false;
  Evaluator::ApplyDeploy(*s, version, now);
  return true;
}

bool Engine::RollbackFinished(std::string_view rollback_id, const RollbackOutcome& outcome,
                              Time now, std::vector<Event>* out) {
  for (ServiceRuntime& s : impl_->services) {
    if (!s.in_flight || s.in_flight->id != rollback_id) continue;
    InFlight f = std::move(*s.in_flight);
    s.in_flight.reset();
    Event e;
    e.kind = outcome.success ? EventKind::kRollbackSucceeded : EventKind::kRollbackFailed;
    e.time = now;
    e.service = s.def->name;
    e.trigger = f.trigger;
    e.severity = outcome.success ? f.severity : Severity::kCritical;
    e.labels = f.labels;
    e.version = s.version;
    e.id = MakeEventId(e.kind, f.id, "", 0, now);
    e.rollback_id = f.id;
    e.cause_id = f.cause_id;
    if (s.def->rollback) e.hook = MakeHookInfo(*s.def->rollback);
    e.exit_status = outcome.exit_status();
    e.duration = outcome.duration;
    e.output = outcome.output;
    if (outcome.success && s.def->rollback) {
      e.reason = "hook succeeded in " + FormatDuration(outcome.duration) + "; verifying for " +
                 FormatDuration(s.def->rollback->verify);
      s.verifying =
          Verifying{f.id, f.trigger, f.labels, f.severity, now, now + s.def->rollback->verify};
    } else if (outcome.success) {
      e.reason = "hook succeeded in " + FormatDuration(outcome.duration);
    } else {
      e.reason =
          "hook failed: " + (outcome.error.empty() ? std::string("unknown error") : outcome.error);
    }
    out->push_back(std::move(e));
    return true;
  }
  return false;
}

std::vector<std::string> Engine::RollbacksInFlight() const {
  std::vector<std::string> out;
  for (const ServiceRuntime& s : impl_->services) {
    if (s.in_flight) out.push_back(s.in_flight->id);
  }
  return out;
}

bool Engine::SetPaused(std::string_view service, bool paused) {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return false;
  s->paused = paused;
  return true;
}

}  // namespace rollbackd
