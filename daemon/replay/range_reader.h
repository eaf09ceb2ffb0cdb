// Reading the history `replay` needs with Prometheus range queries. Each input's range is cut into
// requests of at most kMaxPointsPerRequest instants (Prometheus refuses a range query of more than
// 11,000 points per series), sent at most kRangeQueriesInFlight at a time per source, so that a
// replay of a week does not swamp the Prometheus it reads.
//
// Threading: on the loop of `http`; `done` runs there, once, when every request has answered.
// The reader must outlive the requests it sent (`http`'s callbacks hold it).
#ifndef ROLLBACKD_REPLAY_RANGE_READER_H_
#define ROLLBACKD_REPLAY_RANGE_READER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/io/transport.h"
#include "daemon/replay/history.h"
#include "daemon/sources/probe.h"
#include "daemon/sources/prom_range_response.h"

namespace rollbackd {

inline constexpr size_t kMaxPointsPerRequest = 11000;
inline constexpr size_t kRangeQueriesInFlight = 4;

// One input to read over one grid.
struct RangeRequestSpec {
  int input = -1;
  std::string source;
  std::string query;
  Grid grid;
};

class RangeReader {
 public:
  using Done = std::function<void(std::vector<InputHistory>)>;

  // `endpoints` by source name; a spec whose source is missing fails as an unknown source.
  RangeReader(HttpTransport& http, std::map<std::string, PrometheusEndpoint> endpoints);

  // Reads every spec; `done` gets one InputHistory per spec, in the order given. Once only. When
  // nothing can be sent (no steps, only unknown sources) `done` runs inside the call.
  void Read(std::vector<RangeRequestSpec> specs, Done done);

  size_t requests_sent() const { return sent_; }
  size_t max_in_flight() const { return max_in_flight_; }  // per source, the most seen

 private:
  struct Chunk {
    size_t spec = 0;
    size_t first = 0;  // step indices within the spec's grid
    size_t last = 0;
  };
  struct SourceQueue {
    std::deque<Chunk> waiting;
    size_t in_flight = 0;
  };
  void SendWaiting(const std::string& source);
  void Answered(const std::string& source, const Chunk& chunk, RangeResult result);

  HttpTransport& http_;
  std::map<std::string, PrometheusEndpoint> endpoints_;
  PromRangeReader reader_;
  std::vector<RangeRequestSpec> specs_;
  std::vector<InputHistory> out_;
  std::vector<std::unordered_map<Labels, size_t, LabelsHash>> series_index_;  // per spec
  std::map<std::string, SourceQueue> queues_;
  size_t outstanding_ = 0;
  size_t sent_ = 0;
  size_t max_in_flight_ = 0;
  Done done_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_RANGE_READER_H_
