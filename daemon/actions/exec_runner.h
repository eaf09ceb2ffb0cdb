// Runs a command without a shell, watched by the event loop: rollback hooks and exec channels.
//
// The child gets its own process group, stdin from /dev/null (or a pipe carrying `input`), stdout and stderr into one pipe of
// which the last `output_tail` bytes are kept, and exactly the environment it is given (plus PATH).
// On timeout the whole group gets SIGTERM, then SIGKILL after `kill_grace`. When the command exits
// on its own, what it left behind in its group gets SIGTERM too: a hook does not leave strays.
//
// Threading: all calls and callbacks on the io_context's thread. Nothing blocks: the exit is seen
// through a pidfd (or, on kernels without pidfd_open, a 50 ms waitpid poll).
#ifndef ROLLBACKD_ACTIONS_EXEC_RUNNER_H_
#define ROLLBACKD_ACTIONS_EXEC_RUNNER_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
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

class ExecRunner {
 public:
  // Sets SIGPIPE to ignored in this process when it has the default disposition (see Run's
  // `input`); commands start with the default again.
  explicit ExecRunner(boost::asio::io_context& io);
  ~ExecRunner();  // kills (SIGKILL) the groups of commands still running; callbacks are dropped

  // Starts `request`; `done` runs later on the io_context, never from inside Run.
  void Run(ExecRequest request, std::function<void(ExecResult)> done);

  size_t running() const;

 private:
  struct Job;
  boost::asio::io_context& io_;
  std::vector<std::shared_ptr<Job>> jobs_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks already posted
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_EXEC_RUNNER_H_
