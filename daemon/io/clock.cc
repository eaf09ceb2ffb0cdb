#include "daemon/io/clock.h"

#include <boost/asio/steady_timer.hpp>

namespace rollbackd {
namespace {

class AsioTimer : public Timer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : timer_(io) {}
  ~AsioTimer() override { Cancel(); }

  void At(SteadyTime when, std::function<void()> fn) override {
    Cancel();
    timer_.expires_at(when);
    // The generation tells a wait cancelled (or replaced) after it completed from the live one.
    timer_.async_wait([this, gen = ++gen_, alive = std::weak_ptr<bool>(alive_),
                       fn = std::move(fn)](const boost::system::error_code& ec) {
      if (ec || !alive.lock() || gen != gen_) return;
      fn();
    });
  }
  void Cancel() override {
    ++gen_;
    timer_.cancel();
  }

 private:
  boost::asio::steady_timer timer_;
  uint64_t gen_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<Timer> AsioClock::NewTimer() { return std::make_unique<AsioTimer>(io_); }

}  // namespace rollbackd
