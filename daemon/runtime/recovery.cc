#include "daemon/runtime/recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rollbackd {

// After a restart: a rollback the engine had in flight ended while we were gone (the journal has
// its outcome) or its outcome is unknown. Unknown means interrupted: it is not run again.
void ReconcileJournal(Engine& engine, Journal& journal, Time now, std::vector<Event>* events,
                      std::vector<std::string>* resume) {
  std::string err;
  for (const std::string& id : engine.RollbacksInFlight()) {
    RollbackOutcome outcome;
    if (auto known = journal.Outcome(id)) {
      outcome = *known;
    } else if (resume != nullptr && journal.Knows(id)) {
      resume->push_back(id);  // still in flight: its hook's record decides
      continue;
    } else {
      outcome.error = journal.Knows(id) ? kInterruptedAfterIntent
                                        : "interrupted: rollbackd stopped before the hook started";
      if (journal.Knows(id) && !journal.RecordOutcome(id, outcome, now, &err)) {
        spdlog::error("journal: {}", err);
      }
      spdlog::error("rollback {} was interrupted by a restart; not running it again", id);
    }
    engine.RollbackFinished(id, outcome, now, events);
  }
  for (const JournalIntent& in : journal.Unfinished()) {
    if (resume != nullptr &&
        std::find(resume->begin(), resume->end(), in.rollback_id) != resume->end()) {
      continue;  // in flight, and its hook's record decides
    }
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
