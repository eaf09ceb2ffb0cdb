// Running a service's rollback hook: an exec hook (argv, no shell, the decision in its environment:
// hook_env.h) or an http hook (the rollback.started event as a signed JSON POST). The interface is
// what the daemon calls; TransportHookRunner is the real one, over the two transports, and tests
// pass a fake that decides when and how each hook ends.
//
// The runner only runs: it never decides whether a hook may run (the daemon's exactly-once
// sequence does, before calling it) and never writes the journal.
#ifndef ROLLBACKD_ACTIONS_HOOK_RUNNER_H_
#define ROLLBACKD_ACTIONS_HOOK_RUNNER_H_

#include <functional>
#include <optional>
#include <string>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/event.h"
#include "daemon/io/clock.h"
#include "daemon/io/transport.h"

namespace rollbackd {

// What an http hook is sent with; read from files by the daemon (runtime/secrets.h).
struct HookCredentials {
  std::optional<std::string> signing_key;  // webhook-signature, when the hook has a secret_file
  std::string bearer_token;
  std::string basic_username;
  std::string basic_password;
};

struct HookRun {
  std::string rollback_id;  // the id of `started`; webhook-id and ROLLBACKD_EVENT_ID
  Event started;            // the rollback.started event
  RollbackHook hook;        // a copy: a reload may replace the configuration meanwhile
  HookCredentials credentials;
};

// What an outcome keeps of a hook's output: the last 4 KiB of an exec hook's stdout and stderr, or
// of an http hook's reply body. Memory stays at that whatever the hook writes.
inline constexpr size_t kHookOutputTail = 4096;

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // Starts the hook; `done` runs once, later, on the loop, with its outcome (never inside Run).
  virtual void Run(HookRun run, std::function<void(RollbackOutcome)> done) = 0;
};

class TransportHookRunner : public HookRunner {
 public:
  TransportHookRunner(ProcessRunner& exec, HttpTransport& http, Clock& clock)
      : exec_(exec), http_(http), clock_(clock) {}
  void Run(HookRun run, std::function<void(RollbackOutcome)> done) override;

 private:
  ProcessRunner& exec_;
  HttpTransport& http_;
  Clock& clock_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_HOOK_RUNNER_H_
