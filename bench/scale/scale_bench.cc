// scale_bench: what rollbackd costs when it watches a fleet. One rollbackd-sample process simulates
// N healthy services (--services N), the Debian Prometheus scrapes it, and rollbackd evaluates N
// rule files of three triggers each (error rate above a threshold; p99 latency above 1.5 times a
// baseline query, with a traffic floor; orders below half a baseline query), every rule file with
// a deploy version query and a rollback hook that never runs. Two layouts of the same rules:
//
//   per-service  every query names its service: N x 7 distinct queries a round
//   fanout       one query per kind, shared by every service through `match = { service = ... }`:
//                7 distinct queries a round, whatever N
//
// Per layout, after a warm-up of --warmup-rounds rounds, over --rounds rounds: rollbackd's CPU (%
// of one core, from /proc/<pid>/stat), VmRSS and VmHWM, Prometheus queries per round (rollbackd's
// own counters, and Prometheus's /api/v1/query request counter as a cross-check), the round
// duration (rollbackd_evaluation_duration_seconds), Prometheus's CPU over the same window, and the
// events emitted. The fleet is healthy: any trigger.firing event means the rules or the fan-out are
// wrong and the driver exits 1. It never judges speed. The fleet and the rule files are made in
// fleet.h; this file measures and reports.
//
// A third layout, fanout-cluster (--layout cluster runs fanout and fanout-cluster, one after the
// other), is fanout with rollbackd as the one member of a cluster on a real 3-member etcd: its cost
// beside standalone, and the etcd requests and writes a round makes in steady state.
//
//   scale_bench [--services 1000] [--layout per-service|fanout|both|cluster] [--interval 15s]
//               [--scrape-interval 15s] [--rounds 4] [--warmup-rounds 2] [--rate 10]
//               [--out FILE]
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/scale/fleet.h"
#include "testing/etcd_cluster.h"
#include "testing/harness.h"

namespace rollbackd::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using it::Http;
using it::Process;
using it::TempDir;
using json = nlohmann::ordered_json;  // keys in the order written

constexpr char kUsage[] =
    "usage: scale_bench [--services N] [--layout per-service|fanout|both|cluster] [--interval "
    "15s]\n"
    "                   [--scrape-interval 15s] [--rounds 4] [--warmup-rounds 2] [--rate 10]\n"
    "                   [--out FILE] [--wrap 'heaptrack -o FILE']\n";

struct Options {
  int services = 1000;
  std::vector<std::string> layouts = {"per-service", "fanout"};
  std::chrono::milliseconds interval = 15s;         // rollbackd's, every service's
  std::chrono::milliseconds scrape_interval = 15s;  // Prometheus's; defaults to the interval
  int rounds = 4;
  int warmup_rounds = 2;
  double rate = 10;  // simulated requests per second, per service
  std::string out;
  // A program rollbackd runs under, split at spaces (a profiler: "heaptrack -o /tmp/fanout").
  // Its CPU figures then include the profiler's; its memory profile is the point.
  std::vector<std::string> wrap;
};

// "15s", "500ms", "2m".
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const long n = std::stol(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "m") return std::chrono::milliseconds(n * 60000);
  return std::nullopt;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::optional<Options> ParseOptions(int argc, char** argv, std::string* error) {
  Options o;
  bool scrape_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      *error = flag + " needs a value";
      return std::nullopt;
    }
    const std::string value = argv[++i];
    auto positive = [&](int* out) {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 100000) return false;
      *out = static_cast<int>(n);
      return true;
    };
    bool ok = true;
    if (flag == "--services") {
      ok = positive(&o.services) && o.services <= 9999;
    } else if (flag == "--layout") {
      if (value == "both") {
        o.layouts = {"per-service", "fanout"};
      } else if (value == "cluster") {
        o.layouts = {"fanout", "fanout-cluster"};
      } else if (value == "per-service" || value == "fanout" || value == "fanout-cluster") {
        o.layouts = {value};
      } else {
        ok = false;
      }
    } else if (flag == "--interval" || flag == "--scrape-interval") {
      auto d = ParseDuration(value);
      ok = d && *d >= 100ms;
      if (ok && flag == "--interval") o.interval = *d;
      if (ok && flag == "--scrape-interval") {
        o.scrape_interval = *d;
        scrape_given = true;
      }
    } else if (flag == "--rounds") {
      ok = positive(&o.rounds);
    } else if (flag == "--warmup-rounds") {
      ok = positive(&o.warmup_rounds);
    } else if (flag == "--rate") {
      char* end = nullptr;
      o.rate = std::strtod(value.c_str(), &end);
      ok = *end == '\0' && std::isfinite(o.rate) && o.rate > 0;
    } else if (flag == "--out") {
      o.out = value;
    } else if (flag == "--wrap") {
      std::istringstream words(value);
      for (std::string w; words >> w;) o.wrap.push_back(w);
      ok = !o.wrap.empty();
    } else {
      *error = "unknown flag " + flag;
      return std::nullopt;
    }
    if (!ok) {
      *error = "bad value for " + flag + ": '" + value + "'";
      return std::nullopt;
    }
  }
  // Scraped as often as evaluated, and never less often than the 15 s Prometheus default: more
  // frequent scrapes would add ingestion to the Prometheus CPU figure, which is about queries.
  if (!scrape_given) o.scrape_interval = std::min<std::chrono::milliseconds>(o.interval, 15s);
  return o;
}

// ---- /proc and metrics text -------------------------------------------------------------------

// utime + stime of `pid`, in clock ticks; nullopt once the process is gone.
std::optional<uint64_t> CpuTicks(pid_t pid) {
  const std::string stat = it::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  for (int f = 3; f <= 15 && in >> field; ++f) {
    if (f == 14) utime = std::stoull(field);
    if (f == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

// A "VmRSS:" style line of /proc/<pid>/status, in MiB.
double StatusMiB(pid_t pid, const std::string& key) {
  std::istringstream in(it::ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;
  }
  return NAN;
}

// The sum of every series of metric `name` whose labels include each of `labels` (`k="v"`
// fragments). Prometheus text format without timestamps, as rollbackd and Prometheus write it.
double Sum(const std::string& text, const std::string& name,
           const std::vector<std::string>& labels = {}) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    const size_t space = line.rfind(' ');
    const std::string series = line.substr(0, space);
    if (!std::all_of(labels.begin(), labels.end(),
                     [&](const std::string& l) { return series.find(l) != std::string::npos; })) {
      continue;
    }
    sum += std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

// The cumulative buckets of a histogram: upper bound -> count.
std::map<double, double> Buckets(const std::string& text, const std::string& name) {
  std::map<double, double> out;
  std::istringstream in(text);
  std::string line;
  const std::string prefix = name + "_bucket{";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t le = line.find("le=\"");
    if (le == std::string::npos) continue;
    const std::string bound = line.substr(le + 4, line.find('"', le + 4) - le - 4);
    const double b = bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr);
    out[b] += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Rounded for the report; NaN (not measured) becomes null.
json Num(double v, int decimals = 2) {
  if (!std::isfinite(v)) return nullptr;
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

std::string FirstLine(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[512];
    if (std::fgets(buf, sizeof(buf), p) != nullptr) out = buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// ---- one layout ---------------------------------------------------------------------------------

struct Snapshot {
  Clock::time_point at;
  uint64_t daemon_ticks = 0;
  uint64_t prometheus_ticks = 0;
};

json RunLayout(const std::string& layout, Fleet& fleet, const Options& o,
               const it::EtcdCluster* etcd, bool* ok) {
  TempDir dir;
  const std::string d = dir.path();
  std::filesystem::create_directories(d + "/rules");
  const int port = it::FreePort();
  it::WriteFile(d + "/rollbackd.toml", DaemonConfig(port, fleet.prometheus_url(), o.interval,
                                                    layout == "fanout-cluster" ? etcd : nullptr));
  for (int i = 1; i <= o.services; ++i) {
    const std::string name = ServiceName(i);
    it::WriteFile(d + "/rules/" + name + ".toml",
                  RuleFile(layout, name, fleet.sample_address(), o.interval));
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto metrics = [&] { return Http("GET", url + "/metrics").body; };

  const auto started = Clock::now();
  std::vector<std::string> argv = o.wrap;
  for (std::string a : {std::string(ROLLBACKD_BINARY), std::string("run"), std::string("--config"),
                        d + "/rollbackd.toml", std::string("--log-level"), std::string("info")}) {
    argv.push_back(std::move(a));
  }
  Process daemon(std::move(argv), d + "/rollbackd.log");
  auto fail = [&](const std::string& why) {
    std::cerr << layout << ": " << why << "\n--- rollbackd log (tail) ---\n";
    const std::string log = daemon.log();
    std::cerr << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
    *ok = false;
    return json{{"error", why}};
  };
  const auto ready_limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(2 * o.interval + 120s);
  if (!it::WaitFor([&] { return !daemon.running() || Http("GET", url + "/readyz").status == 200; },
                   ready_limit, 100ms) ||
      !daemon.running()) {
    return fail("rollbackd did not get ready (first round) within " +
                std::to_string(ready_limit.count()) + " ms");
  }
  const double first_round_s = Seconds(Clock::now() - started);

  // Warm-up, then the instant a round completes. Polling /metrics costs rollbackd CPU, so it
  // happens here only: the window itself is timed from this instant, not polled.
  const auto poll = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(o.interval / 20), 20ms, 500ms);
  double evaluations = 0;
  const auto warmup_limit = std::chrono::duration_cast<std::chrono::milliseconds>(
      (o.warmup_rounds + 2) * o.interval + 60s);
  if (!it::WaitFor(
          [&] {
            evaluations = Sum(metrics(), "rollbackd_evaluations_total");
            return !daemon.running() || evaluations >= o.warmup_rounds;
          },
          warmup_limit, poll) ||
      !daemon.running()) {
    return fail("rollbackd did not complete " + std::to_string(o.warmup_rounds) +
                " rounds within " + std::to_string(warmup_limit.count()) + " ms");
  }
  const double before = evaluations;
  if (!it::WaitFor(
          [&] {
            evaluations = Sum(metrics(), "rollbackd_evaluations_total");
            return !daemon.running() || evaluations > before;
          },
          std::chrono::duration_cast<std::chrono::milliseconds>(2 * o.interval + 60s), poll) ||
      !daemon.running()) {
    return fail("no round completed after the warm-up");
  }
  // Half an interval after a round ends, the window starts: its ends sit between rounds, so it
  // holds exactly --rounds rounds while a round takes less than half an interval.
  std::this_thread::sleep_until(Clock::now() + o.interval / 2);

  const std::string daemon_before = metrics();
  const std::string prometheus_before = Http("GET", fleet.prometheus_url() + "/metrics").body;
  auto snapshot = [&] {
    Snapshot s;
    s.at = Clock::now();
    s.daemon_ticks = CpuTicks(daemon.pid()).value_or(0);
    s.prometheus_ticks = CpuTicks(fleet.prometheus().pid()).value_or(0);
    return s;
  };
  std::vector<Snapshot> snaps = {snapshot()};
  for (int k = 1; k <= o.rounds; ++k) {
    std::this_thread::sleep_until(snaps.front().at + k * o.interval);
    snaps.push_back(snapshot());
  }
  const double rss = StatusMiB(daemon.pid(), "VmRSS:");
  const double hwm = StatusMiB(daemon.pid(), "VmHWM:");
  const std::string daemon_after = metrics();
  const std::string prometheus_after = Http("GET", fleet.prometheus_url() + "/metrics").body;
  if (!daemon.running()) return fail("rollbackd exited during the window");

  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto pct = [&](const Snapshot& a, const Snapshot& b, bool prometheus) {
    const uint64_t t =
        prometheus ? b.prometheus_ticks - a.prometheus_ticks : b.daemon_ticks - a.daemon_ticks;
    return 100.0 * static_cast<double>(t) / tick / Seconds(b.at - a.at);
  };
  std::vector<double> daemon_rounds, prometheus_rounds;
  for (size_t k = 1; k < snaps.size(); ++k) {
    daemon_rounds.push_back(pct(snaps[k - 1], snaps[k], false));
    prometheus_rounds.push_back(pct(snaps[k - 1], snaps[k], true));
  }
  auto delta = [&](const std::string& name, const std::vector<std::string>& labels = {}) {
    return Sum(daemon_after, name, labels) - Sum(daemon_before, name, labels);
  };
  const double rounds = delta("rollbackd_evaluations_total");
  const double queries = delta("rollbackd_query_duration_seconds_count");
  const double prom_queries =
      Sum(prometheus_after, "prometheus_http_requests_total", {"handler=\"/api/v1/query\""}) -
      Sum(prometheus_before, "prometheus_http_requests_total", {"handler=\"/api/v1/query\""});
  const double round_seconds = delta("rollbackd_evaluation_duration_seconds_sum");
  // The longest round lies in the highest bucket whose count grew during the window.
  const auto b0 = Buckets(daemon_before, "rollbackd_evaluation_duration_seconds");
  const auto b1 = Buckets(daemon_after, "rollbackd_evaluation_duration_seconds");
  double max_le = NAN;
  double below = 0;
  for (const auto& [le, count] : b1) {
    const double grown = count - (b0.count(le) ? b0.at(le) : 0);
    if (grown > below) max_le = le;
    below = grown;
  }

  // Inputs: the distinct queries, from the line rollbackd logs when it loads its configuration.
  const std::string log = daemon.log();
  std::optional<long> inputs;
  if (const size_t at = log.find(" inputs"); at != std::string::npos) {
    size_t start = log.rfind(' ', at - 1);
    inputs = std::strtol(log.c_str() + start + 1, nullptr, 10);
  }
  const double firing = Sum(daemon_after, "rollbackd_events_total", {"kind=\"trigger.firing\""});
  const double pending = Sum(daemon_after, "rollbackd_events_total", {"kind=\"trigger.pending\""});
  const double series = Sum(daemon_after, "rollbackd_trigger_series");
  // The status page's history rings: their share of the RSS above (set at each scrape).
  const double history_series = Sum(daemon_after, "rollbackd_history_series");
  const double history_bytes = Sum(daemon_after, "rollbackd_history_bytes");
  const double errors = Sum(daemon_after, "rollbackd_query_errors_total");
  json errors_by_reason = json::object();
  for (const char* reason :
       {"timeout", "connection", "http_status", "prometheus_error", "warnings", "bad_response"}) {
    const double n = Sum(daemon_after, "rollbackd_query_errors_total",
                         {"reason=\"" + std::string(reason) + "\""});
    if (n > 0) errors_by_reason[reason] = Num(n, 0);
  }
  const int stopped = daemon.Stop();

  json r;
  r["cpu_pct_core"] = Num(pct(snaps.front(), snaps.back(), false));
  r["cpu_pct_core_round_median"] = Num(Median(daemon_rounds));
  // Per round completed: comparable when rounds outlast the interval (fewer fit in the window).
  auto ms_per_round = [&](bool prometheus) {
    const Snapshot& a = snaps.front();
    const Snapshot& b = snaps.back();
    const uint64_t t =
        prometheus ? b.prometheus_ticks - a.prometheus_ticks : b.daemon_ticks - a.daemon_ticks;
    return rounds > 0 ? 1000.0 * static_cast<double>(t) / tick / rounds : NAN;
  };
  r["cpu_ms_per_round"] = Num(ms_per_round(false), 0);
  r["cpu_pct_core_rounds"] = json::array();
  for (double v : daemon_rounds) r["cpu_pct_core_rounds"].push_back(Num(v));
  r["rss_mib"] = Num(rss, 1);
  r["hwm_mib"] = Num(hwm, 1);
  r["history_series"] = Num(history_series, 0);
  r["history_mib"] = Num(history_bytes / (1 << 20), 2);
  r["queries_per_round"] = Num(rounds > 0 ? queries / rounds : NAN, 1);
  if (layout == "fanout-cluster") {
    // Renewals, the watch, reads and writes; writes (txn) in steady state should be 0.
    const double etcd_requests = delta("rollbackd_etcd_request_seconds_count");
    const double etcd_txns = delta("rollbackd_etcd_request_seconds_count", {"op=\"txn\""});
    r["etcd_requests_per_round"] = Num(rounds > 0 ? etcd_requests / rounds : NAN, 2);
    r["etcd_writes_per_round"] = Num(rounds > 0 ? etcd_txns / rounds : NAN, 2);
  }
  r["prometheus_queries_per_round"] = Num(rounds > 0 ? prom_queries / rounds : NAN, 1);
  r["distinct_queries"] = inputs ? json(*inputs) : json(nullptr);
  r["round_ms_mean"] = Num(rounds > 0 ? 1000 * round_seconds / rounds : NAN, 1);
  r["round_ms_max"] = Num(1000 * max_le, 0);  // a histogram bucket's upper bound
  r["rounds"] = Num(rounds, 0);
  r["window_s"] = Num(Seconds(snaps.back().at - snaps.front().at), 1);
  r["first_round_s"] = Num(first_round_s, 1);
  r["prometheus_cpu_pct_core"] = Num(pct(snaps.front(), snaps.back(), true));
  r["prometheus_cpu_pct_core_round_median"] = Num(Median(prometheus_rounds));
  r["prometheus_cpu_ms_per_round"] = Num(ms_per_round(true), 0);
  r["firing_events"] = Num(firing, 0);
  r["pending_events"] = Num(pending, 0);
  r["series_tracked"] = Num(series, 0);
  r["series_expected"] = 3 * o.services;
  r["query_errors"] = Num(errors, 0);  // since the start, warm-up included
  r["query_errors_by_reason"] = errors_by_reason;
  r["rollbackd_exit_status"] = stopped;

  if (firing > 0) {
    fail(std::to_string(static_cast<long>(firing)) +
         " trigger.firing event(s) for a healthy fleet: the rules or the fan-out are wrong");
  }
  if (rounds < 1) fail("no round completed in the measured window");
  // Every trigger of a healthy service tracks one series. Fewer: queries failed (load: reported,
  // not judged). More, with no error: a `match` that does not filter, a broken fan-out.
  if (series != 3 * o.services) {
    const std::string why = std::to_string(static_cast<long>(series)) + " series tracked, " +
                            std::to_string(3 * o.services) + " expected (query errors: " +
                            std::to_string(static_cast<long>(errors)) + ")";
    if (errors > 0) {
      std::cerr << layout << ": warning: " << why << "\n";
    } else {
      fail(why);
    }
  }
  return r;
}

int Main(int argc, char** argv) {
  std::string error;
  const auto options = ParseOptions(argc, argv, &error);
  if (!options) {
    std::cerr << "scale_bench: " << error << "\n" << kUsage;
    return 2;
  }
  const Options& o = *options;
  auto load = [] { return std::strtod(it::ReadFile("/proc/loadavg").c_str(), nullptr); };

  json doc;
  doc["services"] = o.services;
  doc["triggers_per_service"] = 3;
  doc["interval_s"] = std::chrono::duration<double>(o.interval).count();
  doc["parameters"] = {{"services", o.services},
                       {"layouts", o.layouts},
                       {"interval", DurationText(o.interval)},
                       {"scrape_interval", DurationText(o.scrape_interval)},
                       {"rounds", o.rounds},
                       {"warmup_rounds", o.warmup_rounds},
                       {"requests_per_second_per_service", o.rate},
                       {"queries_per_service", 7},
                       {"cores", std::thread::hardware_concurrency()},
                       {"load_1m_at_start", Num(load())}};
  doc["layouts"] = json::object();
  bool ok = true;
  try {
    Fleet fleet(o.services, o.rate, o.scrape_interval);
    std::unique_ptr<TempDir> etcd_dir;
    std::unique_ptr<it::EtcdCluster> etcd;
    if (std::find(o.layouts.begin(), o.layouts.end(), "fanout-cluster") != o.layouts.end()) {
      etcd_dir = std::make_unique<TempDir>();
      etcd = std::make_unique<it::EtcdCluster>(etcd_dir->path());
      if (!etcd->WaitHealthy(60s)) throw std::runtime_error("the etcd cluster did not get healthy");
    }
    for (const std::string& layout : o.layouts) {
      std::cerr << "scale_bench: " << layout << ": " << o.services << " services x 3 triggers, "
                << DurationText(o.interval) << ", " << o.rounds << " rounds after "
                << o.warmup_rounds << " of warm-up\n";
      doc["layouts"][layout] = RunLayout(layout, fleet, o, etcd.get(), &ok);
    }
  } catch (const std::exception& e) {
    std::cerr << "scale_bench: " << e.what() << "\n";
    ok = false;
  }
  doc["parameters"]["load_1m_at_end"] = Num(load());
  doc["versions"] = {
      {"rollbackd", FirstLine(std::string(ROLLBACKD_BINARY) + " version 2>&1")},
      {"prometheus", FirstLine(std::string(ROLLBACKD_PROMETHEUS) + " --version 2>&1")}};

  std::printf("%-14s %8s %8s %8s %8s %10s %9s %9s %9s %7s %6s\n", "layout", "cpu%", "rss_MiB",
              "hwm_MiB", "hist_MiB", "queries/r", "round_ms", "round_max", "prom_cpu%", "firing",
              "rounds");
  for (const auto& [name, r] : doc["layouts"].items()) {
    if (r.contains("error")) {
      std::printf("%-14s error: %s\n", name.c_str(), r["error"].get<std::string>().c_str());
      continue;
    }
    // `r` by name: Clang 14 cannot capture a structured binding.
    auto f = [&layout = r](const char* key) {
      return layout[key].is_number() ? layout[key].get<double>() : NAN;
    };
    std::printf("%-14s %8.2f %8.1f %8.1f %8.2f %10.1f %9.1f %9.0f %9.2f %7.0f %6.0f\n",
                name.c_str(), f("cpu_pct_core"), f("rss_mib"), f("hwm_mib"), f("history_mib"),
                f("queries_per_round"), f("round_ms_mean"), f("round_ms_max"),
                f("prometheus_cpu_pct_core"), f("firing_events"), f("rounds"));
  }
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    out << doc.dump(2) << "\n";
    if (!out) {
      std::cerr << "scale_bench: cannot write " << o.out << "\n";
      return 1;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rollbackd::bench

int main(int argc, char** argv) { return rollbackd::bench::Main(argc, argv); }
