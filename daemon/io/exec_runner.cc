#include "daemon/io/exec_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "daemon/io/spawn.h"
#include "daemon/io/supervisor.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

// After the command exits, how long output still in flight (or held open by a stray grandchild) is
// waited for.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(500);
constexpr auto kPollFallback = std::chrono::milliseconds(50);
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The first executable regular file `name` in the directories of `path`; "" when none. Empty
// entries (which a shell reads as ".") are skipped: a hook never runs from the daemon's cwd.
std::string FindInPath(const std::string& name, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

}  // namespace

struct ExecRunner::Job : std::enable_shared_from_this<Job> {
  explicit Job(asio::io_context& io)
      : pipe(io), input_pipe(io), exit_watch(io), timer(io), drain(io) {}

  ExecRunner* owner = nullptr;
  ExecRequest request;
  std::function<void(ExecResult)> done;
  pid_t pid = -1;
  asio::posix::stream_descriptor pipe;
  asio::posix::stream_descriptor input_pipe;  // the child's stdin, when request.input is set
  asio::posix::stream_descriptor exit_watch;  // a pidfd
  asio::steady_timer timer;                   // timeout, then the kill grace
  asio::steady_timer drain;                   // after exit; also the waitpid poll fallback
  // A pipe's default capacity: a command writing fast is read in 64 KiB steps, not 4 KiB ones.
  std::array<char, 65536> buffer{};
  std::string tail;
  SteadyClock::time_point start;
  int wait_status = 0;
  bool exited = false;
  bool pipe_closed = false;
  bool timed_out = false;
  bool finished = false;
  bool supervised = false;  // `pid` is the supervisor; the command's outcome is in its record

  void ReadMore() {
    pipe.async_read_some(asio::buffer(buffer),
                         [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                           self->OnRead(ec, n);
                         });
  }

  void WriteInput() {
    asio::async_write(input_pipe, asio::buffer(*request.input),
                      [self = shared_from_this()](boost::system::error_code, size_t) {
                        // EPIPE when the child did not read it all: its exit status tells.
                        boost::system::error_code ignored;
                        self->input_pipe.close(ignored);
                      });
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    if (finished) return;
    // Only the tail is kept, whatever the command writes: memory stays at the buffer and
    // output_tail bytes.
    if (n >= request.output_tail) {
      tail.assign(buffer.data() + (n - request.output_tail), request.output_tail);
    } else if (n > 0) {
      tail.append(buffer.data(), n);
      if (tail.size() > request.output_tail) tail.erase(0, tail.size() - request.output_tail);
    }
    if (ec) {
      pipe_closed = true;
      if (exited) Finish();
      return;
    }
    ReadMore();
  }

  void WatchExit() {
    int fd = PidfdOpen(pid);
    if (fd >= 0) {
      exit_watch.assign(fd);
      WatchAgain();
      return;
    }
    Poll();
  }

  void Poll() {
    drain.expires_after(kPollFallback);
    drain.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished) return;
      if (!self->Reap()) self->Poll();
    });
  }

  // True once the child has been reaped. The exit is first observed without reaping, so that the
  // group can be signalled while the zombie still holds the pid: a reused pid is never hit.
  bool Reap() {
    if (finished || exited) return exited;
    siginfo_t info{};
    int r;
    do {
      r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && info.si_pid == 0) {
      if (exit_watch.is_open()) WatchAgain();
      return false;
    }
    ::kill(-pid, SIGTERM);  // strays left in the group; ESRCH when there are none
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    exited = true;
    timer.cancel();
    if (pipe_closed) {
      Finish();
      return true;
    }
    drain.expires_after(kDrainAfterExit);
    drain.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Finish();
    });
    return true;
  }

  void WatchAgain() {
    exit_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (!ec) self->Reap();
                          });
  }

  void StartTimeout() {
    timer.expires_after(request.timeout);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->exited || self->finished) return;
      self->timed_out = true;
      ::kill(-self->pid, SIGTERM);
      self->timer.expires_after(self->request.kill_grace);
      self->timer.async_wait([self](boost::system::error_code ec2) {
        if (!ec2 && !self->exited && !self->finished) ::kill(-self->pid, SIGKILL);
      });
    });
  }

  void Finish() {
    if (finished) return;
    finished = true;
    timer.cancel();
    drain.cancel();
    boost::system::error_code ignored;
    pipe.close(ignored);
    input_pipe.close(ignored);
    exit_watch.close(ignored);

    ExecResult r;
    r.started = true;
    r.timed_out = timed_out;
    r.duration = std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
    r.output = std::move(tail);
    if (WIFEXITED(wait_status)) r.exit_status = WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) r.signal = WTERMSIG(wait_status);
    if (supervised) {
      r = SupervisedResult(r);
    } else if (timed_out) {
      r.error = "timed out after " + FormatDuration(request.timeout) + ", killed";
    } else if (r.signal != 0) {
      r.error = std::string("killed by signal ") + std::to_string(r.signal) + " (" +
                ::strsignal(r.signal) + ")";
    } else if (r.exit_status != 0) {
      r.error = "exit status " + std::to_string(r.exit_status);
    }
    auto self = shared_from_this();  // the owner's list may hold the last reference
    if (owner != nullptr) std::erase(owner->jobs_, self);
    if (done) done(std::move(r));
  }

  // The command's outcome as its supervisor recorded it; `supervisor` is how the supervisor
  // itself ended (its output is its own complaints).
  ExecResult SupervisedResult(const ExecResult& supervisor) const {
    const SupervisedRecord record = ReadSupervisedRecord(request.record);
    if (record.state == SupervisedRecord::State::kFinished) return record.result;
    ExecResult r;
    r.started = record.state != SupervisedRecord::State::kNone;
    r.duration = supervisor.duration;
    std::string how = supervisor.timed_out ? "hung and was killed"
                      : supervisor.signal != 0
                          ? "was killed by signal " + std::to_string(supervisor.signal)
                          : "exited with status " + std::to_string(supervisor.exit_status);
    r.error = std::string(r.started ? "outcome unknown: " : "not started: ") +
              "the hook's supervisor " + how + " without recording an outcome";
    if (!record.problem.empty()) r.error += " (" + record.problem + ")";
    if (!supervisor.output.empty()) r.error += ": " + supervisor.output;
    while (!r.error.empty() && r.error.back() == '\n') r.error.pop_back();
    return r;
  }
};

// Resume: a supervisor started by an earlier process (not our child: seen through a pidfd),
// until it exits or overstays its command's timeout.
struct ExecRunner::Watch : std::enable_shared_from_this<Watch> {
  explicit Watch(asio::io_context& io) : exit_watch(io), timer(io) {}
  ExecRunner* owner = nullptr;
  std::string record;
  pid_t pid = 0;
  std::function<void(ResumedRun)> done;
  asio::posix::stream_descriptor exit_watch;
  asio::steady_timer timer;  // the deadline; also the poll of a pid without a pidfd
  SteadyClock::time_point deadline;
  bool finished = false;

  void Wait() {
    exit_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (!ec) self->Finish("");
                          });
    timer.expires_at(deadline);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished) return;
      ::kill(-self->pid, SIGKILL);  // its group: the supervisor (its hook has its own)
      self->Finish("its supervisor (pid " + std::to_string(self->pid) +
                   ") overstayed the hook's timeout and was killed");
    });
  }

  void Finish(const std::string& why) {
    if (finished) return;
    finished = true;
    timer.cancel();
    boost::system::error_code ignored;
    exit_watch.close(ignored);
    ResumedRun out = Judge(record, pid, why);
    auto self = shared_from_this();
    if (owner != nullptr) std::erase(owner->watches_, self);
    if (done) done(std::move(out));
  }

  // What the record says once its supervisor is gone.
  static ResumedRun Judge(const std::string& record, pid_t pid, const std::string& why) {
    const SupervisedRecord r = ReadSupervisedRecord(record);
    switch (r.state) {
      case SupervisedRecord::State::kFinished:
        return {ResumedRun::State::kFinished, r.result, ""};
      case SupervisedRecord::State::kNone:
        return {ResumedRun::State::kNotStarted, {}, ""};
      case SupervisedRecord::State::kDamaged:
        return {ResumedRun::State::kUnknown, {}, r.problem};
      case SupervisedRecord::State::kRunning:
        break;
    }
    return {ResumedRun::State::kUnknown,
            {},
            why.empty() ? "its supervisor (pid " + std::to_string(pid) +
                              ") ended without recording an outcome"
                        : why};
  }
};

ExecRunner::ExecRunner(asio::io_context& io, std::string supervisor)
    : io_(io), supervisor_(std::move(supervisor)) {
  // A command that exits without reading all of its `input` must not take this process down with
  // SIGPIPE: the write fails with EPIPE instead. (The daemon ignores SIGPIPE anyway; this makes
  // every user of the runner safe.) Commands get the default disposition back (posix_spawn).
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
}

ExecRunner::~ExecRunner() {
  for (auto& watch : watches_) {
    watch->owner = nullptr;
    watch->finished = true;
    boost::system::error_code ignored;
    watch->timer.cancel();
    watch->exit_watch.close(ignored);
  }
  for (auto& job : jobs_) {
    job->owner = nullptr;
    job->finished = true;
    // A supervised command outlives us: that is its point. Its supervisor is left to finish.
    if (!job->exited && job->pid > 0 && !job->supervised) {
      ::kill(-job->pid, SIGKILL);
      while (::waitpid(job->pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    boost::system::error_code ignored;
    job->timer.cancel();
    job->drain.cancel();
    job->pipe.close(ignored);
    job->input_pipe.close(ignored);
    job->exit_watch.close(ignored);
  }
}

size_t ExecRunner::running() const { return jobs_.size(); }

void ExecRunner::Post(std::function<void()> fn) {
  asio::post(io_, [alive = std::weak_ptr<bool>(alive_), fn = std::move(fn)] {
    if (alive.lock()) fn();  // not after the runner is gone
  });
}

void ExecRunner::Resume(const std::string& record, std::function<void(ResumedRun)> done) {
  if (supervisor_.empty()) {  // nothing was recorded: the absence of a record tells nothing
    return Post([done = std::move(done)] {
      done({ResumedRun::State::kUnknown, {}, "hooks are not supervised here"});
    });
  }
  const SupervisedRecord r = ReadSupervisedRecord(record);
  if (r.state != SupervisedRecord::State::kRunning) {
    ResumedRun out = Watch::Judge(record, 0, "");
    return Post([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  }
  // The pidfd first, then the identity check: the pidfd then names the process that was checked.
  const int fd = PidfdOpen(r.pid);
  if (fd < 0 || !IsSupervisorOf(r.pid, record)) {
    if (fd >= 0) ::close(fd);
    // Gone (or the pid is another process's now): the record may have been finished meanwhile.
    ResumedRun out = Watch::Judge(record, r.pid, "");
    return Post([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  }
  auto watch = std::make_shared<Watch>(io_);
  watch->owner = this;
  watch->record = record;
  watch->pid = r.pid;
  watch->done = std::move(done);
  watch->exit_watch.assign(fd);
  // Its deadline from the wall clock it started by: the timeout applies across the restart.
  const auto ends =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(r.started_unix_ms)) +
      r.timeout + r.kill_grace + kSupervisorMargin;
  const auto left = std::chrono::duration_cast<SteadyClock::duration>(
      std::max(ends - std::chrono::system_clock::now(), std::chrono::system_clock::duration(0)));
  watch->deadline = SteadyClock::now() + left;
  watches_.push_back(watch);
  watch->Wait();
}

void ExecRunner::Forget(const std::string& record) {
  if (!record.empty()) RemoveSupervisedRecord(record);
}

void ExecRunner::Run(ExecRequest request, std::function<void(ExecResult)> done) {
  auto fail = [&](std::string error) {
    ExecResult r;
    r.error = std::move(error);
    asio::post(io_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done),
                     r = std::move(r)]() mutable {
      if (alive.lock()) done(std::move(r));  // not after the runner is gone
    });
  };
  if (request.argv.empty() || request.argv[0].empty()) return fail("empty command");

  std::vector<std::string> env_strings;
  std::string child_path = kDefaultPath;
  bool has_path = false;
  for (const auto& [k, v] : request.env) {
    env_strings.push_back(k + "=" + v);
    if (k == "PATH") {
      has_path = true;
      child_path = v;
    }
  }
  if (!has_path) env_strings.push_back(std::string("PATH=") + kDefaultPath);
  // posix_spawnp would search the daemon's own PATH; the hook runs with `child_path`, so a bare
  // name is looked up there, the PATH the hook itself (and its children) will see.
  std::string program = request.argv[0];
  if (program.find('/') == std::string::npos) {
    program = FindInPath(program, child_path);
    if (program.empty()) {
      return fail("cannot run " + request.argv[0] + ": not found in PATH=" + child_path);
    }
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));

  int in_fds[2] = {-1, -1};
  if (request.input) {
    // SIGPIPE is ignored since the constructor: a child that exits unread is EPIPE, not our end.
    if (::pipe2(in_fds, O_CLOEXEC) != 0) {
      const std::string error = std::string("pipe: ") + std::strerror(errno);
      ::close(fds[0]);
      ::close(fds[1]);
      return fail(error);
    }
  }

  // A rollback hook runs under its supervisor, which gets the hook's command line and environment.
  const bool supervised = !request.record.empty() && !supervisor_.empty() && !request.input;
  std::vector<std::string> spawn_argv = request.argv;
  if (supervised) {
    spawn_argv =
        SupervisorArgv(supervisor_, {request.record, program, request.argv, request.timeout,
                                     request.kill_grace, request.output_tail});
    program = supervisor_;
  }

  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  auto job = std::make_shared<Job>(io_);
  job->start = SteadyClock::now();
  pid_t pid = -1;
  const int rc = SpawnInNewGroup(program, spawn_argv, envp.data(), in_fds[0], fds[1], &pid);
  ::close(fds[1]);
  if (in_fds[0] >= 0) ::close(in_fds[0]);
  if (rc != 0) {
    ::close(fds[0]);
    if (in_fds[1] >= 0) ::close(in_fds[1]);
    return fail("cannot run " + request.argv[0] + ": " + std::strerror(rc));
  }
  job->owner = this;
  job->pid = pid;
  job->supervised = supervised;
  // The supervisor enforces the command's timeout; ours is only for a supervisor that hangs.
  if (supervised) request.timeout += request.kill_grace + kSupervisorMargin;
  job->request = std::move(request);
  job->done = std::move(done);
  job->pipe.assign(fds[0]);
  jobs_.push_back(job);
  if (in_fds[1] >= 0) {
    job->input_pipe.assign(in_fds[1]);
    job->WriteInput();
  }
  job->ReadMore();
  job->WatchExit();
  job->StartTimeout();
}

}  // namespace rollbackd
