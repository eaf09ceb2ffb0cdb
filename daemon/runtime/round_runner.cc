#include "daemon/runtime/round_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <string_view>

#include "daemon/config/redact.h"
#include "daemon/engine/event.h"

namespace rollbackd {
namespace {

double Seconds(SteadyTime::duration d) { return std::chrono::duration<double>(d).count(); }

// The host a URL names, lower-cased, without user info, port or brackets:
// "http://u@Api.Example:8080/x" -> "api.example", "http://[::1]:9/" -> "::1". Ports are left out
// on purpose: several ports of one machine going down together is that machine, not our network.
std::string UrlHost(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t begin = scheme == std::string_view::npos ? 0 : scheme + 3;
  std::string_view authority = url.substr(begin);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.starts_with('[')) {
    authority = authority.substr(1, authority.find(']') - 1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    authority = authority.substr(0, colon);
  }
  std::string host(authority);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

// No HTTP answer, for a reason that is the network's: what a host without its network sees.
// kTooLarge and kOther (aborted, a protocol curl refuses) are not evidence either way; kLocal
// results are errors already.
bool NetworkFailure(TransportError t) {
  return t == TransportError::kTimeout || t == TransportError::kConnection ||
         t == TransportError::kTls;
}

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
  probe_host_.assign(engine.inputs().size(), "");
  for (size_t id = 0; id < engine.inputs().size(); ++id) {
    const InputSpec& spec = engine.inputs()[id];
    if (spec.kind == InputSpec::Kind::kProbe) probe_host_[id] = UrlHost(spec.probe->url);
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
  round_probes_.clear();
  running_ = true;
  round_start_ = now;
  // A round's evaluation instant: its slot's, never before an instant already used.
  const Time slot_time = slot_clock_.At(slot, now, clock_.WallNow());
  const std::string held = HoldForClock(slot_time, now);
  last_time_ = std::max(last_time_, slot_time);
  round_time_ = last_time_;
  const uint64_t gen = ++gen_;
  for (size_t id = 0; id < specs.size(); ++id) {
    if (!due[id]) continue;
    const InputSpec& spec = specs[id];
    if (!held.empty()) {
      results_[id] = QueryResult::Error(held, InputError::kClock);
      inputs_[id] = &results_[id];
      --outstanding_;
    } else if (spec.kind == InputSpec::Kind::kProbe) {
      const HealthCheck* check = spec.probe;
      reader_.Probe(
          *check, [this, alive = std::weak_ptr<bool>(alive_), gen, id, started = clock_.SteadyNow(),
                   service = check_service_[check], name = check->name](ProbeOutcome o) {
            // The reader may outlive this runner (it is the daemon's, built in RunDaemon).
            if (!alive.lock() || gen != gen_) return;
            observer_.ProbeRead(service, name, Seconds(clock_.SteadyNow() - started), o);
            round_probes_.emplace_back(
                id, o.passed || o.status != 0 ? TransportError::kNone : o.transport);
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
                    NoteClock(source, r);
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
      if (spec.kind == InputSpec::Kind::kProbe) {
        // A probe's URL may carry credentials (user info, ?token=): never in a log.
        spdlog::debug("probe failed ({}): {}: {}", spec.probe->name, RedactUrl(spec.query),
                      r.error);
      } else {
        spdlog::debug("query failed ({}): {}: {}", spec.source, spec.query, r.error);
      }
    }
    results_[id] = std::move(r);
    inputs_[id] = &results_[id];
    if (--outstanding_ != 0) return;
  }
  HoldProbesFailingAlike();
  WarnLocalFaults();
  running_ = false;
  Round round{round_time_, &inputs_, Seconds(clock_.SteadyNow() - round_start_),
              clock_held_since_.has_value()};
  done_(round);
}

// See kClockStepBack. The reason every input of the round is held for, or "" when it is not held;
// logs when a hold starts and when it ends, once each.
std::string RoundRunner::HoldForClock(Time slot_time, SteadyTime now) {
  if (slot_time + kClockStepBack >= last_time_) {
    if (clock_held_since_) {
      spdlog::info(
          "the wall clock is back at {}: rounds are read and evaluated again (held for {})",
          FormatTime(last_time_),
          FormatDuration(std::chrono::duration_cast<Duration>(now - *clock_held_since_)));
      clock_held_since_.reset();
    }
    return "";
  }
  const std::string why = "this host's clock went back: it says " + FormatTime(slot_time) +
                          ", and an evaluation was made at " + FormatTime(last_time_) +
                          " already (" + FormatDuration(last_time_ - slot_time) +
                          " later); nothing is read until the clock is back there";
  if (!clock_held_since_) {
    clock_held_since_ = now;
    spdlog::warn("{}: rounds are held (every input an error, never a breach or a resolution)", why);
  }
  return why;
}

// Per query answer: a clock skew warns (once per kWarnEvery and source); a source whose answers
// carry no usable Date header is said once, as its clock cannot be compared.
void RoundRunner::NoteClock(const std::string& source, const QueryResult& r) {
  if (r.error_kind == InputError::kClock) {
    Warn("clock " + source, "source " + source + ": " + r.error + "; held as errors");
  } else if (std::isnan(r.clock_skew) && !r.clock_note.empty() &&
             noted_no_date_.insert(source).second) {
    spdlog::warn("source {}: {}: its clock is not compared with this host's (this is said once)",
                 source, OneLine(r.clock_note));
  }
}

// See kHeldProbeHosts. Runs once the round is complete: the rule is about all of its probes.
void RoundRunner::HoldProbesFailingAlike() {
  if (round_probes_.empty()) return;
  const TransportError kind = round_probes_.front().second;
  if (!NetworkFailure(kind)) return;
  std::set<std::string_view> hosts;
  for (const auto& [id, transport] : round_probes_) {
    if (transport != kind) return;  // a pass, an HTTP answer or another failure: as it is
    hosts.insert(probe_host_[id]);
  }
  if (hosts.size() < kHeldProbeHosts) return;
  const std::string why = "every probe of the round (" + std::to_string(round_probes_.size()) +
                          ") failed with a " + std::string(TransportErrorName(kind)) +
                          " error, across " + std::to_string(hosts.size()) +
                          " hosts: taken as this host's network, not the services";
  const InputError error_kind =
      kind == TransportError::kTimeout ? InputError::kTimeout : InputError::kConnection;
  const size_t first = round_probes_.front().first;
  const std::string example =
      RedactUrl(engine_->inputs()[first].query) + ": " + results_[first].detail;
  for (const auto& probe : round_probes_) {
    QueryResult& r = results_[probe.first];
    r = QueryResult::Error(why + "; this probe: " + r.detail, error_kind);
  }
  Warn("held", "probes: " + why + "; held as errors, not breaches (" + example + ")");
}

// One line for the operator when this round could not read some inputs because of the daemon's
// own side (descriptors, memory): those are errors, and source.down only follows after `for`.
void RoundRunner::WarnLocalFaults() {
  size_t local = 0;
  size_t read = 0;
  const QueryResult* first = nullptr;
  for (const QueryResult* r : inputs_) {
    if (r == nullptr) continue;
    ++read;
    if (r->error_kind != InputError::kLocal) continue;
    if (first == nullptr) first = r;
    ++local;
  }
  if (local == 0) return;
  Warn("local",
       std::to_string(local) + " of " + std::to_string(read) +
           " inputs of the round failed on this host's side, held as errors: " + first->error);
}

// Logs `message` unless a warning of the same `key` was logged less than kWarnEvery ago: a fault
// that lasts says so once a minute, not once a round.
void RoundRunner::Warn(const std::string& key, const std::string& message) {
  const SteadyTime now = clock_.SteadyNow();
  auto [it, fresh] = warned_.try_emplace(key);
  Warned& w = it->second;
  if (!fresh && now - w.at < kWarnEvery) {
    ++w.repeats;
    return;
  }
  if (w.repeats > 0) {
    spdlog::warn("{} ({} more rounds like this since the last such warning)", OneLine(message),
                 w.repeats);
  } else {
    spdlog::warn("{}", OneLine(message));
  }
  w.at = now;
  w.repeats = 0;
}

}  // namespace rollbackd
