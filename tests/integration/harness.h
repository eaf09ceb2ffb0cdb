// The integration harness: real processes on loopback (the Debian `prometheus`, the sample service,
// the webhook receiver, rollbackd itself), each in a temp dir, each stopped when the test ends.
// Every wait is bounded in time and polls an observable fact (a file line, an HTTP answer).
#ifndef ROLLBACKD_TESTS_INTEGRATION_HARNESS_H_
#define ROLLBACKD_TESTS_INTEGRATION_HARNESS_H_

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

// A child process in its own process group, stdout and stderr appended to `log`.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log);
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
HttpResult Http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::vector<std::string>& headers = {});

// The value of one series in Prometheus text format ("name{a=\"b\"}"), nullopt when absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

std::string BinaryPath(const std::string& name);  // build/bin/<name>

struct StackOptions {
  StackOptions(std::string r, std::string extra = "")  // NOLINT: implicit, for Stack s({rule})
      : rule(std::move(r)), daemon_extra(std::move(extra)) {}
  // The rule file: ${SAMPLE_URL} and ${SAMPLE_BIN} are replaced. Written as rules/shop.toml.
  std::string rule;
  std::string daemon_extra;  // lines appended to [daemon]
  std::vector<std::string> sample_bad = {"v2=error_rate=0.3", "v3=error_rate=0.3", "v4=health=503"};
  bool with_receiver = true;
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

#endif  // ROLLBACKD_TESTS_INTEGRATION_HARNESS_H_
