// rollbackd's command line: wiring only. Parse flags, load, run, map the result to an exit code.
//   rollbackd check --config rollbackd.toml | check RULEFILE...   validate, exit 0 or 1
//   rollbackd test [-v] TESTFILE...                               rule unit tests, exit 0 or 1
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/ruletest/ruletest.h"

namespace {

constexpr const char* kUsage =
    "usage: rollbackd <command> [options]\n"
    "\n"
    "commands:\n"
    "  check --config FILE      validate rollbackd.toml and every rule file it names\n"
    "  check RULEFILE...        validate rule files on their own\n"
    "  test [-v] TESTFILE...    run rule unit tests (see docs/rules.md)\n"
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

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("");
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "check") return Check(args);
  if (command == "test") return Test(args);
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
