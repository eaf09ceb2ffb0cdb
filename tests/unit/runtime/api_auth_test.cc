// The mutating API's bearer token through the Api adapter: refused requests are counted, and
// logged at most once a minute (a flood of bad tokens must not fill the journal and push real
// lines past journald's rate limit), the line after a quiet spell saying how many went unlogged.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "daemon/runtime/api.h"
#include "testing/fake_clock.h"
#include "tests/unit/runtime/fake_control.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

class FakeControl : public testutil::BasicControl {
 public:
  ControlResult SetPaused(const std::string&, bool) override {
    ++paused;
    return ControlResult::kDone;
  }
  int paused = 0;
};

ServerRequest Pause(const std::string& authorization) {
  ServerRequest r;
  r.method = "POST";
  r.path = r.target = "/api/v1/services/web/pause";
  if (!authorization.empty()) r.headers.emplace_back("authorization", authorization);
  r.remote = "127.0.0.1:40000";
  return r;
}

class ApiAuthTest : public ::testing::Test {
 protected:
  ApiAuthTest() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)) {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
    api_.SetToken("s3cret");
  }
  ~ApiAuthTest() override { spdlog::set_default_logger(previous_); }

  std::vector<std::string> Lines() { return sink_->last_formatted(); }

  testing::FakeClock clock_;
  FakeControl control_;
  Api api_{control_, &clock_};
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(ApiAuthTest, AFloodOfBadTokensIsCountedAndLoggedOnceAMinute) {
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(api_.Handle(Pause(i % 2 == 0 ? "Bearer wrong" : "")).status, 401);
  }
  EXPECT_EQ(api_.unauthorized(), 10000u);
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("[warning] API POST /api/v1/services/web/pause from 127.0.0.1:40000: "
                          "unauthorized"),
            std::string::npos)
      << lines[0];

  clock_.Advance(Api::kUnauthorizedLogInterval - 1s);
  ASSERT_EQ(api_.Handle(Pause("Bearer wrong")).status, 401);
  EXPECT_EQ(Lines().size(), 1u) << "still within the minute";

  clock_.Advance(1s);
  ASSERT_EQ(api_.Handle(Pause("Bearer wrong")).status, 401);
  lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("unauthorized; and 10000 more unauthorized requests not logged"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(api_.unauthorized(), 10002u);
  EXPECT_EQ(control_.paused, 0);

  // The right token is never held back, and never logged as refused.
  EXPECT_EQ(api_.Handle(Pause("Bearer s3cret")).status, 200);
  EXPECT_EQ(control_.paused, 1);
  EXPECT_EQ(api_.unauthorized(), 10002u);
}

TEST_F(ApiAuthTest, TheLineHasNoTokenAndAPathWithControlCharactersStaysOneLine) {
  ServerRequest r = Pause("Bearer not-the-token-but-secret-looking");
  r.path = r.target = "/api/v1/services/web\x1b[2J\n/pause";
  ASSERT_EQ(api_.Handle(r).status, 401);
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("not-the-token"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find('\x1b'), std::string::npos) << lines[0];
  const std::string line = lines[0].substr(0, lines[0].find_last_not_of('\n') + 1);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line: " << line;
}

}  // namespace
}  // namespace rollbackd
