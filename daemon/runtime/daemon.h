// The live daemon: reads Prometheus and health endpoints on each service's interval (RoundRunner),
// feeds the engine, runs rollback hooks exactly once (HookRunner), notifies channels (Notifier) and
// serves the HTTP API (Api). What stays here is the sequencing: start, reload and drain, and the
// order of the exactly-once steps. The decisions are the engine's.
//
// Every effect comes in through DaemonEnv (the real ones are built in RunDaemon; tests pass fakes
// from testing/ and run a day of the daemon's life in microseconds).
//
// Exactly once, across crashes: after an evaluation that started a rollback, the engine state is
// written (atomically, fsync'd, with the round's notifications beside it), then the notifications
// go to the outbox (fsync'd), then the journal intent (fsync'd), and only then does the hook start.
// If any of these writes fails, the hook does not run and rollback.failed names the write. A
// restart reports a rollback whose outcome is unknown as failed ("interrupted") and never reruns
// its hook; a hook whose id the journal already knows never runs again.
//
// Threading: everything runs on the io_context's one thread.
#ifndef ROLLBACKD_RUNTIME_DAEMON_H_
#define ROLLBACKD_RUNTIME_DAEMON_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "daemon/actions/hook_runner.h"
#include "daemon/cluster/etcd.h"
#include "daemon/engine/engine.h"
#include "daemon/io/clock.h"
#include "daemon/io/file_system.h"
#include "daemon/io/transport.h"
#include "daemon/runtime/api.h"
#include "daemon/sources/probe.h"

namespace rollbackd {

struct DaemonOptions {
  std::string config_path;
  std::string version = "dev";
  // Test and demo aid: overrides [daemon].listen (e.g. "127.0.0.1:0"); the bound address is
  // logged as "listening on http://HOST:PORT".
  std::string listen_override;
};

// The effects. Each must outlive the Daemon.
struct DaemonEnv {
  boost::asio::io_context& io;  // the API server, systemd notifications, the notifier's timers
  Clock& clock;
  FileSystem& fs;       // state_dir
  InputReader& inputs;  // Prometheus and probes
  HookRunner& hooks;    // rollback hooks
  HttpTransport& http;  // notification channels
  ProcessRunner& exec;  // exec channels
  // Cluster mode ([cluster]): builds the etcd client from the settings and the password read from
  // password_file. Unset: a configuration with [cluster] is refused.
  std::function<std::unique_ptr<Etcd>(const ClusterSettings&, const std::string& password,
                                      EtcdObserver observer)>
      etcd;
};

class Daemon {
 public:
  Daemon(DaemonEnv env, DaemonOptions options);
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
  // For tests and status: what the engine knows now.
  std::vector<ServiceStatus> Status() const;
  // What the API reads and changes (deploys, pause), for in-process callers and tests.
  DaemonControl& control();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `rollbackd run`: logging set up by the caller. Builds the real effects, runs until
// SIGTERM/SIGINT; returns the exit code.
int RunDaemon(const DaemonOptions& options);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_DAEMON_H_
