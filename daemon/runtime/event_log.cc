#include "daemon/runtime/event_log.h"

#include <spdlog/spdlog.h>

#include "daemon/config/redact.h"
#include "daemon/config/text.h"

namespace rollbackd {
namespace {

std::string LabelsText(const LabelMap& labels) {
  std::string s;
  for (const auto& [k, v] : labels) {
    s += s.empty() ? "{" : ",";
    s += k + "=\"" + v + "\"";
  }
  return s.empty() ? s : s + "}";
}

spdlog::level::level_enum EventLevel(EventKind k) {
  switch (k) {
    case EventKind::kTriggerPending:
    case EventKind::kTriggerResolved:
    case EventKind::kSourceUp:
    case EventKind::kClusterUp:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackVerified:
      return spdlog::level::info;
    case EventKind::kRollbackFailed:
    case EventKind::kRollbackNotRecovered:
      return spdlog::level::err;
    default:
      return spdlog::level::warn;
  }
}

}  // namespace

std::string EventLine(const Event& e) {
  std::string numbers;
  if (e.value) numbers += " value=" + ShortestNumber(*e.value);
  if (e.threshold) numbers += " threshold=" + ShortestNumber(*e.threshold);
  if (e.baseline) numbers += " baseline=" + ShortestNumber(*e.baseline);
  std::string extra;
  if (!e.skip_reason.empty()) extra += " skip_reason=" + e.skip_reason;
  if (!e.rollback_id.empty()) extra += " rollback=" + e.rollback_id;
  // Label values and reasons come from Prometheus and probes: one event stays one log line.
  return OneLine(fmt::format("{} {}/{}{}{}{}: {} (id {})", EventKindName(e.kind), e.service,
                             e.trigger, LabelsText(e.labels), numbers, extra, e.reason, e.id));
}

void LogEvent(const Event& e, const Engine& engine, DecisionLog& decisions) {
  spdlog::log(EventLevel(e.kind), "{}", EventLine(e));
  std::string err;
  if (!decisions.Record(e, engine, &err)) spdlog::error("decision log: {}", err);
}

}  // namespace rollbackd
