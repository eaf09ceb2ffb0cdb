// probe_bench: the cost of HTTP health probing, rollbackd against the way SREs do it today.
//
// One loopback HTTP server (ProbeServer, in this process) serves N health endpoints. Then, one
// after the other, never at the same time:
//   1. rollbackd probes them: N `[[health]]` checks (services of --checks-per-service checks each,
//      one rule file per service), every --interval, expect_status = [200], no rollback hook.
//   2. The Debian prometheus-blackbox-exporter probes them, driven as in its README: a real
//      Prometheus scrapes /probe?module=http_2xx&target=<endpoint> for the N targets every
//      --interval (relabeling __address__ -> __param_target, instance; __address__ = the exporter).
// Per side, after a warm-up, several windows of CPU (utime+stime from /proc/<pid>/stat) against
// wall time, the probes done in the same window, RSS. The headline is CPU per probe, as a ratio
// rollbackd / blackbox_exporter from the same run.
//
// A benchmark, not a test: it fails only when a side does not work at all (no probes), never on
// speed. Every process it starts is stopped and every temp dir removed when it returns.
#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/probes/probe_server.h"
#include "testing/harness.h"

namespace rollbackd::bench {
namespace {

namespace it = rollbackd::it;
using it::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kBlackbox = ROLLBACKD_BLACKBOX_EXPORTER;

struct Options {
  int endpoints = 5000;
  int checks_per_service = 5;
  double interval_s = 5;
  double window_s = 20;  // rounded up to a whole number of intervals
  int windows = 5;
  int warmup_intervals = 2;
  double timeout_s = 2;       // the probe timeout, the same for both sides
  std::string side = "both";  // both | rollbackd | blackbox
  std::string out;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "probe_bench: " << why << "\n"
            << "usage: probe_bench [--endpoints N] [--checks-per-service N] [--interval D]\n"
               "                   [--window D] [--windows N] [--warmup-intervals N]\n"
               "                   [--timeout D] [--side both|rollbackd|blackbox] [--out FILE]\n"
               "  D: a duration, \"500ms\", \"5s\", \"1m\"\n";
  std::exit(2);
}

// "500ms", "5s", "1m" -> seconds; nullopt when it is none of these.
std::optional<double> ParseSeconds(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit(end);
  if (end == s.c_str() || !(v > 0)) return std::nullopt;
  if (unit == "ms") return v / 1000;
  if (unit == "s") return v;
  if (unit == "m") return v * 60;
  return std::nullopt;
}

// Prometheus and rollbackd durations: whole milliseconds.
std::string Dur(double seconds) {
  return std::to_string(static_cast<long long>(std::llround(seconds * 1000))) + "ms";
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    auto seconds = [&]() {
      const std::string v = value();
      const auto s = ParseSeconds(v);
      if (!s) Usage("bad duration for " + a + ": " + v);
      return *s;
    };
    auto count = [&](int min) {
      const std::string v = value();
      const int n = std::atoi(v.c_str());
      if (n < min) Usage("bad number for " + a + ": " + v);
      return n;
    };
    if (a == "--endpoints") {
      o.endpoints = count(1);
    } else if (a == "--checks-per-service") {
      o.checks_per_service = count(1);
    } else if (a == "--interval") {
      o.interval_s = seconds();
    } else if (a == "--window") {
      o.window_s = seconds();
    } else if (a == "--windows") {
      o.windows = count(1);
    } else if (a == "--warmup-intervals") {
      o.warmup_intervals = count(2);
    } else if (a == "--timeout") {
      o.timeout_s = seconds();
    } else if (a == "--side") {
      o.side = value();
      if (o.side != "both" && o.side != "rollbackd" && o.side != "blackbox") Usage("bad --side");
    } else if (a == "--out") {
      o.out = value();
    } else {
      Usage("unknown flag " + a);
    }
  }
  // Whole intervals per window: rollbackd probes in one burst per interval, so a window of a
  // fractional number of intervals would hold a varying number of bursts.
  o.window_s = std::ceil(o.window_s / o.interval_s - 1e-9) * o.interval_s;
  return o;
}

// ---- /proc
// ---------------------------------------------------------------------------------------

// utime + stime of `pid`, in seconds; -1 when the process is gone.
double CpuSeconds(pid_t pid) {
  const std::string stat = it::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int f = 3; f <= 15 && in >> field; ++f) {
    if (f == 14) utime = std::stoull(field);
    if (f == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A "VmRSS"-style line of /proc/<pid>/status, in MiB; 0 when missing.
double StatusMiB(pid_t pid, const std::string& key) {
  std::istringstream in(it::ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1) / 1024.0;
  }
  return 0;
}

// ---- helpers
// -------------------------------------------------------------------------------------

std::string FirstLine(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen((command + " 2>&1").c_str(), "r")) {
    char buf[512];
    if (std::fgets(buf, sizeof buf, p)) out = buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The sum of every series of a metric in Prometheus text format (`name{...} value` lines).
double SumSeries(const std::string& text, const std::string& name) {
  double sum = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, name.size(), name) == 0 &&
        (text[pos + name.size()] == '{' || text[pos + name.size()] == ' ')) {
      const size_t space = text.rfind(' ', end - 1);
      if (space != std::string::npos && space > pos) sum += std::atof(text.c_str() + space + 1);
    }
    pos = end + 1;
  }
  return sum;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::chrono::milliseconds Ms(SteadyClock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

std::string EndpointUrl(int port, int i) {
  return "http://127.0.0.1:" + std::to_string(port) + "/health/" + std::to_string(i);
}

// One measured window of one side.
struct Window {
  double wall_s = 0;
  double cpu_s = 0;
  double probes = 0;    // the side's own count (rollbackd: histogram; blackbox: the server)
  double failures = 0;  // rollbackd only (blackbox: from Prometheus after the run)
  double server_requests = 0;
  double server_connections = 0;
  double extra_cpu_s = 0;  // Prometheus, on the blackbox side
  double rss_mib = 0;
  double hwm_mib = 0;
};

struct SideResult {
  std::vector<Window> windows;
  double failures = 0;
  bool ok = false;
  std::string error;
};

json Summarize(const SideResult& r, bool with_extra) {
  std::vector<double> cpu_pct, per_1000, rate, extra_pct, full_per_1000, conn_rate;
  double failures = r.failures, rss = 0, hwm = 0, probes = 0;
  for (const Window& w : r.windows) {
    cpu_pct.push_back(w.cpu_s / w.wall_s * 100);
    rate.push_back(w.probes / w.wall_s);
    // % of one core per 1,000 probes/s = CPU-seconds per probe x 1000 x 100.
    per_1000.push_back(w.probes > 0 ? w.cpu_s / w.probes * 1000 * 100 : 0);
    extra_pct.push_back(w.extra_cpu_s / w.wall_s * 100);
    full_per_1000.push_back(w.probes > 0 ? (w.cpu_s + w.extra_cpu_s) / w.probes * 1e5 : 0);
    conn_rate.push_back(w.server_connections / w.wall_s);
    rss = w.rss_mib;
    hwm = std::max(hwm, w.hwm_mib);
    probes += w.probes;
  }
  json j = {{"cpu_pct_core", Median(cpu_pct)},
            {"cpu_pct_per_1000_probes_s", Median(per_1000)},
            {"rss_mib", rss},
            {"rss_hwm_mib", hwm},
            {"probes_per_s", Median(rate)},
            {"probes", probes},
            {"failures", failures},
            {"server_new_connections_per_s", Median(conn_rate)},
            {"cpu_pct_core_windows", cpu_pct},
            {"cpu_pct_per_1000_probes_s_windows", per_1000}};
  if (with_extra) {
    j["prometheus_cpu_pct_core"] = Median(extra_pct);
    j["with_prometheus_cpu_pct_per_1000_probes_s"] = Median(full_per_1000);
  }
  if (!r.ok) j["error"] = r.error;
  return j;
}

// SIGINT/SIGTERM/SIGHUP: the waits below throw, so that the stack unwinds and every process this
// driver started is stopped and every temp dir removed (Process and TempDir destructors).
std::atomic<bool> g_interrupted{false};
extern "C" void OnSignal(int) { g_interrupted.store(true); }

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

// Sleeps until `t`: the measurement windows are wall-clock spans, not synchronisation.
void SleepUntil(SteadyClock::time_point t) {
  for (auto now = SteadyClock::now(); now < t; now = SteadyClock::now()) {
    if (g_interrupted.load()) throw Interrupted();
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(t - now, 100ms));
  }
}

// The harness's WaitFor, cut short by a signal.
bool Await(const std::function<bool()>& pred, std::chrono::milliseconds limit,
           std::chrono::milliseconds every = 100ms) {
  const bool held = it::WaitFor([&] { return g_interrupted.load() || pred(); }, limit, every);
  if (g_interrupted.load()) throw Interrupted();
  return held;
}

// ---- rollbackd
// -----------------------------------------------------------------------------------

std::string Layout(const Options& o) {
  const int services = (o.endpoints + o.checks_per_service - 1) / o.checks_per_service;
  return std::to_string(services) + " rule files (one service each) x " +
         std::to_string(o.checks_per_service) +
         " [[health]] checks = " + std::to_string(o.endpoints) + " endpoints, interval " +
         Dur(o.interval_s) + ", timeout " + Dur(o.timeout_s) +
         ", expect_status [200], no [rollback]";
}

void WriteRollbackdConfig(const Options& o, const std::string& dir, int daemon_port,
                          int server_port) {
  std::filesystem::create_directories(dir + "/rules");
  it::WriteFile(dir + "/rollbackd.toml",
                "[daemon]\nlisten = \"127.0.0.1:" + std::to_string(daemon_port) +
                    "\"\nstate_dir = \"state\"\nrules = [\"rules/*.toml\"]\ninterval = \"" +
                    Dur(o.interval_s) + "\"\n");
  int endpoint = 0;
  for (int s = 0; endpoint < o.endpoints; ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "svc%05d", s);
    std::string rule = "service = \"" + std::string(name) + "\"\n";
    for (int c = 0; c < o.checks_per_service && endpoint < o.endpoints; ++c, ++endpoint) {
      rule += "\n[[health]]\nname = \"ready" + std::to_string(c) + "\"\nurl = \"" +
              EndpointUrl(server_port, endpoint) + "\"\ntimeout = \"" + Dur(o.timeout_s) +
              "\"\nexpect_status = [200]\nfor = \"30s\"\n";
    }
    it::WriteFile(dir + "/rules/" + name + ".toml", rule);
  }
}

struct Counts {
  double probes = 0;
  double failures = 0;
  bool ok = false;
};

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET with a generous timeout: the harness's Http gives up after 5 s, and a daemon under load
// may take longer to serialise thousands of series; a slow answer is a figure, not a failure.
std::optional<std::string> Get(const std::string& url, long timeout_ms = 60000) {
  CURL* c = curl_easy_init();
  std::string body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  long status = 0;
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK || status != 200) return std::nullopt;
  return body;
}

Counts ScrapeRollbackd(const std::string& url) {
  Counts c;
  const std::optional<std::string> body = Get(url + "/metrics");
  if (!body) return c;
  c.probes = SumSeries(*body, "rollbackd_probe_duration_seconds_count");
  c.failures = SumSeries(*body, "rollbackd_probe_failures_total");
  c.ok = true;
  return c;
}

SideResult RunRollbackd(const Options& o, ProbeServer& server) {
  SideResult result;
  it::TempDir dir;
  const int port = it::FreePort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  WriteRollbackdConfig(o, dir.path(), port, server.port());
  it::Process daemon({ROLLBACKD_BINARY, "run", "--config", dir.path() + "/rollbackd.toml",
                      "--log-level", "warning"},
                     dir.path() + "/rollbackd.log");
  // Ready = the first evaluation round is done: every endpoint probed once.
  const bool ready = Await(
      [&] { return !daemon.running() || it::Http("GET", url + "/readyz").status == 200; }, 120s);
  if (!ready || !daemon.running()) {
    result.error = "rollbackd did not get ready: " + daemon.log();
    return result;
  }
  // Rounds are bursts: find where the next one starts (the server sees requests again), so that
  // windows begin half an interval after a burst and hold a whole number of them.
  const uint64_t after_first = server.requests();
  const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(o.interval_s));
  if (!Await([&] { return server.requests() > after_first; }, Ms(2 * interval + 10s), 5ms)) {
    result.error = "rollbackd probed once, then stopped probing";
    return result;
  }
  const auto burst = SteadyClock::now();
  SleepUntil(burst + o.warmup_intervals * interval + interval / 2);

  const auto window =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.window_s));
  Counts before = ScrapeRollbackd(url);
  const Counts first = before;
  for (int w = 0; w < o.windows && before.ok; ++w) {
    // CPU is read inside the scrapes' span: serialising /metrics is our cost, not probing's.
    Window win;
    const auto start = SteadyClock::now();
    const double cpu0 = CpuSeconds(daemon.pid());
    const uint64_t req0 = server.requests(), conn0 = server.connections_accepted();
    SleepUntil(start + window);
    const double cpu1 = CpuSeconds(daemon.pid());
    const auto end = SteadyClock::now();
    win.server_requests = static_cast<double>(server.requests() - req0);
    win.server_connections = static_cast<double>(server.connections_accepted() - conn0);
    win.rss_mib = StatusMiB(daemon.pid(), "VmRSS");
    win.hwm_mib = StatusMiB(daemon.pid(), "VmHWM");
    const Counts after = ScrapeRollbackd(url);
    if (!after.ok || cpu0 < 0 || cpu1 < 0) break;
    win.wall_s = Seconds(end - start);
    win.cpu_s = cpu1 - cpu0;
    win.probes = after.probes - before.probes;
    win.failures = after.failures - before.failures;
    result.windows.push_back(win);
    before = after;
  }
  result.failures = before.failures - first.failures;
  if (result.windows.size() != static_cast<size_t>(o.windows)) {
    result.error = "rollbackd stopped answering /metrics: " + daemon.log();
  } else if (before.probes - first.probes <= 0) {
    result.error = "rollbackd counted no probes";
  } else {
    result.ok = true;
  }
  daemon.Stop();
  return result;
}

// ---- blackbox_exporter + Prometheus
// --------------------------------------------------------------

// One instant query; the single value of its result, 0 when empty, nullopt on error.
std::optional<double> PromScalar(const std::string& prom, const std::string& query) {
  char* q = curl_easy_escape(nullptr, query.c_str(), static_cast<int>(query.size()));
  const it::HttpResult r = it::Http("GET", prom + "/api/v1/query?query=" + q);
  curl_free(q);
  if (r.status != 200) return std::nullopt;
  const json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || j.value("status", "") != "success") return std::nullopt;
  const json& res = j["data"]["result"];
  if (!res.is_array() || res.empty()) return 0.0;
  return std::atof(res[0]["value"][1].get<std::string>().c_str());
}

std::string BlackboxConfig(const Options& o) {
  return "modules:\n  http_2xx:\n    prober: http\n    timeout: " + Dur(o.timeout_s) +
         "\n    http:\n      method: GET\n      valid_status_codes: [200]\n"
         "      preferred_ip_protocol: ip4\n";
}

// Prometheus as blackbox_exporter's README sets it up (multi-target exporter pattern).
std::string PrometheusConfig(const Options& o, int blackbox_port, int server_port) {
  std::string y = "global:\n  scrape_interval: " + Dur(o.interval_s) +
                  "\n  scrape_timeout: " + Dur(o.interval_s) + "\n  evaluation_interval: 1m\n" +
                  "scrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n"
                  "    params:\n      module: [http_2xx]\n    static_configs:\n"
                  "      - targets:\n";
  for (int i = 0; i < o.endpoints; ++i) y += "          - " + EndpointUrl(server_port, i) + "\n";
  y += "    relabel_configs:\n"
       "      - source_labels: [__address__]\n        target_label: __param_target\n"
       "      - source_labels: [__param_target]\n        target_label: instance\n"
       "      - target_label: __address__\n        replacement: 127.0.0.1:" +
       std::to_string(blackbox_port) + "\n";
  return y;
}

SideResult RunBlackbox(const Options& o, ProbeServer& server) {
  SideResult result;
  it::TempDir dir;
  const int bb_port = it::FreePort();
  it::WriteFile(dir.path() + "/blackbox.yml", BlackboxConfig(o));
  it::Process blackbox(
      {kBlackbox, "--config.file=" + dir.path() + "/blackbox.yml",
       "--web.listen-address=127.0.0.1:" + std::to_string(bb_port), "--log.level=warn"},
      dir.path() + "/blackbox.log");
  const std::string bb_url = "http://127.0.0.1:" + std::to_string(bb_port);
  if (!Await(
          [&] { return !blackbox.running() || it::Http("GET", bb_url + "/metrics").status == 200; },
          30s) ||
      !blackbox.running()) {
    result.error = "blackbox_exporter did not start: " + blackbox.log();
    return result;
  }
  const int prom_port = it::FreePort();
  const std::string prom = "http://127.0.0.1:" + std::to_string(prom_port);
  std::filesystem::create_directories(dir.path() + "/prometheus");
  it::WriteFile(dir.path() + "/prometheus/prometheus.yml",
                PrometheusConfig(o, bb_port, server.port()));
  it::Process prometheus(
      {ROLLBACKD_PROMETHEUS, "--config.file=" + dir.path() + "/prometheus/prometheus.yml",
       "--storage.tsdb.path=" + dir.path() + "/prometheus/data",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"},
      dir.path() + "/prometheus.log");
  // Prometheus spreads its targets over the interval: one interval after the first probe, every
  // target has been scraped once. The warm-up starts there.
  const uint64_t at_start = server.requests();
  const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(o.interval_s));
  if (!Await(
          [&] {
            return !prometheus.running() ||
                   server.requests() >= at_start + static_cast<uint64_t>(o.endpoints);
          },
          Ms(3 * interval + 60s), 20ms) ||
      !prometheus.running()) {
    result.error =
        "Prometheus did not drive blackbox_exporter through every target: " + prometheus.log() +
        blackbox.log();
    return result;
  }
  SleepUntil(SteadyClock::now() + o.warmup_intervals * interval);

  const auto window =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.window_s));
  const auto measure_start = std::chrono::system_clock::now();
  for (int w = 0; w < o.windows; ++w) {
    Window win;
    const auto start = SteadyClock::now();
    const double cpu0 = CpuSeconds(blackbox.pid()), pcpu0 = CpuSeconds(prometheus.pid());
    const uint64_t req0 = server.requests(), conn0 = server.connections_accepted();
    SleepUntil(start + window);
    const double cpu1 = CpuSeconds(blackbox.pid()), pcpu1 = CpuSeconds(prometheus.pid());
    const uint64_t req1 = server.requests(), conn1 = server.connections_accepted();
    const auto end = SteadyClock::now();
    if (cpu0 < 0 || cpu1 < 0 || pcpu0 < 0 || pcpu1 < 0) break;
    win.wall_s = Seconds(end - start);
    win.cpu_s = cpu1 - cpu0;
    win.extra_cpu_s = pcpu1 - pcpu0;
    win.probes = win.server_requests = static_cast<double>(req1 - req0);
    win.server_connections = static_cast<double>(conn1 - conn0);
    win.rss_mib = StatusMiB(blackbox.pid(), "VmRSS");
    win.hwm_mib = StatusMiB(blackbox.pid(), "VmHWM");
    result.windows.push_back(win);
  }
  // Failures over the measured span, from what Prometheus recorded: failed scrapes (up == 0, e.g.
  // the exporter too slow) plus failed probes (probe_success == 0).
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now() - measure_start)
                        .count();
  const std::string range = "[" + std::to_string(std::max<long long>(span, 1)) + "s]";
  const auto failed_scrapes =
      PromScalar(prom, "sum(count_over_time(up{job=\"blackbox\"}" + range +
                           ")) - sum(sum_over_time(up{job=\"blackbox\"}" + range + "))");
  const auto failed_probes =
      PromScalar(prom, "sum(count_over_time(probe_success{job=\"blackbox\"}" + range +
                           ")) - sum(sum_over_time(probe_success{job=\"blackbox\"}" + range + "))");
  result.failures = failed_scrapes.value_or(NAN) + failed_probes.value_or(NAN);
  double probes = 0;
  for (const Window& w : result.windows) probes += w.probes;
  if (result.windows.size() != static_cast<size_t>(o.windows)) {
    result.error = "blackbox_exporter or Prometheus exited during the measurement";
  } else if (probes <= 0) {
    result.error = "blackbox_exporter probed nothing";
  } else {
    result.ok = true;
  }
  prometheus.Stop();
  blackbox.Stop();
  return result;
}

void PrintRow(const char* name, const json& j) {
  std::printf("%-22s %8.2f %12.3f %9.1f %10.1f %9.0f %9.1f\n", name, j.value("cpu_pct_core", 0.0),
              j.value("cpu_pct_per_1000_probes_s", 0.0), j.value("rss_mib", 0.0),
              j.value("probes_per_s", 0.0), j.value("failures", 0.0),
              j.value("server_new_connections_per_s", 0.0));
}

int Main(int argc, char** argv) {
  const Options o = ParseFlags(argc, argv);
  InstallSignalHandlers();
  // Idle connections closed after 3 intervals (15 s at least): a prober that keeps its connections
  // alive reuses them every interval and never sees this.
  ProbeServer server(
      std::chrono::milliseconds(std::llround(std::max(15.0, 3 * o.interval_s) * 1000)));
  std::cerr << "probe_bench: " << o.endpoints << " endpoints on 127.0.0.1:" << server.port()
            << ", interval " << o.interval_s << " s, " << o.windows << " windows of " << o.window_s
            << " s after " << o.warmup_intervals << " intervals of warm-up\n";

  json out = {{"endpoints", o.endpoints},
              {"interval_s", o.interval_s},
              {"window_s", o.window_s},
              {"windows", o.windows},
              {"warmup_intervals", o.warmup_intervals},
              {"timeout_s", o.timeout_s},
              {"layout", Layout(o)},
              {"blackbox_layout",
               "one Prometheus scrape job, " + std::to_string(o.endpoints) +
                   " static targets, scrape_interval " + Dur(o.interval_s) +
                   ", /probe?module=http_2xx (prober http, GET, valid_status_codes [200], "
                   "timeout " +
                   Dur(o.timeout_s) + "), README relabeling"},
              {"versions",
               {{"rollbackd", FirstLine(std::string(ROLLBACKD_BINARY) + " version")},
                {"libcurl", curl_version()},
                {"blackbox_exporter", FirstLine(std::string(kBlackbox) + " --version")},
                {"prometheus", FirstLine(std::string(ROLLBACKD_PROMETHEUS) + " --version")}}}};
  bool ok = true;
  std::optional<SideResult> rb, bb;
  if (o.side != "blackbox") {
    std::cerr << "probe_bench: rollbackd side\n";
    rb = RunRollbackd(o, server);
    out["rollbackd"] = Summarize(*rb, false);
    ok = ok && rb->ok;
  }
  if (o.side != "rollbackd") {
    std::cerr << "probe_bench: blackbox_exporter side\n";
    bb = RunBlackbox(o, server);
    out["blackbox"] = Summarize(*bb, true);
    ok = ok && bb->ok;
  }
  if (rb && bb && rb->ok && bb->ok) {
    const double r = out["rollbackd"]["cpu_pct_per_1000_probes_s"].get<double>();
    const double b = out["blackbox"]["cpu_pct_per_1000_probes_s"].get<double>();
    const double bp = out["blackbox"]["with_prometheus_cpu_pct_per_1000_probes_s"].get<double>();
    out["ratio_cpu_per_probe"] = b > 0 ? r / b : 0.0;
    out["ratio_cpu_per_probe_with_prometheus"] = bp > 0 ? r / bp : 0.0;
  }
  out["server_not_found"] = server.not_found();
  out["server_accept_errors"] = server.accept_errors();
  out["server_idle_connections_closed"] = server.connections_idle_closed();

  std::printf("probes: %d endpoints every %.3g s (%.0f probes/s), %d x %.3g s windows\n",
              o.endpoints, o.interval_s, o.endpoints / o.interval_s, o.windows, o.window_s);
  std::printf("%-22s %8s %12s %9s %10s %9s %9s\n", "", "cpu%core", "cpu%/1k pr/s", "rss MiB",
              "probes/s", "failures", "new conn/s");
  if (out.contains("rollbackd")) PrintRow("rollbackd", out["rollbackd"]);
  if (out.contains("blackbox")) {
    PrintRow("blackbox_exporter", out["blackbox"]);
    std::printf("%-22s %8.2f %12.3f\n", "  + prometheus",
                out["blackbox"]["prometheus_cpu_pct_core"].get<double>(),
                out["blackbox"]["with_prometheus_cpu_pct_per_1000_probes_s"].get<double>());
  }
  if (out.contains("ratio_cpu_per_probe")) {
    std::printf("ratio rollbackd/blackbox CPU per probe: %.3f (with Prometheus: %.3f)\n",
                out["ratio_cpu_per_probe"].get<double>(),
                out["ratio_cpu_per_probe_with_prometheus"].get<double>());
  }
  for (const auto* r : {rb ? &*rb : nullptr, bb ? &*bb : nullptr}) {
    if (r && !r->ok) std::cerr << "probe_bench: " << r->error << "\n";
  }
  if (!o.out.empty()) it::WriteFile(o.out, out.dump(2) + "\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace rollbackd::bench

int main(int argc, char** argv) {
  try {
    return rollbackd::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "probe_bench: " << e.what() << "\n";
    return 1;
  }
}
