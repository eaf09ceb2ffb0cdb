#include "daemon/config/route_check.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/text.h"

namespace rollbackd {
namespace {

// The event kinds in the order and spelling of daemon/engine/event.h (EventKind, EventKindName).
// The config layer does not depend on the engine, so they are listed again here;
// route_check_test.cc checks that the two lists agree.
constexpr std::array<std::string_view, 11> kEventKinds = {
    "trigger.pending",    "trigger.firing",  "trigger.resolved",  "rollback.started",
    "rollback.succeeded", "rollback.failed", "rollback.verified", "rollback.not_recovered",
    "rollback.skipped",   "source.down",     "source.up"};
constexpr size_t kPending = 0;
constexpr size_t kFirstRollbackKind = 3;  // rollback.started .. rollback.skipped
constexpr size_t kLastRollbackKind = 8;
constexpr size_t kSourceDown = 9;
constexpr size_t kSourceUp = 10;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A matcher with its regex compiled. A regex that does not compile (the loader reports it as an
// error) makes the matcher, and its route, "unknown": it takes part in no warning.
class Matcher {
 public:
  explicit Matcher(const RouteMatcher& m) : def_(&m) {
    if (!m.regex) return;
    try {
      re_.emplace(m.value, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      valid_ = false;
    }
  }
  bool valid() const { return valid_; }
  const RouteMatcher& def() const { return *def_; }
  bool Accepts(const std::string& value) const {
    if (!def_->regex) return value == def_->value;
    return re_ && std::regex_match(value, *re_);
  }
  bool SameAs(const Matcher& o) const {
    return def_->label == o.def_->label && def_->value == o.def_->value &&
           def_->regex == o.def_->regex;
  }
  // `match.severity = "crit"`, as written in the route.
  std::string Written() const {
    return std::string(def_->regex ? "match_re." : "match.") + def_->label + " = " +
           Quote(def_->value);
  }

 private:
  const RouteMatcher* def_;
  std::optional<std::regex> re_;
  bool valid_ = true;
};

struct CompiledRoute {
  const Route* def = nullptr;
  std::vector<Matcher> matchers;
  bool opaque = false;  // a regex did not compile: no conclusion about this route
  bool never = false;   // already reported as never matching
};

// A label whose every possible value is known from the configuration: an event's value for it is
// always one of `values`.
struct Domain {
  std::string label;
  std::vector<std::string> values;
  std::string noun;      // "severity"
  std::string is_not;    // "is not a severity"
  bool list_all = true;  // list the values in messages (short, fixed lists)
};

std::string ValueList(const Domain& d) {
  constexpr size_t kMaxListed = 8;
  std::vector<std::string> shown;
  for (size_t i = 0; i < d.values.size() && (d.list_all || i < kMaxListed); ++i) {
    shown.push_back(d.values[i]);
  }
  std::string out = Join(shown, ", ");
  if (shown.size() < d.values.size()) out += ", ...";
  return out;
}

std::vector<Domain> Domains(const Config& config) {
  std::vector<Domain> out;
  out.push_back(
      {"severity", {"info", "warning", "critical"}, "severity", "is not a severity", true});
  // The services' kinds, then those of no service (cluster mode's, the fleet brake's), which the
  // per-service check leaves out.
  std::vector<std::string> kinds(kEventKinds.begin(), kEventKinds.end());
  kinds.insert(kinds.end(), {"cluster.down", "cluster.up", "fleet.brake", "fleet.brake_released"});
  out.push_back({"event", std::move(kinds), "event kind", "is not an event kind", true});
  if (config.services.empty()) return out;
  Domain services{"service", {}, "service", "names no configured service", false};
  std::set<std::string> rule_names;
  for (const Service& s : config.services) {
    services.values.push_back(s.name);
    for (const Trigger& t : s.triggers) rule_names.insert(t.name);
    for (const HealthCheck& h : s.health) rule_names.insert(h.name);
  }
  out.push_back(std::move(services));
  out.push_back({"trigger",
                 {rule_names.begin(), rule_names.end()},
                 "trigger or health check",
                 "names no trigger or health check of any service",
                 false});
  return out;
}

// The values of `d` that every matcher of `r` on d.label accepts (all of them when none is on it).
std::vector<std::string> Allowed(const CompiledRoute& r, const Domain& d) {
  std::vector<std::string> out;
  for (const std::string& v : d.values) {
    const bool ok = std::all_of(r.matchers.begin(), r.matchers.end(), [&](const Matcher& m) {
      return m.def().label != d.label || m.Accepts(v);
    });
    if (ok) out.push_back(v);
  }
  return out;
}

const Domain* DomainOf(const std::vector<Domain>& domains, const std::string& label) {
  for (const Domain& d : domains) {
    if (d.label == label) return &d;
  }
  return nullptr;
}

// Whether every event `later` matches is also matched by `earlier`: each matcher of `earlier` is
// either on a label with known values and accepts every value `later` lets through, or appears in
// `later` as it is.
bool Covers(const CompiledRoute& earlier, const CompiledRoute& later,
            const std::vector<Domain>& domains) {
  return std::all_of(earlier.matchers.begin(), earlier.matchers.end(), [&](const Matcher& m) {
    if (const Domain* d = DomainOf(domains, m.def().label)) {
      const std::vector<std::string> allowed = Allowed(later, *d);
      return std::all_of(allowed.begin(), allowed.end(),
                         [&](const std::string& v) { return m.Accepts(v); });
    }
    return std::any_of(later.matchers.begin(), later.matchers.end(),
                       [&](const Matcher& o) { return o.SameAs(m); });
  });
}

std::string RouteKey(size_t i) { return "route[" + std::to_string(i) + "]"; }

// (a) Routes that can never match: a value no event has, matchers that exclude each other, or an
// earlier route without `continue` that takes everything this one would.
void CheckNeverMatching(std::vector<CompiledRoute>& routes, const std::vector<Domain>& domains,
                        Diagnostics* diags) {
  for (size_t i = 0; i < routes.size(); ++i) {
    CompiledRoute& r = routes[i];
    if (r.opaque) continue;
    for (const Matcher& m : r.matchers) {
      const Domain* d = DomainOf(domains, m.def().label);
      if (d == nullptr) continue;
      const bool any = std::any_of(d->values.begin(), d->values.end(),
                                   [&](const std::string& v) { return m.Accepts(v); });
      if (any) continue;
      std::string why = m.def().regex ? "matches no " + d->noun : d->is_not;
      diags->Warning(
          r.def->where, RouteKey(i),
          m.Written() + " " + why + " (" + ValueList(*d) + "); this route never matches");
      r.never = true;
    }
    if (r.never) continue;
    for (const Domain& d : domains) {
      const auto on_label =
          std::count_if(r.matchers.begin(), r.matchers.end(),
                        [&](const Matcher& m) { return m.def().label == d.label; });
      if (on_label < 2 || !Allowed(r, d).empty()) continue;
      diags->Warning(r.def->where, RouteKey(i),
                     "the matchers on " + Quote(d.label) + " exclude each other (no " + d.noun +
                         " passes them all); this route never matches");
      r.never = true;
    }
    if (r.never) continue;
    for (size_t j = 0; j < i; ++j) {
      const CompiledRoute& e = routes[j];
      if (e.opaque || e.never || e.def->continue_matching || !Covers(e, r, domains)) continue;
      const std::string line = std::to_string(e.def->where.line);
      const std::string where =
          e.def->where.file == r.def->where.file ? "line " + line : e.def->where.file + ":" + line;
      diags->Warning(r.def->where, RouteKey(i),
                     "this route never matches: " + RouteKey(j) + " (" + where +
                         ") comes first, takes every event it would, and has no `continue`");
      r.never = true;
      break;
    }
  }
}

// What the configuration says about the events one trigger or health check can produce.
struct EventShape {
  std::string_view kind;
  std::string_view service;
  std::string_view rule;
  Severity severity = Severity::kWarning;
  const LabelMap* labels = nullptr;  // the service's, then the rule's
  bool series_labels = false;        // Prometheus series add labels at run time
};

enum class Match { kNo, kMaybe, kYes };

Match Evaluate(const CompiledRoute& r, const EventShape& e) {
  if (r.opaque) return Match::kMaybe;
  Match out = Match::kYes;
  for (const Matcher& m : r.matchers) {
    const std::string& label = m.def().label;
    std::optional<std::string> value;
    if (label == "event") {
      value = std::string(e.kind);
    } else if (label == "service") {
      value = std::string(e.service);
    } else if (label == "trigger") {
      value = std::string(e.rule);
    } else if (label == "severity") {
      value = std::string(SeverityName(e.severity));
    } else if (auto it = e.labels->find(label); it != e.labels->end()) {
      value = it->second;  // service and rule labels win over series labels
    } else if (!e.series_labels) {
      value = "";  // the router matches a label the event lacks as ""
    }
    if (!value) {
      out = Match::kMaybe;
    } else if (!m.Accepts(*value)) {
      return Match::kNo;
    }
  }
  return out;
}

// One trigger or health check of a service, for the report.
struct Rule {
  std::string name;
  bool health = false;
  Severity severity = Severity::kWarning;
  bool rollback = false;
  LabelMap labels;

  std::string Describe() const {
    return std::string(health ? "health check " : "trigger ") + Quote(name) + " (" +
           std::string(SeverityName(severity)) + ")";
  }
};

Severity SeverityOf(size_t kind, Severity rule) {
  if (kind == kSourceDown || kind == kSourceUp) return Severity::kWarning;
  if (kEventKinds[kind] == "rollback.failed" || kEventKinds[kind] == "rollback.not_recovered") {
    return Severity::kCritical;
  }
  return rule;
}

bool Produces(const Rule& r, size_t kind) {
  if (kind >= kFirstRollbackKind && kind <= kLastRollbackKind) return r.rollback;
  if (kind == kSourceDown || kind == kSourceUp) return !r.health;  // Prometheus queries only
  return true;
}

// (b) For one service: the event kinds (and, when not all of them, the triggers) that no route
// can take. trigger.pending is left out: it is often unrouted on purpose.
void CheckService(const Service& s, const std::vector<CompiledRoute>& routes, Diagnostics* diags) {
  std::vector<Rule> rules;
  for (const Trigger& t : s.triggers) {
    LabelMap labels = s.labels;
    for (const auto& [k, v] : t.labels) labels[k] = v;
    rules.push_back({t.name, false, t.severity, t.rollback && s.rollback.has_value(), labels});
  }
  for (const HealthCheck& h : s.health) {
    LabelMap labels = s.labels;
    for (const auto& [k, v] : h.labels) labels[k] = v;
    rules.push_back({h.name, true, h.severity, h.rollback && s.rollback.has_value(), labels});
  }

  // Per kind, the rules whose events of that kind no route takes; grouped by that list.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;  // qualifier -> kinds
  for (size_t kind = 0; kind < kEventKinds.size(); ++kind) {
    if (kind == kPending) continue;
    size_t producers = 0;
    std::vector<std::string> missed;
    for (const Rule& r : rules) {
      if (!Produces(r, kind)) continue;
      ++producers;
      EventShape e;
      e.kind = kEventKinds[kind];
      e.service = s.name;
      e.rule = r.name;
      e.severity = SeverityOf(kind, r.severity);
      e.labels = &r.labels;
      e.series_labels = !r.health && kind != kSourceDown && kind != kSourceUp;
      const bool taken = std::any_of(routes.begin(), routes.end(), [&](const CompiledRoute& cr) {
        return Evaluate(cr, e) != Match::kNo;
      });
      if (!taken) missed.push_back(r.Describe());
    }
    if (missed.empty()) continue;
    const std::string qualifier = missed.size() == producers ? "" : " of " + Join(missed, ", ");
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == qualifier; });
    if (it == groups.end()) it = groups.insert(groups.end(), {qualifier, {}});
    it->second.emplace_back(kEventKinds[kind]);
  }
  if (groups.empty()) return;
  std::vector<std::string> parts;
  for (const auto& [qualifier, kinds] : groups) parts.push_back(Join(kinds, ", ") + qualifier);
  diags->Warning(s.where, "route",
                 "service " + Quote(s.name) + ": no route takes " + Join(parts, " and ") +
                     "; these events reach no channel");
}

}  // namespace

void CheckRoutes(const Config& config, Diagnostics* diags) {
  const SourceLocation file{config.file, 0, 0};
  if (config.routes.empty()) {
    const bool hooks = std::any_of(config.services.begin(), config.services.end(),
                                   [](const Service& s) { return s.rollback.has_value(); });
    if (!config.channels.empty()) {
      std::vector<std::string> names;
      for (const Channel& c : config.channels) names.push_back(Quote(c.name));
      diags->Warning(file, "route",
                     "no [[route]]: " + std::string(names.size() == 1 ? "channel " : "channels ") +
                         Join(names, ", ") +
                         " receive nothing; events are only logged and written to the "
                         "decision log");
    } else if (hooks) {
      diags->Warning(file, "route",
                     "no [channel.*] and no [[route]]: events, rollbacks included, are only "
                     "logged and written to the decision log");
    }
    return;
  }

  std::vector<CompiledRoute> routes;
  for (const Route& r : config.routes) {
    CompiledRoute c;
    c.def = &r;
    for (const RouteMatcher& m : r.matchers) {
      c.matchers.emplace_back(m);
      if (!c.matchers.back().valid()) c.opaque = true;
    }
    routes.push_back(std::move(c));
  }
  const std::vector<Domain> domains = Domains(config);
  CheckNeverMatching(routes, domains, diags);

  for (const Service& s : config.services) CheckService(s, routes, diags);

  for (const Channel& c : config.channels) {
    const bool named = std::any_of(config.routes.begin(), config.routes.end(), [&](const Route& r) {
      return std::find(r.channels.begin(), r.channels.end(), c.name) != r.channels.end();
    });
    if (!named) {
      diags->Warning(c.where, "channel." + c.name,
                     "no [[route]] names this channel; it receives nothing");
    }
  }

  for (size_t i = 0; i < config.routes.size(); ++i) {
    const Route& r = config.routes[i];
    if (r.send_resolved) continue;
    for (const std::string& name : r.channels) {
      const Channel* c = config.FindChannel(name);
      if (c == nullptr || c->type != ChannelType::kAlertmanager) continue;
      diags->Warning(r.where, RouteKey(i),
                     "send_resolved = false does not apply to alertmanager channel " + Quote(name) +
                         ": Alertmanager always receives resolutions (without them its alerts "
                         "stay active until they expire)");
    }
  }
}

}  // namespace rollbackd
