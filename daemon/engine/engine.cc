// The Engine's front: one evaluation round over every service, and the status view. The logic is
// split along its seams, all on the structures of engine_internal.h: inputs.cc builds the engine
// from a Config (rules, interned inputs), match.cc applies `match` filters, trigger.cc runs the
// per-series state machine, verdict.cc judges one value and words why, rollback.cc sees deploys
// and decides, verifies and finishes rollbacks, and state.cc saves and restores all of it.
#include "daemon/engine/engine.h"

#include "daemon/engine/engine_internal.h"

namespace rollbackd {

using internal::Evaluator;
using internal::Phase;
using internal::Rule;
using internal::ServiceRuntime;

namespace internal {

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kInactive:
      return "inactive";
    case Phase::kPending:
      return "pending";
    case Phase::kFiring:
      return "firing";
  }
  return "unknown";
}

}  // namespace internal

internal::ServiceRuntime* Engine::Impl::FindService(std::string_view name) {
  for (auto& s : services) {
    if (s.def->name == name) return &s;
  }
  return nullptr;
}

void Engine::Impl::RecountFiring(ServiceRuntime& s) {
  s.firing_rollback_series = 0;
  for (const Rule& r : s.rules) {
    if (!r.rollback) continue;
    for (const auto& [labels, st] : r.series) {
      if (st.phase == Phase::kFiring) ++s.firing_rollback_series;
    }
  }
}

Engine::~Engine() = default;

void Engine::Evaluate(Time now, const Inputs& inputs, std::vector<Event>* out) {
  // A new round: every LabelIndex is stale until a filtered rule reads its input.
  Evaluator ev(now, &impl_->label_indexes, ++impl_->round, &impl_->brake, out);
  for (ServiceRuntime& s : impl_->services) {
    if (s.active) ev.Service(s, inputs);
  }
  if (impl_->brake.enabled()) impl_->brake.EndRound(now, out);
}

std::vector<std::string> Engine::ReleaseBrake(Time now, std::vector<Event>* out) {
  std::vector<std::string> held = impl_->brake.Release(now, out);
  for (const std::string& name : held) {
    if (ServiceRuntime* s = impl_->FindService(name)) s->brake_redecide = true;
  }
  return held;
}

std::vector<BrakeStatus> Engine::BrakeState(Time now) const {
  std::vector<BrakeStatus> out;
  if (!impl_->brake.enabled()) return out;
  for (const auto& [key, g] : impl_->brake.groups()) {
    BrakeStatus st;
    st.group = key;
    st.labels = g.labels;
    st.engaged = g.engaged;
    if (g.engaged) st.since = g.since;
    st.rolled_back = impl_->brake.RolledBack(g, now);
    st.held = g.held;
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<ServiceStatus> Engine::Status() const {
  std::vector<ServiceStatus> out;
  for (const ServiceRuntime& s : impl_->services) {
    ServiceStatus st;
    st.name = s.def->name;
    st.paused = s.paused;
    st.active = s.active;
    st.version = s.version;
    st.last_deploy = s.last_deploy;
    st.last_rollback = s.last_rollback;
    if (s.in_flight) st.rollback_in_flight = s.in_flight->id;
    for (const Rule& r : s.rules) {
      if (r.error_since) st.errors.emplace_back(r.name, r.last_error);
      for (const auto& [labels, ss] : r.series) {
        SeriesStatus x;
        x.trigger = r.name;
        x.labels = labels;
        x.state = internal::PhaseName(ss.phase);
        x.value = ss.last_value;
        x.threshold = ss.last_threshold;
        x.baseline = ss.last_baseline;
        if (ss.phase != Phase::kInactive) x.pending_since = ss.pending_since;
        if (ss.phase == Phase::kFiring) x.firing_since = ss.firing_since;
        st.series.push_back(std::move(x));
      }
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace rollbackd
