#include "tests/integration/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
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

int FreePort() {
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

Process::Process(std::vector<std::string> argv, std::string log) : log_(std::move(log)) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int rc = ::posix_spawnp(&pid_, args[0], &fa, &attr, args.data(), environ);
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
                const std::vector<std::string>& headers) {
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
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
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

std::string BinaryPath(const std::string& name) {
  return std::string(ROLLBACKD_BIN_DIR) + "/" + name;
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
    receiver_ = std::make_unique<Process>(
        std::vector<std::string>{BinaryPath("rollbackd-webhook-receiver"), "--listen",
                                 "127.0.0.1:0", "--secret-file", d + "/webhook.secret", "--out",
                                 d + "/deliveries.jsonl", "--port-file", d + "/receiver.port"},
        d + "/receiver.log");
    receiver_port_ = WaitPortFile(d + "/receiver.port", *receiver_);
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
  WriteFile(d + "/rollbackd.toml", config);
  std::string rule = Replace(options_.rule, "${SAMPLE_URL}", sample_url());
  rule = Replace(rule, "${SAMPLE_BIN}", BinaryPath("rollbackd-sample"));
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
  std::vector<json> out;
  std::istringstream in(ReadFile(dir_.path() + "/deliveries.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
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

}  // namespace rollbackd::it
