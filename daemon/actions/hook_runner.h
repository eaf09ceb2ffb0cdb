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
  // Where an exec hook's supervisor records its outcome (<state_dir>/hooks/<id>), so that it
  // outlives the daemon; "" for none.
  std::string record;
};

// After a restart: what became of a hook whose intent is in the journal and whose outcome is not.
struct ResumedHook {
  enum class State {
    kNotStarted,  // it never started (the daemon stopped between the intent and the start)
    kFinished,    // `outcome` is its real one: it may have ended while the daemon was down
    kUnknown,     // nobody can tell (an http hook, a supervisor gone without a record): `detail`
  };
  State state = State::kUnknown;
  RollbackOutcome outcome;
  std::string detail;
};

// What an outcome keeps of a hook's output: the last 4 KiB of an exec hook's stdout and stderr, or
// of an http hook's reply body. Memory stays at that whatever the hook writes.
inline constexpr size_t kHookOutputTail = 4096;

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // Starts the hook; `done` runs once, later, on the loop, with its outcome (never inside Run).
  virtual void Run(HookRun run, std::function<void(RollbackOutcome)> done) = 0;
  // After a restart: waits for the hook recorded at `record` if it still runs, then says what
  // became of it; `done` runs once (this default, for runners without records, at once: unknown).
  virtual void Resume(const std::string& record, std::function<void(ResumedHook)> done) {
    (void)record;
    done(ResumedHook{ResumedHook::State::kUnknown, {}, "hooks are not supervised here"});
  }
  // The record's outcome is in the journal: its files can go.
  virtual void Forget(const std::string& record) { (void)record; }
};

class TransportHookRunner : public HookRunner {
 public:
  TransportHookRunner(ProcessRunner& exec, HttpTransport& http, Clock& clock)
      : exec_(exec), http_(http), clock_(clock) {}
  void Run(HookRun run, std::function<void(RollbackOutcome)> done) override;
  void Resume(const std::string& record, std::function<void(ResumedHook)> done) override;
  void Forget(const std::string& record) override { exec_.Forget(record); }

 private:
  ProcessRunner& exec_;
  HttpTransport& http_;
  Clock& clock_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_HOOK_RUNNER_H_
