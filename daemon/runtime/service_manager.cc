#include "daemon/runtime/service_manager.h"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace rollbackd {

void ServiceManager::SdNotify(const std::string& message) { sd_notify(0, message.c_str()); }

ServiceManager::ServiceManager(Clock& clock, Sink sink)
    : clock_(clock), sink_(std::move(sink)), timer_(clock.NewTimer()) {}

void ServiceManager::StartWatchdog() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  StartWatchdog(std::chrono::duration_cast<Duration>(std::chrono::microseconds(usec / 2)));
}

void ServiceManager::StartWatchdog(Duration period) {
  period_ = period.count() > 0 ? period : Duration(1);
  Ping();
}

void ServiceManager::Ping() {
  sink_("WATCHDOG=1");
  clock_.After(*timer_, period_, [this] { Ping(); });
}

void ServiceManager::Ready(const std::string& status) {
  status_ = status;
  sink_("READY=1\nSTATUS=" + status);
}

void ServiceManager::Status(const std::string& status) {
  if (status == status_) return;  // only changes reach systemd
  status_ = status;
  sink_("STATUS=" + status);
}

void ServiceManager::Reloading() {
  // systemd 253+ wants the monotonic time with RELOADING=1 (Type=notify-reload); older ignore it.
  // CLOCK_MONOTONIC is what std::chrono::steady_clock reads on Linux.
  const auto usec =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.SteadyNow().time_since_epoch())
          .count();
  sink_("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceManager::Stopping() {
  // The pings go on while draining: the loop still runs, and a drain waits for hooks.
  sink_("STOPPING=1");
}

}  // namespace rollbackd
