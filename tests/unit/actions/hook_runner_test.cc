// The real hook runner over the real transports (ExecRunner, HttpClient), on what a hook says
// back: whatever it writes, its outcome keeps the last kHookOutputTail bytes.
#include "daemon/actions/hook_runner.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/io/clock.h"
#include "daemon/io/exec_runner.h"
#include "daemon/io/http_client.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/test_http_server.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

class HookRunnerTest : public ::testing::Test {
 protected:
  // Runs `hook` to its outcome, bounded by 120 s of loop time.
  RollbackOutcome RunToEnd(RollbackHook hook) {
    HookRun run;
    run.rollback_id = "rb_1";
    run.started.kind = EventKind::kRollbackStarted;
    run.started.service = "web";
    run.started.trigger = "error_rate";
    run.hook = std::move(hook);
    std::optional<RollbackOutcome> outcome;
    hooks_.Run(std::move(run), [&](RollbackOutcome o) { outcome = std::move(o); });
    EXPECT_TRUE(testutil::RunUntil(
        io_, [&] { return outcome.has_value(); }, 120s))
        << "no outcome within 120 s";
    return outcome.value_or(RollbackOutcome{});
  }

  boost::asio::io_context io_;
  AsioClock clock_{io_};
  HttpClient http_{io_};
  ExecRunner exec_{io_};
  TransportHookRunner hooks_{exec_, http_, clock_};
};

// Issue 17, build item 6: a hook that writes 1 GiB to stdout keeps its 4 KiB tail, and memory
// stays flat (only the tail is ever held: see ExecRunner's read loop; measured by hand, not here).
TEST_F(HookRunnerTest, AnExecHookWritingAGibibyteKeepsItsLast4KiB) {
  RollbackHook hook;
  hook.exec = {"/usr/bin/head", "-c", "1073741824", "/dev/zero"};
  hook.timeout = 100s;
  const RollbackOutcome o = RunToEnd(hook);
  EXPECT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.output, std::string(kHookOutputTail, '\0'));
}

// Issue 17, finding 6: an http hook's reply was held whole (up to 64 MiB) to keep its last 4 KiB.
TEST_F(HookRunnerTest, AnHttpHooksHugeReplyKeepsItsLast4KiBAndItsStatus) {
  testutil::TestServer server;
  const std::vector<std::pair<std::string, int>> replies = {{"/bytes/60000000", 200},
                                                            {"/bytes/60000000/503", 503}};
  for (const auto& [target, status] : replies) {
    RollbackHook hook;
    hook.http = HttpHook{};
    hook.http->url = server.Url(target);
    hook.timeout = 60s;
    const RollbackOutcome o = RunToEnd(hook);
    EXPECT_EQ(o.success, status == 200) << target << ": " << o.error;
    EXPECT_EQ(o.http_status, status);
    EXPECT_EQ(o.error, status == 200 ? "" : "HTTP status 503");
    EXPECT_EQ(o.output, std::string(kHookOutputTail - 4, 'x') + "end\n");
  }
}

TEST_F(HookRunnerTest, AnHttpHookAsksForOnlyTheTailOfItsReply) {
  // What the transport is asked to keep (a fake transport would otherwise hide it).
  class Recording : public HttpTransport {
   public:
    void Send(HttpRequest request, std::function<void(HttpResponse)>) override {
      limit = request.body_limit;
    }
    BodyLimit limit;
  } http;
  TransportHookRunner hooks(exec_, http, clock_);
  HookRun run;
  run.started.service = "web";
  run.hook.http = HttpHook{};
  run.hook.http->url = "http://127.0.0.1:1/rollback";
  hooks.Run(std::move(run), [](RollbackOutcome) {});
  EXPECT_EQ(http.limit.max_bytes, kHookOutputTail);
  EXPECT_EQ(http.limit.past, BodyLimit::Past::kKeepTail);
}

}  // namespace
}  // namespace rollbackd
