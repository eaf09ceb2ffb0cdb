// A clock whose time moves only when told (leveldb's and ninja's fakes are the model): timers fire
// in time order as Advance passes their instant, and the Asio loop's ready handlers run between
// them, so a daemon's hour takes microseconds and a test never sleeps.
#ifndef ROLLBACKD_TESTING_FAKE_CLOCK_H_
#define ROLLBACKD_TESTING_FAKE_CLOCK_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "daemon/io/clock.h"

namespace rollbackd::testing {

class FakeClock : public Clock {
 public:
  // `io`, when given, is polled between timers (handlers posted by the code under test run).
  // The wall clock starts at `wall_start`.
  explicit FakeClock(boost::asio::io_context* io = nullptr,
                     WallTime wall_start = WallTime(std::chrono::seconds(1'800'000'000)));
  ~FakeClock() override;

  WallTime WallNow() override { return wall_start_ + (now_ - start_) + wall_offset_; }
  SteadyTime SteadyNow() override { return now_; }
  std::unique_ptr<Timer> NewTimer() override;

  // Moves time forward by `d`, firing every timer due on the way at its own instant (and running
  // the loop's ready handlers after each). At most `max_steps` callbacks: false if the limit was
  // hit (a timer loop at 0 delay), so a test stays bounded.
  bool Advance(Duration d, size_t max_steps = 1'000'000);
  // Runs what is ready now (timers due, posted handlers) without moving time.
  bool RunReady(size_t max_steps = 1'000'000) { return Advance(Duration(0), max_steps); }
  // Time passes without the loop turning (a handler that blocks): no timer fires.
  void Spend(Duration d) { now_ += d; }
  // A wall-clock step (NTP, an operator); the steady clock does not move.
  void StepWall(Duration d) { wall_offset_ += d; }

  Duration elapsed() const { return std::chrono::duration_cast<Duration>(now_ - start_); }
  size_t pending_timers() const { return timers_.size(); }

 private:
  class FakeTimer;
  friend class FakeTimer;
  struct Entry {
    FakeTimer* timer;
    std::function<void()> fn;
  };
  using Key = std::pair<SteadyTime, uint64_t>;  // instant, then the order they were set in

  size_t Poll();

  boost::asio::io_context* io_;
  SteadyTime start_;
  SteadyTime now_;
  WallTime wall_start_;
  Duration wall_offset_{0};
  uint64_t seq_ = 0;
  std::map<Key, Entry> timers_;
};

}  // namespace rollbackd::testing

#endif  // ROLLBACKD_TESTING_FAKE_CLOCK_H_
