#include "daemon/runtime/recovery.h"

#include <spdlog/spdlog.h>

namespace rollbackd {

// After a restart: a rollback the engine had in flight ended while we were gone (the journal has
// its outcome) or its outcome is unknown. Unknown means interrupted: it is not run again.
void ReconcileJournal(Engine& engine, Journal& journal, Time now, std::vector<Event>* events) {
  std::string err;
  for (const std::string& id : engine.RollbacksInFlight()) {
    RollbackOutcome outcome;
    if (auto known = journal.Outcome(id)) {
      outcome = *known;
    } else {
      outcome.error = journal.Knows(id)
                          ? "interrupted: rollbackd stopped after recording the intent; "
                            "whether the hook ran or finished is unknown, so it was not run "
                            "again"
                          : "interrupted: rollbackd stopped before the hook started";
      if (journal.Knows(id) && !journal.RecordOutcome(id, outcome, now, &err)) {
        spdlog::error("journal: {}", err);
      }
      spdlog::error("rollback {} was interrupted by a restart; not running it again", id);
    }
    engine.RollbackFinished(id, outcome, now, events);
  }
  for (const JournalIntent& in : journal.Unfinished()) {
    RollbackOutcome outcome;
    outcome.error = "interrupted";
    spdlog::error(
        "journal: rollback {} of {} has no outcome and the saved state does not know "
        "it; marking it interrupted, not running it again",
        in.rollback_id, in.service);
    if (!journal.RecordOutcome(in.rollback_id, outcome, now, &err)) {
      spdlog::error("journal: {}", err);
    }
  }
}

}  // namespace rollbackd
