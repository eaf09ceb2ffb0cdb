// `rollbackd replay`: what a configuration would have done over Prometheus' history.
//   rollbackd replay --config FILE [--service NAME]... --from TIME --to TIME [--step DURATION]
//                    [--hook success|failure] [--format text|json] [--html FILE]
// Reads the history with range queries (range_reader.h), replays it through the engine
// (replayer.h) and prints the report (report.h), and the plot to FILE (html_plot.h).
#ifndef ROLLBACKD_REPLAY_REPLAY_MAIN_H_
#define ROLLBACKD_REPLAY_REPLAY_MAIN_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace rollbackd {

extern const char* const kReplayUsage;

// Steps per service a replay takes at most (the engine's state is small, but every instant is
// listed, and every input's history is held in memory): 5,000,000 is 2.4 years at 15 s.
inline constexpr size_t kMaxReplaySteps = 5'000'000;

// `args` after "replay". Exit status: 0 when the replay ran (query errors during it are reported,
// and are not a failure), 1 when the configuration or a secret file cannot be read or --html
// cannot be written, 2 for bad flags or times (with usage on `err`). --help prints the usage to
// `out` and returns 0.
int ReplayMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_REPLAY_MAIN_H_
