// Every event the engine decides, written twice: one log line (journald) at the event's level, and
// one record in the decision log (state_dir/decisions.jsonl) with the queries behind it.
#ifndef ROLLBACKD_RUNTIME_EVENT_LOG_H_
#define ROLLBACKD_RUNTIME_EVENT_LOG_H_

#include <string>

#include "daemon/actions/decision_log.h"
#include "daemon/engine/engine.h"

namespace rollbackd {

// "trigger.firing web/errors{code="500"} value=0.2 threshold=0.05: ... (id ...)", on one line.
std::string EventLine(const Event& e);

// Logs `e` and records it in `decisions` (a failed write is logged; the daemon goes on).
void LogEvent(const Event& e, const Engine& engine, DecisionLog& decisions);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_EVENT_LOG_H_
