#include "daemon/replay/replayer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

namespace rollbackd {
namespace {

// Where one history stands while the replay walks its grid.
struct Cursor {
  const InputHistory* history = nullptr;
  size_t k = 0;                    // next step of its grid
  std::vector<size_t> series_pos;  // per series: next index into steps/values
  size_t failure = 0;              // next failure that may cover k
  std::vector<uint32_t> present;   // series of the last result built, in order
  std::vector<uint32_t> now;       // this step's, reused
  QueryResult result;              // reused across steps: steady state allocates nothing
};

// The result of `c`'s history at its step c.k; returns the result to hand to the engine.
const QueryResult* Step(Cursor& c) {
  const InputHistory& h = *c.history;
  const size_t k = c.k++;
  while (c.failure < h.failures.size() && h.failures[c.failure].last < k) ++c.failure;
  bool failed = c.failure < h.failures.size() && h.failures[c.failure].first <= k;
  // The series' cursors move on whether or not this step failed.
  std::vector<uint32_t>& now = c.now;
  now.clear();
  for (size_t s = 0; s < h.series.size(); ++s) {
    const InputHistory::Series& series = h.series[s];
    size_t& pos = c.series_pos[s];
    while (pos < series.steps.size() && series.steps[pos] < k) ++pos;
    if (pos < series.steps.size() && series.steps[pos] == k)
      now.push_back(static_cast<uint32_t>(s));
  }
  if (failed) return &h.failures[c.failure].error;
  if (c.result.is_error() || now != c.present) {
    c.result = QueryResult();
    c.result.series.reserve(now.size());
    for (uint32_t s : now) c.result.series.push_back({h.series[s].labels, 0});
    c.present = now;
  }
  for (size_t i = 0; i < now.size(); ++i) {
    const InputHistory::Series& series = h.series[now[i]];
    c.result.series[i].value = series.values[c.series_pos[now[i]]];
  }
  return &c.result;
}

PlotSeries::State StateOf(const std::string& s) {
  if (s == "firing") return PlotSeries::kFiring;
  if (s == "pending") return PlotSeries::kPending;
  return PlotSeries::kInactive;
}

}  // namespace

Replayer::Replayer(std::shared_ptr<const Config> config, Time from, Time to,
                   std::optional<Duration> step)
    : config_(std::move(config)), engine_(std::make_unique<Engine>(config_)), from_(from), to_(to) {
  const Config& c = engine_->config();
  input_names_.assign(engine_->inputs().size(), "");
  std::set<std::pair<int, int64_t>> requested;  // (input, step ms)
  for (size_t i = 0; i < c.services.size(); ++i) {
    const Service& s = c.services[i];
    Grid g;
    g.start = from;
    g.step = step ? *step : s.interval.value_or(c.daemon.interval);
    g.steps = to < from ? 0 : static_cast<size_t>((to - from) / g.step) + 1;
    grids_.push_back(g);
    auto name = [&](int id, const std::string& n) {
      if (id >= 0 && input_names_[id].empty()) input_names_[id] = s.name + "/" + n;
    };
    for (const Trigger& t : s.triggers) {
      auto ids = engine_->trigger_inputs(s.name, t.name);
      name(ids->query, t.name);
      name(ids->baseline, t.name + ".baseline");
      name(ids->traffic, t.name + ".traffic");
    }
    name(engine_->version_input(s.name), "deploy.version");
    for (int id : engine_->service_inputs(i)) {
      const InputSpec& spec = engine_->inputs()[id];
      if (spec.kind != InputSpec::Kind::kPrometheus) continue;  // probes: no history
      if (!requested.insert({id, g.step.count()}).second) continue;
      requests_.push_back({id, spec.source, spec.query, g});
    }
  }
}

ReplayResult Replayer::Run(const std::vector<InputHistory>& histories,
                           const ReplayOptions& options) {
  ReplayResult out;
  out.from = from_;
  out.to = to_;
  const Config& c = engine_->config();
  for (size_t i = 0; i < c.services.size(); ++i) {
    ServiceReplay sr;
    sr.name = c.services[i].name;
    sr.grid = grids_[i];
    for (const Trigger& t : c.services[i].triggers) sr.triggers.push_back(t.name);
    for (const HealthCheck& h : c.services[i].health) sr.not_replayed.push_back(h.name);
    out.services.push_back(std::move(sr));
  }

  std::vector<Cursor> cursors(histories.size());
  std::vector<Time> instants;
  for (size_t i = 0; i < histories.size(); ++i) {
    const InputHistory& h = histories[i];
    cursors[i].history = &h;
    cursors[i].series_pos.assign(h.series.size(), 0);
    for (const InputHistory::Failure& f : h.failures) {
      const InputSpec& spec = engine_->inputs()[h.input];
      out.failures.push_back({input_names_[h.input], spec.source, spec.query, h.grid.at(f.first),
                              h.grid.at(f.last), f.last - f.first + 1, f.error});
    }
  }
  // Every service's instants, in order: services of one step share their rounds, as live.
  for (const Grid& g : grids_) {
    for (size_t k = 0; k < g.steps; ++k) instants.push_back(g.at(k));
  }
  std::sort(instants.begin(), instants.end());
  instants.erase(std::unique(instants.begin(), instants.end()), instants.end());
  std::sort(out.failures.begin(), out.failures.end(),
            [](const QueryFailure& a, const QueryFailure& b) {
              return std::tie(a.first, a.input) < std::tie(b.first, b.input);
            });

  Inputs inputs(engine_->inputs().size(), nullptr);
  RollbackOutcome outcome;
  outcome.success = options.hook_success;
  if (!options.hook_success) outcome.error = "hook not run (replay --hook failure)";

  std::map<std::tuple<std::string, std::string, std::string>, size_t> plot_index;
  std::map<std::pair<std::string, std::string>, size_t> plotted_per_trigger;
  std::map<std::string, std::optional<Time>> last_deploy;
  std::set<std::pair<std::string, std::string>> health;
  for (const Service& s : c.services) {
    for (const HealthCheck& h : s.health) health.insert({s.name, h.name});
  }

  for (const Time t : instants) {
    bool any = false;
    for (Cursor& cur : cursors) {
      const InputHistory& h = *cur.history;
      if (cur.k >= h.grid.steps || h.grid.at(cur.k) != t) continue;
      const QueryResult* r = Step(cur);
      if (inputs[h.input] == nullptr) inputs[h.input] = r;
      any = true;
    }
    if (!any) continue;
    const size_t first = out.events.size();
    engine_->Evaluate(t, inputs, &out.events);
    ++out.evaluations;
    std::fill(inputs.begin(), inputs.end(), nullptr);
    for (size_t i = first; i < out.events.size(); ++i) {
      if (out.events[i].kind != EventKind::kRollbackStarted) continue;
      const std::string id = out.events[i].id;  // RollbackFinished appends to the vector
      engine_->RollbackFinished(id, outcome, t, &out.events);
    }
    if (!options.record_series) continue;
    for (const ServiceStatus& st : engine_->Status()) {
      auto& seen = last_deploy[st.name];
      if (st.last_deploy && st.last_deploy != seen) {
        out.deploys.push_back({st.name, *st.last_deploy, st.version});
      }
      seen = st.last_deploy;
      for (const SeriesStatus& ss : st.series) {
        if (health.contains({st.name, ss.trigger})) continue;
        auto key = std::make_tuple(st.name, ss.trigger, ss.labels.ToString());
        auto it = plot_index.find(key);
        if (it == plot_index.end()) {
          size_t& n = plotted_per_trigger[{st.name, ss.trigger}];
          if (n >= options.max_series_per_trigger) {
            ++out.series_not_plotted;
            plot_index.emplace(key, std::numeric_limits<size_t>::max());
            continue;
          }
          ++n;
          it = plot_index.emplace(key, out.plots.size()).first;
          out.plots.push_back({st.name, ss.trigger, ss.labels, {}});
        }
        if (it->second == std::numeric_limits<size_t>::max()) continue;
        out.plots[it->second].points.push_back({t, ss.value, ss.threshold, StateOf(ss.state)});
      }
    }
  }
  return out;
}

}  // namespace rollbackd
