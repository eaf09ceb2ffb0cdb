// scale_bench's fleet and the rollbackd configuration that watches it (see scale_bench.cc): one
// rollbackd-sample process simulating N healthy services, the Debian Prometheus scraping it, and
// the rule file of each service and the daemon's configuration in either layout. The measurement
// and the report are in scale_bench.cc.
#ifndef ROLLBACKD_BENCH_SCALE_FLEET_H_
#define ROLLBACKD_BENCH_SCALE_FLEET_H_

#include <chrono>
#include <memory>
#include <string>

#include "testing/etcd_cluster.h"
#include "testing/harness.h"

namespace rollbackd::bench {

// "15s" for whole seconds, else "500ms": as TOML durations and Prometheus' configuration take it.
std::string DurationText(std::chrono::milliseconds d);

// "svc-0001": the `service` label of the i-th simulated service.
std::string ServiceName(int i);

// `services` services behind one rollbackd-sample (`rate` requests per second each) and a
// Prometheus scraping it every `scrape_interval`, each in a temp dir, stopped when the Fleet goes.
// The constructor returns once Prometheus has a rate() of every service's request counter; it
// throws std::runtime_error (with the log) when a process does not start or that takes longer than
// three scrape intervals and a minute.
class Fleet {
 public:
  Fleet(int services, double rate, std::chrono::milliseconds scrape_interval);

  std::string sample_address() const;  // 127.0.0.1:PORT
  std::string prometheus_url() const;  // http://127.0.0.1:PORT
  it::Process& prometheus() { return *prometheus_; }

 private:
  it::TempDir dir_;
  int sample_port_ = 0;
  int prometheus_port_ = 0;
  std::unique_ptr<it::Process> sample_;
  std::unique_ptr<it::Process> prometheus_;
};

// The rule file of `service` in `layout` ("per-service": every query selects the service;
// "fanout" and "fanout-cluster": one `by (service)` query per kind, picked by `match`): three
// triggers, a deploy version query and a rollback hook to the sample at `sample_address` that
// never runs in a healthy fleet; evaluated every `interval`.
std::string RuleFile(const std::string& layout, const std::string& service,
                     const std::string& sample_address, std::chrono::milliseconds interval);

// rollbackd.toml: listening on `port`, rules/*.toml, one Prometheus, events to the log channel;
// with `etcd`, a [cluster] on it (its prefix named after the port).
std::string DaemonConfig(int port, const std::string& prometheus_url,
                         std::chrono::milliseconds interval, const it::EtcdCluster* etcd);

}  // namespace rollbackd::bench

#endif  // ROLLBACKD_BENCH_SCALE_FLEET_H_
