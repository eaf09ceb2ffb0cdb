#include "daemon/notify/render.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "daemon/config/text.h"
#include "daemon/engine/event.h"

namespace rollbackd {
namespace {

using nlohmann::json;

std::string StringOf(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return FormatNumber(v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "";
}

std::string Str(const json& event, const char* key) {
  auto it = event.find(key);
  return it == event.end() ? std::string() : StringOf(*it);
}

const json& Rollback(const json& event) {
  static const json kEmpty = json::object();
  auto it = event.find("rollback");
  return it != event.end() && it->is_object() ? *it : kEmpty;
}

std::string RenderOr(const Template& t, const json& event, const std::string& fallback) {
  if (t.empty()) return fallback;
  return t.Render([&](std::string_view f) { return EventField(event, f); });
}

// Slack mrkdwn treats &, < and > as control characters.
std::string SlackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string DefaultTitle(const json& e) {
  const std::string kind = Str(e, "event");
  const std::string service = Str(e, "service");
  const std::string trigger = Str(e, "trigger");
  // Not `"[" + Str(...)`: GCC 12 -O3 reports a false -Wrestrict in that operator+ once inlined.
  std::string t = "[";
  t += Str(e, "severity") + "] ";
  // cluster.* and fleet.* are no service's: "[critical] fleet.brake".
  if (!service.empty()) t += service + ": ";
  t += kind;
  if (!trigger.empty()) t += " (" + trigger + ")";
  return t;
}

// "0.31 > 0.05 (above 0.05)" or "" when the event has no value.
std::string ValueLine(const json& e) {
  const std::string value = Str(e, "value");
  if (value.empty()) return "";
  std::string out = value;
  const std::string threshold = Str(e, "threshold");
  if (!threshold.empty()) out += " against threshold " + threshold;
  const std::string baseline = Str(e, "baseline");
  if (!baseline.empty()) out += " (baseline " + baseline + ")";
  return out;
}

std::string RollbackLine(const json& e) {
  const std::string kind = Str(e, "event");
  if (kind.rfind("rollback.", 0) != 0) return "";
  const json& r = Rollback(e);
  std::string out = kind.substr(9);
  if (kind == "rollback.skipped") out += ": " + Str(r, "skip_reason");
  const std::string status = Str(r, "exit_status");
  if (!status.empty()) out += ", exit status " + status;
  const std::string seconds = Str(r, "duration_seconds");
  if (!seconds.empty()) out += ", after " + seconds + " s";
  return out;
}

}  // namespace

ChannelTemplates ChannelTemplates::For(const Channel& c) {
  ChannelTemplates t;
  std::string error;
  if (auto p = Template::Parse(c.title, &error)) t.title = std::move(*p);
  if (auto p = Template::Parse(c.text, &error)) t.text = std::move(*p);
  return t;
}

std::string FormatNumber(double v) { return ShortestNumber(v); }

std::string EventField(const json& event, std::string_view field) {
  constexpr std::string_view kLabels = "labels.";
  if (field.substr(0, kLabels.size()) == kLabels) {
    auto labels = event.find("labels");
    if (labels == event.end() || !labels->is_object()) return "";
    auto it = labels->find(std::string(field.substr(kLabels.size())));
    return it == labels->end() ? std::string() : StringOf(*it);
  }
  const std::string f(field);
  if (f == "event" || f == "id" || f == "time" || f == "service" || f == "trigger" ||
      f == "severity" || f == "value" || f == "threshold" || f == "baseline" ||
      f == "condition" || f == "reason" || f == "version") {
    return Str(event, f.c_str());
  }
  const json& r = Rollback(event);
  if (f == "skip_reason") return Str(r, "skip_reason");
  if (f == "exit_status") return Str(r, "exit_status");
  if (f == "rollback_id") return Str(r, "id");
  if (f == "duration") {
    auto it = r.find("duration_seconds");
    if (it == r.end() || !it->is_number()) return "";
    return FormatDuration(Duration(std::llround(it->get<double>() * 1000)));
  }
  return "";
}

std::string Rfc3339(Time t) { return FormatTime(t); }

std::string AlertmanagerLabelName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

json AlertFor(const json& event, const ChannelTemplates& templates,
              const std::string& rollback_note, const std::string& external_url) {
  json labels = json::object();
  if (auto it = event.find("labels"); it != event.end() && it->is_object()) {
    // Alertmanager refuses the whole POST for one label name it cannot take (Prometheus 3 allows
    // "service.name"), and with it every alert of the batch, rollback.failed included. Names it
    // takes go as they are; the others as AlertmanagerLabelName, unless that name is taken.
    for (auto& [k, v] : it->items()) {
      if (AlertmanagerLabelName(k) == k) labels[k] = StringOf(v);
    }
    for (auto& [k, v] : it->items()) {
      const std::string name = AlertmanagerLabelName(k);
      if (name != k && !labels.contains(name)) labels[name] = StringOf(v);
    }
  }
  const std::string kind = Str(event, "event");
  const bool source = kind == "source.down" || kind == "source.up";
  // Events of no trigger get a fixed name: Alertmanager refuses an alert without alertname.
  std::string alertname = Str(event, "trigger");
  if (source) alertname = "RollbackdSourceDown";
  if (kind == "cluster.down" || kind == "cluster.up") alertname = "RollbackdClusterDown";
  if (kind == "fleet.brake" || kind == "fleet.brake_released") alertname = "RollbackdFleetBrake";
  labels["alertname"] = alertname;
  if (source) labels["trigger"] = Str(event, "trigger");
  labels["service"] = Str(event, "service");
  labels["severity"] = Str(event, "severity");

  json annotations = json::object();
  annotations["summary"] = RenderOr(templates.title, event, DefaultTitle(event));
  annotations["description"] = RenderOr(templates.text, event, Str(event, "reason"));
  for (const char* key : {"value", "threshold", "baseline", "condition"}) {
    const std::string v = Str(event, key);
    if (!v.empty()) annotations[key] = v;
  }
  annotations["event_id"] = Str(event, "id");
  if (!rollback_note.empty()) annotations["rollback"] = rollback_note;

  json alert = {{"labels", labels}, {"annotations", annotations}};
  alert["startsAt"] = Str(event, "time");
  if (!external_url.empty()) alert["generatorURL"] = external_url + "/api/v1/status";
  return alert;
}

std::string AlertmanagerBody(const std::vector<const json*>& alerts, Time now, Duration resend) {
  json body = json::array();
  const std::string ends = Rfc3339(now + 4 * resend);
  for (const json* a : alerts) {
    if (!a->is_object()) continue;  // never stored (OutboxEntryFromJson); never a throw here
    json copy = *a;
    if (!copy.contains("endsAt")) copy["endsAt"] = ends;
    body.push_back(std::move(copy));
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string SlackBody(const std::vector<const json*>& events, const ChannelTemplates& templates,
                      const std::string& external_url) {
  json blocks = json::array();
  std::string text;
  const json& first = *events.front();
  const std::string header = RenderOr(templates.title, first, DefaultTitle(first)) +
                             (events.size() > 1 ? " (+" + std::to_string(events.size() - 1) +
                                                      " more)"
                                                : "");
  // Slack limits a header to 150 characters of plain text.
  std::string header_text = header.size() > 150 ? header.substr(0, 147) + "..." : header;
  blocks.push_back(
      {{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", header_text}}}});
  text = header;
  for (const json* e : events) {
    json fields = json::array();
    auto field = [&](const std::string& name, const std::string& value) {
      if (!value.empty()) {
        fields.push_back({{"type", "mrkdwn"}, {"text", "*" + name + "*\n" + SlackEscape(value)}});
      }
    };
    field("Service", Str(*e, "service"));
    field("Trigger", Str(*e, "trigger"));
    field("Event", Str(*e, "event"));
    field("Severity", Str(*e, "severity"));
    field("Value", ValueLine(*e));
    field("Rollback", RollbackLine(*e));
    field("Version", Str(*e, "version"));
    const std::string body = RenderOr(templates.text, *e, Str(*e, "reason"));
    json section = {{"type", "section"}};
    if (!body.empty()) {
      // Slack limits a section's text to 3000 characters.
      std::string t = SlackEscape(body);
      if (t.size() > 2900) t = t.substr(0, 2900) + "...";
      section["text"] = {{"type", "mrkdwn"}, {"text", t}};
    }
    // ... and a section to 10 fields.
    if (fields.size() > 10) fields.erase(fields.begin() + 10, fields.end());
    if (!fields.empty()) section["fields"] = fields;
    if (section.size() > 1) blocks.push_back(std::move(section));
    if (events.size() > 1) text.append("\n").append(DefaultTitle(*e) + ": " + Str(*e, "reason"));
    else if (!body.empty()) text += "\n" + body;
  }
  std::string context = "rollbackd · event " + Str(first, "id");
  if (!external_url.empty()) {
    context += " · <" + external_url + "/api/v1/status|status>";
  }
  blocks.push_back(
      {{"type", "context"}, {"elements", json::array({{{"type", "mrkdwn"}, {"text", context}}})}});
  const json body = {{"text", SlackEscape(text)}, {"blocks", blocks}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rollbackd
