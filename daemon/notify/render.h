// What each channel type sends, built from event payloads (docs/events.md): Slack messages,
// Alertmanager alerts, template fields. Pure functions; internal to the notify layer.
#ifndef ROLLBACKD_NOTIFY_RENDER_H_
#define ROLLBACKD_NOTIFY_RENDER_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/config/model.h"
#include "daemon/config/template.h"
#include "daemon/engine/samples.h"

namespace rollbackd {

// A channel's templates, parsed once (the loader has checked them).
struct ChannelTemplates {
  Template title;
  Template text;
  static ChannelTemplates For(const Channel& c);
};

// One template field of an event payload, as text ("" when the event lacks it). Numbers are
// written as the shortest text that reads back as the same double: 0.0523, 1000000.4, NaN.
std::string EventField(const nlohmann::json& event, std::string_view field);
std::string FormatNumber(double v);

// A label name Alertmanager accepts ([a-zA-Z_][a-zA-Z0-9_]*): every other character becomes '_',
// and a leading digit gets a '_' before it ("service.name" -> "service_name", "" -> "_").
std::string AlertmanagerLabelName(std::string_view name);

// The Alertmanager alert for a firing-like event (trigger.firing, source.down), without endsAt:
// labels alertname (the trigger, or RollbackdSourceDown), service, severity and the event's
// labels (names mended by AlertmanagerLabelName); annotations summary, description, value,
// threshold, baseline, condition, event_id, and `rollback` when `rollback_note` is not empty;
// startsAt the event's time; generatorURL the status API under `external_url` when set.
nlohmann::json AlertFor(const nlohmann::json& event, const ChannelTemplates& templates,
                        const std::string& rollback_note, const std::string& external_url);

// The body of one POST /api/v2/alerts: `alerts` as stored in the outbox, each given endsAt =
// now + 4 x resend unless it already has one (a resolution).
std::string AlertmanagerBody(const std::vector<const nlohmann::json*>& alerts, Time now,
                             Duration resend);

// A Slack incoming-webhook message for one or more events of one service: `text` (the
// notification's plain text) and `blocks` (a header, one section per event with service, trigger,
// value against threshold, and rollback outcome, and a context line linking to the status API).
std::string SlackBody(const std::vector<const nlohmann::json*>& events,
                      const ChannelTemplates& templates, const std::string& external_url);

// "2026-11-21T19:04:19.123Z" for Alertmanager's startsAt / endsAt.
std::string Rfc3339(Time t);

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_RENDER_H_
