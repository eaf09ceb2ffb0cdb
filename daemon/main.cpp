// rollbackd's command line: wiring only. Parse flags, load, run, map the result to an exit code.
//   rollbackd check --config rollbackd.toml | check RULEFILE...   validate, exit 0 or 1
//   rollbackd test [-v] TESTFILE...                               rule unit tests, exit 0 or 1
//   rollbackd run --config rollbackd.toml [--log-format F] [--log-level L]   the daemon
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/replay/replay_main.h"
#include "daemon/ruletest/ruletest.h"
#include "daemon/runtime/daemon.h"
#include "daemon/runtime/logging.h"

namespace {

constexpr const char* kUsage =
    "usage: rollbackd <command> [options]\n"
    "\n"
    "commands:\n"
    "  run --config FILE [--log-format text|json] [--log-level LEVEL]\n"
    "                           run the daemon (SIGHUP reloads, SIGTERM drains and stops)\n"
    "  check --config FILE      validate rollbackd.toml and every rule file it names\n"
    "  check RULEFILE...        validate rule files on their own\n"
    "  test [-v] TESTFILE...    run rule unit tests (see docs/rules.md)\n"
    "  replay --config FILE --from TIME --to TIME ...  rules over Prometheus history (--help)\n"
    "  version                  print the version\n";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "rollbackd: " << problem << "\n\n";
  std::cerr << kUsage;
  return 2;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

int Check(const std::vector<std::string>& args) {
  std::string config_path;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" || args[i] == "-c") {
      if (i + 1 == args.size()) return Usage("--config needs a file");
      config_path = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      config_path = args[i].substr(9);
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Usage("unknown option " + args[i]);
    } else {
      files.push_back(args[i]);
    }
  }
  if (config_path.empty() == files.empty()) {
    return Usage("check takes either --config FILE or rule files");
  }
  rollbackd::Diagnostics diags;
  auto config = config_path.empty() ? rollbackd::LoadRuleFiles(files, &diags)
                                    : rollbackd::LoadConfig(config_path, &diags);
  for (const auto& d : diags.Sorted()) std::cerr << d.ToString() << "\n";
  if (!config) {
    std::cerr << Plural(static_cast<size_t>(diags.error_count()), "error", "errors") << "\n";
    return 1;
  }
  size_t triggers = 0, health = 0;
  for (const auto& s : config->services) {
    triggers += s.triggers.size();
    health += s.health.size();
  }
  std::cout << "ok: " << Plural(config->services.size(), "service", "services") << ", "
            << Plural(triggers, "trigger", "triggers") << ", "
            << Plural(health, "health check", "health checks") << ", "
            << Plural(config->channels.size(), "channel", "channels") << "\n";
  return 0;
}

int Test(const std::vector<std::string>& args) {
  rollbackd::RuleTestOptions options;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a == "-v" || a == "--verbose") {
      options.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      return Usage("unknown option " + a);
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return Usage("test needs at least one test file");
  rollbackd::RuleTestSummary total;
  for (const std::string& f : files) {
    auto s = rollbackd::RunRuleTestFile(f, options, std::cout);
    total.passed += s.passed;
    total.failed += s.failed;
  }
  std::cout << total.passed << " passed, " << total.failed << " failed" << std::endl;
  return total.failed == 0 ? 0 : 1;
}

// Flags with a value, as `--name value` or `--name=value`.
bool TakeValue(const std::vector<std::string>& args, size_t* i, const std::string& name,
               std::string* out) {
  const std::string& a = args[*i];
  if (a == name) {
    if (*i + 1 == args.size()) return false;
    *out = args[++*i];
    return true;
  }
  if (a.rfind(name + "=", 0) == 0) {
    *out = a.substr(name.size() + 1);
    return true;
  }
  return false;
}

int Run(const std::vector<std::string>& args) {
  rollbackd::DaemonOptions options;
  options.version = ROLLBACKD_VERSION;
  std::string format = "text", level = "info";
  for (size_t i = 0; i < args.size(); ++i) {
    if (TakeValue(args, &i, "--config", &options.config_path) ||
        TakeValue(args, &i, "-c", &options.config_path) ||
        TakeValue(args, &i, "--log-format", &format) ||
        TakeValue(args, &i, "--log-level", &level) ||
        TakeValue(args, &i, "--listen", &options.listen_override)) {
      continue;
    }
    return Usage("run: unknown or incomplete option " + args[i]);
  }
  if (options.config_path.empty()) return Usage("run needs --config FILE");
  auto log_format = rollbackd::ParseLogFormat(format);
  if (!log_format) return Usage("--log-format must be text or json");
  if (!rollbackd::IsLogLevel(level)) {
    return Usage("--log-level must be trace, debug, info, warning or error");
  }
  rollbackd::SetUpLogging(*log_format, level);
  return rollbackd::RunDaemon(options);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("");
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "run") return Run(args);
  if (command == "check") return Check(args);
  if (command == "test") return Test(args);
  if (command == "replay") return rollbackd::ReplayMain(args, std::cout, std::cerr);
  if (command == "version" || command == "--version") {
    std::cout << "rollbackd " << ROLLBACKD_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  return Usage("unknown command " + command);
}
