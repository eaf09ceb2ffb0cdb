// The integration harness: real processes on loopback (the Debian `prometheus` and
// `prometheus-alertmanager`, the sample service, the webhook receiver, rollbackd itself), each in a
// temp dir, each stopped when the test ends. The integration tests (tests/integration) and the
// side-by-side benchmarks (bench/) both start their processes through it. A real etcd cluster
// (Debian's etcd, three members) is in etcd_cluster.h.
// Every wait is bounded in time and polls an observable fact (a file line, an HTTP answer).
#ifndef ROLLBACKD_TESTING_HARNESS_H_
#define ROLLBACKD_TESTING_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rollbackd::it {

using namespace std::chrono_literals;
using nlohmann::json;

std::string ReadFile(const std::string& path);  // "" when missing
void WriteFile(const std::string& path, const std::string& content);
int FreePort();  // a loopback TCP port that was free a moment ago

// Polls `pred` every `every` until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit,
             std::chrono::milliseconds every = 100ms);

class TempDir {
 public:
  TempDir();
  ~TempDir();  // removed, unless ROLLBACKD_KEEP_TEST_DIRS is set (for post-mortems)
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process in its own process group, stdout and stderr appended to `log`, stdin read from
// `stdin_path`, the environment this process's with `extra_env` ("NAME=value") added or replacing.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log, std::vector<std::string> extra_env = {},
          const std::string& stdin_path = "/dev/null");
  ~Process();  // Stop()
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // SIGTERM, then SIGKILL after `grace`; the exit status (128+signal when killed), -1 if unknown.
  int Stop(std::chrono::milliseconds grace = 10s);
  void Kill9();  // SIGKILL to the process only (not its group: a running hook survives, as in life)
  std::optional<int> WaitExit(std::chrono::milliseconds limit);
  std::string log() const { return ReadFile(log_); }
  const std::string& log_path() const { return log_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_;
};

struct HttpResult {
  long status = 0;  // 0: no answer
  std::string body;
  std::string error;
};
// One request with curl; `timeout` bounds the whole exchange (connect, send, answer).
HttpResult Http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::vector<std::string>& headers = {},
                std::chrono::milliseconds timeout = 5s);

// The value of one series in Prometheus text format ("name{a=\"b\"}"), nullopt when absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

// Percent-encodes everything but RFC 3986 unreserved characters (for query strings).
std::string UrlEncode(const std::string& s);

std::string BinaryPath(const std::string& name);  // build/bin/<name>

// One JSON value per line of the file at `path`; lines that do not parse (a line being written)
// are skipped. Empty when the file is missing.
std::vector<json> ReadJsonLines(const std::string& path);

// `t` as RFC 3339 in UTC with milliseconds ("2024-05-01T12:00:00.123Z"), as Alertmanager takes it.
std::string Rfc3339(std::chrono::system_clock::time_point t);

// A standalone rollbackd-webhook-receiver (tests/fixtures/webhook_receiver.cc) in `dir`: it writes
// receiver.port and appends each POST to deliveries.jsonl there; stdout and stderr go to
// receiver.log. Without a secret file nothing is verified and every POST is accepted (200 "ok"):
// the way Alertmanager's and Slack-style webhooks arrive.
struct ReceiverOptions {
  std::string secret_file;  // "" = unsigned deliveries accepted, recorded with "verified": false
  int port = 0;             // 0 = the kernel chooses
  int fail_first = 0;       // --fail-first: 503 to the first N accepted deliveries
};

class WebhookReceiver {
 public:
  // Throws std::runtime_error when the receiver does not announce its port within 15 s.
  WebhookReceiver(std::string dir, ReceiverOptions options = {});
  ~WebhookReceiver() = default;  // the Process stops it

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const;  // http://127.0.0.1:PORT<path>
  const std::string& out_path() const { return out_; }
  Process& process() { return *process_; }

  std::vector<json> Deliveries() const { return ReadJsonLines(out_); }
  // Deliveries whose body is an Alertmanager webhook (has "alerts" and "version").
  std::vector<json> AlertmanagerNotifications() const;
  bool WaitDeliveries(size_t count, std::chrono::milliseconds limit) const;

  void Kill9() { process_->Kill9(); }
  // Starts the receiver again on the same port (and the same files); false when it does not
  // announce the port within 15 s (the reason is in the log).
  bool Restart();

 private:
  bool Start(int port);

  std::string dir_;
  ReceiverOptions options_;
  std::string out_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// The Debian Alertmanager (0.25) on a free loopback port, with clustering (gossip) off, its own
// storage in a temp dir, and one route: every alert to one webhook receiver at `webhook_url`.
struct AlertmanagerOptions {
  std::string webhook_url;  // required
  std::vector<std::string> group_by = {"alertname", "service"};
  std::string group_wait = "0s";  // Alertmanager durations ("0s", "500ms", "1s", "5m")
  std::string group_interval = "1s";
  std::string repeat_interval = "1h";
  std::string resolve_timeout = "5m";  // for alerts posted without endsAt
  bool send_resolved = true;
  std::string extra_yaml;  // appended at the top level, e.g. "inhibit_rules:\n  - ..."
};

// A label matcher, as in a silence or in GET /api/v2/alerts?filter=.
struct Matcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;  // false: != or !~
};

// The query of GET /api/v2/alerts. Unset flags are left to Alertmanager (where all default true).
// Initializers on every member, so designated initializers may leave any out under -Wextra.
struct AlertQuery {
  std::vector<Matcher> filter = {};
  std::optional<bool> active = std::nullopt;
  std::optional<bool> silenced = std::nullopt;
  std::optional<bool> inhibited = std::nullopt;
  std::optional<bool> unprocessed = std::nullopt;
};

class Alertmanager {
 public:
  // Writes alertmanager.yml, starts Alertmanager and waits (30 s at most) for GET /-/ready to
  // answer 200. Throws std::runtime_error (with the log) when it does not get ready.
  explicit Alertmanager(AlertmanagerOptions options);
  ~Alertmanager();  // SIGTERM (SIGKILL after 10 s), then the temp dir goes

  std::string url() const;  // http://127.0.0.1:PORT
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  Process& process() { return *process_; }

  // POST /api/v2/alerts with `alerts` (an array of postableAlert objects).
  HttpResult PostAlerts(const json& alerts);
  // GET /api/v2/alerts: the gettableAlert objects. Alertmanager lists no alert whose endsAt has
  // passed. Throws std::runtime_error unless it answers 200 with a JSON array.
  std::vector<json> Alerts(const AlertQuery& query = {});
  // GET /api/v2/alerts/groups: the aggregation groups the dispatcher holds (an alert is in one once
  // it has been routed). Throws like Alerts().
  std::vector<json> Groups(const AlertQuery& query = {});
  // POST /api/v2/silences, starting now, ending after `duration`; returns the silence id. Throws
  // std::runtime_error unless Alertmanager answers 200 with a silenceID.
  std::string AddSilence(const std::vector<Matcher>& matchers, std::chrono::seconds duration,
                         const std::string& comment = "rollbackd integration test");
  // GET /api/v2/silence/{id}: the gettableSilence (status.state "active", "pending", "expired").
  json Silence(const std::string& id);

 private:
  std::vector<json> GetArray(const std::string& path, const AlertQuery& query);

  AlertmanagerOptions options_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// The rule most integration tests run against the sample service (for a Stack): service "shop",
// evaluated every second, with one trigger "error_rate" (critical) on the share of 500s over 4 s
// (four scrapes) above 0.05, held `hold`; deploys read from sample_build_info; an exec hook that
// deploys `rollback_to` through the sample's own client (timeout 10s, cooldown 1h).
// Initializers on every member, so designated initializers may leave any out under -Wextra.
struct ErrorRateRuleOptions {
  std::string hold = "3s";         // the trigger's `for`
  std::string labels = "";         // the service's labels, e.g. `{ team = "payments" }`; "" none
  std::string rollback_to = "v1";  // the version the hook deploys
  std::string verify = "15s";      // the rollback's verify window; "" none
  std::string hook_delay = "";     // seconds the hook waits before it deploys ("3"); "" none
  std::string timeout = "10s";     // the hook's timeout
  std::string cooldown = "1h";
};
std::string ErrorRateRule(const ErrorRateRuleOptions& options = {});

struct StackOptions {
  StackOptions(std::string r, std::string extra = "")  // NOLINT: implicit, for Stack s({rule})
      : rule(std::move(r)), daemon_extra(std::move(extra)) {}
  // The rule file: ${SAMPLE_URL}, ${SAMPLE_BIN} and ${RECEIVER_URL} (the webhook receiver's
  // http://127.0.0.1:PORT) are replaced. Written as rules/shop.toml.
  std::string rule;
  std::string daemon_extra;  // lines appended to [daemon]
  std::vector<std::string> sample_bad = {"v2=error_rate=0.3", "v3=error_rate=0.3", "v4=health=503"};
  bool with_receiver = true;
  // Appended to rollbackd.toml (channels and routes of the test's own); ${DIR} is the stack's dir.
  std::string config_extra;
};

// The sample service, Prometheus scraping it every second, a webhook receiver, and rollbackd,
// routed every event to the receiver.
class Stack {
 public:
  explicit Stack(StackOptions options);
  ~Stack();

  bool StartDaemon();  // true once /readyz answers 200
  void StopDaemon();
  void Kill9Daemon();
  void StopPrometheus();
  // The webhook receiver killed (-9), and started again on its port and files.
  void KillReceiver();
  bool RestartReceiver();
  Process& daemon() { return *daemon_; }

  std::string sample_url() const;
  std::string daemon_url() const;
  const std::string& dir() const { return dir_.path(); }
  const std::string& api_token() const { return api_token_; }

  json SampleState();
  bool SampleDeploy(const std::string& version);
  bool SampleFault(const std::string& query);

  // Webhook deliveries as the receiver recorded them (one JSON object per delivery).
  std::vector<json> Deliveries() const;
  // Events of `kind` delivered with a valid signature, distinct by webhook-id.
  std::vector<json> Events(const std::string& kind) const;
  bool WaitEvent(const std::string& kind, std::chrono::milliseconds limit, size_t count = 1);

  std::optional<double> DaemonMetric(const std::string& series);
  // Waits until rollbackd completed `rounds` more evaluation rounds than now.
  bool WaitRounds(int rounds, std::chrono::milliseconds limit = 30s);

  std::string ReadJournal() const;

 private:
  void WriteConfig();
  bool WaitPrometheusScraped();

  StackOptions options_;
  TempDir dir_;
  int sample_port_ = 0;
  int prometheus_port_ = 0;
  int receiver_port_ = 0;
  int daemon_port_ = 0;
  std::string api_token_ = "test-token-5f2c";
  std::unique_ptr<Process> sample_;
  std::unique_ptr<Process> prometheus_;
  std::unique_ptr<Process> receiver_;
  std::unique_ptr<Process> daemon_;
};

}  // namespace rollbackd::it

#endif  // ROLLBACKD_TESTING_HARNESS_H_
