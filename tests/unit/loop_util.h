// Running an Asio loop in tests until something happened, bounded in time.
#ifndef ROLLBACKD_TESTS_UNIT_LOOP_UTIL_H_
#define ROLLBACKD_TESTS_UNIT_LOOP_UTIL_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace rollbackd::testutil {

// Runs `io` until `done()` holds or `limit` passes; true when `done()` held. A loop that ran out
// of work is stopped by Asio and must be restarted before it runs again; this takes care of it.
inline bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_LOOP_UTIL_H_
