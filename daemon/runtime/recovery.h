// After a restart: what the saved engine state had in flight, set against the rollback journal.
// A rollback whose outcome the journal knows ended while the daemon was gone; one whose outcome is
// unknown was interrupted and is reported failed, never run again. Journal intents the saved state
// does not know (a crash between the intent and the next state save cannot leave one; a state file
// put back by hand can) are closed as interrupted.
#ifndef ROLLBACKD_RUNTIME_RECOVERY_H_
#define ROLLBACKD_RUNTIME_RECOVERY_H_

#include <string>
#include <vector>

#include "daemon/actions/hook_runner.h"
#include "daemon/actions/journal.h"
#include "daemon/engine/engine.h"

namespace rollbackd {

// Appends the outcome events (rollback.succeeded / rollback.failed) to `events`. With `resume`,
// rollbacks whose intent is in the journal without an outcome are left in flight and their ids
// put there: their hook may still run under its supervisor, or have ended while the daemon was
// down (HookRunner::Resume tells); without it they are interrupted.
void ReconcileJournal(Engine& engine, Journal& journal, Time now, std::vector<Event>* events,
                      std::vector<std::string>* resume = nullptr);

// <state_dir>/hooks/<id>: where a rollback's hook supervisor records what became of the hook (the
// id itself when it is a plain name, else a stable hash of it).
std::string HookRecordPath(const std::string& state_dir, const std::string& rollback_id);

// Whether the journal's unfinished intent for `rollback_id` is an http hook's (its fate after a
// restart is unknown: nobody recorded whether the receiver acted on the request).
bool IsHttpHookIntent(const Journal& journal, const std::string& rollback_id);

// What to report, and log, for a rollback whose hook the restart resumed (HookRunner::Resume).
RollbackOutcome OutcomeAfterRestart(const std::string& rollback_id, const ResumedHook& resumed);

// The outcome of a rollback whose hook's fate is unknown after a restart.
inline constexpr const char* kInterruptedAfterIntent =
    "interrupted: rollbackd stopped after recording the intent; whether the hook ran or finished "
    "is unknown, so it was not run again";

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_RECOVERY_H_
