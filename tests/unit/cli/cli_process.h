// Runs the built rollbackd binary with arguments and waits for it: exit status, stdout and stderr
// apart, for the tests where what the process prints and returns is the contract.
#ifndef ROLLBACKD_TESTS_UNIT_CLI_CLI_PROCESS_H_
#define ROLLBACKD_TESTS_UNIT_CLI_CLI_PROCESS_H_

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace rollbackd::testutil {

struct CliRun {
  int exit = -1;  // the exit status; 128 + signal when a signal ended it
  std::string out;
  std::string err;
};

// `args` after the binary's name; `env` ("NAME=value") replaces the environment when not empty.
// The child gets SIGALRM after 30 s (its default action ends it): a hung command fails the test
// instead of hanging it.
inline CliRun RunRollbackd(const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
  TempDir dir;
  const std::string out_path = dir.Path("out"), err_path = dir.Path("err");
  std::vector<std::string> argv_s = {ROLLBACKD_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::alarm(30);
    if (env.empty()) {
      ::execv(argv[0], argv.data());
    } else {
      ::execve(argv[0], argv.data(), envp.data());
    }
    _exit(127);
  }
  CliRun run;
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid) {
    run.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  return run;
}

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_CLI_CLI_PROCESS_H_
