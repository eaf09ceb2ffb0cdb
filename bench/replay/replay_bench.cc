// `rollbackd replay` end to end: a week at 15 s (40,320 steps) of one service with three triggers
// and a version query, written with Prometheus' own backfill (promtool tsdb
// create-blocks-from openmetrics) and served by the Debian Prometheus on loopback. Measures
//   - end to end: the rollbackd binary, `replay --format json`, wall clock (process start to exit:
//     configuration, range queries, parsing, the engine, the report);
//   - the engine's share: Replayer::Run alone on histories already fetched (in this process).
// The data has one bad deploy (errors and latency up for 10 minutes); each run must find it.
//
//   replay_bench [--days N] [--reps N] [--out FILE]
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/io/http_client.h"
#include "daemon/replay/range_reader.h"
#include "daemon/replay/replayer.h"
#include "daemon/sources/endpoints.h"
#include "testing/harness.h"

namespace {

using namespace rollbackd;
using namespace rollbackd::it;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

constexpr const char* kRule = R"(service  = "shop"
interval = "15s"

[[trigger]]
name     = "error_ratio"
query    = 'max(app_error_ratio)'
above    = 0.05
for      = "1m"
severity = "critical"

[[trigger]]
name     = "latency_p99"
query    = 'max(app_latency_p99_seconds)'
above    = 0.5
for      = "2m"

[[trigger]]
name     = "saturation"
query    = 'max(app_saturation)'
above    = 0.9
for      = "5m"
rollback = false

[deploy]
version_query = 'max by (version) (app_build_info)'

[rollback]
exec     = ["/bin/false"]
cooldown = "1h"
verify   = "15m"
)";

}  // namespace

int main(int argc, char** argv) {
  int days = 7, reps = 5;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--days" && i + 1 < argc) {
      days = std::atoi(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      std::cerr << "usage: replay_bench [--days N] [--reps N] [--out FILE]\n";
      return 2;
    }
  }
  TempDir dir;
  const std::string d = dir.path();
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const int64_t end = (now_s / 3600 - 1) * 3600;
  const int64_t start = end - int64_t{days} * 86400 + 15;  // days x 5,760 steps, both ends included
  const int64_t bad = start + (end - start) / 2 / 15 * 15;
  {
    std::ofstream om(d + "/history.om");
    auto family = [&](const char* name, auto value) {
      om << "# TYPE " << name << " gauge\n";
      for (int64_t t = start; t <= end; t += 15) om << name << " " << value(t) << " " << t << "\n";
    };
    const auto in_bad = [&](int64_t t) { return t >= bad && t < bad + 600; };
    family("app_error_ratio", [&](int64_t t) { return in_bad(t) ? 0.3 : 0.01; });
    family("app_latency_p99_seconds", [&](int64_t t) { return in_bad(t) ? 0.9 : 0.12; });
    family("app_saturation", [&](int64_t t) { return 0.4 + 0.1 * ((t / 3600) % 5); });
    om << "# TYPE app_build_info gauge\n";
    for (int64_t t = start; t <= end; t += 15) {
      om << "app_build_info{version=\"" << (t < bad ? "v1" : "v2") << "\"} 1 " << t << "\n";
    }
    om << "# EOF\n";
  }
  const auto backfill_start = Steady::now();
  const std::string cmd = std::string(ROLLBACKD_PROMTOOL) +
                          " tsdb create-blocks-from openmetrics " + d + "/history.om " + d +
                          "/data >" + d + "/promtool.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "promtool failed: " << ReadFile(d + "/promtool.log") << "\n";
    return 1;
  }
  const double backfill_s = Seconds(Steady::now() - backfill_start);
  const int port = FreePort();
  WriteFile(d + "/prometheus.yml", "global:\n  scrape_interval: 1m\nscrape_configs: []\n");
  Process prometheus({ROLLBACKD_PROMETHEUS, "--config.file=" + d + "/prometheus.yml",
                      "--storage.tsdb.path=" + d + "/data", "--storage.tsdb.retention.time=30d",
                      "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
                     d + "/prometheus.log");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  if (!WaitFor([&] { return !prometheus.running() || Http("GET", url + "/-/ready").status == 200; },
               60s) ||
      !prometheus.running()) {
    std::cerr << "prometheus did not start: " << prometheus.log() << "\n";
    return 1;
  }
  std::filesystem::create_directories(d + "/rules");
  WriteFile(d + "/rollbackd.toml",
            "[daemon]\nrules = [\"rules/*.toml\"]\n[prometheus.default]\nurl = \"" + url + "\"\n");
  WriteFile(d + "/rules/shop.toml", kRule);
  const std::string from =
      Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(start)));
  const std::string to = Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(end)));

  // End to end, the binary. The first run warms Prometheus' page cache, as a second replay would.
  std::vector<double> e2e;
  json report;
  for (int r = 0; r <= reps; ++r) {
    const std::string run = std::string(ROLLBACKD_BINARY) + " replay --config " + d +
                            "/rollbackd.toml --from " + from + " --to " + to + " --format json >" +
                            d + "/replay.json 2>" + d + "/replay.err";
    const auto t0 = Steady::now();
    const int rc = std::system(run.c_str());
    const double s = Seconds(Steady::now() - t0);
    if (rc != 0) {
      std::cerr << "replay failed: " << ReadFile(d + "/replay.err") << "\n";
      return 1;
    }
    if (r > 0) e2e.push_back(s);
    report = json::parse(ReadFile(d + "/replay.json"), nullptr, false);
  }
  size_t started = 0;
  for (const json& e : report["events"]) started += e["event"] == "rollback.started" ? 1 : 0;
  if (started != 1 || !report["query_errors"].empty()) {
    std::cerr << "the replay did not find the one bad deploy: " << report.dump(1) << "\n";
    return 1;
  }

  // The engine's share: the same replay on histories fetched once, here.
  Diagnostics diags;
  auto config = LoadConfig(d + "/rollbackd.toml", &diags);
  if (!config) return 1;
  std::vector<std::string> errors;
  auto endpoints = LoadEndpoints(*config, &errors);
  auto shared = std::make_shared<const Config>(std::move(*config));
  const Time t_from{std::chrono::seconds(start)}, t_to{std::chrono::seconds(end)};
  std::vector<InputHistory> histories;
  double fetch_s = 0;
  size_t requests = 0;
  {
    Replayer plan(shared, t_from, t_to, std::nullopt);
    boost::asio::io_context io;
    HttpClient http(io);
    RangeReader reader(http, endpoints);
    const auto t0 = Steady::now();
    reader.Read(plan.requests(), [&](std::vector<InputHistory> h) { histories = std::move(h); });
    io.run();
    fetch_s = Seconds(Steady::now() - t0);
    requests = reader.requests_sent();
  }
  std::vector<double> engine;
  size_t steps = 0, events = 0;
  for (int r = 0; r < std::max(reps, 1); ++r) {
    Replayer replayer(shared, t_from, t_to, std::nullopt);
    const auto t0 = Steady::now();
    ReplayResult result = replayer.Run(histories, ReplayOptions{});
    engine.push_back(Seconds(Steady::now() - t0));
    steps = result.evaluations;
    events = result.events.size();
  }
  json out = {{"days", days},
              {"steps", steps},
              {"triggers", 3},
              {"requests", requests},
              {"events", events},
              {"backfill_seconds", backfill_s},
              {"end_to_end_seconds_median", Median(e2e)},
              {"end_to_end_seconds", e2e},
              {"fetch_seconds", fetch_s},
              {"engine_seconds_median", Median(engine)},
              {"engine_microseconds_per_step", Median(engine) / std::max<size_t>(steps, 1) * 1e6}};
  std::printf("replay: %d days at 15 s = %zu steps, 3 triggers, %zu range requests\n", days, steps,
              requests);
  std::printf("  end to end (rollbackd replay): median %.3f s over %d runs (goal <= 5 s)\n",
              Median(e2e), reps);
  std::printf("  fetch alone (in process): %.3f s; engine alone: %.4f s (%.2f us per step)\n",
              fetch_s, Median(engine), Median(engine) / std::max<size_t>(steps, 1) * 1e6);
  if (!out_path.empty()) WriteFile(out_path, out.dump(2) + "\n");
  return 0;
}
