#include "daemon/runtime/round_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollbackd {
namespace {

double Seconds(SteadyTime::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

RoundRunner::RoundRunner(Clock& clock, InputReader& reader, ReadObserver& observer, RoundDone done)
    : clock_(clock),
      reader_(reader),
      observer_(observer),
      done_(std::move(done)),
      timer_(clock.NewTimer()) {}

void RoundRunner::Configure(const Engine& engine,
                            std::map<std::string, PrometheusEndpoint> endpoints) {
  engine_ = &engine;
  endpoints_ = std::move(endpoints);
  schedule_ = Schedule(engine.config(), engine, clock_.SteadyNow());
  check_service_.clear();
  for (const Service& s : engine.config().services) {
    for (const HealthCheck& h : s.health) check_service_[&h] = s.name;
  }
}

Time RoundRunner::Now() {
  last_time_ = std::max(last_time_,
                        std::chrono::time_point_cast<std::chrono::milliseconds>(clock_.WallNow()));
  return last_time_;
}

void RoundRunner::ScheduleNext() {
  if (stopped_ || running_ || schedule_.empty()) return;
  timer_->At(schedule_.next(), [this] { Start(); });
}

void RoundRunner::Stop() {
  stopped_ = true;
  timer_->Cancel();
  ++gen_;  // a round being read is dropped
  running_ = false;
}

void RoundRunner::Start() {
  if (stopped_ || running_ || engine_ == nullptr) return;
  const SteadyTime now = clock_.SteadyNow();
  const SteadyTime slot = schedule_.empty() ? now : schedule_.next();
  const auto& specs = engine_->inputs();
  std::vector<char> due(specs.size(), 0);
  size_t skipped = 0;
  outstanding_ = schedule_.TakeDue(
      now, &due, std::chrono::milliseconds(5),
      [this](size_t service) { return !engine_->active(service); }, &skipped);
  // Only other members' services due: an evaluation all the same, with nothing read (it reports
  // readiness, metrics and the cluster's state on the same beat).
  if (outstanding_ == 0 && skipped == 0) {
    ScheduleNext();
    return;
  }
  results_.assign(specs.size(), QueryResult());
  inputs_.assign(specs.size(), nullptr);
  queues_.clear();
  running_ = true;
  round_start_ = now;
  // A round's evaluation instant: its slot's, never before an instant already used.
  last_time_ = std::max(last_time_, slot_clock_.At(slot, now, clock_.WallNow()));
  round_time_ = last_time_;
  const uint64_t gen = ++gen_;
  for (size_t id = 0; id < specs.size(); ++id) {
    if (!due[id]) continue;
    const InputSpec& spec = specs[id];
    if (spec.kind == InputSpec::Kind::kProbe) {
      const HealthCheck* check = spec.probe;
      reader_.Probe(
          *check, [this, alive = std::weak_ptr<bool>(alive_), gen, id, started = clock_.SteadyNow(),
                   service = check_service_[check], name = check->name](ProbeOutcome o) {
            // The reader may outlive this runner (it is the daemon's, built in RunDaemon).
            if (!alive.lock() || gen != gen_) return;
            observer_.ProbeRead(service, name, Seconds(clock_.SteadyNow() - started), o);
            Read(id, ProbeInput(o));
          });
    } else if (!endpoints_.contains(spec.source)) {
      // Validation makes this unreachable; an unknown source is an error, never a breach.
      results_[id] =
          QueryResult::Error("unknown source " + spec.source, InputError::kUnknownSource);
      inputs_[id] = &results_[id];
      --outstanding_;
    } else {
      queues_[spec.source].waiting.push_back(id);
    }
  }
  for (auto& [source, queue] : queues_) SendQueries(source, gen);
  if (outstanding_ == 0) Read(specs.size(), QueryResult());  // nothing could be read
}

// Starts waiting queries of `source` while fewer than kQueriesInFlight are in flight.
void RoundRunner::SendQueries(const std::string& source, uint64_t gen) {
  SourceQueue& queue = queues_[source];
  const PrometheusEndpoint& endpoint = endpoints_.at(source);  // checked in Start
  while (queue.in_flight < kQueriesInFlight && !queue.waiting.empty()) {
    const size_t id = queue.waiting.front();
    queue.waiting.pop_front();
    ++queue.in_flight;
    // The query's own time, not its wait.
    reader_.Query(endpoint, engine_->inputs()[id].query, round_time_,
                  [this, alive = std::weak_ptr<bool>(alive_), gen, id, source,
                   started = clock_.SteadyNow()](QueryResult r) {
                    if (!alive.lock() || gen != gen_) return;
                    observer_.QueryRead(source, Seconds(clock_.SteadyNow() - started), r);
                    --queues_[source].in_flight;
                    // The next query goes out before this one's result is taken: the round may
                    // finish in Read.
                    SendQueries(source, gen);
                    Read(id, std::move(r));
                  });
  }
}

void RoundRunner::Read(size_t id, QueryResult r) {
  if (id < results_.size()) {
    if (r.is_error()) {
      const InputSpec& spec = engine_->inputs()[id];
      spdlog::debug("query failed ({}): {}: {}", spec.source, spec.query, r.error);
    }
    results_[id] = std::move(r);
    inputs_[id] = &results_[id];
    if (--outstanding_ != 0) return;
  }
  running_ = false;
  Round round{round_time_, &inputs_, Seconds(clock_.SteadyNow() - round_start_)};
  done_(round);
}

}  // namespace rollbackd
