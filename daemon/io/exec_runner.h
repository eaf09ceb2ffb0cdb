// Runs a command without a shell, watched by the event loop: rollback hooks and exec channels.
//
// The child gets its own process group, stdin from /dev/null (or a pipe carrying `input`), stdout
// and stderr into one pipe of which the last `output_tail` bytes are kept, and exactly the
// environment it is given (plus PATH). On timeout the whole group gets SIGTERM, then SIGKILL after
// `kill_grace`. When the command exits on its own, what it left behind in its group gets SIGTERM
// too: a hook does not leave strays.
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
  explicit ExecRunner(boost::asio::io_context& io);
  // Kills (SIGKILL) the groups of commands still running; their callbacks are dropped.
  ~ExecRunner() override;

  // Starts `request`; `done` runs later on the io_context, never from inside Run.
  void Run(ExecRequest request, std::function<void(ExecResult)> done) override;

  size_t running() const;

 private:
  struct Job;
  boost::asio::io_context& io_;
  std::vector<std::shared_ptr<Job>> jobs_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks already posted
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_EXEC_RUNNER_H_
