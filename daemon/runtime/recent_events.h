// The daemon's last events, for the status page (GET /api/v1/events, docs/api.md): each as its
// webhook payload (docs/events.md), newest last. Bounded by count; the hook output an event carries
// is already a bounded tail. In memory only: the decision log (state_dir/decisions.jsonl) is the
// record that survives a restart.
//
// Threading: the daemon's loop.
#ifndef ROLLBACKD_RUNTIME_RECENT_EVENTS_H_
#define ROLLBACKD_RUNTIME_RECENT_EVENTS_H_

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "daemon/engine/event.h"

namespace rollbackd {

inline constexpr size_t kRecentEvents = 200;

class RecentEvents {
 public:
  explicit RecentEvents(size_t max = kRecentEvents) : max_(max) {}

  void Add(const Event& e);
  // {"events": [payload, ...]}: the last `limit` events of `service` (every service when empty),
  // oldest first.
  std::string Json(std::string_view service, size_t limit) const;
  size_t size() const { return events_.size(); }

 private:
  struct Entry {
    std::string service;
    std::string payload;  // EventToJson
  };
  size_t max_;
  std::deque<Entry> events_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_RECENT_EVENTS_H_
