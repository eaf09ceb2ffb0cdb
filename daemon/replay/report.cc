#include "daemon/replay/report.h"

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace rollbackd {
namespace {

using nlohmann::json;

std::string Plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::vector<TriggerSummary> Summarize(const ReplayResult& r) {
  std::vector<TriggerSummary> out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (const ServiceReplay& s : r.services) {
    for (const std::string& t : s.triggers) {
      index[{s.name, t}] = out.size();
      out.push_back({s.name, t, 0, 0, 0, 0, Duration(0), false});
    }
  }
  // Firing episodes by series: (service, trigger, labels) -> since.
  std::map<std::tuple<std::string, std::string, LabelMap>, Time> firing;
  auto close = [&](TriggerSummary& ts, Time since, Time until) {
    ts.longest_firing = std::max(ts.longest_firing, Duration(until - since));
  };
  for (const Event& e : r.events) {
    auto it = index.find({e.service, e.trigger});
    if (it == index.end()) continue;  // health checks (not replayed), fleet events
    TriggerSummary& ts = out[it->second];
    const auto key = std::make_tuple(e.service, e.trigger, e.labels);
    switch (e.kind) {
      case EventKind::kTriggerPending:
        ++ts.pending;
        break;
      case EventKind::kTriggerFiring:
        ++ts.fired;
        firing.emplace(key, e.time);
        break;
      case EventKind::kTriggerResolved:
        if (auto f = firing.find(key); f != firing.end()) {
          close(ts, f->second, e.time);
          firing.erase(f);
        }
        break;
      case EventKind::kRollbackStarted:
        ++ts.rolled_back;
        break;
      case EventKind::kRollbackSkipped:
        ++ts.skipped;
        break;
      default:
        break;
    }
  }
  for (const auto& [key, since] : firing) {
    TriggerSummary& ts = out[index.at({std::get<0>(key), std::get<1>(key)})];
    close(ts, since, r.to);
    ts.still_firing = true;
  }
  return out;
}

void WriteTextReport(const ReplayResult& r, std::ostream& out) {
  const bool several = r.services.size() > 1;
  out << "replay " << FormatTime(r.from) << " to " << FormatTime(r.to) << ": "
      << Plural(r.evaluations, "evaluation", "evaluations") << "\n";
  for (const ServiceReplay& s : r.services) {
    out << "  " << s.name << ": every " << FormatDuration(s.grid.step) << ", "
        << Plural(s.grid.steps, "step", "steps");
    if (!s.not_replayed.empty()) {
      out << "; health checks not replayed (no history):";
      for (const std::string& h : s.not_replayed) out << " " << h;
    }
    out << "\n";
  }
  out << "events:\n";
  for (const Event& e : r.events) {
    out << "    " << FormatTime(e.time) << " " << DescribeEvent(e, several) << "\n";
  }
  if (r.events.empty()) out << "    (no events)\n";
  if (!r.failures.empty()) {
    out << "query errors (never a breach, as live):\n";
    for (const QueryFailure& f : r.failures) {
      out << "    " << FormatTime(f.first);
      if (f.steps > 1) out << " to " << FormatTime(f.last);
      out << " (" << Plural(f.steps, "step", "steps") << ") " << f.input << " [" << f.source << "] "
          << f.query << ": " << f.error.error << "\n";
    }
  }
  out << "summary:\n";
  for (const TriggerSummary& t : Summarize(r)) {
    out << "    " << t.service << "/" << t.trigger << ": " << Plural(t.pending, "time", "times")
        << " pending, fired " << Plural(t.fired, "time", "times") << ", would have rolled back "
        << Plural(t.rolled_back, "time", "times");
    if (t.skipped > 0) out << " (" << t.skipped << " skipped)";
    if (t.fired > 0) {
      out << ", longest firing " << FormatDuration(t.longest_firing)
          << (t.still_firing ? " (still firing at the end)" : "");
    }
    out << "\n";
  }
}

void WriteJsonReport(const ReplayResult& r, std::ostream& out) {
  json j;
  j["from"] = FormatTime(r.from);
  j["to"] = FormatTime(r.to);
  j["evaluations"] = r.evaluations;
  j["requests"] = r.requests;
  json services = json::array();
  for (const ServiceReplay& s : r.services) {
    services.push_back({{"name", s.name},
                        {"step_seconds", s.grid.step.count() / 1000.0},
                        {"steps", s.grid.steps},
                        {"triggers", s.triggers},
                        {"not_replayed", s.not_replayed}});
  }
  j["services"] = services;
  json events = json::array();
  for (const Event& e : r.events) events.push_back(json::parse(EventToJson(e)));
  j["events"] = events;
  json failures = json::array();
  for (const QueryFailure& f : r.failures) {
    failures.push_back({{"input", f.input},
                        {"source", f.source},
                        {"query", f.query},
                        {"from", FormatTime(f.first)},
                        {"to", FormatTime(f.last)},
                        {"steps", f.steps},
                        {"reason", std::string(InputErrorCategory(f.error.error_kind))},
                        {"error", f.error.error}});
  }
  j["query_errors"] = failures;
  json summary = json::array();
  for (const TriggerSummary& t : Summarize(r)) {
    summary.push_back({{"service", t.service},
                       {"trigger", t.trigger},
                       {"pending", t.pending},
                       {"fired", t.fired},
                       {"rolled_back", t.rolled_back},
                       {"skipped", t.skipped},
                       {"longest_firing_seconds", t.longest_firing.count() / 1000.0},
                       {"still_firing", t.still_firing}});
  }
  j["summary"] = summary;
  out << j.dump(2) << "\n";
}

}  // namespace rollbackd
