#include "daemon/cli/daemon_commands.h"

#include "daemon/cli/usage.h"
#include "daemon/config/loader.h"
#include "daemon/ruletest/ruletest.h"
#include "daemon/runtime/daemon.h"
#include "daemon/runtime/logging.h"

namespace rollbackd {
namespace {

// The usage errors of these three commands print the list of every command, as they always did.
int Usage(std::ostream& err, const std::string& problem) {
  err << "rollbackd: " << problem << "\n\n" << kTopUsage;
  return 2;
}

bool IsHelp(const std::string& a) { return a == "-h" || a == "--help"; }

std::string Plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
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

}  // namespace

int CheckMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (IsHelp(args[i])) {
      out << CommandUsage("check");
      return 0;
    }
    if (args[i] == "--config" || args[i] == "-c") {
      if (i + 1 == args.size()) return Usage(err, "--config needs a file");
      config_path = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      config_path = args[i].substr(9);
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Usage(err, "unknown option " + args[i]);
    } else {
      files.push_back(args[i]);
    }
  }
  if (config_path.empty() == files.empty()) {
    return Usage(err, "check takes either --config FILE or rule files");
  }
  Diagnostics diags;
  auto config =
      config_path.empty() ? LoadRuleFiles(files, &diags) : LoadConfig(config_path, &diags);
  for (const auto& d : diags.Sorted()) err << d.ToString() << "\n";
  if (!config) {
    err << Plural(static_cast<size_t>(diags.error_count()), "error", "errors") << "\n";
    return 1;
  }
  size_t triggers = 0, health = 0;
  for (const auto& s : config->services) {
    triggers += s.triggers.size();
    health += s.health.size();
  }
  out << "ok: " << Plural(config->services.size(), "service", "services") << ", "
      << Plural(triggers, "trigger", "triggers") << ", "
      << Plural(health, "health check", "health checks") << ", "
      << Plural(config->channels.size(), "channel", "channels") << "\n";
  return 0;
}

int TestMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  RuleTestOptions options;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (IsHelp(a)) {
      out << CommandUsage("test");
      return 0;
    }
    if (a == "-v" || a == "--verbose") {
      options.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      return Usage(err, "unknown option " + a);
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return Usage(err, "test needs at least one test file");
  RuleTestSummary total;
  for (const std::string& f : files) {
    auto s = RunRuleTestFile(f, options, out);
    total.passed += s.passed;
    total.failed += s.failed;
  }
  out << total.passed << " passed, " << total.failed << " failed" << std::endl;
  return total.failed == 0 ? 0 : 1;
}

int RunMain(const std::vector<std::string>& args, const std::string& version, std::ostream& out,
            std::ostream& err) {
  DaemonOptions options;
  options.version = version;
  std::string format = "text", level = "info";
  for (size_t i = 0; i < args.size(); ++i) {
    if (IsHelp(args[i])) {
      out << CommandUsage("run");
      return 0;
    }
    if (TakeValue(args, &i, "--config", &options.config_path) ||
        TakeValue(args, &i, "-c", &options.config_path) ||
        TakeValue(args, &i, "--log-format", &format) ||
        TakeValue(args, &i, "--log-level", &level) ||
        TakeValue(args, &i, "--listen", &options.listen_override)) {
      continue;
    }
    return Usage(err, "run: unknown or incomplete option " + args[i]);
  }
  if (options.config_path.empty()) return Usage(err, "run needs --config FILE");
  auto log_format = ParseLogFormat(format);
  if (!log_format) return Usage(err, "--log-format must be text or json");
  if (!IsLogLevel(level))
    return Usage(err, "--log-level must be trace, debug, info, warning or error");
  SetUpLogging(*log_format, level);
  return RunDaemon(options);
}

}  // namespace rollbackd
