// When to read what. A service's triggers (and its version query) are read every service
// interval; a health check with its own interval on that. A round reads the union of the inputs of
// every unit due, all at one evaluation instant, so a trigger and its baseline are always read
// together. Pure: time is passed in, so tests run without waiting.
#ifndef ROLLBACKD_RUNTIME_SCHEDULE_H_
#define ROLLBACKD_RUNTIME_SCHEDULE_H_

#include <chrono>
#include <functional>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/samples.h"

namespace rollbackd {

class Schedule {
 public:
  using Clock = std::chrono::steady_clock;

  Schedule() = default;
  // Every unit of `config` due at `now` (the first round reads everything).
  Schedule(const Config& config, const Engine& engine, Clock::time_point now);

  bool empty() const { return units_.empty(); }
  Clock::time_point next() const;  // the earliest due time; requires !empty()

  // Marks in `due` (indexed by input id, sized to the engine's inputs) the inputs of every unit due
  // by `now` (within `slack`, so units a few ms apart share a round) and moves those units on by
  // their period. A unit that fell behind (a slow round) is next due one period from now: no burst
  // of catch-up rounds. Returns how many inputs are due.
  // Units of services for which `skip(service index)` holds move on without being read (cluster
  // mode: another member owns them); `skipped` counts them.
  size_t TakeDue(Clock::time_point now, std::vector<char>* due,
                 Clock::duration slack = std::chrono::milliseconds(5),
                 const std::function<bool(size_t service)>& skip = {}, size_t* skipped = nullptr);

 private:
  struct Unit {
    std::vector<int> inputs;
    Duration period{0};
    Clock::time_point next{};
    size_t service = 0;  // index in config.services
  };
  std::vector<Unit> units_;
};

// A round's evaluation instant: the wall-clock time of its slot on the schedule, not the moment the
// loop got to it (as Prometheus evaluates a rule group at its slots). `for` is measured between
// instants, and a round started a few ms late must not make ten 1 s rounds hold 9.998 s and fire
// one interval later. Slots map to wall time through one anchor, so instants of slots a whole
// number of periods apart are exactly that far apart; the anchor is taken again when the wall clock
// has moved away from it by more than a second (a clock step). A slot more than a second before
// `now` (a stalled loop) is taken as `now`. Pure: both clocks are passed in.
class SlotClock {
 public:
  // `now` and `wall_now`: the steady and wall clocks, read together.
  Time At(Schedule::Clock::time_point slot, Schedule::Clock::time_point now,
          std::chrono::system_clock::time_point wall_now);

 private:
  bool anchored_ = false;
  Schedule::Clock::time_point anchor_{};
  Time anchor_wall_{};
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_SCHEDULE_H_
