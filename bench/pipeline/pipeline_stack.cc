#include "bench/pipeline/pipeline_stack.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace rollbackd::bench {
namespace fs = std::filesystem;
using it::Http;
using it::json;
using it::ReadFile;
using it::WaitFor;
using it::WriteFile;
using namespace std::chrono_literals;

namespace {

// A YAML double-quoted scalar (every JSON string is one).
std::string Yaml(const std::string& s) { return json(s).dump(); }

std::string Num(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

json GetJson(const std::string& url) {
  const it::HttpResult r = Http("GET", url);
  if (r.status != 200) return json(nullptr);
  return json::parse(r.body, nullptr, false);
}

// j[k1][k2]... or null when a key is missing or a step is not an object (a const json's [] with
// a missing key is undefined behaviour).
const json& At(const json& j, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return kNull;
    at = &(*at)[key];
  }
  return *at;
}

int64_t InstantNs(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return 0;
  return ParseRfc3339Ns(j[key].get<std::string>()).value_or(0);
}

}  // namespace

std::string FormatDuration(Millis d) {
  const auto ms = d.count();
  if (ms % 60000 == 0 && ms != 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<int64_t> ParseRfc3339Ns(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t ns = static_cast<int64_t>(::timegm(&tm)) * 1000000000LL;
  size_t i = static_cast<size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    int64_t scale = 100000000;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      ns += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int hours = 0;
    int minutes = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
    const int64_t offset = (hours * 3600LL + minutes * 60LL) * 1000000000LL;
    ns += text[i] == '+' ? -offset : offset;
  } else if (i >= text.size() || text[i] != 'Z') {
    return std::nullopt;
  }
  return ns;
}

// One Alertmanager on a port fixed for the whole run (Prometheus's static target), restarted with
// a new storage directory per repetition.
struct PipelineStack::Alertmanager {
  char pipeline;
  std::string dir;
  int port = 0;
  int generation = 0;
  std::unique_ptr<it::Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// One rollbackd (pipeline a or d) in its own directory, restarted with a new port and state dir
// per repetition.
struct PipelineStack::Daemon {
  char pipeline = 'a';
  std::string dir;
  int port = 0;
  int generation = 0;
  std::unique_ptr<it::Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

PipelineStack::PipelineStack(StackConfig config, std::string hook_binary)
    : config_(std::move(config)), hook_binary_(std::move(hook_binary)) {
  const std::string d = dir_.path();
  hooks_file_ = d + "/hooks.log";
  WriteFile(hooks_file_, "");

  sample_ = std::make_unique<it::Process>(
      std::vector<std::string>{it::BinaryPath("rollbackd-sample"), "serve", "--listen",
                               "127.0.0.1:0", "--version", "v1", "--port-file", d + "/sample.port",
                               "--rate", std::to_string(config_.request_rate)},
      d + "/sample.log");
  WaitFor([&] { return !ReadFile(d + "/sample.port").empty() || !sample_->running(); }, 15s, 20ms);
  sample_port_ = std::atoi(ReadFile(d + "/sample.port").c_str());
  if (sample_port_ <= 0)
    throw std::runtime_error("the sample service did not start: " + sample_->log());
  if (!SetErrorRate(config_.healthy_error_rate)) {
    throw std::runtime_error("the sample service refused the healthy error rate");
  }

  receiver_ = std::make_unique<HookReceiver>(hook_binary_, hooks_file_);

  // Alertmanager b keeps every timer at Alertmanager's default unless the smoke test shortens
  // group_wait. Each routes only its own pipeline's alert to the receiver; the other pipeline's
  // alert (Prometheus sends every alert to both) ends in a receiver without integrations.
  for (char p : {'b', 'c'}) {
    auto am = std::make_unique<Alertmanager>();
    am->pipeline = p;
    am->dir = d + "/alertmanager-" + p;
    am->port = it::FreePort();
    fs::create_directories(am->dir);
    std::string timers;
    if (p == 'b' && config_.b_group_wait) timers = "  group_wait: " + *config_.b_group_wait + "\n";
    if (p == 'c') {
      timers = "  group_wait: " + config_.c_group_wait +
               "\n  group_interval: " + config_.c_group_interval + "\n";
    }
    WriteFile(am->dir + "/alertmanager.yml",
              "route:\n  receiver: discard\n" + timers +
                  "  routes:\n    - receiver: hook\n      matchers: ['pipeline=\"" +
                  std::string(1, p) + "\"']\nreceivers:\n  - name: discard\n  - name: hook\n" +
                  "    webhook_configs:\n      - url: " + Yaml(receiver_->url(std::string(1, p))) +
                  "\n        send_resolved: false\n");
    StartAlertmanager(*am);
    (p == 'b' ? am_b_ : am_c_) = std::move(am);
  }

  StartPrometheus();
  for (char p : {'a', 'd'}) {
    auto daemon = std::make_unique<Daemon>();
    daemon->pipeline = p;
    daemon->dir = d + "/rollbackd-" + p;
    StartRollbackd(*daemon);
    (p == 'a' ? rollbackd_a_ : rollbackd_d_) = std::move(daemon);
  }
}

PipelineStack::~PipelineStack() {
  // rollbackd first (it reads Prometheus), then Prometheus (it sends to the Alertmanagers).
  for (Daemon* daemon : {rollbackd_a_.get(), rollbackd_d_.get()}) {
    if (daemon && daemon->process) daemon->process->Stop();
  }
  if (prometheus_) prometheus_->Stop();
}

PipelineStack::Daemon& PipelineStack::DaemonFor(char pipeline) const {
  return *(pipeline == 'd' ? rollbackd_d_ : rollbackd_a_);
}

std::string PipelineStack::expression() const {
  const std::string sel = "sample_http_requests_total{job=\"sample\"";
  return "sum(rate(" + sel + ",code=\"500\"}[" + config_.window + "])) / sum(rate(" + sel + "}[" +
         config_.window + "]))";
}

std::string PipelineStack::prometheus_url() const {
  return "http://127.0.0.1:" + std::to_string(prometheus_port_);
}

std::string PipelineStack::alertmanager_url(char pipeline) const {
  return (pipeline == 'b' ? am_b_ : am_c_)->url();
}

void PipelineStack::StartAlertmanager(Alertmanager& am) {
  const std::string storage = am.dir + "/data-" + std::to_string(++am.generation);
  const std::string address = "127.0.0.1:" + std::to_string(am.port);
  am.process = std::make_unique<it::Process>(
      std::vector<std::string>{ROLLBACKD_ALERTMANAGER,
                               "--config.file=" + am.dir + "/alertmanager.yml",
                               "--storage.path=" + storage, "--web.listen-address=" + address,
                               "--web.external-url=http://" + address,
                               // No gossip: a single instance, so no peer-position wait either.
                               "--cluster.listen-address="},
      am.dir + "/alertmanager.log");
  const bool ready = WaitFor(
      [&] { return !am.process->running() || Http("GET", am.url() + "/-/ready").status == 200; },
      30s, 50ms);
  if (!ready || !am.process->running()) {
    throw std::runtime_error(std::string("Alertmanager ") + am.pipeline +
                             " did not get ready: " + am.process->log());
  }
}

void PipelineStack::RestartAlertmanagers() {
  for (Alertmanager* am : {am_b_.get(), am_c_.get()}) {
    am->process->Stop();
    std::error_code ec;
    fs::remove_all(am->dir + "/data-" + std::to_string(am->generation), ec);
    StartAlertmanager(*am);
  }
}

// Group names carry the generation: Prometheus derives a group's evaluation phase from a hash of
// its name and file, so a renamed group evaluates at a new phase against the scrapes, and it
// starts without the state of the old one.
void PipelineStack::WriteRules() {
  const std::string expr = expression() + " > " + Num(config_.threshold);
  std::string rules = "groups:\n";
  for (const std::string& name : RuleGroups()) {
    const char p = name[std::string("pipeline-").size()];
    const std::string interval =
        p == 'b' ? FormatDuration(config_.interval) : config_.c_rule_interval;
    rules += "  - name: " + name + "\n    interval: " + interval +
             "\n    rules:\n      - alert: PipelineBench" +
             std::string(1, static_cast<char>(std::toupper(p))) + "\n        expr: " + Yaml(expr) +
             "\n        for: " + FormatDuration(config_.for_duration) +
             "\n        labels:\n          pipeline: " + p + "\n";
  }
  WriteFile(dir_.path() + "/prometheus/rules.yml", rules);
}

std::vector<std::string> PipelineStack::RuleGroups() const {
  const std::string g = "-g" + std::to_string(rules_generation_);
  return {"pipeline-b" + g, "pipeline-c" + g};
}

bool PipelineStack::RulesLoaded() {
  const json rules = GetJson(prometheus_url() + "/api/v1/rules");
  const json& groups = At(rules, {"data", "groups"});
  std::vector<std::string> names;
  for (const json& g : groups.is_array() ? groups : json::array()) {
    if (At(g, {"name"}).is_string()) names.push_back(g["name"].get<std::string>());
  }
  std::sort(names.begin(), names.end());
  return names == RuleGroups();
}

void PipelineStack::ReloadRules() {
  ++rules_generation_;
  WriteRules();
  prometheus_->Signal(SIGHUP);
  if (!WaitFor([&] { return RulesLoaded(); }, 15s, 50ms)) {
    throw std::runtime_error("Prometheus did not load the renamed rule groups: " +
                             prometheus_->log());
  }
}

void PipelineStack::StartPrometheus() {
  const std::string d = dir_.path() + "/prometheus";
  fs::create_directories(d);
  WriteRules();
  WriteFile(d + "/prometheus.yml",
            "global:\n  scrape_interval: " + FormatDuration(config_.scrape) +
                "\n  evaluation_interval: " + FormatDuration(config_.interval) +
                "\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs:\n"
                "        - targets: ['127.0.0.1:" +
                std::to_string(am_b_->port) + "', '127.0.0.1:" + std::to_string(am_c_->port) +
                "']\nscrape_configs:\n  - job_name: sample\n    static_configs:\n"
                "      - targets: ['127.0.0.1:" +
                std::to_string(sample_port_) + "']\n");
  prometheus_port_ = it::FreePort();
  prometheus_ = std::make_unique<it::Process>(
      std::vector<std::string>{ROLLBACKD_PROMETHEUS, "--config.file=" + d + "/prometheus.yml",
                               "--storage.tsdb.path=" + d + "/data",
                               "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port_),
                               "--log.level=warn"},
      dir_.path() + "/prometheus.log");
  // Ready for a repetition: the expression has a value (two scrapes in the window), both rule
  // groups are loaded and the notifier knows both Alertmanagers.
  const bool ready = WaitFor(
      [&] {
        if (!prometheus_->running()) return true;
        const json ams = GetJson(prometheus_url() + "/api/v1/alertmanagers");
        return ExpressionValue().has_value() && RulesLoaded() &&
               At(ams, {"data", "activeAlertmanagers"}).size() == 2;
      },
      30s, 100ms);
  if (!ready || !prometheus_->running()) {
    throw std::runtime_error("Prometheus did not get ready: " + prometheus_->log());
  }
}

void PipelineStack::RestartRollbackd(char pipeline) {
  Daemon& daemon = DaemonFor(pipeline);
  daemon.process->Stop();
  std::error_code ec;
  fs::remove_all(daemon.dir + "/state-" + std::to_string(daemon.generation), ec);
  ++daemon.generation;
  StartRollbackd(daemon);
}

void PipelineStack::StartRollbackd(Daemon& daemon) {
  const std::string& d = daemon.dir;
  const std::string p(1, daemon.pipeline);
  fs::create_directories(d + "/rules");
  daemon.port = it::FreePort();
  WriteFile(d + "/rollbackd.toml",
            "[daemon]\nlisten = \"127.0.0.1:" + std::to_string(daemon.port) +
                "\"\nstate_dir = \"state-" + std::to_string(daemon.generation) +
                "\"\nrules = [\"rules/*.toml\"]\ninterval = \"" + FormatDuration(config_.interval) +
                "\"\n\n[prometheus.default]\nurl = \"" + prometheus_url() +
                "\"\ntimeout = \"2s\"\n");
  // Every repetition gets a fresh daemon and state dir (RestartRollbackd), so neither cooldown nor
  // episode carries over; cooldown 0s says the same in the config. Pipeline d is the same trigger
  // with one escalation step.
  const std::string escalate =
      daemon.pipeline == 'd' ? "escalate = [ { above = " + Num(config_.step_above) + ", for = \"" +
                                   FormatDuration(config_.step_for) + "\" } ]\n"
                             : "";
  WriteFile(d + "/rules/sample.toml",
            "service = \"sample\"\ninterval = \"" + FormatDuration(config_.interval) +
                "\"\n\n[[trigger]]\nname = \"error_rate\"\nquery = '" + expression() +
                "'\nabove = " + Num(config_.threshold) + "\nfor = \"" +
                FormatDuration(config_.for_duration) + "\"\n" + escalate +
                "severity = \"critical\"\n\n[rollback]\nexec = [" + json(hook_binary_).dump() +
                ", " + json(p).dump() + ", " + json(hooks_file_).dump() +
                "]\ncooldown = \"0s\"\nverify = \"1m\"\n");
  daemon.process = std::make_unique<it::Process>(
      std::vector<std::string>{ROLLBACKD_BINARY, "run", "--config", d + "/rollbackd.toml"},
      dir_.path() + "/rollbackd-" + p + ".log");
  const std::string metrics = daemon.url() + "/metrics";
  // Ready and warm: a few rounds done, so the first repetition does not pay for the first round.
  const bool ready = WaitFor(
      [&] {
        if (!daemon.process->running()) return true;
        const it::HttpResult r = Http("GET", metrics);
        return r.status == 200 &&
               it::MetricValue(r.body, "rollbackd_evaluations_total").value_or(0) >= 3;
      },
      30s, 100ms);
  if (!ready || !daemon.process->running()) {
    throw std::runtime_error("rollbackd " + p + " did not get ready: " + daemon.process->log());
  }
}

bool PipelineStack::SetErrorRate(double rate) {
  return Http("POST", "http://127.0.0.1:" + std::to_string(sample_port_) +
                          "/control/fault?error_rate=" + Num(rate))
             .status == 200;
}

std::optional<double> PipelineStack::ExpressionValue() {
  const json j = GetJson(prometheus_url() + "/api/v1/query?query=" + it::UrlEncode(expression()));
  const json& result = At(j, {"data", "result"});
  if (!result.is_array() || result.empty()) return std::nullopt;
  const json& value = At(result[0], {"value"});
  if (!value.is_array() || value.size() != 2 || !value[1].is_string()) return std::nullopt;
  const double v = std::strtod(value[1].get<std::string>().c_str(), nullptr);
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

PipelineView PipelineStack::Rollbackd(char pipeline) {
  PipelineView v;
  const json j = GetJson(DaemonFor(pipeline).url() + "/api/v1/status");
  const json& services = At(j, {"services"});
  if (!services.is_array() || services.empty()) return v;
  const json& service = services[0];
  v.rollback_in_flight = !At(service, {"rollback_in_flight"}).is_null();
  const json& triggers = At(service, {"triggers"});
  if (!triggers.is_array() || triggers.empty()) return v;
  const json& trigger = triggers[0];
  if (At(trigger, {"state"}).is_string()) v.state = trigger["state"].get<std::string>();
  const json& series = At(trigger, {"series"});
  if (series.is_array() && !series.empty()) {
    v.active_ns = InstantNs(series[0], "pending_since");
    v.firing_ns = InstantNs(series[0], "firing_since");
  }
  return v;
}

PipelineView PipelineStack::PrometheusAlert(char pipeline) {
  PipelineView v;
  const json j = GetJson(prometheus_url() + "/api/v1/alerts");
  const json& alerts = At(j, {"data", "alerts"});
  if (!alerts.is_array()) {
    v.state = "unknown";
    return v;
  }
  for (const json& alert : alerts) {
    const json& label = At(alert, {"labels", "pipeline"});
    if (!label.is_string() || label.get<std::string>() != std::string(1, pipeline)) continue;
    if (At(alert, {"state"}).is_string()) v.state = alert["state"].get<std::string>();
    v.active_ns = InstantNs(alert, "activeAt");
  }
  return v;
}

int PipelineStack::AlertmanagerAlerts(char pipeline) {
  const json j = GetJson(alertmanager_url(pipeline) + "/api/v2/alerts");
  return j.is_array() ? static_cast<int>(j.size()) : -1;
}

int PipelineStack::AlertmanagerGroups(char pipeline) {
  const json j = GetJson(alertmanager_url(pipeline) + "/api/v2/alerts/groups");
  return j.is_array() ? static_cast<int>(j.size()) : -1;
}

std::string PipelineStack::Version(const std::string& binary) {
  it::TempDir dir;
  it::Process p({binary, "--version"}, dir.path() + "/version.log");
  p.WaitExit(10s);
  std::string text = p.log();
  return text.substr(0, text.find('\n'));
}

}  // namespace rollbackd::bench
