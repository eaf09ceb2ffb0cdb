// failover_bench: how long a cluster member's services stay unevaluated when it dies. Two
// rollbackd members on a real 3-member etcd (Debian's etcd), --services services between them,
// each member evaluating every --interval. Per repetition: member "a" is killed with SIGKILL, and
// the driver measures the time until member "b" has evaluated every service "a" owned (b's status
// says it evaluates them all, then b completes a round), against lease_ttl. "a" is started again
// between repetitions. Prometheus is a closed port: queries fail at once, which costs the rounds
// nothing and decides nothing (an error is never a breach).
//
//   failover_bench [--services 100] [--reps 10] [--lease-ttl 3] [--interval 1s] [--out FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/etcd_cluster.h"
#include "testing/harness.h"

namespace rollbackd::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using it::Http;
using it::Process;
using json = nlohmann::ordered_json;

struct Options {
  int services = 100;
  int reps = 10;
  int lease_ttl = 3;
  int interval_ms = 1000;
  std::string out;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Evaluations(const std::string& url) {
  const std::string text = Http("GET", url + "/metrics").body;
  return it::MetricValue(text, "rollbackd_evaluations_total").value_or(-1);
}

// Services `url`'s member says it evaluates now.
std::vector<std::string> Evaluated(const std::string& url) {
  std::vector<std::string> out;
  json st = json::parse(Http("GET", url + "/api/v1/status").body, nullptr, false);
  if (!st.is_object()) return out;
  for (const json& s : st["services"]) {
    if (s.value("evaluated_here", false)) out.push_back(s.value("name", ""));
  }
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--services")
      o.services = std::atoi(value.c_str());
    else if (flag == "--reps")
      o.reps = std::atoi(value.c_str());
    else if (flag == "--lease-ttl")
      o.lease_ttl = std::atoi(value.c_str());
    else if (flag == "--interval")
      o.interval_ms = std::atoi(value.c_str()) * (value.ends_with("ms") ? 1 : 1000);
    else if (flag == "--out")
      o.out = value;
    else {
      std::cerr << "usage: failover_bench [--services N] [--reps N] [--lease-ttl S] "
                   "[--interval 1s] [--out FILE]\n";
      return 2;
    }
  }
  it::TempDir dir;
  const std::string d = dir.path();
  it::EtcdCluster etcd(d + "/etcd");
  if (!etcd.WaitHealthy(60s)) {
    std::cerr << "failover_bench: etcd did not get healthy\n";
    return 1;
  }
  std::filesystem::create_directories(d + "/rules");
  for (int i = 0; i < o.services; ++i) {
    it::WriteFile(d + "/rules/s" + std::to_string(i) + ".toml",
                  "service = \"s" + std::to_string(i) +
                      "\"\n[[trigger]]\nname = \"t\"\nquery = 'up" + std::to_string(i) +
                      "'\nabove = 1\nfor = \"1m\"\n");
  }
  std::string etcd_list;
  for (const std::string& e : etcd.endpoints()) etcd_list += "\"" + e + "\", ";
  std::map<std::string, std::string> urls;
  std::map<std::string, std::unique_ptr<Process>> members;
  auto start = [&](const std::string& name) {
    const int port = it::FreePort();
    urls[name] = "http://127.0.0.1:" + std::to_string(port);
    it::WriteFile(
        d + "/" + name + ".toml",
        "[daemon]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\nstate_dir = \"state-" +
            name + "\"\nrules = [\"rules/*.toml\"]\ninterval = \"" + std::to_string(o.interval_ms) +
            "ms\"\n[prometheus.default]\n"
            "url = \"http://127.0.0.1:9\"\n[channel.log]\ntype = \"log\"\n[[route]]\n"
            "channels = [\"log\"]\n[cluster]\nname = \"" +
            name + "\"\netcd = [" + etcd_list + "]\nlease_ttl = \"" + std::to_string(o.lease_ttl) +
            "s\"\n");
    members[name] = std::make_unique<Process>(
        std::vector<std::string>{ROLLBACKD_BINARY, "run", "--config", d + "/" + name + ".toml"},
        d + "/" + name + ".log");
  };
  start("a");
  start("b");
  std::vector<double> seconds;
  for (int rep = 0; rep < o.reps; ++rep) {
    // Both live, every service evaluated by exactly one of them.
    if (!it::WaitFor(
            [&] {
              return static_cast<int>(Evaluated(urls["a"]).size() + Evaluated(urls["b"]).size()) ==
                         o.services &&
                     !Evaluated(urls["a"]).empty() && !Evaluated(urls["b"]).empty();
            },
            60s)) {
      std::cerr << "failover_bench: the members did not share the services\n"
                << members["a"]->log() << members["b"]->log();
      return 1;
    }
    const size_t moved = Evaluated(urls["a"]).size();
    const auto killed = Clock::now();
    members["a"]->Kill9();
    double evaluations = -1;
    if (!it::WaitFor([&] { return static_cast<int>(Evaluated(urls["b"]).size()) == o.services; },
                     60s, 20ms)) {
      std::cerr << "failover_bench: b did not take the services over\n" << members["b"]->log();
      return 1;
    }
    evaluations = Evaluations(urls["b"]);
    if (!it::WaitFor([&] { return Evaluations(urls["b"]) > evaluations; }, 30s, 20ms)) {
      std::cerr << "failover_bench: b completed no round\n";
      return 1;
    }
    const double s = Seconds(Clock::now() - killed);
    seconds.push_back(s);
    std::fprintf(stderr,
                 "failover_bench: rep %d: %zu services moved, first evaluation by b "
                 "%.2f s after the kill\n",
                 rep + 1, moved, s);
    start("a");
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2
                            ? sorted[sorted.size() / 2]
                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  json doc = {{"services", o.services},     {"reps", o.reps},
              {"lease_ttl_s", o.lease_ttl}, {"interval_ms", o.interval_ms},
              {"failover_s", seconds},      {"median_s", median},
              {"max_s", sorted.back()},     {"median_over_lease_ttl", median / o.lease_ttl}};
  std::printf(
      "failover (kill -9 -> first evaluation of the moved services by another member), "
      "%d reps, lease_ttl %ds: median %.2f s (%.2f x lease_ttl), max %.2f s\n",
      o.reps, o.lease_ttl, median, median / o.lease_ttl, sorted.back());
  if (!o.out.empty()) std::ofstream(o.out) << doc.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace rollbackd::bench

int main(int argc, char** argv) { return rollbackd::bench::Main(argc, argv); }
