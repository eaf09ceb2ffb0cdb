// What a command run gets and gives back (ExecRunner, ProcessRunner).
#ifndef ROLLBACKD_IO_EXEC_REQUEST_H_
#define ROLLBACKD_IO_EXEC_REQUEST_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"

namespace rollbackd {

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;
  Duration timeout{std::chrono::minutes(2)};
  Duration kill_grace{std::chrono::seconds(5)};  // SIGTERM -> SIGKILL
  size_t output_tail = 4096;
  // When set, the child reads this on stdin (then end of file); a child that exits without
  // reading it all is not an error of ours. The first such request sets SIGPIPE to ignored in
  // this process (the child gets the default disposition back).
  std::optional<std::string> input;
  // Rollback hooks: when set (and the runner has a supervisor: ExecRunner), the command runs
  // under `rollbackd supervise-hook`, which records its outcome at `<record>.*` (supervisor.h), so
  // that it outlives this process. Not with `input`.
  std::string record;
};

struct ExecResult {
  bool started = false;  // false: could not start (no such program, ...); see `error`
  int exit_status = -1;  // exit code when it exited
  int signal = 0;        // the signal that ended it, 0 if none
  bool timed_out = false;
  Duration duration{0};
  std::string output;  // the last output_tail bytes of stdout+stderr
  std::string error;   // empty on exit status 0; else what went wrong, for people
  bool success() const { return started && !timed_out && signal == 0 && exit_status == 0; }
};

// After a restart: what became of a command an earlier process started with a `record`.
struct ResumedRun {
  enum class State {
    kNotStarted,  // it never started
    kFinished,    // `result` is what it did (it may have ended while nobody watched)
    kUnknown,     // no one can tell: `detail` says why
  };
  State state = State::kUnknown;
  ExecResult result;
  std::string detail;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_EXEC_REQUEST_H_
