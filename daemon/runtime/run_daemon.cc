// `rollbackd run`: the real effects, built here at the edge and passed in (DaemonEnv), and the
// signals.
#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "daemon/actions/hook_runner.h"
#include "daemon/cluster/etcd_client.h"
#include "daemon/io/clock.h"
#include "daemon/io/exec_runner.h"
#include "daemon/io/file_system.h"
#include "daemon/io/http_client.h"
#include "daemon/runtime/daemon.h"
#include "daemon/sources/probe.h"

namespace rollbackd {

int RunDaemon(const DaemonOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io;
  // Registered before Start, so a stop or reload signal during startup is not lost.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  AsioClock clock(io);
  HttpClient http(io);
  // Hooks run under `rollbackd supervise-hook`, this very binary (even if the package was
  // upgraded meanwhile: /proc/self/exe is the running file).
  ExecRunner exec(io, "/proc/self/exe");
  HttpInputReader inputs(http, clock);
  TransportHookRunner hooks(exec, http, clock);
  auto etcd = [&](const ClusterSettings& c, const std::string& password, EtcdObserver observer) {
    EtcdClientOptions o;
    o.endpoints = c.etcd;
    o.timeout = c.timeout;
    o.watch_timeout = std::max<Duration>(c.lease_ttl * 3, std::chrono::seconds(30));
    o.tls = c.tls;
    o.username = c.username;
    o.password = password;
    return std::unique_ptr<Etcd>(std::make_unique<EtcdClient>(io, http, std::move(o), std::move(observer)));
  };
  Daemon daemon(DaemonEnv{io, clock, RealFileSystem(), inputs, hooks, http, exec, etcd}, options);
  spdlog::info("rollbackd {} starting with {}", options.version, options.config_path);
  if (!daemon.Start()) return 1;
  bool stopping = false;
  int exit_code = 0;
  std::function<void()> wait = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        daemon.Reload();
      } else if (!stopping) {
        stopping = true;
        spdlog::info("{}: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        daemon.Shutdown([&] { io.stop(); });
      } else {
        spdlog::warn(
            "second stop signal: exiting without waiting; running hooks are killed and "
            "will be reported as interrupted at the next start");
        exit_code = 1;
        io.stop();
      }
      wait();
    });
  };
  wait();
  io.run();
  return exit_code;
}

}  // namespace rollbackd
