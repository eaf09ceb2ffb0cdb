// Building an engine from a Config: each trigger and health check compiled into a Rule, with its
// `match` slots and its definition's fingerprint (which decides whether state survives a reload),
// and every query interned as an InputSpec, so that identical (source, query) pairs across all
// triggers, baselines, traffic floors and version queries are read once per round. Also the
// lookups of those input ids.
#include <algorithm>
#include <unordered_map>

#include "daemon/config/redact.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/engine_internal.h"
#include "daemon/engine/hash.h"

namespace rollbackd {

using internal::FingerprintNumber;
using internal::MakeFilter;
using internal::Rule;
using internal::ServiceRuntime;
using internal::SlotsFor;

namespace {

// Makes identical (source, query) pairs one input, read once per round. A map, not a scan: an
// engine over thousands of per-service queries is built on every reload, on the daemon's loop.
class InputInterner {
 public:
  explicit InputInterner(std::vector<InputSpec>* inputs) : inputs_(inputs) {}

  int Prometheus(const std::string& source, const std::string& query) {
    // The source's length first: no (source, query) pair can pass for another.
    auto [it, fresh] = ids_.try_emplace(std::to_string(source.size()) + ':' + source + query,
                                        static_cast<int>(inputs_->size()));
    if (fresh) inputs_->push_back({InputSpec::Kind::kPrometheus, source, query, nullptr});
    return it->second;
  }
  // Every health check is its own probe.
  int Probe(const HealthCheck& h) {
    inputs_->push_back({InputSpec::Kind::kProbe, "", h.url, &h});
    return static_cast<int>(inputs_->size() - 1);
  }

 private:
  std::vector<InputSpec>* inputs_;
  std::unordered_map<std::string, int> ids_;
};

uint64_t Fingerprint(const Rule& r, const std::vector<InputSpec>& inputs) {
  using internal::HashField;
  uint64_t h = internal::kHashSeed;
  auto q = [&](int id) {
    if (id < 0) return std::string("-");
    return inputs[id].source + "\x1f" + inputs[id].query;
  };
  h = HashField(h, r.health ? "health" : "trigger");
  h = HashField(h, q(r.input));
  h = HashField(h, q(r.baseline_input));
  h = HashField(h, q(r.traffic_input));
  h = HashField(h, ConditionKeyName(r.condition));
  h = HashField(h, FingerprintNumber(r.threshold));
  h = HashField(h, std::to_string(static_cast<int>(r.baseline)));
  h = HashField(h, r.min_value ? FingerprintNumber(*r.min_value) : "-");
  h = HashField(h, r.has_traffic ? FingerprintNumber(r.min_traffic) : "-");
  h = HashField(h, std::to_string(r.for_duration.count()));
  h = HashField(h, NoDataName(r.no_data));
  if (r.compare) {
    h = HashField(h, "compare");
    h = HashField(h, std::to_string(r.compare->window.count()));
    h = HashField(h, CompareDirectionName(r.compare->direction));
    h = HashField(h, FingerprintNumber(r.compare->confidence));
    h = HashField(h, FingerprintNumber(r.compare->min_effect));
    h = HashField(h, std::to_string(r.compare->min_samples));
  }
  // Only when set, so that fingerprints of triggers without steps stay as they were.
  if (!r.steps.empty()) {
    h = HashField(h, "escalate");
    for (const Rule::Step& x : r.steps) {
      h = HashField(h, FingerprintNumber(x.threshold));
      h = HashField(h, std::to_string(x.for_duration.count()));
      h = HashField(h, SeverityName(x.severity));
    }
  }
  // Only when set, so that fingerprints of triggers without `match` stay as they were.
  if (!r.match.empty()) {
    h = HashField(h, "match");
    for (const auto& [name, value] : r.match.labels) {
      h = HashField(h, name);
      h = HashField(h, value);
    }
  }
  return h;
}

}  // namespace

Engine::Engine(std::shared_ptr<const Config> config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  auto& inputs = impl_->inputs;
  InputInterner interner(&inputs);
  impl_->brake.Configure(impl_->config->daemon.brake);
  for (const Service& svc : impl_->config->services) {
    ServiceRuntime s;
    s.def = &svc;
    s.dry_run = impl_->config->daemon.dry_run || svc.dry_run;
    s.brake_group = impl_->brake.GroupOf(svc.labels);
    auto add = [&](int id) {
      if (id >= 0 && std::find(s.inputs.begin(), s.inputs.end(), id) == s.inputs.end()) {
        s.inputs.push_back(id);
      }
      return id;
    };
    auto prom = [&](const std::string& source, const std::string& query) {
      return add(interner.Prometheus(source, query));
    };
    // What triggers and health checks share.
    auto base_rule = [&](const std::string& name, Duration for_duration, Severity severity,
                         bool rollback, const LabelMap& labels) {
      Rule r;
      r.name = name;
      r.for_duration = for_duration;
      r.severity = severity;
      r.rollback = rollback && svc.rollback.has_value();
      r.labels = svc.labels;
      for (const auto& [k, v] : labels) r.labels[k] = v;
      return r;
    };
    for (const Trigger& t : svc.triggers) {
      Rule r = base_rule(t.name, t.for_duration, t.severity, t.rollback, t.labels);
      r.condition = t.condition;
      r.threshold = t.threshold;
      r.baseline = t.baseline;
      r.min_value = t.min_value;
      r.has_traffic = !t.min_traffic_query.empty();
      r.min_traffic = t.min_traffic;
      r.no_data = t.no_data;
      for (const EscalationStep& x : t.escalate) {
        r.steps.push_back({x.threshold, x.for_duration, x.severity.value_or(t.severity)});
      }
      r.compare = t.compare;
      r.source = t.source;
      r.input = prom(t.source, t.query);
      if (t.baseline == BaselineKind::kQuery) r.baseline_input = prom(t.source, t.baseline_query);
      if (r.has_traffic) r.traffic_input = prom(t.source, t.min_traffic_query);
      r.match = MakeFilter(t.match);
      if (!r.match.empty()) {
        r.match_slots = SlotsFor(&impl_->label_indexes, r.input, r.match);
        r.baseline_match_slots = SlotsFor(&impl_->label_indexes, r.baseline_input, r.match);
        r.traffic_match_slots = SlotsFor(&impl_->label_indexes, r.traffic_input, r.match);
      }
      r.fingerprint = Fingerprint(r, inputs);
      s.rules.push_back(std::move(r));
    }
    for (const HealthCheck& h : svc.health) {
      Rule r = base_rule(h.name, h.for_duration, h.severity, h.rollback, h.labels);
      r.health = true;
      r.url = RedactUrl(h.url);  // events and logs never carry credentials
      r.condition = ConditionKind::kBelow;
      r.threshold = 1;
      r.no_data = NoDataPolicy::kHold;
      r.input = add(interner.Probe(h));
      r.fingerprint = Fingerprint(r, inputs);
      s.rules.push_back(std::move(r));
    }
    if (svc.deploy && !svc.deploy->version_query.empty()) {
      s.version_input = prom(svc.deploy->source, svc.deploy->version_query);
      s.version_match = MakeFilter(svc.deploy->match);
      s.version_match_slots = SlotsFor(&impl_->label_indexes, s.version_input, s.version_match);
    }
    impl_->services.push_back(std::move(s));
  }
}

const Config& Engine::config() const { return *impl_->config; }
const std::vector<InputSpec>& Engine::inputs() const { return impl_->inputs; }
const std::vector<int>& Engine::service_inputs(size_t index) const {
  return impl_->services.at(index).inputs;
}

std::optional<Engine::TriggerInputs> Engine::trigger_inputs(std::string_view service,
                                                            std::string_view trigger) const {
  ServiceRuntime* s = impl_->FindService(service);
  if (s == nullptr) return std::nullopt;
  for (const Rule& r : s->rules) {
    if (r.name == trigger) return TriggerInputs{r.input, r.baseline_input, r.traffic_input};
  }
  return std::nullopt;
}

int Engine::version_input(std::string_view service) const {
  ServiceRuntime* s = impl_->FindService(service);
  return s == nullptr ? -1 : s->version_input;
}

}  // namespace rollbackd
