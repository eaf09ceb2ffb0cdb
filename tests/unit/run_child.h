// Runs a reference tool (SciPy, promtool) from a test with the daemon's own ExecRunner: argv, no
// shell, argv[0] looked up in PATH; its process group is killed after `timeout`; its output kept.
#ifndef ROLLBACKD_TESTS_UNIT_RUN_CHILD_H_
#define ROLLBACKD_TESTS_UNIT_RUN_CHILD_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "daemon/io/exec_runner.h"
#include "tests/unit/loop_util.h"

namespace rollbackd::testutil {

inline ExecResult RunChild(const std::vector<std::string>& args, std::chrono::seconds timeout,
                           size_t output_tail = 16384) {
  boost::asio::io_context io;
  ExecRunner runner(io);
  ExecRequest request;
  request.argv = args;
  request.timeout = timeout;
  request.kill_grace = std::chrono::seconds(1);
  request.output_tail = output_tail;
  std::optional<ExecResult> result;
  runner.Run(std::move(request), [&result](ExecResult r) { result = std::move(r); });
  RunUntil(
      io, [&] { return result.has_value(); }, timeout + std::chrono::seconds(5));
  return result.value_or(ExecResult{});
}

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_RUN_CHILD_H_
