// Runs a command without a shell, watched by the event loop: rollback hooks and exec channels.
//
// The child gets its own process group, stdin from /dev/null (or a pipe carrying `input`), stdout
// and stderr into one pipe of which the last `output_tail` bytes are kept, and exactly the
// environment it is given (plus PATH). On timeout the whole group gets SIGTERM, then SIGKILL after
// `kill_grace`. When the command exits on its own, what it left behind in its group gets SIGTERM
// too: a hook does not leave strays.
//
// A request with a `record` (rollback hooks) runs under the supervisor (supervisor.h) when the
// runner has one: the supervisor is this runner's child and the command the supervisor's, so the
// command's outcome is recorded even when this process dies meanwhile; destroying the runner
// leaves supervised commands running. Resume() waits for such a command after a restart.
//
// Threading: all calls and callbacks on the io_context's thread. Nothing blocks: the exit is seen
// through a pidfd (or, on kernels without pidfd_open, a 50 ms waitpid poll).
#ifndef ROLLBACKD_IO_EXEC_RUNNER_H_
#define ROLLBACKD_IO_EXEC_RUNNER_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/io/exec_request.h"
#include "daemon/io/transport.h"

namespace rollbackd {

class ExecRunner : public ProcessRunner {
 public:
  // Sets SIGPIPE to ignored in this process when it has the default disposition (see Run's
  // `input`); commands start with the default again.
  // `supervisor`: the rollbackd binary (for `rollbackd supervise-hook`); "" runs every command
  // directly, records ignored.
  explicit ExecRunner(boost::asio::io_context& io, std::string supervisor = "");
  // Kills (SIGKILL) the groups of commands still running; their callbacks are dropped.
  ~ExecRunner() override;

  // Starts `request`; `done` runs later on the io_context, never from inside Run.
  void Run(ExecRequest request, std::function<void(ExecResult)> done) override;
  void Resume(const std::string& record, std::function<void(ResumedRun)> done) override;
  void Forget(const std::string& record) override;

  size_t running() const;

  // How long past a supervised command's timeout and kill grace its supervisor may take before
  // it counts as hung (and is killed): it only writes a small file by then.
  static constexpr Duration kSupervisorMargin = std::chrono::seconds(30);

 private:
  struct Job;
  struct Watch;
  void Post(std::function<void()> fn);
  boost::asio::io_context& io_;
  std::string supervisor_;
  std::vector<std::shared_ptr<Job>> jobs_;
  std::vector<std::shared_ptr<Watch>> watches_;  // Resume: supervisors of an earlier process
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks already posted
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_EXEC_RUNNER_H_
