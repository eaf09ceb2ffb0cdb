// rollbackd under a service manager: the test plays systemd, owning the NOTIFY_SOCKET datagram
// socket and asking for watchdog pings, and reads what the daemon says.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using Clock = std::chrono::steady_clock;

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof(a.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind";
  }
  ~NotifySocket() { ::close(fd_); }

  // The next datagram, or "" when none came within `limit`.
  std::string Next(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return "";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  // Reads until a datagram containing `what` arrives; false after `limit`. Others are kept.
  bool WaitFor(const std::string& what, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      std::string m = Next(left);
      if (m.empty()) continue;
      seen.push_back(m);
      if (m.find(what) != std::string::npos) return true;
    }
    return false;
  }

  std::vector<std::string> seen;

 private:
  std::string path_;
  int fd_ = -1;
};

// One health check against a port nothing listens on, every 100 ms; no Prometheus needed.
std::string WriteConfig(const TempDir& dir) {
  WriteFile(dir.path() + "/rollbackd.toml",
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"state\"\nrules = [\"web.toml\"]\n"
            "interval = \"100ms\"\n");
  WriteFile(dir.path() + "/web.toml",
            "service = \"web\"\n[[health]]\nname = \"up\"\nurl = \"http://127.0.0.1:1/\"\n"
            "timeout = \"50ms\"\nfor = \"1m\"\n");
  return dir.path() + "/rollbackd.toml";
}

std::unique_ptr<Process> StartUnderSystemd(const TempDir& dir, const std::string& socket,
                                           std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {ROLLBACKD_BINARY, "run", "--config", WriteConfig(dir)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  // The child inherits these; the test process itself never reads them.
  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // pings every 200 ms
  auto p = std::make_unique<Process>(argv, dir.path() + "/rollbackd.log");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  return p;
}

TEST(SystemdNotify, ReadyStatusWatchdogReloadAndStopping) {
  TempDir dir;
  NotifySocket sock(dir.path() + "/notify");
  auto daemon = StartUnderSystemd(dir, dir.path() + "/notify");

  ASSERT_TRUE(sock.WaitFor("READY=1", 10s)) << daemon->log();
  std::string ready;
  for (const std::string& m : sock.seen) {
    if (m.find("READY=1") != std::string::npos) ready = m;
  }
  EXPECT_NE(ready.find("STATUS=watching 1 service(s)"), std::string::npos) << ready;

  // WATCHDOG=1 at half of WatchdogSec: about 5 in one second (counting every datagram).
  int pings = 0;
  const auto until = Clock::now() + 1s;
  while (Clock::now() < until) {
    std::string m =
        sock.Next(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    if (m == "WATCHDOG=1") ++pings;
  }
  EXPECT_GE(pings, 3);
  EXPECT_LE(pings, 8);

  daemon->Signal(SIGHUP);
  ASSERT_TRUE(sock.WaitFor("RELOADING=1", 5s)) << daemon->log();
  EXPECT_NE(sock.seen.back().find("MONOTONIC_USEC="), std::string::npos) << sock.seen.back();
  ASSERT_TRUE(sock.WaitFor("READY=1", 5s)) << daemon->log();

  daemon->Signal(SIGTERM);
  ASSERT_TRUE(sock.WaitFor("STOPPING=1", 5s)) << daemon->log();
  EXPECT_EQ(daemon->WaitExit(10s), 0) << daemon->log();
}

// A stalled loop stops the pings: tests/unit/runtime/service_manager_test.cc, on the fake clock.

TEST(SystemdNotify, WithoutNotifySocketNothingChanges) {
  TempDir dir;
  Process daemon({ROLLBACKD_BINARY, "run", "--config", WriteConfig(dir)},
                 dir.path() + "/rollbackd.log");
  ASSERT_TRUE(
      WaitFor([&] { return daemon.log().find("first evaluation done") != std::string::npos; }, 10s))
      << daemon.log();
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
}

TEST(SystemdNotify, LogLinesToTheJournalCarryNoTimestampOfTheirOwn) {
  TempDir dir;
  const std::string log = dir.path() + "/rollbackd.log";
  WriteFile(log, "");
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(),
           1);
  Process daemon({ROLLBACKD_BINARY, "run", "--config", WriteConfig(dir)}, log);
  ::unsetenv("JOURNAL_STREAM");
  ASSERT_TRUE(
      WaitFor([&] { return daemon.log().find("first evaluation done") != std::string::npos; }, 10s))
      << daemon.log();
  EXPECT_EQ(daemon.log().rfind("info rollbackd ", 0), 0u) << daemon.log();
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace rollbackd::it
