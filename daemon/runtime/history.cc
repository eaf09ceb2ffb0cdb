#include "daemon/runtime/history.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

HistoryState StateOf(const std::string& s) {
  if (s == "firing") return HistoryState::kFiring;
  if (s == "pending") return HistoryState::kPending;
  return HistoryState::kInactive;
}

float ToFloat(double v) {
  return std::isfinite(v) ? static_cast<float>(v) : std::numeric_limits<float>::quiet_NaN();
}

uint32_t UnixSeconds(Time t) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

Duration IntervalOf(const Config& config, const Service& s) {
  return s.interval.value_or(config.daemon.interval);
}

}  // namespace

const char* HistoryStateName(HistoryState s) {
  switch (s) {
    case HistoryState::kFiring:
      return "firing";
    case HistoryState::kPending:
      return "pending";
    case HistoryState::kInactive:
      break;
  }
  return "inactive";
}

HistoryRing::HistoryRing(size_t capacity)
    : points_(std::max<size_t>(capacity, 1)), states_(points_.size()) {}

void HistoryRing::Add(Time time, Duration bucket, double value, double threshold,
                      HistoryState state) {
  const uint32_t t = UnixSeconds(time);
  if (size_ > 0) {
    const size_t newest = (head_ + size_ - 1) % points_.size();
    HistoryPoint& p = points_[newest];
    if (t < p.time_s) return;  // instants never go back; be safe if they did
    if (static_cast<int64_t>(t - p.time_s) * 1000 < bucket.count()) {
      p.value = ToFloat(value);
      p.threshold = ToFloat(threshold);
      states_[newest] = std::max(states_[newest], state);
      return;
    }
  }
  size_t slot;
  if (size_ < points_.size()) {
    slot = (head_ + size_) % points_.size();
    ++size_;
  } else {
    slot = head_;  // overwrite the oldest
    head_ = (head_ + 1) % points_.size();
  }
  points_[slot] = HistoryPoint{t, ToFloat(value), ToFloat(threshold)};
  states_[slot] = state;
}

size_t HistoryRing::bytes() const {
  return points_.capacity() * sizeof(HistoryPoint) + states_.capacity() * sizeof(HistoryState);
}

size_t History::KeyHash::operator()(const Key& k) const {
  return std::hash<std::string_view>()(k.trigger) ^ (static_cast<size_t>(k.labels->hash()) * 31);
}

bool History::KeyEqual::operator()(const Key& a, const Key& b) const {
  return a.trigger == b.trigger && *a.labels == *b.labels;
}

Duration History::Bucket(Duration interval) { return std::max(interval, kHistoryMinBucket); }

size_t History::Capacity(Duration interval) {
  const Duration bucket = Bucket(interval);
  const auto n = static_cast<size_t>((kHistorySpan.count() + bucket.count() - 1) / bucket.count());
  return std::clamp<size_t>(n, 1, kHistoryPoints);
}

void History::Record(const Config& config, const std::vector<ServiceStatus>& status, Time now) {
  ++generation_;
  size_t index = 0;
  for (const ServiceStatus& s : status) {
    // The engine lists services in config order; look the definition up by name all the same.
    const Service* def = nullptr;
    if (index < config.services.size() && config.services[index].name == s.name) {
      def = &config.services[index];
    } else {
      for (const Service& c : config.services) {
        if (c.name == s.name) def = &c;
      }
    }
    ++index;
    if (def == nullptr || !s.active) continue;  // another member owns it: its state is stale
    auto it = services_.find(s.name);
    if (it == services_.end()) it = services_.emplace(s.name, PerService{}).first;
    PerService& ps = it->second;
    const Duration interval = IntervalOf(config, *def);
    if (ps.bucket != Bucket(interval)) {
      // A new service, or a reload changed its interval: start its history anew.
      ps.by_key.clear();
      ps.bucket = Bucket(interval);
      ps.capacity = Capacity(interval);
      ps.order_changed = true;
    }
    for (const SeriesStatus& x : s.series) {
      auto found = ps.by_key.find(Key{x.trigger, &x.labels});
      if (found == ps.by_key.end()) {
        auto series =
            std::make_unique<Series>(Series{x.trigger, x.labels, HistoryRing(ps.capacity)});
        const Key key{series->trigger, &series->labels};
        found = ps.by_key.emplace(key, Entry{std::move(series), 0}).first;
        ps.order_changed = true;
      }
      found->second.seen = generation_;
      found->second.series->ring.Add(now, ps.bucket, x.value, x.threshold, StateOf(x.state));
    }
    const size_t before = ps.by_key.size();
    std::erase_if(ps.by_key, [this](const auto& kv) { return kv.second.seen != generation_; });
    if (ps.by_key.size() != before) ps.order_changed = true;
    if (ps.order_changed) {
      ps.ordered.clear();
      for (const SeriesStatus& x : s.series) {
        auto found = ps.by_key.find(Key{x.trigger, &x.labels});
        if (found != ps.by_key.end()) ps.ordered.push_back(found->second.series.get());
      }
      ps.order_changed = false;
    }
  }
}

void History::Retain(const Config& config) {
  std::erase_if(services_, [&](const auto& kv) {
    return std::none_of(config.services.begin(), config.services.end(),
                        [&](const Service& s) { return s.name == kv.first; });
  });
}

const std::vector<const History::Series*>* History::SeriesOf(std::string_view name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : &it->second.ordered;
}

Duration History::bucket(std::string_view service) const {
  auto it = services_.find(service);
  return it == services_.end() ? Duration{0} : it->second.bucket;
}

size_t History::series() const {
  size_t n = 0;
  for (const auto& [name, ps] : services_) n += ps.by_key.size();
  return n;
}

size_t History::bytes() const {
  size_t n = 0;
  for (const auto& [name, ps] : services_) {
    // The map node and its name, the hash table's buckets, the serving order.
    n += sizeof(PerService) + name.capacity() + 4 * sizeof(void*) +
         ps.by_key.bucket_count() * sizeof(void*) + ps.ordered.capacity() * sizeof(void*);
    for (const auto& [key, entry] : ps.by_key) {
      const Series& s = *entry.series;
      // The hash node (key, entry, next pointer, cached hash), the Series and what it owns.
      n += sizeof(Key) + sizeof(Entry) + 2 * sizeof(void*) + sizeof(Series) + s.ring.bytes() +
           (s.trigger.capacity() > 15 ? s.trigger.capacity() + 1 : 0) +
           s.labels.ToString().size();  // the encoded labels are about as long as their text
    }
  }
  return n;
}

std::string HistoryJson(const History& history, std::string_view service) {
  using nlohmann::json;
  json series = json::array();
  const auto* list = history.SeriesOf(service);
  if (list != nullptr) {
    for (const History::Series* s : *list) {
      json labels = json::object();
      for (const auto& [k, v] : s->labels.pairs()) labels[std::string(k)] = v;
      json points = json::array();
      for (size_t i = 0; i < s->ring.size(); ++i) {
        const HistoryPoint& p = s->ring.point(i);
        // The float's shortest text, read back as a double: 0.05, not 0.05000000074505806.
        auto number = [](float v) {
          return std::isfinite(v) ? json(std::stod(fmt::format("{}", v))) : json(nullptr);
        };
        points.push_back(json::array(
            {p.time_s, number(p.value), number(p.threshold), HistoryStateName(s->ring.state(i))}));
      }
      series.push_back({{"trigger", s->trigger}, {"labels", labels}, {"points", points}});
    }
  }
  const Duration bucket = history.bucket(service);
  json doc = {{"service", service},
              {"bucket_seconds", bucket.count() / 1000.0},
              {"capacity", History::Capacity(bucket)},
              {"series", series}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace rollbackd
