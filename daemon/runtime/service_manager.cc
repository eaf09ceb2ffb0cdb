#include "daemon/runtime/service_manager.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

namespace rollbackd {

ServiceManager::ServiceManager(boost::asio::io_context& io) : timer_(io) {}

void ServiceManager::StartWatchdog() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  period_ = std::chrono::duration_cast<Duration>(std::chrono::microseconds(usec / 2));
  if (period_.count() <= 0) period_ = Duration(1);
  Ping();
}

void ServiceManager::Ping() {
  sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(period_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Ping();
  });
}

void ServiceManager::Ready(const std::string& status) {
  sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void ServiceManager::Status(const std::string& status) {
  sd_notify(0, ("STATUS=" + status).c_str());
}

void ServiceManager::Reloading() {
  // systemd 253+ wants the monotonic time with RELOADING=1 (Type=notify-reload); older ignore it.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec)).c_str());
}

void ServiceManager::Stopping() {
  // The pings go on while draining: the loop still runs, and a drain waits for hooks.
  sd_notify(0, "STOPPING=1");
}

}  // namespace rollbackd
