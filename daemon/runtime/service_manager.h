// Talking to systemd (Type=notify): READY=1 once the first evaluation is done, STATUS= lines,
// RELOADING=1 / READY=1 around a reload, STOPPING=1 on drain, and WATCHDOG=1 sent from a timer on
// the event loop itself, so that a stuck loop stops the pings and systemd restarts the daemon.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
#ifndef ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_
#define ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_

#include <functional>
#include <memory>
#include <string>

#include "daemon/config/duration.h"
#include "daemon/io/clock.h"

namespace rollbackd {

class ServiceManager {
 public:
  // Where the datagrams go: sd_notify(3) by default; tests collect them.
  using Sink = std::function<void(const std::string& message)>;
  static void SdNotify(const std::string& message);

  explicit ServiceManager(Clock& clock, Sink sink = SdNotify);

  // Starts the watchdog pings (every half of WatchdogSec) when systemd asked for them.
  void StartWatchdog();
  // Pings every `period` (tests).
  void StartWatchdog(Duration period);
  void Ready(const std::string& status);
  // STATUS=, when it differs from the last one sent.
  void Status(const std::string& status);
  void Reloading();
  void Stopping();

  Duration watchdog_period() const { return period_; }  // 0 when systemd asked for none

 private:
  void Ping();

  Clock& clock_;
  Sink sink_;
  std::unique_ptr<Timer> timer_;
  Duration period_{0};
  std::string status_;  // the last STATUS= sent
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_
