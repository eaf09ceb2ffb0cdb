// A DaemonControl for tests of the Api adapter: ready, not stopping, every change accepted. Tests
// override what they look at.
#ifndef ROLLBACKD_TESTS_UNIT_RUNTIME_FAKE_CONTROL_H_
#define ROLLBACKD_TESTS_UNIT_RUNTIME_FAKE_CONTROL_H_

#include <string>

#include "daemon/runtime/api.h"

namespace rollbackd::testutil {

class BasicControl : public DaemonControl {
 public:
  bool ready() const override { return true; }
  bool stopping() const override { return false; }
  std::string MetricsText() override { return ""; }
  std::string StatusDocument() override { return "{}"; }
  ControlResult RecordDeploy(const std::string&, const std::string&) override {
    return ControlResult::kDone;
  }
  ControlResult SetPaused(const std::string&, bool) override { return ControlResult::kDone; }
};

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_RUNTIME_FAKE_CONTROL_H_
