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

std::vector<size_t> Router::RoutesFor(const Event& event) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Compiled& r = routes_[i];
    const bool match = std::all_of(r.matchers.begin(), r.matchers.end(), [&](const Matcher& m) {
      const std::string value = LabelOf(event, m.label);
      return m.regex ? std::regex_match(value, m.re) : value == m.value;
    });
    if (!match) continue;
    out.push_back(i);
    if (!r.continue_matching) break;
  }
  return out;
}

std::vector<std::string> Router::ChannelsFor(const Event& event) const {
  std::vector<std::string> out;
  for (size_t i : RoutesFor(event)) {
    for (const std::string& ch : routes_[i].channels) {
      if (std::find(out.begin(), out.end(), ch) == out.end()) out.push_back(ch);
    }
  }
  return out;
}

}  // namespace rollbackd
