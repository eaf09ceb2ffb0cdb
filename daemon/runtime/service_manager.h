// Talking to systemd (Type=notify): READY=1 once the first evaluation is done, STATUS= lines,
// RELOADING=1 / READY=1 around a reload, STOPPING=1 on drain, and WATCHDOG=1 sent from the event
// loop itself, so that a stuck loop stops the pings and systemd restarts the daemon. Without
// NOTIFY_SOCKET (not under systemd) every call does nothing.
#ifndef ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_
#define ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>

#include "daemon/config/duration.h"

namespace rollbackd {

class ServiceManager {
 public:
  explicit ServiceManager(boost::asio::io_context& io);

  // Starts the watchdog pings (every half of WatchdogSec) when systemd asked for them.
  void StartWatchdog();
  void Ready(const std::string& status);
  void Status(const std::string& status);
  void Reloading();
  void Stopping();

  Duration watchdog_period() const { return period_; }  // 0 when systemd asked for none

 private:
  void Ping();

  boost::asio::steady_timer timer_;
  Duration period_{0};
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_SERVICE_MANAGER_H_
