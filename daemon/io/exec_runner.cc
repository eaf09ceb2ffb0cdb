#include "daemon/io/exec_runner.h"

#include <fcntl.h>
#include <spawn.h>
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

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
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
    if (timed_out) {
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
};

ExecRunner::ExecRunner(asio::io_context& io) : io_(io) {
  // A command that exits without reading all of its `input` must not take this process down with
  // SIGPIPE: the write fails with EPIPE instead. (The daemon ignores SIGPIPE anyway; this makes
  // every user of the runner safe.) Commands get the default disposition back (posix_spawn).
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
}

ExecRunner::~ExecRunner() {
  for (auto& job : jobs_) {
    job->owner = nullptr;
    job->finished = true;
    if (!job->exited && job->pid > 0) {
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

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (request.input) {
    posix_spawn_file_actions_adddup2(&actions, in_fds[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  // Nothing else of the daemon's leaks into a hook: not the API's listening socket (a detached
  // child would keep the port), not Prometheus connections, not the journal.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // a new group, led by the child
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& a : request.argv) argv.push_back(a.data());
  argv.push_back(nullptr);

  auto job = std::make_shared<Job>(io_);
  job->start = SteadyClock::now();
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (in_fds[0] >= 0) ::close(in_fds[0]);
  if (rc != 0) {
    ::close(fds[0]);
    if (in_fds[1] >= 0) ::close(in_fds[1]);
    return fail("cannot run " + request.argv[0] + ": " + std::strerror(rc));
  }
  job->owner = this;
  job->pid = pid;
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
