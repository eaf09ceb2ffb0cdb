// Runs the built rollbackd binary (ROLLBACKD_BINARY) with arguments and waits for it: exit status,
// stdout and stderr apart, for the tests where what the process prints and returns is the
// contract (the operator CLI: unit tests and tests/integration). Header-only.
#ifndef ROLLBACKD_TESTING_CLI_RUN_H_
#define ROLLBACKD_TESTING_CLI_RUN_H_

#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace rollbackd::testutil {

struct CliRun {
  int exit = -1;  // the exit status; 128 + signal when a signal ended it
  std::string out;
  std::string err;
};

namespace cli_run_internal {

// Starts ROLLBACKD_BINARY with `args` after its name: stdin /dev/null, stdout on `out_fd`, stderr
// on `err_fd`, SIGALRM after 30 s; `env` ("NAME=value") as its whole environment, this process's
// when null. `close_fd` (>= 0) is closed in the child first. The child's pid; -1 when fork failed.
inline pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>* env,
                   int out_fd, int err_fd, int close_fd = -1) {
  std::vector<std::string> argv_s = {ROLLBACKD_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env != nullptr ? *env : std::vector<std::string>();
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (close_fd >= 0) ::close(close_fd);
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::alarm(30);
    if (env == nullptr) {
      ::execv(argv[0], argv.data());
    } else {
      ::execve(argv[0], argv.data(), envp.data());
    }
    _exit(127);
  }
  return pid;
}

// The exit status of the child `pid` (128 + signal when a signal ended it); -1 when unknown.
inline int Wait(pid_t pid) {
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace cli_run_internal

// `args` after the binary's name; `env` ("NAME=value") replaces the environment when not empty.
// The child gets SIGALRM after 30 s (its default action ends it): a hung command fails the test
// instead of hanging it.
inline CliRun RunRollbackd(const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
  char out_tmpl[] = "/tmp/rollbackd_cli_out.XXXXXX", err_tmpl[] = "/tmp/rollbackd_cli_err.XXXXXX";
  const int out_fd = ::mkstemp(out_tmpl), err_fd = ::mkstemp(err_tmpl);
  CliRun run;
  if (out_fd < 0 || err_fd < 0) return run;
  const pid_t pid = cli_run_internal::Spawn(args, env.empty() ? nullptr : &env, out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  run.exit = cli_run_internal::Wait(pid);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  run.out = slurp(out_tmpl);
  run.err = slurp(err_tmpl);
  std::remove(out_tmpl);
  std::remove(err_tmpl);
  return run;
}

// As RunRollbackd, but stdout and stderr are a pseudo-terminal (both land in `out`, with the
// terminal's \r\n line ends), for what rollbackd does only on a terminal. `env` is the whole
// environment, even when empty.
inline CliRun RunRollbackdOnTerminal(const std::vector<std::string>& args,
                                     const std::vector<std::string>& env) {
  CliRun run;
  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return run;
  const pid_t pid = cli_run_internal::Spawn(args, &env, slave, slave, master);
  ::close(slave);
  // Reads until the child's side is closed (EIO), bounded by the child's alarm and a count.
  char buf[4096];
  for (int i = 0; i < 100000; ++i) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  run.exit = cli_run_internal::Wait(pid);
  return run;
}

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTING_CLI_RUN_H_
