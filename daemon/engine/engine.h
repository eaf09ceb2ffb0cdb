// The rule engine: pure. It turns (evaluation time, input results) into trigger state changes and
// events, and decides rollbacks; it never reads a clock, a socket or a file, and never runs a hook.
// The live daemon, `rollbackd test` and the benchmarks drive this same class.
//
// Start here. Per trigger (and health check) and per series label set, a state machine
//   inactive -> pending -> firing -> (resolved) inactive
// where a breach must hold on every evaluation for at least `for` before it fires. Per service, a
// firing trigger with rollback = true leads to at most one rollback decision per firing episode,
// none within `cooldown`, none outside the deploy `guard`; dry run and pause turn the decision into
// rollback.skipped. docs/rules.md states every rule precisely.
//
// Threading: not thread-safe; one owner calls it (the daemon's event loop).
#ifndef ROLLBACKD_ENGINE_ENGINE_H_
#define ROLLBACKD_ENGINE_ENGINE_H_

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/event.h"
#include "daemon/engine/samples.h"

namespace rollbackd {

// One thing to read before an evaluation. Identical (source, query) pairs across all triggers,
// baselines, traffic floors and version queries are one input, read once per round.
struct InputSpec {
  enum class Kind { kPrometheus, kProbe };
  Kind kind = Kind::kPrometheus;
  std::string source;                  // kPrometheus: the [prometheus.<name>] source
  std::string query;                   // kPrometheus: PromQL
  const HealthCheck* probe = nullptr;  // kProbe: url, timeout, expected statuses
};

// What the hook runner reports when a rollback hook ends.
struct RollbackOutcome {
  bool success = false;
  std::optional<int> exit_code;    // exec hooks: the exit code, when the command exited
  std::optional<int> http_status;  // http hooks: the response's status, when one came
  Duration duration{0};
  std::string output;  // tail of stdout+stderr, or of the response body
  std::string error;   // why it failed: "timeout after 2m", "interrupted", "exit status 3"

  // The events' one `exit_status` field (docs/events.md): the exit code or the HTTP status.
  std::optional<int> exit_status() const { return exit_code ? exit_code : http_status; }
};

// A read-only view for status pages and tests.
struct SeriesStatus {
  std::string trigger;
  Labels labels;
  std::string state;  // "inactive", "pending", "firing"
  double value;       // the last value read; NaN when unknown
  double threshold = std::numeric_limits<double>::quiet_NaN();  // effective bound, last round
  double baseline = std::numeric_limits<double>::quiet_NaN();   // baseline read, last round
  std::optional<Time> pending_since;
  std::optional<Time> firing_since;
};
struct ServiceStatus {
  std::string name;
  bool paused = false;
  bool active = true;  // false: another cluster member owns it, and this state is stale
  std::string version;
  std::optional<Time> last_deploy;
  std::optional<Time> last_rollback;
  std::string rollback_in_flight;  // rollback id, empty when none
  std::vector<SeriesStatus> series;
  std::vector<std::pair<std::string, std::string>> errors;  // trigger, last error (while failing)
};

// One group of the fleet brake ([daemon].brake), for the status API and metrics.
struct BrakeStatus {
  std::string group;  // "" (every service) or "cluster=eu-1,..."
  LabelMap labels;
  bool engaged = false;
  std::optional<Time> since;
  std::vector<std::string> rolled_back;  // within the window
  std::vector<std::string> held;         // since it engaged
};

class Engine {
 public:
  // Keeps `config` alive; the engine's inputs and rules follow its services in order.
  explicit Engine(std::shared_ptr<const Config> config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Config& config() const;
  const std::vector<InputSpec>& inputs() const;
  // The input ids service `index` (in config().services) reads, for scheduling by its interval.
  const std::vector<int>& service_inputs(size_t index) const;
  // Input ids of one trigger or health check: its query, and its baseline and traffic queries when
  // it has them (-1 otherwise). nullopt for an unknown name.
  struct TriggerInputs {
    int query = -1;
    int baseline = -1;
    int traffic = -1;
  };
  std::optional<TriggerInputs> trigger_inputs(std::string_view service,
                                              std::string_view trigger) const;
  int version_input(std::string_view service) const;  // -1 when the service has none

  // One evaluation round at `now` (non-decreasing across calls). `inputs` is indexed by input id;
  // triggers whose query input is nullptr are not evaluated this round. Events are appended to
  // `out`; in steady state (no transitions) this allocates nothing.
  void Evaluate(Time now, const Inputs& inputs, std::vector<Event>* out);

  // An explicit deploy signal (the API, or a test): takes baseline snapshots from the last
  // evaluation and opens the guard window at `now`. False for an unknown service.
  bool RecordDeploy(std::string_view service, std::string_view version, Time now);

  // The hook of rollback `rollback_id` (the id of its rollback.started event) ended. Emits
  // rollback.succeeded or rollback.failed; after success, verification starts and a later
  // Evaluate emits rollback.verified or rollback.not_recovered. False when no such rollback is in
  // flight (already finished, or unknown).
  bool RollbackFinished(std::string_view rollback_id, const RollbackOutcome& outcome, Time now,
                        std::vector<Event>* out);

  // Rollbacks in flight: started, outcome not yet reported. After a restart the daemon reports
  // each as failed ("interrupted") unless its journal knows the outcome.
  std::vector<std::string> RollbacksInFlight() const;

  bool SetPaused(std::string_view service, bool paused);

  // The fleet brake. Release: the operator's; every engaged group lets go (fleet.brake_released in
  // `out`) and counts anew, and each service it held that is still firing is decided again at its
  // next evaluation. Returns those services. A brake that engages is released on its own after a
  // whole window without a new rollback to hold; then the held services are not decided again.
  std::vector<std::string> ReleaseBrake(Time now, std::vector<Event>* out);
  std::vector<BrakeStatus> BrakeState(Time now) const;  // empty without [daemon].brake

  std::vector<ServiceStatus> Status() const;

  // State as JSON, and back. Restore keeps the state of services and triggers that still exist with
  // the same definition; a trigger whose query, `match`, condition or window changed starts anew.
  std::string SaveState() const;
  bool RestoreState(std::string_view json, std::string* error);

  // Cluster mode. One service's decision state: what a new owner needs to carry on (windows and
  // their first breach, firing episodes and whether they rolled back, cooldown, pause, deploys and
  // snapshots, rollbacks in flight and verifying), without the values read, so that the text
  // changes only when a decision does. "" for an unknown service.
  std::string SaveServiceState(std::string_view service) const;
  // A hash of what SaveServiceState writes, without building it (no allocation): cluster mode
  // compares it after every round and serialises only a service whose decisions changed.
  uint64_t ServiceStateHash(size_t index) const;  // of config().services[index]
  // Replaces one service's state with `json` (as SaveServiceState wrote it); "" starts it anew.
  // False (nothing changed) for an unknown service or bad text.
  bool RestoreServiceState(std::string_view service, std::string_view json, std::string* error);
  // An inactive service is not evaluated (another member owns it). Every service starts active.
  bool SetActive(std::string_view service, bool active);
  bool active(size_t index) const;  // of config().services[index]

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_ENGINE_H_
