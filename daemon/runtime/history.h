// The last hour of every series the engine tracks, for the status page's sparklines
// (GET /api/v1/history, docs/api.md): value, effective threshold and state, one point per bucket.
//
// Bounded: a series keeps at most kHistoryPoints points, one per bucket of max(interval, 15 s)
// (the last hour at most), in a ring allocated once when the series first appears. A round whose
// instant falls into the newest point's bucket updates that point (the latest value and threshold,
// the worst state), so a service evaluated every second still covers an hour in 240 points, and a
// service not due this round (another service's round) changes nothing it had. Steady state
// allocates nothing: the series are found without building a key.
//
// Series the engine no longer reports are forgotten at the next Record; services that a reload
// removed, at Retain.
//
// Not the engine's: a view of its Status(), kept by the daemon. Threading: the daemon's loop.
#ifndef ROLLBACKD_RUNTIME_HISTORY_H_
#define ROLLBACKD_RUNTIME_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"

namespace rollbackd {

inline constexpr size_t kHistoryPoints = 240;
inline constexpr Duration kHistorySpan = std::chrono::hours(1);
inline constexpr Duration kHistoryMinBucket = std::chrono::seconds(15);

// One bucket of one series. Seconds and floats: a sparkline of 15 s buckets needs no more, and
// the point stays 12 bytes.
struct HistoryPoint {
  uint32_t time_s = 0;  // the bucket's first evaluation instant (Unix seconds)
  float value = 0;      // NaN when unknown
  float threshold = 0;  // NaN when unknown
};

enum class HistoryState : uint8_t { kInactive = 0, kPending = 1, kFiring = 2 };
const char* HistoryStateName(HistoryState s);

// One series' ring: points and their states in parallel arrays (13 bytes a point).
class HistoryRing {
 public:
  explicit HistoryRing(size_t capacity);
  // Adds a point at `time`, or updates the newest one when `time` is within `bucket` of it.
  void Add(Time time, Duration bucket, double value, double threshold, HistoryState state);
  size_t size() const { return size_; }
  size_t capacity() const { return points_.size(); }
  // Oldest first: i in [0, size()).
  const HistoryPoint& point(size_t i) const { return points_[(head_ + i) % points_.size()]; }
  HistoryState state(size_t i) const { return states_[(head_ + i) % points_.size()]; }
  size_t bytes() const;  // what the ring allocated

 private:
  std::vector<HistoryPoint> points_;
  std::vector<HistoryState> states_;
  size_t head_ = 0;  // oldest
  size_t size_ = 0;
};

class History {
 public:
  // The bucket and capacity of a service evaluated every `interval`: max(interval, 15 s), and an
  // hour's worth of those, at most kHistoryPoints.
  static Duration Bucket(Duration interval);
  static size_t Capacity(Duration interval);

  // After a round: every series of `status` gains its point at `now`; series of those services
  // that `status` no longer lists are forgotten. `config` gives each service's interval.
  void Record(const Config& config, const std::vector<ServiceStatus>& status, Time now);
  // After a reload: forgets every service that `config` does not name.
  void Retain(const Config& config);

  struct Series {
    std::string trigger;
    Labels labels;
    HistoryRing ring;
  };
  // nullptr for a service without history (unknown, or not evaluated yet).
  const std::vector<const Series*>* SeriesOf(std::string_view service) const;
  Duration bucket(std::string_view service) const;

  size_t series() const;  // series held, over every service
  size_t bytes() const;   // an estimate of what the rings, keys and maps hold

 private:
  struct Key {
    std::string_view trigger;
    const Labels* labels;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const Key& k) const;
  };
  struct KeyEqual {
    using is_transparent = void;
    bool operator()(const Key& a, const Key& b) const;
  };
  struct Entry {
    std::unique_ptr<Series> series;
    uint64_t seen = 0;  // the Record generation that last listed it
  };
  struct PerService {
    Duration bucket{0};
    size_t capacity = 0;
    // Keys view into their Series (stable: each is its own allocation).
    std::unordered_map<Key, Entry, KeyHash, KeyEqual> by_key;
    std::vector<const Series*> ordered;  // for serving: in the engine's order
    bool order_changed = false;
  };
  std::map<std::string, PerService, std::less<>> services_;
  uint64_t generation_ = 0;
};

// The document GET /api/v1/history?service=NAME serves (docs/api.md).
std::string HistoryJson(const History& history, std::string_view service);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_HISTORY_H_
