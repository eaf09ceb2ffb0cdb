#include "daemon/runtime/metrics.h"

#include <prometheus/text_serializer.h>

#include <cmath>
#include <map>
#include <tuple>

namespace rollbackd {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10,  30};
  return b;
}

// Makes `family`'s gauges those of `values`' keys, set to their values. The gauges stay from call
// to call, in `gauges`, and are set in place; only those of keys that went away are removed.
// Removing and adding them all each round was a quarter of the daemon's CPU at 1,000 services
// (bench/scale): prometheus-cpp's Family::Remove searches the family linearly.
template <typename Key, typename Value, typename LabelsOf>
void SetGauges(prometheus::Family<prometheus::Gauge>& family,
               std::map<Key, prometheus::Gauge*>* gauges, const std::map<Key, Value>& values,
               LabelsOf labels_of) {
  for (auto it = gauges->begin(); it != gauges->end();) {
    if (values.count(it->first) == 0) {
      family.Remove(it->second);
      it = gauges->erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, value] : values) {
    prometheus::Gauge*& g = (*gauges)[key];
    if (g == nullptr) g = &family.Add(labels_of(key));
    g->Set(static_cast<double>(value));
  }
}

}  // namespace

Metrics::Metrics(std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      evaluations_(BuildCounter()
                       .Name("rollbackd_evaluations_total")
                       .Help("Evaluation rounds completed.")
                       .Register(*registry_)),
      round_seconds_(BuildHistogram()
                         .Name("rollbackd_evaluation_duration_seconds")
                         .Help("Duration of an evaluation round, reads included.")
                         .Register(*registry_)),
      query_seconds_(BuildHistogram()
                         .Name("rollbackd_query_duration_seconds")
                         .Help("Prometheus instant query duration, by source.")
                         .Register(*registry_)),
      query_errors_(
          BuildCounter()
              .Name("rollbackd_query_errors_total")
              .Help("Prometheus queries that gave no usable answer, by source and reason.")
              .Register(*registry_)),
      probe_seconds_(BuildHistogram()
                         .Name("rollbackd_probe_duration_seconds")
                         .Help("Health probe duration, by service and check.")
                         .Register(*registry_)),
      probe_failures_(BuildCounter()
                          .Name("rollbackd_probe_failures_total")
                          .Help("Health probes that failed, by service and check.")
                          .Register(*registry_)),
      events_(BuildCounter()
                  .Name("rollbackd_events_total")
                  .Help("Events emitted, by kind and service.")
                  .Register(*registry_)),
      rollbacks_(BuildCounter()
                     .Name("rollbackd_rollbacks_total")
                     .Help("Rollback decisions and outcomes, by service and result "
                           "(started, succeeded, failed, verified, not_recovered, skipped).")
                     .Register(*registry_)),
      notifications_(BuildCounter()
                         .Name("rollbackd_notifications_total")
                         .Help("Notifications that ended, by channel and result (delivered, "
                               "rejected, expired, dropped), and failed attempts (retrying).")
                         .Register(*registry_)),
      outbox_pending_(BuildGauge()
                          .Name("rollbackd_outbox_notifications")
                          .Help("Notifications waiting in the outbox for delivery, by channel.")
                          .Register(*registry_)),
      outbox_bytes_(BuildGauge()
                        .Name("rollbackd_outbox_bytes")
                        .Help("Bytes of the notifications waiting in the outbox.")
                        .Register(*registry_)),
      history_series_(BuildGauge()
                          .Name("rollbackd_history_series")
                          .Help("Series whose last hour the status page's history keeps.")
                          .Register(*registry_)),
      history_bytes_(BuildGauge()
                         .Name("rollbackd_history_bytes")
                         .Help("Memory the status page's history holds (an estimate).")
                         .Register(*registry_)),
      reloads_(BuildCounter()
                   .Name("rollbackd_config_reloads_total")
                   .Help("Configuration loads, by result (success, failure).")
                   .Register(*registry_)),
      reload_ok_(BuildGauge()
                     .Name("rollbackd_config_last_reload_successful")
                     .Help("1 when the last configuration load succeeded.")
                     .Register(*registry_)),
      reload_time_(BuildGauge()
                       .Name("rollbackd_config_last_reload_success_timestamp_seconds")
                       .Help("When the configuration in use was loaded.")
                       .Register(*registry_)),
      trigger_series_(BuildGauge()
                          .Name("rollbackd_trigger_series")
                          .Help("Series per trigger and state (inactive, pending, firing).")
                          .Register(*registry_)),
      paused_(BuildGauge()
                  .Name("rollbackd_service_paused")
                  .Help("1 while a service's automatic rollbacks are paused.")
                  .Register(*registry_)),
      hooks_running_(BuildGauge()
                         .Name("rollbackd_hooks_running")
                         .Help("Rollback hooks running now.")
                         .Register(*registry_)),
      state_write_errors_(BuildCounter()
                              .Name("rollbackd_state_write_errors_total")
                              .Help("Writes to state_dir that failed (a full disk), by file: "
                                    "state, outbox, journal.")
                              .Register(*registry_)),
      clock_skew_(BuildGauge()
                      .Name("rollbackd_source_clock_skew_seconds")
                      .Help("The source's clock minus this host's, from the last answer's Date "
                            "header (the least difference it allows; 0 when they agree).")
                      .Register(*registry_)),
      clock_held_(BuildGauge()
                      .Name("rollbackd_clock_held")
                      .Help("1 while rounds are held because this host's clock went back.")
                      .Register(*registry_)),
      api_connections_(BuildGauge()
                           .Name("rollbackd_api_connections")
                           .Help("Open connections to the API.")
                           .Register(*registry_)),
      api_evictions_(BuildCounter()
                         .Name("rollbackd_api_evictions_total")
                         .Help("API connections closed at the connection cap to make room for a "
                               "new one, by reason (idle, slow).")
                         .Register(*registry_)),
      api_refused_(BuildCounter()
                       .Name("rollbackd_api_refused_total")
                       .Help("API connections refused (503 or closed) because every connection "
                             "was busy.")
                       .Register(*registry_)),
      api_misdirected_(BuildCounter()
                           .Name("rollbackd_api_misdirected_total")
                           .Help("API requests refused for a Host header that does not name "
                                 "this daemon.")
                           .Register(*registry_)),
      api_unauthorized_(BuildCounter()
                            .Name("rollbackd_api_unauthorized_total")
                            .Help("API requests refused for want of a valid bearer token.")
                            .Register(*registry_)) {
  api_connections_.Add({}).Set(0);
  for (const char* reason : {"idle", "slow"}) api_evictions_.Add({{"reason", reason}});
  api_refused_.Add({});
  api_misdirected_.Add({});
  api_unauthorized_.Add({});
  BuildGauge()
      .Name("rollbackd_build_info")
      .Help("rollbackd's version.")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  evaluations_.Add({});
  hooks_running_.Add({});
  clock_held_.Add({});
  for (const char* file : {"state", "outbox", "journal"}) state_write_errors_.Add({{"file", file}});
}

void Metrics::StateWriteFailed(std::string_view file) {
  state_write_errors_.Add({{"file", std::string(file)}}).Increment();
}

void Metrics::ClockHeld(bool held) { clock_held_.Add({}).Set(held ? 1 : 0); }

void Metrics::RoundDone(double seconds) {
  evaluations_.Add({}).Increment();
  round_seconds_.Add({}, LatencyBuckets()).Observe(seconds);
}

void Metrics::Query(std::string_view source, double seconds, const QueryResult& result) {
  const std::string s(source);
  query_seconds_.Add({{"source", s}}, LatencyBuckets()).Observe(seconds);
  if (!std::isnan(result.clock_skew)) {
    auto it = skew_gauges_.find(source);
    if (it == skew_gauges_.end()) {
      it = skew_gauges_.emplace(s, &clock_skew_.Add({{"source", s}})).first;
    }
    it->second->Set(result.clock_skew);
  }
  if (result.is_error()) {
    query_errors_
        .Add({{"source", s}, {"reason", std::string(InputErrorCategory(result.error_kind))}})
        .Increment();
  }
}

void Metrics::Probe(std::string_view service, std::string_view check, double seconds, bool passed) {
  const prometheus::Labels labels = {{"service", std::string(service)},
                                     {"check", std::string(check)}};
  probe_seconds_.Add(labels, LatencyBuckets()).Observe(seconds);
  auto& failures = probe_failures_.Add(labels);
  if (!passed) failures.Increment();
}

void Metrics::EventEmitted(const Event& event) {
  const std::string kind(EventKindName(event.kind));
  events_.Add({{"kind", kind}, {"service", event.service}}).Increment();
  std::string result;
  switch (event.kind) {
    case EventKind::kRollbackStarted:
      result = "started";
      break;
    case EventKind::kRollbackSucceeded:
      result = "succeeded";
      break;
    case EventKind::kRollbackFailed:
      result = "failed";
      break;
    case EventKind::kRollbackVerified:
      result = "verified";
      break;
    case EventKind::kRollbackNotRecovered:
      result = "not_recovered";
      break;
    case EventKind::kRollbackSkipped:
      result = "skipped";
      break;
    default:
      return;
  }
  rollbacks_.Add({{"service", event.service}, {"result", result}}).Increment();
}

void Metrics::Notification(std::string_view channel, std::string_view result) {
  notifications_.Add({{"channel", std::string(channel)}, {"result", std::string(result)}})
      .Increment();
}

void Metrics::Outbox(const std::map<std::string, size_t>& pending, uint64_t bytes) {
  SetGauges(outbox_pending_, &outbox_gauges_, pending,
            [](const std::string& channel) -> prometheus::Labels {
              return {{"channel", channel}};
            });
  outbox_bytes_.Add({}).Set(static_cast<double>(bytes));
}

void Metrics::History(size_t series, size_t bytes) {
  history_series_.Add({}).Set(static_cast<double>(series));
  history_bytes_.Add({}).Set(static_cast<double>(bytes));
}

void Metrics::Reload(bool success, double unix_seconds) {
  reloads_.Add({{"result", success ? "success" : "failure"}}).Increment();
  reload_ok_.Add({}).Set(success ? 1 : 0);
  if (success) reload_time_.Add({}).Set(unix_seconds);
}

void Metrics::Api(const ApiCounters& api) {
  // Totals in, increments out: each counter moves by what is new since the last scrape.
  auto advance = [](prometheus::Counter& counter, uint64_t total, uint64_t* seen) {
    if (total > *seen) counter.Increment(static_cast<double>(total - *seen));
    *seen = total;
  };
  api_connections_.Add({}).Set(static_cast<double>(api.connections));
  advance(api_evictions_.Add({{"reason", "idle"}}), api.evicted_idle, &api_seen_.evicted_idle);
  advance(api_evictions_.Add({{"reason", "slow"}}), api.evicted_slow, &api_seen_.evicted_slow);
  advance(api_refused_.Add({}), api.refused, &api_seen_.refused);
  advance(api_misdirected_.Add({}), api.misdirected, &api_seen_.misdirected);
  advance(api_unauthorized_.Add({}), api.unauthorized, &api_seen_.unauthorized);
}

void Metrics::SetServices(size_t configured) {
  if (services_ == nullptr) {
    services_ = &BuildGauge()
                     .Name("rollbackd_services")
                     .Help("Services in the configuration in use (0: rollbackd watches nothing).")
                     .Register(*registry_);
  }
  services_->Add({}).Set(static_cast<double>(configured));
}

void Metrics::UpdateStatus(const std::vector<ServiceStatus>& status) {
  // Counts per (service, trigger, state); gauges of triggers and services that went away go.
  std::map<std::tuple<std::string, std::string, std::string>, int> counts;
  for (const ServiceStatus& s : status) {
    for (const SeriesStatus& x : s.series) {
      for (const char* state : {"inactive", "pending", "firing"}) {
        counts.try_emplace({s.name, x.trigger, state}, 0);
      }
      ++counts[{s.name, x.trigger, x.state}];
    }
  }
  SetGauges(trigger_series_, &series_gauges_, counts, [](const auto& key) -> prometheus::Labels {
    const auto& [service, trigger, state] = key;
    return {{"service", service}, {"trigger", trigger}, {"state", state}};
  });
  std::map<std::string, bool> paused;
  for (const ServiceStatus& s : status) paused[s.name] = s.paused;
  SetGauges(paused_, &paused_gauges_, paused, [](const std::string& service) -> prometheus::Labels {
    return {{"service", service}};
  });
}

void Metrics::HooksRunning(size_t n) { hooks_running_.Add({}).Set(static_cast<double>(n)); }

void Metrics::Brake(const std::vector<BrakeStatus>& groups) {
  if (brake_engaged_ == nullptr) {
    brake_engaged_ = &BuildGauge()
                          .Name("rollbackd_fleet_brake_engaged")
                          .Help(
                              "1 while the fleet brake holds the rollbacks of a group of "
                              "services (group: the `by` label values; \"\" for all).")
                          .Register(*registry_);
    brake_engaged_->Add({{"group", ""}}).Set(0);
  }
  for (const BrakeStatus& g : groups) {
    prometheus::Gauge*& gauge = brake_gauges_[g.group];
    if (gauge == nullptr) gauge = &brake_engaged_->Add({{"group", g.group}});
    gauge->Set(g.engaged ? 1 : 0);
  }
}

// Registered at the first use: a standalone daemon shows none of these.
void Metrics::RegisterCluster() {
  if (cluster_members_ != nullptr) return;
  cluster_members_ = &BuildGauge()
                          .Name("rollbackd_cluster_members")
                          .Help("Live cluster members in this member's view, itself included.")
                          .Register(*registry_);
  owned_services_ = &BuildGauge()
                         .Name("rollbackd_cluster_owned_services")
                         .Help("Services this member owns and evaluates.")
                         .Register(*registry_);
  lease_live_ = &BuildGauge()
                     .Name("rollbackd_cluster_lease_live")
                     .Help("1 while this member holds a lease that is alive beyond doubt.")
                     .Register(*registry_);
  lease_renewals_ = &BuildCounter()
                         .Name("rollbackd_cluster_lease_renewals_total")
                         .Help("Lease renewals, by result (ok, failed).")
                         .Register(*registry_);
  etcd_seconds_ = &BuildHistogram()
                       .Name("rollbackd_etcd_request_seconds")
                       .Help("etcd requests' durations, by operation.")
                       .Register(*registry_);
  etcd_errors_ = &BuildCounter()
                      .Name("rollbackd_etcd_request_errors_total")
                      .Help("etcd requests that failed, by operation.")
                      .Register(*registry_);
}

void Metrics::Cluster(size_t members, size_t owned, bool live) {
  RegisterCluster();
  cluster_members_->Add({}).Set(static_cast<double>(members));
  owned_services_->Add({}).Set(static_cast<double>(owned));
  lease_live_->Add({}).Set(live ? 1 : 0);
}

void Metrics::LeaseRenewal(bool ok) {
  RegisterCluster();
  lease_renewals_->Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void Metrics::EtcdRequest(std::string_view op, double seconds, bool failed) {
  RegisterCluster();
  const std::string name(op);
  etcd_seconds_->Add({{"op", name}}, LatencyBuckets()).Observe(seconds);
  if (failed) etcd_errors_->Add({{"op", name}}).Increment();
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace rollbackd
