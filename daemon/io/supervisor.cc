#include "daemon/io/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon/io/file_system.h"
#include "daemon/io/spawn.h"

extern char** environ;

namespace rollbackd {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kDrainAfterExit = std::chrono::milliseconds(500);
constexpr auto kPollFallback = std::chrono::milliseconds(50);

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An integer field; nullopt when absent or not an integer (a float, damage, is never cast).
std::optional<int64_t> Int(const json& d, const char* key) {
  const auto it = d.find(key);
  if (it == d.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

int64_t Ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

bool ParseMs(const std::string& text, Duration* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < 0) return false;
  *out = std::chrono::milliseconds(v);
  return true;
}

bool ParseArgs(const std::vector<std::string>& args, SupervisorArgs* out, std::string* problem) {
  size_t i = 0;
  for (; i < args.size() && args[i] != "--"; i += 2) {
    if (i + 1 >= args.size()) {
      *problem = args[i] + " needs a value";
      return false;
    }
    const std::string& flag = args[i];
    const std::string& value = args[i + 1];
    Duration d{0};
    if (flag == "--record") {
      out->record = value;
    } else if (flag == "--program") {
      out->program = value;
    } else if (flag == "--timeout-ms" && ParseMs(value, &d)) {
      out->timeout = d;
    } else if (flag == "--kill-grace-ms" && ParseMs(value, &d)) {
      out->kill_grace = d;
    } else if (flag == "--tail" && ParseMs(value, &d)) {
      out->output_tail = static_cast<size_t>(Ms(d));
    } else {
      *problem = "bad argument " + flag + " " + value;
      return false;
    }
  }
  if (i >= args.size() || i + 1 >= args.size()) {
    *problem = "no command after --";
    return false;
  }
  out->argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  if (out->record.empty() || out->program.empty()) {
    *problem = "--record and --program are required";
    return false;
  }
  return true;
}

bool WriteRecord(const std::string& path, const json& doc, std::string* error) {
  return RealFileSystem().WriteFileAtomically(path, doc.dump() + "\n", error);
}

json ResultJson(const ExecResult& r) {
  return {{"started", r.started},     {"exit_status", r.exit_status},  {"signal", r.signal},
          {"timed_out", r.timed_out}, {"duration_ms", Ms(r.duration)}, {"output", r.output},
          {"error", r.error}};
}

// The hook's whole run, as ExecRunner would run it: own process group, output tail, timeout with
// SIGTERM then SIGKILL to the group, strays in the group SIGTERMed after it exits.
ExecResult RunHook(const SupervisorArgs& a) {
  ExecResult r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  const auto start = SteadyClock::now();
  pid_t pid = -1;
  const int rc = SpawnInNewGroup(a.program, a.argv, environ, -1, fds[1], &pid);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    r.error = "cannot run " + a.argv[0] + ": " + std::strerror(rc);
    return r;
  }
  r.started = true;
  const int pidfd = PidfdOpen(pid);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);

  std::string tail;
  std::array<char, 65536> buffer{};
  bool pipe_open = true;
  bool exited = false;
  int wait_status = 0;
  auto deadline = start + a.timeout;
  bool killed = false;  // SIGKILL sent
  SteadyClock::time_point drain_until{};
  while (true) {
    const auto now = SteadyClock::now();
    if (exited && (!pipe_open || now >= drain_until)) break;
    if (!exited && now >= deadline) {
      if (!r.timed_out) {
        r.timed_out = true;
        ::kill(-pid, SIGTERM);
        deadline = now + a.kill_grace;
      } else if (!killed) {
        killed = true;
        ::kill(-pid, SIGKILL);
        deadline = now + std::chrono::hours(24);  // the kernel ends it now
      }
      continue;
    }
    auto until = exited ? drain_until : deadline;
    if (pidfd < 0 && !exited) until = std::min(until, now + kPollFallback);
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1, 0, 60'000));
    std::array<pollfd, 2> p{};
    nfds_t n = 0;
    if (pipe_open) p[n++] = {fds[0], POLLIN, 0};
    if (!exited && pidfd >= 0) p[n++] = {pidfd, POLLIN, 0};
    const int ready = ::poll(p.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (pipe_open) {
      while (true) {
        const ssize_t got = ::read(fds[0], buffer.data(), buffer.size());
        if (got > 0) {
          tail.append(buffer.data(), static_cast<size_t>(got));
          if (tail.size() > a.output_tail) tail.erase(0, tail.size() - a.output_tail);
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) pipe_open = false;
        break;
      }
    }
    if (!exited) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid != 0) {
        ::kill(-pid, SIGTERM);  // strays left in the group; ESRCH when none
        while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
        }
        exited = true;
        drain_until = SteadyClock::now() + kDrainAfterExit;
      }
    }
  }
  if (!exited) {  // poll failed: end it rather than leave it unsupervised
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  ::close(fds[0]);
  r.duration = std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
  r.output = std::move(tail);
  if (WIFEXITED(wait_status)) r.exit_status = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) r.signal = WTERMSIG(wait_status);
  if (r.timed_out) {
    r.error = "timed out after " + FormatDuration(a.timeout) + ", killed";
  } else if (r.signal != 0) {
    r.error = "killed by signal " + std::to_string(r.signal) + " (" + ::strsignal(r.signal) + ")";
  } else if (r.exit_status != 0) {
    r.error = "exit status " + std::to_string(r.exit_status);
  }
  return r;
}

std::optional<json> ReadJson(const std::string& path, bool* missing, std::string* problem) {
  std::string text;
  std::string error;
  switch (RealFileSystem().ReadFile(path, &text, &error)) {
    case FileSystem::Read::kNotFound:
      *missing = true;
      return std::nullopt;
    case FileSystem::Read::kError:
      *problem = error;
      return std::nullopt;
    case FileSystem::Read::kOk:
      break;
  }
  *missing = false;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    *problem = path + ": not a JSON object";
    return std::nullopt;
  }
  return doc;
}

}  // namespace

std::vector<std::string> SupervisorArgv(const std::string& self, const SupervisorArgs& a) {
  std::vector<std::string> out = {self,
                                  kSuperviseCommand,
                                  "--record",
                                  a.record,
                                  "--program",
                                  a.program,
                                  "--timeout-ms",
                                  std::to_string(Ms(a.timeout)),
                                  "--kill-grace-ms",
                                  std::to_string(Ms(a.kill_grace)),
                                  "--tail",
                                  std::to_string(a.output_tail),
                                  "--"};
  out.insert(out.end(), a.argv.begin(), a.argv.end());
  return out;
}

int SuperviseMain(const std::vector<std::string>& args) {
  SupervisorArgs a;
  std::string problem;
  if (!ParseArgs(args, &a, &problem)) {
    std::fprintf(stderr, "rollbackd supervise-hook: %s\n", problem.c_str());
    return 2;
  }
  // The daemon's terminal or its stop must not end the supervisor while the hook runs: it ends
  // when the hook has, and its record is written.
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  const json running = {{"pid", static_cast<int64_t>(::getpid())},
                        {"started_unix_ms", UnixMs()},
                        {"timeout_ms", Ms(a.timeout)},
                        {"kill_grace_ms", Ms(a.kill_grace)}};
  if (!WriteRecord(a.record + ".running", running, &error)) {
    std::fprintf(stderr, "rollbackd supervise-hook: the hook was not started: %s\n", error.c_str());
    return 3;
  }
  const ExecResult result = RunHook(a);
  if (!WriteRecord(a.record + ".outcome", ResultJson(result), &error)) {
    std::fprintf(stderr, "rollbackd supervise-hook: the hook's outcome (%s) was not recorded: %s\n",
                 result.success() ? "succeeded" : result.error.c_str(), error.c_str());
    return 3;
  }
  return 0;
}

SupervisedRecord ReadSupervisedRecord(const std::string& record) {
  SupervisedRecord out;
  bool missing = false;
  if (auto doc = ReadJson(record + ".outcome", &missing, &out.problem)) {
    const json& d = *doc;
    auto integer = [&](const char* key) { return Int(d, key).value_or(-1); };
    if (!d.contains("started") || !d["started"].is_boolean() || !d.contains("timed_out") ||
        !d["timed_out"].is_boolean() || integer("duration_ms") < 0 ||
        !d.value("output", json()).is_string() || !d.value("error", json()).is_string()) {
      out.state = SupervisedRecord::State::kDamaged;
      out.problem = record + ".outcome: a field is missing or has the wrong type";
      return out;
    }
    out.state = SupervisedRecord::State::kFinished;
    out.result.started = d["started"].get<bool>();
    out.result.exit_status = static_cast<int>(integer("exit_status"));
    out.result.signal = static_cast<int>(std::max<int64_t>(0, integer("signal")));
    out.result.timed_out = d["timed_out"].get<bool>();
    out.result.duration = std::chrono::milliseconds(integer("duration_ms"));
    out.result.output = d["output"].get<std::string>();
    out.result.error = d["error"].get<std::string>();
    return out;
  }
  if (!missing) {
    out.state = SupervisedRecord::State::kDamaged;
    return out;
  }
  if (auto doc = ReadJson(record + ".running", &missing, &out.problem)) {
    const json& d = *doc;
    const auto pid = Int(d, "pid");
    const auto started = Int(d, "started_unix_ms");
    const auto timeout = Int(d, "timeout_ms");
    const auto grace = Int(d, "kill_grace_ms");
    if (!pid || *pid <= 0 || !started || !timeout || *timeout < 0 || !grace || *grace < 0) {
      out.state = SupervisedRecord::State::kDamaged;
      out.problem = record + ".running: a field is missing or has the wrong type";
      return out;
    }
    out.state = SupervisedRecord::State::kRunning;
    out.pid = static_cast<pid_t>(*pid);
    out.started_unix_ms = *started;
    out.timeout = std::chrono::milliseconds(*timeout);
    out.kill_grace = std::chrono::milliseconds(*grace);
    return out;
  }
  out.state = missing ? SupervisedRecord::State::kNone : SupervisedRecord::State::kDamaged;
  return out;
}

void RemoveSupervisedRecord(const std::string& record) {
  ::unlink((record + ".outcome").c_str());
  ::unlink((record + ".running").c_str());
}

bool IsSupervisorOf(pid_t pid, const std::string& record) {
  std::string cmdline;
  std::string error;
  if (RealFileSystem().ReadFile("/proc/" + std::to_string(pid) + "/cmdline", &cmdline, &error) !=
      FileSystem::Read::kOk) {
    return false;
  }
  // NUL-separated: "<self>\0supervise-hook\0--record\0<record>\0..."
  std::vector<std::string> args;
  size_t start = 0;
  while (start < cmdline.size() && args.size() < 4) {
    const size_t end = cmdline.find('\0', start);
    args.push_back(cmdline.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args.size() == 4 && args[1] == kSuperviseCommand && args[2] == "--record" &&
         args[3] == record;
}

}  // namespace rollbackd
