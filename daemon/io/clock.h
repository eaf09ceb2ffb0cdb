// Time, behind one interface: the wall clock (evaluation instants, webhook timestamps), the steady
// clock (schedules, timeouts, backoff) and timers on the steady clock. The real one runs on the
// daemon's Asio loop; tests use testing/fake_clock.h, where a daemon's minutes run in microseconds
// and nothing sleeps.
//
// Threading: timers fire on the owner's loop; a callback never runs inside At or Cancel.
#ifndef ROLLBACKD_IO_CLOCK_H_
#define ROLLBACKD_IO_CLOCK_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "daemon/config/duration.h"

namespace rollbackd {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// One pending callback at a time. Destroying it cancels what it holds.
class Timer {
 public:
  virtual ~Timer() = default;
  // Calls `fn` once when the steady clock reaches `when` (at once, on the loop, if it has),
  // replacing what was set before.
  virtual void At(SteadyTime when, std::function<void()> fn) = 0;
  // Drops what was set; its callback will not run.
  virtual void Cancel() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime WallNow() = 0;
  virtual SteadyTime SteadyNow() = 0;
  virtual std::unique_ptr<Timer> NewTimer() = 0;

  void After(Timer& timer, Duration d, std::function<void()> fn) {
    timer.At(SteadyNow() + d, std::move(fn));
  }
};

// The system's clocks, with timers on `io` (Asio steady timers).
class AsioClock : public Clock {
 public:
  explicit AsioClock(boost::asio::io_context& io) : io_(io) {}
  WallTime WallNow() override { return std::chrono::system_clock::now(); }
  SteadyTime SteadyNow() override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<Timer> NewTimer() override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_CLOCK_H_
