// The processes pipeline_bench runs, all on loopback and all real: the sample service, one
// Prometheus scraping it every second and evaluating two alerting rule groups (pipelines b and c),
// two Debian Alertmanagers (b: default timers, c: tuned), the receiver that starts the hook for b
// and c, and two rollbackd daemons watching the same Prometheus with the same expression:
// pipeline a with the base trigger only, pipeline d with the same trigger plus one escalation
// step (the severe-fault case).
// Each process stops when the stack is destroyed (harness Process); the temp dir goes with it.
#ifndef ROLLBACKD_BENCH_PIPELINE_PIPELINE_STACK_H_
#define ROLLBACKD_BENCH_PIPELINE_PIPELINE_STACK_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/pipeline/hook_receiver.h"
#include "testing/harness.h"

namespace rollbackd::bench {

using Millis = std::chrono::milliseconds;

std::string FormatDuration(Millis d);  // "250ms", "10s", "2m" (the form all three programs read)
// RFC 3339 ("2024-05-01T12:00:00.123456789Z", or with "+02:00") to Unix ns; nullopt if malformed.
std::optional<int64_t> ParseRfc3339Ns(const std::string& text);

struct StackConfig {
  Millis for_duration{10000};
  Millis interval{1000};      // rollbackd's service interval and pipeline b's rule interval
  Millis scrape{1000};        // Prometheus scrape_interval
  std::string window = "5s";  // the rate() window of the shared expression
  double threshold = 0.02;
  // Pipeline d's `escalate = [ { above = step_above, for = step_for } ]` on the same trigger.
  double step_above = 0.2;
  Millis step_for{2000};
  double healthy_error_rate = 0.001;
  double fault_error_rate = 0.3;
  int request_rate = 100;  // the sample service's simulated requests per second
  // Alertmanager b: unset keeps Alertmanager's own default (group_wait 30s); the smoke test sets
  // 1s.
  std::optional<std::string> b_group_wait;
  std::string c_rule_interval = "250ms";
  std::string c_group_wait = "0s";
  std::string c_group_interval = "1s";
};

// What one pipeline's observable state says at a moment (instants in Unix ns, 0 when unknown).
struct PipelineView {
  std::string state;      // rollbackd: inactive | pending | firing; Prometheus: "" when no alert
  int64_t active_ns = 0;  // first breaching evaluation (pending_since / activeAt)
  int64_t firing_ns = 0;  // rollbackd only: firing_since (for b and c: the notification startsAt)
  bool rollback_in_flight = false;
};

class PipelineStack {
 public:
  PipelineStack(StackConfig config, std::string hook_binary);
  ~PipelineStack();

  const StackConfig& config() const { return config_; }
  std::string expression() const;
  const std::string& hooks_file() const { return hooks_file_; }
  const HookReceiver& receiver() const { return *receiver_; }
  std::string prometheus_url() const;
  std::string alertmanager_url(char pipeline) const;

  // POST /control/fault?error_rate=R on the sample service; true on 200.
  bool SetErrorRate(double rate);
  // The expression's current value in Prometheus (an instant query now), nullopt without one.
  std::optional<double> ExpressionValue();
  PipelineView Rollbackd(char pipeline);        // 'a' or 'd'
  PipelineView PrometheusAlert(char pipeline);  // 'b' or 'c'
  // Alerts Alertmanager `pipeline` lists (those whose endsAt has not passed), -1 on no answer.
  int AlertmanagerAlerts(char pipeline);
  int AlertmanagerGroups(char pipeline);  // aggregation groups it holds, -1 on no answer
  // Stops both Alertmanagers and starts them again on the same ports with empty storage, so no
  // aggregation group, notification log entry or alert survives into the next repetition. Throws
  // std::runtime_error when one does not get ready.
  void RestartAlertmanagers();
  // A new rollbackd for `pipeline` ('a' or 'd') with an empty state dir: no cooldown or episode
  // survives, and its rounds take a new phase against the scrapes (they start from the daemon's
  // start). Throws std::runtime_error when it does not get ready.
  void RestartRollbackd(char pipeline);
  // Renames both rule groups and reloads Prometheus (SIGHUP): a new evaluation phase for each
  // group against the scrapes, and no alert state carried over. Throws when it does not load.
  void ReloadRules();

  // First line of `binary --version`.
  static std::string Version(const std::string& binary);

 private:
  struct Alertmanager;
  struct Daemon;
  void StartAlertmanager(Alertmanager& am);
  void StartPrometheus();
  void StartRollbackd(Daemon& daemon);
  Daemon& DaemonFor(char pipeline) const;
  void WriteRules();
  std::vector<std::string> RuleGroups() const;  // the names of this generation, sorted
  bool RulesLoaded();                           // Prometheus evaluates exactly RuleGroups()

  StackConfig config_;
  std::string hook_binary_;
  it::TempDir dir_;
  std::string hooks_file_;
  std::unique_ptr<it::Process> sample_;
  int sample_port_ = 0;
  std::unique_ptr<HookReceiver> receiver_;
  std::unique_ptr<Alertmanager> am_b_;
  std::unique_ptr<Alertmanager> am_c_;
  std::unique_ptr<it::Process> prometheus_;
  int prometheus_port_ = 0;
  std::unique_ptr<Daemon> rollbackd_a_;
  std::unique_ptr<Daemon> rollbackd_d_;
  int rules_generation_ = 0;
};

}  // namespace rollbackd::bench

#endif  // ROLLBACKD_BENCH_PIPELINE_PIPELINE_STACK_H_
