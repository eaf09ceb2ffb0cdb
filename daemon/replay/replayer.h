// `rollbackd replay`'s core, pure: given a configuration, a window and what Prometheus answered
// for it (history.h), it drives the engine exactly as the daemon's rounds do (engine/engine.h):
// per service, an evaluation every step from `from`, its inputs indexed by input id, the version
// query included so that deploys are found from its history as live. It never reads a clock, a
// socket or a file, so tests feed it histories they wrote.
//
// What differs from live, on purpose (docs/operations.md, "Replay"):
//   - hooks never run: a rollback.started is followed, at the same instant, by the outcome
//     ReplayOptions::hook_success says (rollback.succeeded or rollback.failed), as `rollbackd test`
//     does; verification then proceeds from the data;
//   - health checks have no history: their input is absent at every step (never a breach), and
//     they are listed as not replayed.
#ifndef ROLLBACKD_REPLAY_REPLAYER_H_
#define ROLLBACKD_REPLAY_REPLAYER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/replay/history.h"
#include "daemon/replay/range_reader.h"

namespace rollbackd {

struct ReplayOptions {
  bool hook_success = true;
  // Record each series' value, effective threshold and state at every evaluation (for --html).
  bool record_series = false;
  size_t max_series_per_trigger = 8;  // label sets plotted per trigger; the rest are counted
};

// One series of a trigger over the replay, for the plot.
struct PlotSeries {
  enum State : uint8_t { kInactive = 0, kPending = 1, kFiring = 2 };
  struct Point {
    Time time{};
    double value = 0;      // NaN: unknown at that evaluation
    double threshold = 0;  // NaN: none (no baseline yet, a `compare` trigger)
    State state = kInactive;
  };
  std::string service;
  std::string trigger;
  Labels labels;
  std::vector<Point> points;
};

struct DeployMark {
  std::string service;
  Time time{};
  std::string version;
};

// A request that failed: its input was an error at every one of these steps.
struct QueryFailure {
  std::string input;  // "shop/error_rate", "shop/error_rate.baseline", "shop/deploy.version"
  std::string source;
  std::string query;
  Time first{};
  Time last{};
  size_t steps = 0;
  QueryResult error;
};

struct ServiceReplay {
  std::string name;
  Grid grid;
  std::vector<std::string> triggers;
  std::vector<std::string> not_replayed;  // health checks
};

struct ReplayResult {
  Time from{};
  Time to{};
  std::vector<ServiceReplay> services;
  std::vector<Event> events;  // in the order the engine emitted them
  std::vector<QueryFailure> failures;
  size_t evaluations = 0;  // engine rounds
  size_t requests = 0;     // range queries sent (set by whoever read the history)
  // record_series only:
  std::vector<PlotSeries> plots;
  std::vector<DeployMark> deploys;
  size_t series_not_plotted = 0;  // label sets past max_series_per_trigger
};

class Replayer {
 public:
  // Every service of `config` is replayed (select services before). Each service's grid starts at
  // `from` and runs every `step` (its interval when nullopt) up to `to` included.
  Replayer(std::shared_ptr<const Config> config, Time from, Time to, std::optional<Duration> step);

  const Engine& engine() const { return *engine_; }
  // What to read: every Prometheus input of every service, over that service's grid (an input
  // shared by services of different steps is read once per step).
  const std::vector<RangeRequestSpec>& requests() const { return requests_; }

  // `histories` as RangeReader answered requests() (any order). Once per Replayer: the engine
  // keeps its state.
  ReplayResult Run(const std::vector<InputHistory>& histories, const ReplayOptions& options);

 private:
  std::shared_ptr<const Config> config_;
  std::unique_ptr<Engine> engine_;
  Time from_{};
  Time to_{};
  std::vector<Grid> grids_;  // by service index
  std::vector<RangeRequestSpec> requests_;
  std::vector<std::string> input_names_;  // by input id
};

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_REPLAYER_H_
