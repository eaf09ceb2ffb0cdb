#include "daemon/replay/replay_main.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <optional>

#include "daemon/config/loader.h"
#include "daemon/io/http_client.h"
#include "daemon/replay/html_plot.h"
#include "daemon/replay/range_reader.h"
#include "daemon/replay/replayer.h"
#include "daemon/replay/report.h"
#include "daemon/replay/time_arg.h"
#include "daemon/sources/endpoints.h"

namespace rollbackd {

const char* const kReplayUsage =
    "usage: rollbackd replay --config FILE [--service NAME]... --from TIME --to TIME\n"
    "                        [--step DURATION] [--hook success|failure] [--format text|json]\n"
    "                        [--html FILE]\n"
    "\n"
    "What the configuration's rules would have done over Prometheus' history: every trigger\n"
    "evaluated at each step from --from to --to, as the daemon would have, with deploys found\n"
    "from version_query. Hooks never run: a rollback.started is followed by the outcome --hook\n"
    "says (default success). Health checks have no history and are not replayed.\n"
    "\n"
    "  --config FILE       rollbackd.toml (its rule files, sources and their credentials)\n"
    "  --service NAME      replay only this service (repeatable; default every service)\n"
    "  --from, --to TIME   RFC 3339 (2026-03-01T12:00:00Z) or relative to now (-7d, -90m, now)\n"
    "  --step DURATION     the evaluation step (default each service's interval)\n"
    "  --hook OUTCOME      success or failure: what the rollback hook is taken to report\n"
    "  --format FORMAT     text (the timeline and a summary) or json (events as webhook payloads)\n"
    "  --html FILE         also write a self-contained page with one plot per trigger\n";

namespace {

struct Args {
  std::string config;
  std::vector<std::string> services;
  std::string from, to, step;
  bool hook_success = true;
  bool json = false;
  std::string html;
};

// `--name value` or `--name=value`; `missing` set when the value is absent.
bool Take(const std::vector<std::string>& args, size_t* i, const std::string& name,
          std::string* out, bool* missing) {
  const std::string& a = args[*i];
  if (a == name) {
    if (*i + 1 == args.size()) {
      *missing = true;
      return true;
    }
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

int ReplayMain(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  auto usage = [&](const std::string& problem) {
    err << "rollbackd replay: " << problem << "\n\n" << kReplayUsage;
    return 2;
  };
  Args a;
  std::string hook = "success", format = "text";
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--help" || argv[i] == "-h") {
      out << kReplayUsage;
      return 0;
    }
    bool missing = false;
    std::string service;
    const bool known =
        Take(argv, &i, "--config", &a.config, &missing) ||
        Take(argv, &i, "--service", &service, &missing) ||
        Take(argv, &i, "--from", &a.from, &missing) || Take(argv, &i, "--to", &a.to, &missing) ||
        Take(argv, &i, "--step", &a.step, &missing) || Take(argv, &i, "--hook", &hook, &missing) ||
        Take(argv, &i, "--format", &format, &missing) ||
        Take(argv, &i, "--html", &a.html, &missing);
    if (!known) return usage("unknown option " + argv[i]);
    if (missing) return usage(argv[i] + " needs a value");
    if (!service.empty()) a.services.push_back(service);
  }
  if (a.config.empty()) return usage("--config FILE is required");
  if (a.from.empty() || a.to.empty()) return usage("--from and --to are required");
  if (hook != "success" && hook != "failure") {
    return usage("--hook must be success or failure, not \"" + hook + "\"");
  }
  a.hook_success = hook == "success";
  if (format != "text" && format != "json") {
    return usage("--format must be text or json, not \"" + format + "\"");
  }
  a.json = format == "json";
  const Time now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string error;
  const std::optional<Time> from = ParseTimeArg(a.from, now, &error);
  if (!from) return usage("--from: " + error);
  const std::optional<Time> to = ParseTimeArg(a.to, now, &error);
  if (!to) return usage("--to: " + error);
  if (*to < *from) {
    return usage("--to (" + FormatTime(*to) + ") is before --from (" + FormatTime(*from) + ")");
  }
  std::optional<Duration> step;
  if (!a.step.empty()) {
    step = ParseDuration(a.step);
    if (!step || step->count() <= 0) {
      return usage("--step: \"" + a.step + "\" is not a duration longer than 0s (15s, 1m)");
    }
  }

  Diagnostics diags;
  std::optional<Config> config = LoadConfig(a.config, &diags);
  for (const Diagnostic& d : diags.Sorted()) {
    if (d.level == Diagnostic::Level::kError) err << d.ToString() << "\n";
  }
  if (!config) return 1;
  if (!a.services.empty()) {
    std::vector<Service> kept;
    for (const std::string& name : a.services) {
      auto it = std::find_if(config->services.begin(), config->services.end(),
                             [&](const Service& s) { return s.name == name; });
      if (it == config->services.end()) {
        std::string known;
        for (const Service& s : config->services) known += (known.empty() ? "" : ", ") + s.name;
        return usage("--service: no service \"" + name + "\" in " + a.config + " (known: " + known +
                     ")");
      }
      if (std::none_of(kept.begin(), kept.end(), [&](const Service& s) { return s.name == name; }))
        kept.push_back(*it);
    }
    config->services = std::move(kept);
  }
  for (const Service& s : config->services) {
    const Duration every = step ? *step : s.interval.value_or(config->daemon.interval);
    if ((*to - *from) / every >= static_cast<int64_t>(kMaxReplaySteps)) {
      return usage("--from " + a.from + " --to " + a.to + " is more than " +
                   std::to_string(kMaxReplaySteps) + " steps of " + FormatDuration(every) +
                   " for " + s.name + ": a shorter window or a longer --step");
    }
  }
  std::vector<std::string> secret_errors, secret_warnings;
  auto endpoints = LoadEndpoints(*config, &secret_errors, &secret_warnings);
  for (const std::string& w : secret_warnings) err << a.config << ": warning: " << w << "\n";
  for (const std::string& e : secret_errors) err << a.config << ": " << e << "\n";
  if (!secret_errors.empty()) return 1;

  Replayer replayer(std::make_shared<const Config>(std::move(*config)), *from, *to, step);
  std::vector<InputHistory> histories;
  size_t requests = 0;
  {
    boost::asio::io_context io;
    HttpClient http(io);
    RangeReader reader(http, std::move(endpoints));
    reader.Read(replayer.requests(),
                [&](std::vector<InputHistory> h) { histories = std::move(h); });
    io.run();
    requests = reader.requests_sent();
  }
  ReplayOptions options;
  options.hook_success = a.hook_success;
  options.record_series = !a.html.empty();
  ReplayResult result = replayer.Run(histories, options);
  result.requests = requests;
  if (a.json) {
    WriteJsonReport(result, out);
  } else {
    WriteTextReport(result, out);
  }
  if (!a.html.empty()) {
    std::ofstream html(a.html, std::ios::binary | std::ios::trunc);
    WriteHtmlReport(result, html);
    html.close();
    if (!html) {
      err << "rollbackd replay: --html: cannot write " << a.html << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace rollbackd
