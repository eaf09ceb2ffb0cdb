// Helpers for the engine's unit tests, so that a test reads as a timeline:
//
//   EngineHarness h(R"(service = "svc" ... for = "1m" ...)");
//   h.Set("errors", Value(0.31));
//   EXPECT_THAT(Lines(h.Run("10s", "1m10s", "10s")),
//               ElementsAre("10s trigger.pending errors", "1m10s trigger.firing errors"));
//
// Times are offsets from kT0 (a fixed instant, not the Unix epoch, so that a default Time{} in the
// engine cannot pass for a real one). Query results stay set until a test changes them, like a
// metric that keeps its value.
#ifndef ROLLBACKD_TESTS_UNIT_ENGINE_TEST_UTIL_H_
#define ROLLBACKD_TESTS_UNIT_ENGINE_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/config/loader.h"
#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/event.h"

namespace rollbackd::enginetest {

// 2026-01-01T00:00:00Z.
inline constexpr Time kT0 = Time(std::chrono::milliseconds(1'767'225'600'000LL));

inline Duration D(std::string_view text) {
  std::optional<Duration> d = ParseDuration(text);
  if (!d) throw std::invalid_argument("bad duration in test: " + std::string(text));
  return *d;
}
// kT0 + a duration: At("1m10s").
inline Time At(std::string_view offset) { return kT0 + D(offset); }
inline std::string Offset(Time t) { return FormatDuration(t - kT0); }

inline Labels L(std::vector<Labels::Pair> pairs) { return Labels(std::move(pairs)); }

// One unlabeled series (what sum(...) returns).
inline QueryResult Value(double v) {
  QueryResult r;
  r.series.push_back(Sample{Labels(), v});
  return r;
}
inline QueryResult Series(std::vector<std::pair<Labels, double>> samples) {
  QueryResult r;
  for (auto& [labels, v] : samples) r.series.push_back(Sample{std::move(labels), v});
  return r;
}
inline QueryResult Empty() { return QueryResult(); }
inline QueryResult Err(std::string reason) { return QueryResult::Error(std::move(reason)); }
// A health probe's result: 1 passed, 0 failed with `detail`.
inline QueryResult Probe(bool passed, std::string detail = "") {
  QueryResult r = Value(passed ? 1 : 0);
  r.detail = std::move(detail);
  return r;
}

// Parses rule files (TOML text) into a Config; throws (failing the test) when any does not parse.
inline std::shared_ptr<Config> ConfigFrom(std::initializer_list<std::string_view> rule_files,
                                          bool daemon_dry_run = false) {
  auto config = std::make_shared<Config>();
  config->daemon.dry_run = daemon_dry_run;
  int n = 0;
  for (std::string_view text : rule_files) {
    Diagnostics diags;
    std::optional<Service> s = ParseRuleFile(text, "rule" + std::to_string(n++) + ".toml", &diags);
    if (!s) {
      std::string msg = "rule file does not parse:";
      for (const Diagnostic& d : diags.all()) msg += "\n  " + d.ToString();
      throw std::invalid_argument(msg);
    }
    config->services.push_back(std::move(*s));
  }
  return config;
}

// An Engine plus the current result of each of its inputs.
class EngineHarness {
 public:
  explicit EngineHarness(std::string_view rule_file, bool daemon_dry_run = false)
      : EngineHarness(ConfigFrom({rule_file}, daemon_dry_run)) {}
  explicit EngineHarness(std::shared_ptr<const Config> config)
      : engine_(std::make_unique<Engine>(std::move(config))),
        results_(engine_->inputs().size()) {}

  Engine& engine() { return *engine_; }
  const std::string& service() const { return engine_->config().services.at(0).name; }

  // Trigger (or health check) `name` of the first service, or of `service`.
  Engine::TriggerInputs Ids(std::string_view name, std::string_view service = "") const {
    auto ids = engine_->trigger_inputs(service.empty() ? this->service() : service, name);
    if (!ids) throw std::invalid_argument("no trigger " + std::string(name));
    return *ids;
  }

  // Results, kept until changed. nullopt: "not read this round".
  EngineHarness& SetInput(int id, std::optional<QueryResult> r) {
    results_.at(static_cast<size_t>(id)) = std::move(r);
    return *this;
  }
  EngineHarness& Set(std::string_view trigger, QueryResult r) {
    return SetInput(Ids(trigger).query, std::move(r));
  }
  EngineHarness& SetBaseline(std::string_view trigger, QueryResult r) {
    return SetInput(Ids(trigger).baseline, std::move(r));
  }
  EngineHarness& SetTraffic(std::string_view trigger, QueryResult r) {
    return SetInput(Ids(trigger).traffic, std::move(r));
  }
  EngineHarness& SetVersions(std::vector<std::string> versions) {
    QueryResult r;
    for (auto& v : versions) r.series.push_back(Sample{L({{"version", v}}), 1});
    return SetInput(engine_->version_input(service()), std::move(r));
  }
  EngineHarness& Unset(std::string_view trigger) { return SetInput(Ids(trigger).query, {}); }

  // One evaluation at kT0 + offset; returns its events.
  std::vector<Event> Eval(std::string_view offset) { return EvalAt(At(offset)); }
  std::vector<Event> EvalAt(Time t) {
    Inputs inputs(results_.size(), nullptr);
    for (size_t i = 0; i < results_.size(); ++i) {
      if (results_[i]) inputs[i] = &*results_[i];
    }
    std::vector<Event> out;
    engine_->Evaluate(t, inputs, &out);
    return out;
  }
  // Evaluations at from, from + step, ..., to (inclusive); every event, in order.
  std::vector<Event> Run(std::string_view from, std::string_view to, std::string_view step) {
    std::vector<Event> all;
    for (Time t = At(from); t <= At(to); t += D(step)) {
      std::vector<Event> ev = EvalAt(t);
      all.insert(all.end(), ev.begin(), ev.end());
    }
    return all;
  }

  std::vector<Event> Finish(const std::string& rollback_id, bool success, std::string_view offset,
                            std::string error = "", bool* found = nullptr) {
    RollbackOutcome o;
    o.success = success;
    o.exit_code = success ? 0 : 3;
    o.duration = D("12s");
    o.output = success ? "deployment.apps/checkout rolled back\n" : "error: boom\n";
    o.error = std::move(error);
    std::vector<Event> out;
    bool ok = engine_->RollbackFinished(rollback_id, o, At(offset), &out);
    if (found != nullptr) *found = ok;
    return out;
  }

  // The status of a trigger's series of the first service.
  std::vector<SeriesStatus> SeriesOf(std::string_view trigger) const {
    std::vector<SeriesStatus> out;
    for (const ServiceStatus& s : engine_->Status()) {
      if (s.name != service()) continue;
      for (const SeriesStatus& st : s.series) {
        if (st.trigger == trigger) out.push_back(st);
      }
    }
    return out;
  }
  // "inactive" / "pending" / "firing" of the one series with `labels` ("absent" when untracked).
  std::string PhaseOf(std::string_view trigger, const Labels& labels = Labels()) const {
    for (const SeriesStatus& st : SeriesOf(trigger)) {
      if (st.labels == labels) return st.state;
    }
    return "absent";
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::vector<std::optional<QueryResult>> results_;
};

// "1m10s trigger.firing errors"; with `label`, " instance=a" when the event has that label.
inline std::string Line(const Event& e, std::string_view label = "") {
  std::string out = Offset(e.time) + " " + std::string(EventKindName(e.kind)) + " " + e.trigger;
  if (!label.empty()) {
    auto it = e.labels.find(std::string(label));
    if (it != e.labels.end()) out += " " + it->first + "=" + it->second;
  }
  if (!e.skip_reason.empty()) out += " (" + e.skip_reason + ")";
  return out;
}
inline std::vector<std::string> Lines(const std::vector<Event>& events,
                                      std::string_view label = "") {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(Line(e, label));
  return out;
}
inline std::vector<std::string> Kinds(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.emplace_back(EventKindName(e.kind));
  return out;
}

// The single event of `kind` among `events`; fails the test (and returns a blank event) otherwise.
inline Event Only(const std::vector<Event>& events, EventKind kind) {
  const Event* found = nullptr;
  int n = 0;
  for (const Event& e : events) {
    if (e.kind == kind) {
      found = &e;
      ++n;
    }
  }
  if (n != 1) {
    ADD_FAILURE() << "expected exactly one " << EventKindName(kind) << ", got " << n << " among "
                  << ::testing::PrintToString(Lines(events));
    return Event();
  }
  return *found;
}

}  // namespace rollbackd::enginetest

#endif  // ROLLBACKD_TESTS_UNIT_ENGINE_TEST_UTIL_H_
