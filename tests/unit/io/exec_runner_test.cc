// The hook runner against real processes. Commands in these tests use /bin/sh as the *program*
// where a test needs shell features; the runner itself never involves a shell.
#include "daemon/io/exec_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/unit/loop_util.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

// Runs `request` to completion on a fresh loop, bounded by 10 s of loop time.
ExecResult RunToEnd(ExecRequest request) {
  boost::asio::io_context io;
  ExecRunner runner(io);
  std::optional<ExecResult> result;
  runner.Run(std::move(request), [&](ExecResult r) { result = std::move(r); });
  EXPECT_TRUE(testutil::RunUntil(io, [&] { return result.has_value(); }))
      << "the command did not finish within 10 s";
  return result.value_or(ExecResult{});
}

ExecRequest Cmd(std::vector<std::string> argv) {
  ExecRequest r;
  r.argv = std::move(argv);
  r.timeout = 5s;
  r.kill_grace = 300ms;
  return r;
}

// Whether any process of group `pgid` is still alive. Zombies count as dead: who reaps an orphan
// (PID 1 or a subreaper) and when is up to the machine, not to the runner.
bool GroupAlive(pid_t pgid) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses; split after the last
    // ')'.
    std::istringstream rest(stat.substr(stat.rfind(')') + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp)) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') return true;
  }
  return false;
}

// Bounded wait (2 s) for the group's last members to die after a signal.
bool GroupGone(pid_t pgid) {
  for (int i = 0; i < 100; ++i) {
    if (!GroupAlive(pgid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(ExecRunnerTest, RunsArgvWithExactlyTheGivenEnvironment) {
  ExecRequest r = Cmd({"env"});
  r.env = {{"ROLLBACKD_SERVICE", "checkout"}, {"ROLLBACKD_LABEL_POD", "a b; rm -rf /"}};
  ExecResult res = RunToEnd(r);
  ASSERT_TRUE(res.success()) << res.error;
  EXPECT_NE(res.output.find("ROLLBACKD_SERVICE=checkout\n"), std::string::npos) << res.output;
  EXPECT_NE(res.output.find("ROLLBACKD_LABEL_POD=a b; rm -rf /\n"), std::string::npos);
  EXPECT_NE(res.output.find("PATH=/usr/local/sbin:"), std::string::npos);
  EXPECT_EQ(res.output.find("HOME="), std::string::npos) << "the daemon's environment leaked";
}

TEST(ExecRunnerTest, ArgumentsAreNotInterpretedByAShell) {
  ExecResult res = RunToEnd(Cmd({"echo", "$HOME", "`id`", "*", ";", "|", "&&"}));
  ASSERT_TRUE(res.success()) << res.error;
  EXPECT_EQ(res.output, "$HOME `id` * ; | &&\n");
}

TEST(ExecRunnerTest, ReportsExitStatusAndStderr) {
  ExecResult res = RunToEnd(Cmd({"sh", "-c", "echo oops >&2; exit 3"}));
  EXPECT_TRUE(res.started);
  EXPECT_FALSE(res.success());
  EXPECT_EQ(res.exit_status, 3);
  EXPECT_EQ(res.error, "exit status 3");
  EXPECT_EQ(res.output, "oops\n");
}

TEST(ExecRunnerTest, StdinIsDevNull) {
  ExecResult res = RunToEnd(Cmd({"cat"}));  // would hang on an inherited terminal or pipe
  EXPECT_TRUE(res.success()) << res.error;
  EXPECT_EQ(res.output, "");
}

TEST(ExecRunnerTest, InputArrivesOnStdin) {
  ExecRequest req = Cmd({"cat"});
  req.input = std::string("{\"event\": \"rollback.started\"}\n");
  ExecResult res = RunToEnd(req);
  EXPECT_TRUE(res.success()) << res.error;
  EXPECT_EQ(res.output, *req.input);
}

TEST(ExecRunnerTest, ACommandThatDoesNotReadItsInputIsNoSigpipeForUs) {
  ExecRequest req = Cmd({"/bin/true"});
  req.input = std::string(1 << 20, 'x');  // more than a pipe holds: the write meets EPIPE
  ExecResult res = RunToEnd(req);
  EXPECT_TRUE(res.success()) << res.error;  // and this process is still here to see it
}

TEST(ExecRunnerTest, TheDaemonsOwnDescriptorsDoNotLeakIntoTheCommand) {
  // Like the API's listening socket, which Asio opens without O_CLOEXEC.
  // A high number: the shell's own directory listing takes the lowest free one.
  const int opened = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(opened, 3);
  const int leaky = ::dup2(opened, 57);
  ::close(opened);
  ASSERT_EQ(leaky, 57);
  ExecRequest req;
  req.argv = {"/bin/sh", "-c", "for f in /proc/$$/fd/*; do echo \"$f\"; done"};
  ExecResult r = RunToEnd(req);
  ::close(leaky);
  ASSERT_TRUE(r.success()) << r.error;
  EXPECT_EQ(r.output.find("/fd/" + std::to_string(leaky) + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/fd/1\n"), std::string::npos) << r.output;
}

TEST(ExecRunnerTest, AProgramThatDoesNotExistIsAnErrorNotACrash) {
  ExecResult res = RunToEnd(Cmd({"rollbackd-no-such-program"}));
  EXPECT_FALSE(res.started);
  EXPECT_NE(
      res.error.find("cannot run rollbackd-no-such-program: not found in PATH=/usr/local/sbin:"),
      std::string::npos)
      << res.error;
  res = RunToEnd(Cmd({"/nonexistent/rollbackd-no-such-program"}));
  EXPECT_FALSE(res.started);
  EXPECT_NE(res.error.find("No such file"), std::string::npos) << res.error;
  res = RunToEnd(Cmd({}));
  EXPECT_EQ(res.error, "empty command");
}

// A bare name is looked up in the PATH the hook runs with (its own, or the default), not in the
// daemon's: a program the daemon's PATH finds but the hook's does not must not run.
TEST(ExecRunnerTest, ABareNameIsLookedUpInThePathTheHookRunsWith) {
  testutil::TempDir dir;
  const std::string tool = dir.Write("bin/rollbackd-test-tool", "#!/bin/sh\necho \"ran $0\"\n");
  ASSERT_EQ(::chmod(tool.c_str(), 0755), 0);
  const char* old = std::getenv("PATH");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("PATH", (dir.Path("bin") + ":" + saved).c_str(), 1);
  ExecResult daemons_path = RunToEnd(Cmd({"rollbackd-test-tool"}));
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(daemons_path.started) << daemons_path.output;
  EXPECT_NE(daemons_path.error.find("not found in PATH="), std::string::npos);

  ExecRequest own = Cmd({"rollbackd-test-tool"});
  own.env.emplace_back("PATH", "/nonexistent::" + dir.Path("bin"));  // empty entry skipped
  ExecResult r = RunToEnd(own);
  ASSERT_TRUE(r.success()) << r.error;
  EXPECT_EQ(r.output, "ran " + tool + "\n");
}

TEST(ExecRunnerTest, TimeoutSendsSigtermToTheGroup) {
  ExecRequest r = Cmd({"sleep", "30"});
  r.timeout = 200ms;
  ExecResult res = RunToEnd(r);
  EXPECT_TRUE(res.timed_out);
  EXPECT_EQ(res.signal, SIGTERM);
  EXPECT_EQ(res.error, "timed out after 200ms, killed");
  EXPECT_LT(res.duration, 5s);
}

TEST(ExecRunnerTest, ACommandIgnoringSigtermIsKilledWithItsChildren) {
  ExecRequest r = Cmd({"sh", "-c", "trap '' TERM; echo $$; sleep 30; echo survived"});
  r.timeout = 200ms;
  r.kill_grace = 200ms;
  ExecResult res = RunToEnd(r);
  EXPECT_TRUE(res.timed_out);
  EXPECT_EQ(res.signal, SIGKILL);
  ASSERT_FALSE(res.output.empty());
  const pid_t pgid = std::stoi(res.output);
  EXPECT_TRUE(GroupGone(pgid)) << "the sleep child survived";
  EXPECT_EQ(res.output.find("survived"), std::string::npos);
}

TEST(ExecRunnerTest, StraysLeftInTheGroupDoNotHoldTheResultBackAndAreStopped) {
  const auto start = std::chrono::steady_clock::now();
  ExecResult res = RunToEnd(Cmd({"sh", "-c", "sleep 30 & echo $$"}));
  EXPECT_TRUE(res.success()) << res.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const pid_t pgid = std::stoi(res.output);
  EXPECT_TRUE(GroupGone(pgid));
}

TEST(ExecRunnerTest, KeepsOnlyTheTailOfTheOutput) {
  ExecResult res =
      RunToEnd(Cmd({"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"}));
  ASSERT_TRUE(res.success()) << res.error;
  EXPECT_EQ(res.output.size(), 4096u);
  EXPECT_EQ(res.output.substr(res.output.size() - 9), "line1999\n");
}

// Issue 17, build item 6: a command writing 1 GiB (argv, no shell) ends with its tail kept and
// nothing more: the read loop holds the last output_tail bytes, never the output. (Memory is
// measured by hand, not asserted here.)
TEST(ExecRunnerTest, AGibibyteOfOutputKeepsOnlyTheTail) {
  boost::asio::io_context io;
  ExecRunner runner(io);
  ExecRequest req = Cmd({"/usr/bin/head", "-c", "1073741824", "/dev/zero"});
  req.timeout = 100s;
  std::optional<ExecResult> result;
  runner.Run(std::move(req), [&](ExecResult r) { result = std::move(r); });
  ASSERT_TRUE(testutil::RunUntil(
      io, [&] { return result.has_value(); }, 120s));
  EXPECT_TRUE(result->success()) << result->error;
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->output, std::string(4096, '\0'));
}

TEST(ExecRunnerTest, ATailOfAnySizeIsTheLastBytesWrittenAcrossReads) {
  // 100,000 lines of 7 bytes, kept tails below, at and above one read (64 KiB).
  for (size_t tail : {size_t{0}, size_t{10}, size_t{65536}, size_t{200000}}) {
    ExecRequest req = Cmd({"seq", "-w", "100000", "199999"});
    req.output_tail = tail;
    ExecResult res = RunToEnd(std::move(req));
    ASSERT_TRUE(res.success()) << res.error;
    std::string all;
    for (int i = 100000; i <= 199999; ++i) all += std::to_string(i) + "\n";
    EXPECT_EQ(res.output, all.substr(all.size() - std::min(tail, all.size()))) << tail;
  }
}

TEST(ExecRunnerTest, CommandsRunConcurrentlyWithoutBlockingTheLoop) {
  boost::asio::io_context io;
  ExecRunner runner(io);
  int done = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    runner.Run(Cmd({"sleep", "0.3"}), [&](ExecResult r) {
      EXPECT_TRUE(r.success()) << r.error;
      ++done;
    });
  }
  EXPECT_EQ(runner.running(), 5u);
  EXPECT_EQ(done, 0) << "callbacks must not run inside Run()";
  testutil::RunUntil(io, [&] { return done == 5; });
  EXPECT_EQ(done, 5);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms) << "ran one after another";
  EXPECT_EQ(runner.running(), 0u);
}

TEST(ExecRunnerTest, DestroyingTheRunnerKillsWhatStillRuns) {
  char tmpl[] = "/tmp/rollbackd-exec-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string pid_file = std::string(tmpl) + "/pid";
  boost::asio::io_context io;
  std::optional<ExecResult> result;
  auto read_pid = [&]() -> pid_t {
    std::ifstream in(pid_file);
    pid_t pid = 0;
    return (in >> pid) ? pid : 0;
  };
  {
    ExecRunner runner(io);
    runner.Run(Cmd({"sh", "-c",
                    "echo $$ > " + pid_file + ".tmp && mv " + pid_file + ".tmp " + pid_file +
                        " && exec sleep 30"}),
               [&](ExecResult r) { result = std::move(r); });
    // Wait until the command runs (it has written its pid), not for a fixed time.
    ASSERT_TRUE(testutil::RunUntil(io, [&] { return read_pid() != 0; }));
    ASSERT_TRUE(GroupAlive(read_pid()));
  }
  EXPECT_TRUE(GroupGone(read_pid())) << "the sleep outlived the runner";
  io.poll();  // leftover handlers must not call back
  EXPECT_FALSE(result.has_value());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace rollbackd
