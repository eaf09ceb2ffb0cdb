// What `replay` read from Prometheus: for each input (a query of a trigger, baseline, traffic
// floor or version query), its values over one grid of instants, start + k x step. The range
// reader fills it; the replayer (pure) feeds it to the engine.
#ifndef ROLLBACKD_REPLAY_HISTORY_H_
#define ROLLBACKD_REPLAY_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/engine/samples.h"

namespace rollbackd {

// The grid of one service: its evaluation instants from `start`, every `step`, `steps` of them.
struct Grid {
  Time start{};
  Duration step{0};
  size_t steps = 0;
  Time at(size_t k) const { return start + step * static_cast<int64_t>(k); }
};

struct InputHistory {
  int input = -1;  // Engine::inputs() id
  Grid grid;
  // One per label set the query returned at any step: the steps it was returned at (ascending)
  // and its value there.
  struct Series {
    Labels labels;
    std::vector<uint32_t> steps;
    std::vector<double> values;
  };
  std::vector<Series> series;
  // Steps [first, last] of a request that failed (HTTP, Prometheus error, malformed answer): at
  // those steps the input is an error, as a failed instant query is live.
  struct Failure {
    size_t first = 0;
    size_t last = 0;
    QueryResult error;
  };
  std::vector<Failure> failures;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_HISTORY_H_
