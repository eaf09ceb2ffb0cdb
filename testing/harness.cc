#include "testing/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace rollbackd::it {
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

namespace {

// Whether `port` can be bound on loopback now.
bool Bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// Below the kernel's ephemeral range (ip_local_port_range), so that no outgoing connection of a
// test running beside this one takes the port while its server is down for a restart (a receiver
// killed for 30 s could not bind its port again). Random, so that parallel tests rarely pick the
// same one; the kernel's choice when none is found.
int FreePort() {
  int low = 32768;
  {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int lo = 0;
    if (range >> lo && lo > 12000) low = lo;
  }
  static std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(10000, low - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(random);
    if (Bindable(port)) return port;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit,
             std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "rollbackd-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("ROLLBACKD_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, std::string log, std::vector<std::string> extra_env,
                 const std::string& stdin_path)
    : log_(std::move(log)) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The extra variables replace ones of the same name (glibc would take the first of two).
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& x : extra_env) {
      replaced = replaced || (x.size() > name.size() && x.compare(0, name.size(), name) == 0 &&
                              x[name.size()] == '=');
    }
    if (!replaced) env.push_back(*e);
  }
  for (std::string& x : extra_env) env.push_back(x.data());
  env.push_back(nullptr);
  const int rc = ::posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
}

Process::~Process() { Stop(); }

bool Process::running() {
  if (status_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    // What the child left in its group (a hook it started) goes with it.
    ::kill(-pid_, SIGKILL);
    return false;
  }
  return r == 0;
}

void Process::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::WaitExit(std::chrono::milliseconds limit) {
  WaitFor([&] { return !running(); }, limit, 20ms);
  return status_;
}

int Process::Stop(std::chrono::milliseconds grace) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!WaitExit(grace)) {
      ::kill(-pid_, SIGKILL);
      WaitExit(5s);
    }
  }
  return status_.value_or(-1);
}

void Process::Kill9() {
  if (running()) ::kill(pid_, SIGKILL);
  WaitExit(5s);
}

namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

HttpResult Http(const std::string& method, const std::string& url, const std::string& body,
                const std::vector<std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult r;
  CURL* c = curl_easy_init();
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return r;
}

std::optional<double> MetricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string BinaryPath(const std::string& name) {
  return std::string(ROLLBACKD_BIN_DIR) + "/" + name;
}

std::vector<json> ReadJsonLines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
  const int millis = static_cast<int>(ms - static_cast<int64_t>(seconds) * 1000);  // 0..999
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string fraction = std::to_string(1000 + millis).substr(1);  // zero-padded to 3
  return std::string(date) + "." + fraction + "Z";
}

namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

int WaitPortFile(const std::string& path, Process& p) {
  int port = 0;
  WaitFor(
      [&] {
        const std::string s = ReadFile(path);
        if (!s.empty()) port = std::atoi(s.c_str());
        return port > 0 || !p.running();
      },
      15s, 20ms);
  if (port <= 0) throw std::runtime_error("no port from " + path + ": " + p.log());
  return port;
}

}  // namespace

std::string ErrorRateRule(const ErrorRateRuleOptions& o) {
  std::string rule = "service  = \"shop\"\ninterval = \"1s\"\n";
  if (!o.labels.empty()) rule += "labels   = " + o.labels + "\n";
  rule += R"(
[[trigger]]
name     = "error_rate"
query    = 'sum(rate(sample_http_requests_total{code="500"}[4s])) / sum(rate(sample_http_requests_total[4s]))'
above    = 0.05
for      = ")" +
          o.hold + R"("
severity = "critical"

[deploy]
version_query = 'max by (version) (sample_build_info)'

[rollback]
)";
  // A slow hook waits first: sh is the hook's program there (a user's choice; rollbackd runs argv).
  rule += o.hook_delay.empty()
              ? "exec     = [\"${SAMPLE_BIN}\", \"deploy\", \"--url\", \"${SAMPLE_URL}\", "
                "\"--version\", \"" +
                    o.rollback_to + "\"]\n"
              : "exec     = [\"/bin/sh\", \"-c\", \"sleep " + o.hook_delay +
                    " && exec \\\"$0\\\" deploy --url \\\"$1\\\" --version " + o.rollback_to +
                    "\", \"${SAMPLE_BIN}\", \"${SAMPLE_URL}\"]\n";
  rule += "timeout  = \"" + o.timeout + "\"\ncooldown = \"" + o.cooldown + "\"\n";
  if (!o.verify.empty()) rule += "verify   = \"" + o.verify + "\"\n";
  return rule;
}

Stack::Stack(StackOptions options) : options_(std::move(options)) {
  const std::string d = dir_.path();
  fs::create_directories(d + "/rules");
  fs::create_directories(d + "/prometheus");

  std::vector<std::string> sample = {BinaryPath("rollbackd-sample"),
                                     "serve",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--version",
                                     "v1",
                                     "--port-file",
                                     d + "/sample.port"};
  for (const std::string& b : options_.sample_bad) {
    sample.push_back("--bad");
    sample.push_back(b);
  }
  sample_ = std::make_unique<Process>(sample, d + "/sample.log");
  sample_port_ = WaitPortFile(d + "/sample.port", *sample_);

  if (options_.with_receiver) {
    WriteFile(d + "/webhook.secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    if (!RestartReceiver()) throw std::runtime_error("the webhook receiver did not start");
  }

  prometheus_port_ = FreePort();
  WriteFile(d + "/prometheus/prometheus.yml",
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: sample\n    static_configs:\n"
            "      - targets: ['127.0.0.1:" +
                std::to_string(sample_port_) + "']\n");
  prometheus_ = std::make_unique<Process>(
      std::vector<std::string>{
          ROLLBACKD_PROMETHEUS, "--config.file=" + d + "/prometheus/prometheus.yml",
          "--storage.tsdb.path=" + d + "/prometheus/data",
          "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port_), "--log.level=warn"},
      d + "/prometheus.log");
  if (!WaitPrometheusScraped()) {
    throw std::runtime_error("prometheus did not scrape the sample service: " + prometheus_->log());
  }
  daemon_port_ = FreePort();
  WriteConfig();
}

Stack::~Stack() {
  if (daemon_) daemon_->Stop();
}

bool Stack::WaitPrometheusScraped() {
  const std::string url = "http://127.0.0.1:" + std::to_string(prometheus_port_) +
                          "/api/v1/query?query=count(sample_http_requests_total)";
  return WaitFor(
             [&] {
               if (!prometheus_->running()) return true;
               HttpResult r = Http("GET", url);
               return r.status == 200 && r.body.find("\"value\"") != std::string::npos;
             },
             30s, 100ms) &&
         prometheus_->running();
}

void Stack::WriteConfig() {
  const std::string d = dir_.path();
  WriteFile(d + "/api.token", api_token_ + "\n");
  std::string config = "[daemon]\nlisten = \"127.0.0.1:" + std::to_string(daemon_port_) +
                       "\"\nstate_dir = \"state\"\nrules = [\"rules/*.toml\"]\n"
                       "interval = \"1s\"\napi_token_file = \"api.token\"\n" +
                       options_.daemon_extra + "\n[prometheus.default]\nurl = \"http://127.0.0.1:" +
                       std::to_string(prometheus_port_) + "\"\ntimeout = \"2s\"\n";
  if (options_.with_receiver) {
    config += "\n[channel.receiver]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:" +
              std::to_string(receiver_port_) +
              "/hooks/rollbackd\"\nsecret_file = \"webhook.secret\"\ntimeout = \"2s\"\n"
              "\n[[route]]\nchannels = [\"receiver\"]\n";
  }
  config += "\n" + Replace(options_.config_extra, "${DIR}", d);
  WriteFile(d + "/rollbackd.toml", config);
  std::string rule = Replace(options_.rule, "${SAMPLE_URL}", sample_url());
  rule = Replace(rule, "${SAMPLE_BIN}", BinaryPath("rollbackd-sample"));
  rule = Replace(rule, "${RECEIVER_URL}", "http://127.0.0.1:" + std::to_string(receiver_port_));
  WriteFile(d + "/rules/shop.toml", rule);
}

bool Stack::StartDaemon() {
  daemon_ = std::make_unique<Process>(
      std::vector<std::string>{ROLLBACKD_BINARY, "run", "--config", dir_.path() + "/rollbackd.toml",
                               "--log-level", "debug"},
      dir_.path() + "/rollbackd.log");
  return WaitFor(
             [&] {
               if (!daemon_->running()) return true;
               return Http("GET", daemon_url() + "/readyz").status == 200;
             },
             30s) &&
         daemon_->running();
}

void Stack::StopDaemon() {
  if (daemon_) daemon_->Stop();
}

void Stack::Kill9Daemon() {
  if (daemon_) daemon_->Kill9();
}

void Stack::StopPrometheus() { prometheus_->Stop(); }

void Stack::KillReceiver() {
  if (receiver_) receiver_->Kill9();
}

bool Stack::RestartReceiver() {
  const std::string d = dir_.path();
  if (receiver_port_ == 0) receiver_port_ = FreePort();  // outside the ephemeral range
  const std::string listen = "127.0.0.1:" + std::to_string(receiver_port_);
  fs::remove(d + "/receiver.port");
  receiver_ = std::make_unique<Process>(
      std::vector<std::string>{BinaryPath("rollbackd-webhook-receiver"), "--listen", listen,
                               "--secret-file", d + "/webhook.secret", "--out",
                               d + "/deliveries.jsonl", "--port-file", d + "/receiver.port"},
      d + "/receiver.log");
  try {
    receiver_port_ = WaitPortFile(d + "/receiver.port", *receiver_);
  } catch (const std::exception&) {
    return false;
  }
  return receiver_port_ > 0;
}

std::string Stack::sample_url() const { return "http://127.0.0.1:" + std::to_string(sample_port_); }
std::string Stack::daemon_url() const { return "http://127.0.0.1:" + std::to_string(daemon_port_); }

json Stack::SampleState() {
  HttpResult r = Http("GET", sample_url() + "/control/state");
  return json::parse(r.body, nullptr, false);
}

bool Stack::SampleDeploy(const std::string& version) {
  return Http("POST", sample_url() + "/control/deploy?version=" + version).status == 200;
}

bool Stack::SampleFault(const std::string& query) {
  return Http("POST", sample_url() + "/control/fault?" + query).status == 200;
}

std::vector<json> Stack::Deliveries() const {
  return ReadJsonLines(dir_.path() + "/deliveries.jsonl");
}

std::vector<json> Stack::Events(const std::string& kind) const {
  std::vector<json> out;
  std::set<std::string> seen;
  for (const json& d : Deliveries()) {
    if (!d.value("verified", false) || !d.contains("body") || !d["body"].is_object()) continue;
    if (d["body"].value("event", "") != kind) continue;
    if (!seen.insert(d.value("webhook_id", "")).second) continue;
    out.push_back(d["body"]);
  }
  return out;
}

bool Stack::WaitEvent(const std::string& kind, std::chrono::milliseconds limit, size_t count) {
  return WaitFor([&] { return Events(kind).size() >= count; }, limit);
}

std::optional<double> Stack::DaemonMetric(const std::string& series) {
  HttpResult r = Http("GET", daemon_url() + "/metrics");
  if (r.status != 200) return std::nullopt;
  return MetricValue(r.body, series);
}

bool Stack::WaitRounds(int rounds, std::chrono::milliseconds limit) {
  const double start = DaemonMetric("rollbackd_evaluations_total").value_or(0);
  return WaitFor(
      [&] { return DaemonMetric("rollbackd_evaluations_total").value_or(0) >= start + rounds; },
      limit);
}

std::string Stack::ReadJournal() const { return ReadFile(dir_.path() + "/state/journal.jsonl"); }

// --- WebhookReceiver ---------------------------------------------------------------------------

WebhookReceiver::WebhookReceiver(std::string dir, ReceiverOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), out_(dir_ + "/deliveries.jsonl") {
  fs::create_directories(dir_);
  if (!Start(options_.port)) {
    throw std::runtime_error("the webhook receiver did not start: " +
                             ReadFile(dir_ + "/receiver.log"));
  }
}

bool WebhookReceiver::Start(int port) {
  if (port == 0) port = FreePort();  // outside the ephemeral range: Restart binds it again
  const std::string port_file = dir_ + "/receiver.port";
  std::error_code ec;
  fs::remove(port_file, ec);  // a restart waits for the new announcement, not the old one
  std::vector<std::string> argv = {BinaryPath("rollbackd-webhook-receiver"),
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--out",
                                   out_,
                                   "--port-file",
                                   port_file,
                                   "--fail-first",
                                   std::to_string(options_.fail_first)};
  if (!options_.secret_file.empty()) {
    argv.push_back("--secret-file");
    argv.push_back(options_.secret_file);
  }
  process_.reset();  // the previous instance, if any, is gone before the new one binds
  process_ = std::make_unique<Process>(argv, dir_ + "/receiver.log");
  try {
    port_ = WaitPortFile(port_file, *process_);
  } catch (const std::runtime_error&) {
    return false;
  }
  return port == 0 || port_ == port;
}

bool WebhookReceiver::Restart() { return Start(port_); }

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<json> WebhookReceiver::AlertmanagerNotifications() const {
  std::vector<json> out;
  for (json& d : Deliveries()) {
    if (d.contains("body") && d["body"].is_object() && d["body"].contains("alerts") &&
        d["body"].contains("version")) {
      out.push_back(std::move(d));
    }
  }
  return out;
}

bool WebhookReceiver::WaitDeliveries(size_t count, std::chrono::milliseconds limit) const {
  return WaitFor([&] { return Deliveries().size() >= count; }, limit, 20ms);
}

// --- Alertmanager ------------------------------------------------------------------------------

namespace {

// A YAML double-quoted scalar (JSON strings are valid ones).
std::string YamlString(const std::string& s) { return json(s).dump(); }

// name="value", name=~"value", name!="value", name!~"value" (the value quoted, " and \ escaped).
std::string MatcherText(const Matcher& m) {
  std::string op = m.is_equal ? "=" : "!";
  if (m.is_regex) op += "~";
  if (op == "!") op = "!=";
  std::string quoted = "\"";
  for (const char c : m.value) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return m.name + op + quoted + "\"";
}

}  // namespace

Alertmanager::Alertmanager(AlertmanagerOptions options) : options_(std::move(options)) {
  if (options_.webhook_url.empty()) throw std::runtime_error("Alertmanager: no webhook_url");
  const std::string d = dir_.path();
  const std::string config = d + "/alertmanager.yml";
  std::string group_by;
  for (const std::string& label : options_.group_by) {
    group_by += (group_by.empty() ? "" : ", ") + YamlString(label);
  }
  WriteFile(config, "global:\n  resolve_timeout: " + options_.resolve_timeout +
                        "\nroute:\n  receiver: webhook\n  group_by: [" + group_by +
                        "]\n  group_wait: " + options_.group_wait +
                        "\n  group_interval: " + options_.group_interval +
                        "\n  repeat_interval: " + options_.repeat_interval +
                        "\nreceivers:\n  - name: webhook\n    webhook_configs:\n      - url: " +
                        YamlString(options_.webhook_url) +
                        "\n        send_resolved: " + (options_.send_resolved ? "true" : "false") +
                        "\n" + options_.extra_yaml + "\n");
  // FreePort() can race with another process taking the port; a start that fails is retried on
  // another one (an Alertmanager that cannot listen exits at once).
  std::string logs;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreePort();
    const std::string address = "127.0.0.1:" + std::to_string(port_);
    process_ = std::make_unique<Process>(
        std::vector<std::string>{ROLLBACKD_ALERTMANAGER, "--config.file=" + config,
                                 "--storage.path=" + d + "/data", "--web.listen-address=" + address,
                                 // Links in notifications (externalURL) name this instance, not
                                 // the host name.
                                 "--web.external-url=http://" + address,
                                 // Empty: no gossip, no cluster port; /api/v2/status says
                                 // cluster.status "disabled".
                                 "--cluster.listen-address=", "--log.level=debug"},
        d + "/alertmanager.log");
    const bool ready = WaitFor(
        [&] {
          if (!process_->running()) return true;
          return Http("GET", url() + "/-/ready").status == 200;
        },
        30s, 50ms);
    if (ready && process_->running()) return;
    process_->Stop();
    logs = process_->log();
  }
  throw std::runtime_error("Alertmanager did not get ready: " + logs);
}

Alertmanager::~Alertmanager() {
  if (process_) process_->Stop();
}

std::string Alertmanager::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

HttpResult Alertmanager::PostAlerts(const json& alerts) {
  return Http("POST", url() + "/api/v2/alerts", alerts.dump(), {"Content-Type: application/json"});
}

std::vector<json> Alertmanager::GetArray(const std::string& path, const AlertQuery& query) {
  std::string q;
  auto add = [&q](const std::string& name, const std::string& value) {
    q += (q.empty() ? "?" : "&") + name + "=" + UrlEncode(value);
  };
  for (const Matcher& m : query.filter) add("filter", MatcherText(m));
  auto flag = [&](const char* name, const std::optional<bool>& v) {
    if (v) add(name, *v ? "true" : "false");
  };
  flag("active", query.active);
  flag("silenced", query.silenced);
  flag("inhibited", query.inhibited);
  flag("unprocessed", query.unprocessed);
  const HttpResult r = Http("GET", url() + path + q);
  json j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_array()) {
    throw std::runtime_error("GET " + path + q + ": " + std::to_string(r.status) + " " + r.error +
                             " " + r.body);
  }
  return j.get<std::vector<json>>();
}

std::vector<json> Alertmanager::Alerts(const AlertQuery& query) {
  return GetArray("/api/v2/alerts", query);
}

std::vector<json> Alertmanager::Groups(const AlertQuery& query) {
  return GetArray("/api/v2/alerts/groups", query);
}

std::string Alertmanager::AddSilence(const std::vector<Matcher>& matchers,
                                     std::chrono::seconds duration, const std::string& comment) {
  json body;
  body["matchers"] = json::array();
  for (const Matcher& m : matchers) {
    body["matchers"].push_back(
        {{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  }
  const auto now = std::chrono::system_clock::now();
  body["startsAt"] = Rfc3339(now);
  body["endsAt"] = Rfc3339(now + duration);
  body["createdBy"] = "rollbackd-integration-tests";
  body["comment"] = comment;
  const HttpResult r =
      Http("POST", url() + "/api/v2/silences", body.dump(), {"Content-Type: application/json"});
  const json j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object() || !j.contains("silenceID") ||
      !j["silenceID"].is_string()) {
    throw std::runtime_error("POST /api/v2/silences: " + std::to_string(r.status) + " " + r.error +
                             " " + r.body);
  }
  return j["silenceID"].get<std::string>();
}

json Alertmanager::Silence(const std::string& id) {
  const HttpResult r = Http("GET", url() + "/api/v2/silence/" + id);
  json j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object()) {
    throw std::runtime_error("GET /api/v2/silence/" + id + ": " + std::to_string(r.status) + " " +
                             r.error + " " + r.body);
  }
  return j;
}

}  // namespace rollbackd::it
