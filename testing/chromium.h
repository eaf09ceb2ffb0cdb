// Debian's `chromium` (or $ROLLBACKD_CHROMIUM) in headless mode, driven through the Chrome DevTools
// Protocol over its WebSocket (Boost.Beast), for tests that need a real browser (the status page).
// The browser runs in its own process group with a profile in a temp dir; the destructor kills the
// whole group, also when the test failed. Every exchange is bounded in time.
#ifndef ROLLBACKD_TESTING_CHROMIUM_H_
#define ROLLBACKD_TESTING_CHROMIUM_H_

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "testing/harness.h"

namespace rollbackd::it {

class Chromium {
 public:
  // Starts chromium and connects to its first page. nullptr with `why` set for people when the
  // binary is absent or the browser does not come up within 30 s (its log is in `why`).
  static std::unique_ptr<Chromium> Start(const std::string& dir, std::string* why);
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // One CDP command on the page; returns its `result`. Throws std::runtime_error on a protocol
  // error, a closed connection, or no answer within `limit`. Events in between are dropped.
  nlohmann::json Call(const std::string& method,
                      const nlohmann::json& params = nlohmann::json::object(),
                      std::chrono::milliseconds limit = 15s);
  // Runtime.evaluate in the page (promises awaited): the value, by value. Throws on an exception
  // in the page, with its text.
  nlohmann::json Evaluate(const std::string& expression);
  // Page.captureScreenshot as PNG, written to `path`.
  void Screenshot(const std::string& path);

  pid_t pid() const { return process_->pid(); }

 private:
  struct Socket;
  Chromium() = default;

  std::unique_ptr<Process> process_;
  std::unique_ptr<Socket> socket_;
  int next_id_ = 1;
};

}  // namespace rollbackd::it

#endif  // ROLLBACKD_TESTING_CHROMIUM_H_
