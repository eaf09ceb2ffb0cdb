// Helpers for the replay's unit tests: a rule file's config, and histories written by hand (what a
// range reader would have answered), so that a replay reads as a timeline of values.
#ifndef ROLLBACKD_TESTS_UNIT_REPLAY_REPLAY_TEST_UTIL_H_
#define ROLLBACKD_TESTS_UNIT_REPLAY_REPLAY_TEST_UTIL_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/replay/replayer.h"
#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::replaytest {

using enginetest::ConfigFrom;
using enginetest::D;
using enginetest::kT0;

// The history of `spec` over its grid: at step k, `value(k)` (nullopt: not returned then) for one
// series with `labels`.
inline InputHistory History(const RangeRequestSpec& spec,
                            const std::function<std::optional<double>(size_t k)>& value,
                            Labels labels = Labels()) {
  InputHistory h;
  h.input = spec.input;
  h.grid = spec.grid;
  InputHistory::Series s;
  s.labels = std::move(labels);
  for (size_t k = 0; k < spec.grid.steps; ++k) {
    if (auto v = value(k)) {
      s.steps.push_back(static_cast<uint32_t>(k));
      s.values.push_back(*v);
    }
  }
  h.series.push_back(std::move(s));
  return h;
}

// The version query's history: `version(k)` is the version label at step k.
inline InputHistory VersionHistory(const RangeRequestSpec& spec,
                                   const std::function<std::string(size_t k)>& version) {
  InputHistory h;
  h.input = spec.input;
  h.grid = spec.grid;
  std::vector<std::string> seen;
  for (size_t k = 0; k < spec.grid.steps; ++k) {
    const std::string v = version(k);
    size_t i = 0;
    while (i < seen.size() && seen[i] != v) ++i;
    if (i == seen.size()) {
      seen.push_back(v);
      InputHistory::Series s;
      s.labels = Labels({{"version", v}});
      h.series.push_back(std::move(s));
    }
    h.series[i].steps.push_back(static_cast<uint32_t>(k));
    h.series[i].values.push_back(1);
  }
  return h;
}

// "+1m30s trigger.firing errors": the event's offset from `from` and kind, and its trigger.
inline std::vector<std::string> Lines(const ReplayResult& r) {
  std::vector<std::string> out;
  for (const Event& e : r.events) {
    out.push_back("+" + FormatDuration(e.time - r.from) + " " + std::string(EventKindName(e.kind)) +
                  (e.trigger.empty() ? "" : " " + e.trigger));
  }
  return out;
}

}  // namespace rollbackd::replaytest

#endif  // ROLLBACKD_TESTS_UNIT_REPLAY_REPLAY_TEST_UTIL_H_
