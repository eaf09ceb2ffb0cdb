// What `replay` prints: the event timeline in the format of `rollbackd test -v` (each line the
// event's time, then engine/event.h's DescribeEvent), the requests that failed, and a summary per
// service and trigger; or all of it as JSON, the events as webhook payloads carry them
// (EventToJson, docs/events.md).
#ifndef ROLLBACKD_REPLAY_REPORT_H_
#define ROLLBACKD_REPLAY_REPORT_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "daemon/replay/replayer.h"

namespace rollbackd {

struct TriggerSummary {
  std::string service;
  std::string trigger;
  int pending = 0;      // trigger.pending events
  int fired = 0;        // trigger.firing
  int rolled_back = 0;  // rollback.started: would have rolled back
  int skipped = 0;      // rollback.skipped
  // The longest firing episode of any of its series: firing to resolved, or to the end of the
  // replay for one still firing then. Zero when it never fired.
  Duration longest_firing{0};
  bool still_firing = false;  // an episode had not resolved by the end
};

// Every trigger of every service replayed, in configuration order.
std::vector<TriggerSummary> Summarize(const ReplayResult& r);

void WriteTextReport(const ReplayResult& r, std::ostream& out);
void WriteJsonReport(const ReplayResult& r, std::ostream& out);

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_REPORT_H_
