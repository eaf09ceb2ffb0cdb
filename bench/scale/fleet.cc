#include "bench/scale/fleet.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollbackd::bench {
namespace {

using namespace std::chrono_literals;
using it::Http;
using it::Process;

int WaitPortFile(const std::string& path, Process& p) {
  int port = 0;
  it::WaitFor(
      [&] {
        port = std::atoi(it::ReadFile(path).c_str());
        return port > 0 || !p.running();
      },
      15s, 20ms);
  if (port <= 0) throw std::runtime_error("no port in " + path + ": " + p.log());
  return port;
}

// The seven queries of one service. `selector` is the label matcher inside every selector:
// `service="svc-0001"` per service, empty for the fan-out (where `by (service)` keeps the series
// apart and each rule file's `match` picks its own).
struct Queries {
  std::string error_rate, p99, p99_baseline, traffic, orders, orders_baseline, version;
};

Queries MakeQueries(const std::string& selector) {
  const std::string by = selector.empty() ? " by (service)" : "";
  const std::string sel = selector.empty() ? "" : "{" + selector + "}";
  const std::string sel_comma = selector.empty() ? "" : selector + ",";
  auto p99 = [&](const std::string& window) {
    return "histogram_quantile(0.99, sum by (" + std::string(selector.empty() ? "service, " : "") +
           "le) (rate(sample_http_request_duration_seconds_bucket" + sel + "[" + window + "])))";
  };
  Queries q;
  q.error_rate = "sum" + by + " (rate(sample_http_requests_total{" + sel_comma +
                 "code=~\"5..\"}[1m])) / sum" + by + " (rate(sample_http_requests_total" + sel +
                 "[1m]))";
  q.p99 = p99("1m");
  q.p99_baseline = p99("10m");
  q.traffic = "sum" + by + " (rate(sample_http_requests_total" + sel + "[1m]))";
  q.orders = "sum" + by + " (rate(sample_orders_total" + sel + "[2m]))";
  q.orders_baseline = "sum" + by + " (rate(sample_orders_total" + sel + "[10m]))";
  q.version = "max by (" + std::string(selector.empty() ? "service, " : "") +
              "version) (sample_build_info" + sel + ")";
  return q;
}

// TOML literal strings: the queries hold double quotes, never single ones.
std::string Lit(const std::string& s) { return "'" + s + "'"; }

}  // namespace

std::string DurationText(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + "ms";
}

std::string ServiceName(int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "svc-%04d", i);
  return name;
}

Fleet::Fleet(int services, double rate, std::chrono::milliseconds scrape_interval) {
  const std::string d = dir_.path();
  sample_ = std::make_unique<Process>(
      std::vector<std::string>{it::BinaryPath("rollbackd-sample"), "serve", "--listen",
                               "127.0.0.1:0", "--version", "v1", "--services",
                               std::to_string(services), "--rate", std::to_string(rate),
                               "--port-file", d + "/sample.port"},
      d + "/sample.log");
  sample_port_ = WaitPortFile(d + "/sample.port", *sample_);

  prometheus_port_ = it::FreePort();
  it::WriteFile(d + "/prometheus.yml",
                "global:\n  scrape_interval: " + DurationText(scrape_interval) +
                    "\nscrape_configs:\n  - job_name: sample\n"
                    "    static_configs:\n      - targets: ['" +
                    sample_address() + "']\n");
  prometheus_ = std::make_unique<Process>(
      std::vector<std::string>{ROLLBACKD_PROMETHEUS, "--config.file=" + d + "/prometheus.yml",
                               "--storage.tsdb.path=" + d + "/data",
                               "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port_),
                               "--log.level=warn"},
      d + "/prometheus.log");
  // rate() needs two samples of a series: every service's request counters, scraped twice.
  const std::string query =
      prometheus_url() + "/api/v1/query?query=count(rate(sample_http_requests_total%5B1m%5D))";
  const std::string want = "\"" + std::to_string(2 * services) + "\"]";
  const auto limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(3 * scrape_interval + 60s);
  const bool scraped = it::WaitFor(
      [&] {
        if (!prometheus_->running()) return true;
        return Http("GET", query).body.find(want) != std::string::npos;
      },
      limit, 200ms);
  if (!scraped || !prometheus_->running()) {
    throw std::runtime_error("Prometheus has no rate() of the fleet's series after " +
                             std::to_string(limit.count()) + " ms: " + prometheus_->log());
  }
}

std::string Fleet::sample_address() const { return "127.0.0.1:" + std::to_string(sample_port_); }
std::string Fleet::prometheus_url() const {
  return "http://127.0.0.1:" + std::to_string(prometheus_port_);
}

std::string RuleFile(const std::string& layout, const std::string& service,
                     const std::string& sample_address, std::chrono::milliseconds interval) {
  const bool fanout = layout == "fanout" || layout == "fanout-cluster";
  const Queries q = MakeQueries(fanout ? "" : "service=\"" + service + "\"");
  const std::string match = fanout ? "match = { service = \"" + service + "\" }\n" : "";
  std::ostringstream r;
  r << "service = \"" << service << "\"\n"
    << "labels = { team = \"bench\", env = \"scale\" }\n"
    << "interval = \"" << DurationText(interval) << "\"\n\n"
    << "[[trigger]]\nname = \"error_rate\"\nquery = " << Lit(q.error_rate) << "\n"
    << match << "above = 0.05\nfor = \"1m\"\nseverity = \"critical\"\n\n"
    << "[[trigger]]\nname = \"p99_latency\"\nquery = " << Lit(q.p99) << "\n"
    << "baseline_query = " << Lit(q.p99_baseline) << "\n"
    << "min_traffic_query = " << Lit(q.traffic) << "\n"
    << match
    << "above_ratio = 1.5\nmin_value = 0.05\nmin_traffic = 0.5\nfor = \"2m\"\n"
       "severity = \"critical\"\n\n"
    << "[[trigger]]\nname = \"orders\"\nquery = " << Lit(q.orders) << "\n"
    << "baseline_query = " << Lit(q.orders_baseline) << "\n"
    << match << "below_ratio = 0.5\nfor = \"5m\"\nseverity = \"warning\"\nrollback = false\n\n"
    << "[deploy]\nversion_query = " << Lit(q.version) << "\n"
    << match << "guard = \"30m\"\n\n"
    << "[rollback]\nexec = [\"" << it::BinaryPath("rollbackd-sample") << "\", \"deploy\", "
    << "\"--url\", \"http://" << sample_address << "\", \"--version\", \"v1\", \"--service\", \""
    << service << "\"]\ntimeout = \"30s\"\ncooldown = \"30m\"\nverify = \"5m\"\n";
  return r.str();
}

std::string DaemonConfig(int port, const std::string& prometheus_url,
                         std::chrono::milliseconds interval, const it::EtcdCluster* etcd) {
  std::string cluster;
  if (etcd != nullptr) {
    cluster =
        "\n[cluster]\nname = \"bench\"\nprefix = \"/scale-" + std::to_string(port) + "\"\netcd = [";
    for (const std::string& e : etcd->endpoints()) cluster += "\"" + e + "\", ";
    cluster += "]\n";
  }
  return cluster + "[daemon]\nlisten = \"127.0.0.1:" + std::to_string(port) +
         "\"\nstate_dir = \"state\"\nrules = [\"rules/*.toml\"]\ninterval = \"" +
         DurationText(interval) + "\"\n\n[prometheus.default]\nurl = \"" + prometheus_url +
         "\"\ntimeout = \"10s\"\n\n[channel.log]\ntype = \"log\"\n\n[[route]]\n"
         "channels = [\"log\"]\n";
}

}  // namespace rollbackd::bench
