// Rollback hooks under their supervisor (`rollbackd supervise-hook`, the built binary), against
// real processes: the outcome is recorded in the state dir, it survives the runner that started
// it, and a runner of a later life resumes a hook still running and learns how it ended.
#include "daemon/io/supervisor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "daemon/io/exec_runner.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() { std::filesystem::create_directories(dir_.path() + "/hooks"); }

  std::string Record(const std::string& id) const { return dir_.path() + "/hooks/" + id; }

  ExecRequest Hook(std::vector<std::string> argv, const std::string& id) {
    ExecRequest r;
    r.argv = std::move(argv);
    r.timeout = 5s;
    r.kill_grace = 300ms;
    r.record = Record(id);
    return r;
  }

  ExecResult RunToEnd(ExecRunner& runner, ExecRequest request) {
    std::optional<ExecResult> result;
    runner.Run(std::move(request), [&](ExecResult r) { result = std::move(r); });
    EXPECT_TRUE(testutil::RunUntil(
        io_, [&] { return result.has_value(); }, 20s));
    return result.value_or(ExecResult{});
  }

  ResumedRun ResumeToEnd(ExecRunner& runner, const std::string& record) {
    std::optional<ResumedRun> result;
    runner.Resume(record, [&](ResumedRun r) { result = std::move(r); });
    EXPECT_TRUE(testutil::RunUntil(
        io_, [&] { return result.has_value(); }, 20s));
    return result.value_or(ResumedRun{});
  }

  boost::asio::io_context io_;
  testutil::TempDir dir_;
};

TEST_F(SupervisorTest, AHookRunsUnderItsSupervisorAndItsOutcomeIsRecorded) {
  ExecRunner runner(io_, ROLLBACKD_BINARY);
  const ExecResult ok = RunToEnd(runner, Hook({"/bin/echo", "rolled", "back"}, "r1"));
  EXPECT_TRUE(ok.success()) << ok.error;
  EXPECT_EQ(ok.output, "rolled back\n");
  const SupervisedRecord record = ReadSupervisedRecord(Record("r1"));
  ASSERT_EQ(record.state, SupervisedRecord::State::kFinished) << record.problem;
  EXPECT_TRUE(record.result.success());
  EXPECT_EQ(record.result.output, "rolled back\n");
  runner.Forget(Record("r1"));
  EXPECT_EQ(ReadSupervisedRecord(Record("r1")).state, SupervisedRecord::State::kNone);

  const ExecResult failed = RunToEnd(runner, Hook({"/bin/false"}, "r2"));
  EXPECT_FALSE(failed.success());
  EXPECT_TRUE(failed.started);
  EXPECT_EQ(failed.exit_status, 1);
  EXPECT_EQ(failed.error, "exit status 1");

  // A bare name is looked up in the hook's PATH, as without a supervisor.
  ExecRequest bare = Hook({"true"}, "r3");
  bare.env = {{"PATH", "/usr/bin:/bin"}};
  EXPECT_TRUE(RunToEnd(runner, bare).success());
}

TEST_F(SupervisorTest, TheSupervisorEnforcesTheTimeoutOnTheHooksGroup) {
  ExecRunner runner(io_, ROLLBACKD_BINARY);
  ExecRequest slow = Hook({"/bin/sleep", "30"}, "slow");
  slow.timeout = 200ms;
  const ExecResult r = RunToEnd(runner, slow);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.error, "timed out after 200ms, killed");
  EXPECT_LT(r.duration, 10s);
}

TEST_F(SupervisorTest, OnlyTheTailOfAHugeOutputIsKept) {
  ExecRunner runner(io_, ROLLBACKD_BINARY);
  const ExecResult r =
      RunToEnd(runner, Hook({"/usr/bin/head", "-c", "67108864", "/dev/zero"}, "loud"));
  EXPECT_TRUE(r.success()) << r.error;
  EXPECT_EQ(r.output, std::string(4096, '\0'));
}

TEST_F(SupervisorTest, TheHookOutlivesItsRunnerAndALaterRunnerLearnsItsOutcome) {
  {
    // The first life: starts the hook and dies while it runs (the runner is destroyed: a
    // supervised hook is left to finish).
    ExecRunner first(io_, ROLLBACKD_BINARY);
    first.Run(Hook({"/bin/sleep", "0.5"}, "crash"),
              [](ExecResult) { ADD_FAILURE() << "the first life never hears of the outcome"; });
    ASSERT_TRUE(testutil::RunUntil(io_, [&] {
      return ReadSupervisedRecord(Record("crash")).state == SupervisedRecord::State::kRunning;
    }));
  }
  const SupervisedRecord running = ReadSupervisedRecord(Record("crash"));
  ASSERT_EQ(running.state, SupervisedRecord::State::kRunning);
  EXPECT_TRUE(IsSupervisorOf(running.pid, Record("crash")));
  EXPECT_FALSE(IsSupervisorOf(running.pid, Record("other")));
  EXPECT_FALSE(IsSupervisorOf(::getpid(), Record("crash")));

  ExecRunner second(io_, ROLLBACKD_BINARY);
  const ResumedRun r = ResumeToEnd(second, Record("crash"));
  ASSERT_EQ(r.state, ResumedRun::State::kFinished) << r.detail;
  EXPECT_TRUE(r.result.success()) << r.result.error;
}

TEST_F(SupervisorTest, ResumeTellsNotStartedFinishedAndUnknownApart) {
  ExecRunner runner(io_, ROLLBACKD_BINARY);
  EXPECT_EQ(ResumeToEnd(runner, Record("never")).state, ResumedRun::State::kNotStarted);

  ASSERT_TRUE(RunToEnd(runner, Hook({"/bin/false"}, "done")).started);
  const ResumedRun done = ResumeToEnd(runner, Record("done"));
  ASSERT_EQ(done.state, ResumedRun::State::kFinished);
  EXPECT_EQ(done.result.exit_status, 1);

  // A .running whose pid is not its supervisor (a pid reused by another process: this one).
  std::ofstream(Record("gone") + ".running")
      << "{\"pid\":" << ::getpid()
      << ",\"started_unix_ms\":1,\"timeout_ms\":1000,\"kill_grace_ms\":1000}\n";
  const ResumedRun gone = ResumeToEnd(runner, Record("gone"));
  EXPECT_EQ(gone.state, ResumedRun::State::kUnknown);
  EXPECT_NE(gone.detail.find("ended without recording an outcome"), std::string::npos)
      << gone.detail;

  for (const char* damage : {"not json", "{\"pid\":1.5}", "[]", "{\"started\":true}"}) {
    std::ofstream(Record("bad") + ".outcome") << damage;
    const ResumedRun bad = ResumeToEnd(runner, Record("bad"));
    EXPECT_EQ(bad.state, ResumedRun::State::kUnknown) << damage;
    EXPECT_FALSE(bad.detail.empty()) << damage;
  }
}

TEST_F(SupervisorTest, ARecordThatCannotBeWrittenMeansTheHookDidNotStart) {
  ExecRunner runner(io_, ROLLBACKD_BINARY);
  ExecRequest r = Hook({"/bin/true"}, "x");
  r.record = dir_.path() + "/no-such-dir/x";
  const ExecResult out = RunToEnd(runner, r);
  EXPECT_FALSE(out.started);
  EXPECT_NE(out.error.find("not started: the hook's supervisor exited with status 3"),
            std::string::npos)
      << out.error;
}

}  // namespace
}  // namespace rollbackd
