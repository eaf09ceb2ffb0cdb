// After a restart: what the saved engine state had in flight, set against the rollback journal.
// A rollback whose outcome the journal knows ended while the daemon was gone; one whose outcome is
// unknown was interrupted and is reported failed, never run again. Journal intents the saved state
// does not know (a crash between the intent and the next state save cannot leave one; a state file
// put back by hand can) are closed as interrupted.
#ifndef ROLLBACKD_RUNTIME_RECOVERY_H_
#define ROLLBACKD_RUNTIME_RECOVERY_H_

#include <vector>

#include "daemon/actions/journal.h"
#include "daemon/engine/engine.h"

namespace rollbackd {

// Appends the outcome events (rollback.succeeded / rollback.failed) to `events`.
void ReconcileJournal(Engine& engine, Journal& journal, Time now, std::vector<Event>* events);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_RECOVERY_H_
