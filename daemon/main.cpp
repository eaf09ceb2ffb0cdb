// rollbackd's command line: wiring only. Pick the command, hand it its arguments and the streams,
// return its exit status. The commands live in daemon/cli/ (usage texts in daemon/cli/usage.cc):
// - run, check, test: daemon_commands.h
// - status, pause, resume, deploy: operator_commands.h (they talk to a running daemon's API)
// - replay: daemon/replay/replay_main.h (rules over Prometheus history)
// - supervise-hook (internal): daemon/io/supervisor.h (a rollback hook's supervisor)
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli/daemon_commands.h"
#include "daemon/cli/operator_commands.h"
#include "daemon/cli/usage.h"
#include "daemon/io/supervisor.h"
#include "daemon/replay/replay_main.h"

int main(int argc, char** argv) {
  // A file that may not grow (RLIMIT_FSIZE, systemd's LimitFSIZE=) is an EFBIG error to handle,
  // never SIGXFSZ's core dump: the daemon refuses a hook whose intent it cannot write and keeps
  // running. Hooks get the default back (io/spawn.cc).
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << rollbackd::kTopUsage;
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "run") return rollbackd::RunMain(args, ROLLBACKD_VERSION, std::cout, std::cerr);
  if (command == "check") return rollbackd::CheckMain(args, std::cout, std::cerr);
  if (command == "test") return rollbackd::TestMain(args, std::cout, std::cerr);
  if (command == "replay") return rollbackd::ReplayMain(args, std::cout, std::cerr);
  if (command == rollbackd::kSuperviseCommand) return rollbackd::SuperviseMain(args);
  if (rollbackd::IsOperatorCommand(command)) {
    return rollbackd::OperatorMain(command, args, std::cout, std::cerr,
                                   rollbackd::ProcessOperatorEnv());
  }
  if (command == "version" || command == "--version") {
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
      std::cout << rollbackd::CommandUsage("version");
      return 0;
    }
    std::cout << "rollbackd " << ROLLBACKD_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    if (args.empty()) {
      std::cout << rollbackd::kTopUsage;
      return 0;
    }
    // `rollbackd help status`: that command's usage; `rollbackd help --help`: help's.
    const std::string topic = args[0] == "-h" || args[0] == "--help" ? "help" : args[0];
    if (topic == "replay") return rollbackd::ReplayMain({"--help"}, std::cout, std::cerr);
    const char* usage = rollbackd::CommandUsage(topic);
    if (usage == nullptr) {
      std::cerr << "rollbackd: unknown command " << topic << "\n\n" << rollbackd::kTopUsage;
      return 2;
    }
    std::cout << usage;
    return 0;
  }
  std::cerr << "rollbackd: unknown command " << command << "\n\n" << rollbackd::kTopUsage;
  return 2;
}
