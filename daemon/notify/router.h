// Routing events to channels, as [[route]] declares: routes are tried in order, the first match
// takes the event unless it has `continue = true`; a route matches when all its `match` labels are
// equal and all its `match_re` regexes match the whole value (anchored, as in Alertmanager).
// Besides the event's labels, `event` (the kind), `service`, `trigger` and `severity` can be
// matched. A label the event lacks matches as the empty string.
#ifndef ROLLBACKD_NOTIFY_ROUTER_H_
#define ROLLBACKD_NOTIFY_ROUTER_H_

#include <regex>
#include <string>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/event.h"

namespace rollbackd {

class Router {
 public:
  // `routes` were validated by the config loader (regexes compile).
  explicit Router(const std::vector<Route>& routes);

  // The channels `event` goes to, in route order, each once; empty when no route matches.
  std::vector<std::string> ChannelsFor(const Event& event) const;
  // The indexes (into the configured routes) of the routes that take `event`, in order.
  std::vector<size_t> RoutesFor(const Event& event) const;

 private:
  struct Matcher {
    std::string label;
    std::string value;
    std::regex re;
    bool regex;
  };
  struct Compiled {
    std::vector<Matcher> matchers;
    std::vector<std::string> channels;
    bool continue_matching;
  };
  std::vector<Compiled> routes_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_ROUTER_H_
