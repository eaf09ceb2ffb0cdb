#include "daemon/runtime/recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>

namespace rollbackd {

std::string HookRecordPath(const std::string& state_dir, const std::string& id) {
  const bool plain =
      !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (plain) return state_dir + "/hooks/" + id;
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: the same name in every build and restart
  for (const char c : id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return state_dir + "/hooks/x" + hex;
}

bool IsHttpHookIntent(const Journal& journal, const std::string& id) {
  for (const JournalIntent& intent : journal.Unfinished()) {
    if (intent.rollback_id == id) return !intent.url.empty();
  }
  return false;
}

RollbackOutcome OutcomeAfterRestart(const std::string& id, const ResumedHook& r) {
  RollbackOutcome outcome;
  switch (r.state) {
    case ResumedHook::State::kFinished:
      outcome = r.outcome;
      spdlog::warn("rollback {}: its hook, started before the restart, {}", id,
                   outcome.success ? std::string("succeeded") : "failed: " + outcome.error);
      break;
    case ResumedHook::State::kNotStarted:
      outcome.error =
          "interrupted: rollbackd stopped after recording the intent, before the hook started; "
          "it was not run";
      spdlog::error(
          "rollback {} was interrupted by a restart before its hook started; not "
          "running it now",
          id);
      break;
    case ResumedHook::State::kUnknown:
      outcome.error = kInterruptedAfterIntent;
      spdlog::error("rollback {} was interrupted by a restart ({}); not running it again", id,
                    r.detail);
      break;
  }
  return outcome;
}

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
