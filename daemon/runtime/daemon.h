// The live daemon: one Boost.Asio loop that reads Prometheus and health endpoints on each service's
// interval, feeds the engine, runs rollback hooks exactly once, notifies channels and serves the
// HTTP API. Everything here is wiring and ordering; the decisions are the engine's.
//
// Exactly once, across crashes: after an evaluation that started a rollback, the engine state is
// written (atomically, fsync'd) before the journal intent, and the intent before the hook starts.
// A restart reports a rollback whose outcome is unknown as failed ("interrupted") and never reruns
// its hook; a hook whose id the journal already knows never runs again. If either write fails, the
// hook does not run and the rollback is reported failed.
//
// Threading: everything runs on the io_context's one thread.
#ifndef ROLLBACKD_RUNTIME_DAEMON_H_
#define ROLLBACKD_RUNTIME_DAEMON_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

namespace rollbackd {

struct DaemonOptions {
  std::string config_path;
  std::string version = "dev";
  // Test and demo aid: overrides [daemon].listen (e.g. "127.0.0.1:0"); the bound address is
  // logged as "listening on http://HOST:PORT".
  std::string listen_override;
  // Test aid for the systemd watchdog: after this many rounds the loop blocks for good. 0: never.
  int stall_loop_after_rounds = 0;
};

class Daemon {
 public:
  Daemon(boost::asio::io_context& io, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the configuration, takes the state_dir lock, restores state, reconciles the journal,
  // starts the server and the schedule. False (errors logged) when the daemon cannot run.
  bool Start();
  // SIGHUP: loads the configuration again; a bad one is rejected (errors logged) and the running
  // one kept. Deferred while an evaluation round is reading.
  void Reload();
  // SIGTERM: no new evaluations; waits for running hooks (bounded by their timeouts) and pending
  // notifications (bounded), saves state, then calls `done`.
  void Shutdown(std::function<void()> done);

  uint16_t port() const;  // the API server's bound port, 0 before Start

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `rollbackd run`: logging set up by the caller. Runs until SIGTERM/SIGINT; returns the exit code.
int RunDaemon(const DaemonOptions& options);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_DAEMON_H_
