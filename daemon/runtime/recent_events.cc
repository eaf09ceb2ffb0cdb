#include "daemon/runtime/recent_events.h"

#include <vector>

namespace rollbackd {

void RecentEvents::Add(const Event& e) {
  if (max_ == 0) return;
  if (events_.size() == max_) events_.pop_front();
  events_.push_back(Entry{e.service, EventToJson(e)});
}

std::string RecentEvents::Json(std::string_view service, size_t limit) const {
  std::vector<const std::string*> picked;
  for (auto it = events_.rbegin(); it != events_.rend() && picked.size() < limit; ++it) {
    if (service.empty() || it->service == service) picked.push_back(&it->payload);
  }
  // The payloads are JSON already: joined, not parsed again.
  std::string out = "{\"events\":[";
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
    if (it != picked.rbegin()) out += ',';
    out += **it;
  }
  return out + "]}\n";
}

}  // namespace rollbackd
