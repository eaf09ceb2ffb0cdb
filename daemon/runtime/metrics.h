// The daemon's own metrics, served at GET /metrics in the Prometheus text format (prometheus-cpp).
// Label values are bounded: services, triggers, sources and channels come from the configuration;
// error reasons are a fixed set of categories, never free text.
#ifndef ROLLBACKD_RUNTIME_METRICS_H_
#define ROLLBACKD_RUNTIME_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/runtime/round_runner.h"

namespace rollbackd {

class Metrics : public ReadObserver {
 public:
  explicit Metrics(std::string_view version);

  // ReadObserver: every query and probe of a round.
  void QueryRead(const std::string& source, double seconds, const QueryResult& r) override {
    Query(source, seconds, r);
  }
  void ProbeRead(const std::string& service, const std::string& check, double seconds,
                 const ProbeOutcome& o) override {
    Probe(service, check, seconds, o.passed);
  }

  void RoundDone(double seconds);
  // rollbackd_clock_held: 1 while rounds are held because the wall clock went back.
  void ClockHeld(bool held);
  // Also sets rollbackd_source_clock_skew_seconds{source} when the answer measured it.
  void Query(std::string_view source, double seconds, const QueryResult& result);
  void Probe(std::string_view service, std::string_view check, double seconds, bool passed);
  void EventEmitted(const Event& event);
  void Notification(std::string_view channel, std::string_view result);
  // Notifications waiting in the outbox, per channel, and the outbox's live bytes.
  void Outbox(const std::map<std::string, size_t>& pending, uint64_t bytes);
  // The status page's history rings (history.h): series held and their bytes.
  void History(size_t series, size_t bytes);
  void Reload(bool success, double unix_seconds);
  void SetServices(size_t configured);  // rollbackd_services: 0 means it watches nothing
  // The API server's connections and what it did to protect itself (set at each scrape from the
  // server's running totals), and requests refused for want of a valid token.
  struct ApiCounters {
    size_t connections = 0;
    uint64_t evicted_idle = 0;
    uint64_t evicted_slow = 0;
    uint64_t refused = 0;
    uint64_t misdirected = 0;
    uint64_t unauthorized = 0;
  };
  void Api(const ApiCounters& api);
  // Sets the per-series gauges to the engine's current view (after each round).
  void UpdateStatus(const std::vector<ServiceStatus>& status);
  void HooksRunning(size_t n);
  // rollbackd_state_write_errors_total{file}: "state" (state.json), "outbox", "journal".
  void StateWriteFailed(std::string_view file);
  // [daemon].brake: rollbackd_fleet_brake_engaged per group (registered at the first call).
  void Brake(const std::vector<BrakeStatus>& groups);
  // Cluster mode.
  void Cluster(size_t members, size_t owned, bool live);
  void LeaseRenewal(bool ok);
  void EtcdRequest(std::string_view op, double seconds, bool failed);

  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& evaluations_;
  prometheus::Family<prometheus::Histogram>& round_seconds_;
  prometheus::Family<prometheus::Histogram>& query_seconds_;
  prometheus::Family<prometheus::Counter>& query_errors_;
  prometheus::Family<prometheus::Histogram>& probe_seconds_;
  prometheus::Family<prometheus::Counter>& probe_failures_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& rollbacks_;
  prometheus::Family<prometheus::Counter>& notifications_;
  prometheus::Family<prometheus::Gauge>& outbox_pending_;
  prometheus::Family<prometheus::Gauge>& outbox_bytes_;
  prometheus::Family<prometheus::Gauge>& history_series_;
  prometheus::Family<prometheus::Gauge>& history_bytes_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Gauge>& reload_ok_;
  prometheus::Family<prometheus::Gauge>& reload_time_;
  prometheus::Family<prometheus::Gauge>& trigger_series_;
  prometheus::Family<prometheus::Gauge>& paused_;
  prometheus::Family<prometheus::Gauge>& hooks_running_;
  prometheus::Family<prometheus::Counter>& state_write_errors_;
  prometheus::Family<prometheus::Gauge>& clock_skew_;
  prometheus::Family<prometheus::Gauge>& clock_held_;
  std::map<std::string, prometheus::Gauge*, std::less<>> skew_gauges_;  // by source
  prometheus::Family<prometheus::Gauge>* services_ = nullptr;
  prometheus::Family<prometheus::Gauge>& api_connections_;
  prometheus::Family<prometheus::Counter>& api_evictions_;
  prometheus::Family<prometheus::Counter>& api_refused_;
  prometheus::Family<prometheus::Counter>& api_misdirected_;
  prometheus::Family<prometheus::Counter>& api_unauthorized_;
  ApiCounters api_seen_;  // the totals already counted
  prometheus::Family<prometheus::Gauge>* brake_engaged_ = nullptr;
  std::map<std::string, prometheus::Gauge*> brake_gauges_;
  prometheus::Family<prometheus::Gauge>* cluster_members_ = nullptr;
  prometheus::Family<prometheus::Gauge>* owned_services_ = nullptr;
  prometheus::Family<prometheus::Gauge>* lease_live_ = nullptr;
  prometheus::Family<prometheus::Counter>* lease_renewals_ = nullptr;
  prometheus::Family<prometheus::Histogram>* etcd_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* etcd_errors_ = nullptr;
  void RegisterCluster();
  // Kept from round to round, set in place: see UpdateStatus.
  std::map<std::tuple<std::string, std::string, std::string>, prometheus::Gauge*> series_gauges_;
  std::map<std::string, prometheus::Gauge*> paused_gauges_;
  std::map<std::string, prometheus::Gauge*> outbox_gauges_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_METRICS_H_
