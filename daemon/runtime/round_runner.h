// Evaluation rounds: when to read (Schedule), at which instant (SlotClock), and the reading itself,
// through an InputReader, at most kQueriesInFlight Prometheus queries per source at once. When
// every input due has answered, the round is handed over, with its instant and results, to the
// daemon, which evaluates it. Time comes from a Clock, so a test runs hours of rounds at once.
//
// Threading: on the loop that runs the Clock's timers and the reader's callbacks.
#ifndef ROLLBACKD_RUNTIME_ROUND_RUNNER_H_
#define ROLLBACKD_RUNTIME_ROUND_RUNNER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/io/clock.h"
#include "daemon/runtime/schedule.h"
#include "daemon/sources/probe.h"

namespace rollbackd {

// Prometheus queries of one round in flight at once, per source; the rest wait their turn. All at
// once, a fleet's 7,000 queries opened 7,000 connections: Prometheus serves 512
// (--web.max-connections), curl keeps the connections it got, and every other query timed out,
// round after round (bench/scale). A few kept connections carry the whole round instead, and
// Prometheus runs 20 queries at a time anyway (--query.max-concurrency).
inline constexpr size_t kQueriesInFlight = 16;

// A round whose every probe failed the same way without an HTTP answer (all timeouts, all refused
// or reset, all TLS failures) against at least this many distinct hosts says more about this
// host's network than about the services: those probes' results are held as errors, never
// breaches, so that a fleet is not rolled back because the daemon's host lost its network. Fewer
// hosts (one service on one machine, a few ports of one host) can be down together, and stay
// breaches.
inline constexpr size_t kHeldProbeHosts = 3;
// The same warning (probes held, local faults, clock skew) is logged at most once per this time.
inline constexpr std::chrono::seconds kWarnEvery{60};

// The wall clock going back by more than this below an evaluation instant already used (NTP
// stepping it, an operator) holds rounds: nothing is read, every input due is an error
// (InputError::kClock), evaluated at the last instant again, so that windows neither advance nor
// break (a query at an instant ahead of Prometheus's clock answers nothing, and firing series
// would resolve). Rounds go on once the clock is back at that instant. Less than this is taken as
// jitter (an API call's instant a few ms past its round's slot) and the instant merely held, as
// SlotClock keeps its anchor through drifts below a second.
inline constexpr std::chrono::seconds kClockStepBack{1};

// Told about every read, for metrics.
class ReadObserver {
 public:
  virtual ~ReadObserver() = default;
  virtual void QueryRead(const std::string& source, double seconds, const QueryResult& r) = 0;
  virtual void ProbeRead(const std::string& service, const std::string& check, double seconds,
                         const ProbeOutcome& outcome) = 0;
};

class RoundRunner {
 public:
  struct Round {
    Time time{};           // the evaluation instant
    const Inputs* inputs;  // by input id; nullptr for inputs not read this round
    double seconds = 0;    // how long the reading took
    bool clock_held = false;  // the wall clock went back (kClockStepBack): nothing was read
  };
  using RoundDone = std::function<void(const Round&)>;

  RoundRunner(Clock& clock, InputReader& reader, ReadObserver& observer, RoundDone done);

  // The engine (and its configuration) rounds read for from now on; never while running().
  // `endpoints` are copied. Every unit is due at once.
  void Configure(const Engine& engine, std::map<std::string, PrometheusEndpoint> endpoints);

  // Waits for the next slot (after Configure, after a round was handed over).
  void ScheduleNext();
  // No more rounds; a round being read is dropped (its results are never handed over).
  void Stop();

  bool running() const { return running_; }
  bool empty() const { return schedule_.empty(); }

  // The wall clock as an evaluation instant: never before one already used.
  Time Now();

 private:
  struct SourceQueue {
    std::deque<size_t> waiting;  // input ids
    size_t in_flight = 0;
  };
  void Start();
  void SendQueries(const std::string& source, uint64_t gen);
  void Read(size_t id, QueryResult r);
  std::string HoldForClock(Time slot_time, SteadyTime now);
  void NoteClock(const std::string& source, const QueryResult& r);
  void HoldProbesFailingAlike();
  void WarnLocalFaults();
  void Warn(const std::string& key, const std::string& message);

  Clock& clock_;
  InputReader& reader_;
  ReadObserver& observer_;
  RoundDone done_;
  std::unique_ptr<Timer> timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  const Engine* engine_ = nullptr;
  std::map<std::string, PrometheusEndpoint> endpoints_;
  std::map<const HealthCheck*, std::string> check_service_;  // for probe metrics' labels
  std::vector<std::string> probe_host_;  // by input id: a probe URL's host (UrlHost), else ""
  Schedule schedule_;
  SlotClock slot_clock_;
  Time last_time_{};
  bool stopped_ = false;

  bool running_ = false;
  uint64_t gen_ = 0;
  Inputs inputs_;
  std::vector<QueryResult> results_;
  std::map<std::string, SourceQueue> queues_;
  // The round's probes as they answered: input id, and why no HTTP answer came (kNone when one
  // came, whatever its status).
  std::vector<std::pair<size_t, TransportError>> round_probes_;
  size_t outstanding_ = 0;
  Time round_time_{};
  SteadyTime round_start_{};
  // Since when rounds are held because the wall clock went back (kClockStepBack); nullopt: not.
  std::optional<SteadyTime> clock_held_since_;
  std::set<std::string> noted_no_date_;  // sources whose answers lacked a usable Date (logged)

  struct Warned {
    SteadyTime at{};
    size_t repeats = 0;  // since `at`, not logged
  };
  std::map<std::string, Warned> warned_;  // by warning kind
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_ROUND_RUNNER_H_
