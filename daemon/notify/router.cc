#include "daemon/notify/router.h"

#include <algorithm>

namespace rollbackd {
namespace {

std::string LabelOf(const Event& e, const std::string& name) {
  if (name == "event") return std::string(EventKindName(e.kind));
  if (name == "service") return e.service;
  if (name == "trigger") return e.trigger;
  if (name == "severity") return std::string(SeverityName(e.severity));
  auto it = e.labels.find(name);
  return it == e.labels.end() ? std::string() : it->second;
}

}  // namespace

Router::Router(const std::vector<Route>& routes) {
  for (const Route& r : routes) {
    Compiled c;
    c.channels = r.channels;
    c.continue_matching = r.continue_matching;
    for (const RouteMatcher& m : r.matchers) {
      c.matchers.push_back(
          {m.label, m.value, m.regex ? std::regex(m.value) : std::regex(), m.regex});
    }
    routes_.push_back(std::move(c));
  }
}

std::vector<std::string> Router::ChannelsFor(const Event& event) const {
  std::vector<std::string> out;
  for (const Compiled& r : routes_) {
    const bool match = std::all_of(r.matchers.begin(), r.matchers.end(), [&](const Matcher& m) {
      const std::string value = LabelOf(event, m.label);
      return m.regex ? std::regex_match(value, m.re) : value == m.value;
    });
    if (!match) continue;
    for (const std::string& ch : r.channels) {
      if (std::find(out.begin(), out.end(), ch) == out.end()) out.push_back(ch);
    }
    if (!r.continue_matching) break;
  }
  return out;
}

}  // namespace rollbackd
