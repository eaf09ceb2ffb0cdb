#include "testing/fake_clock.h"

namespace rollbackd::testing {

class FakeClock::FakeTimer : public Timer {
 public:
  explicit FakeTimer(FakeClock* clock) : clock_(clock) {}
  ~FakeTimer() override { Cancel(); }

  void At(SteadyTime when, std::function<void()> fn) override {
    Cancel();
    key_ = Key{std::max(when, clock_->now_), ++clock_->seq_};
    clock_->timers_[key_] = Entry{this, std::move(fn)};
    armed_ = true;
  }
  void Cancel() override {
    if (!armed_) return;
    clock_->timers_.erase(key_);
    armed_ = false;
  }
  void Fired() { armed_ = false; }

 private:
  FakeClock* clock_;
  Key key_{};
  bool armed_ = false;
};

FakeClock::FakeClock(boost::asio::io_context* io, WallTime wall_start)
    : io_(io),
      start_(SteadyTime(std::chrono::hours(1000))),
      now_(start_),
      wall_start_(wall_start) {}

FakeClock::~FakeClock() = default;

std::unique_ptr<Timer> FakeClock::NewTimer() { return std::make_unique<FakeTimer>(this); }

size_t FakeClock::Poll() {
  if (io_ == nullptr) return 0;
  io_->restart();
  return io_->poll();
}

bool FakeClock::Advance(Duration d, size_t max_steps) {
  const SteadyTime target = now_ + d;
  size_t steps = 0;
  while (steps < max_steps) {
    steps += Poll();
    if (timers_.empty() || timers_.begin()->first.first > target) {
      if (Poll() == 0) break;  // settled: nothing ready, nothing due
      continue;
    }
    auto it = timers_.begin();
    now_ = std::max(now_, it->first.first);
    Entry e = std::move(it->second);
    timers_.erase(it);
    e.timer->Fired();
    e.fn();
    ++steps;
  }
  now_ = std::max(now_, target);
  return steps < max_steps;
}

}  // namespace rollbackd::testing
