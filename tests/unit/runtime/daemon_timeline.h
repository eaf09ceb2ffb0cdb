// The daemon on fakes (testing/): a FakeClock, a FakeFileSystem for state_dir, scripted inputs, a
// fake hook runner and a fake HTTP transport for the webhook channel. A timeline of minutes runs in
// microseconds; "the hook ran once at t=13s" is a plain assertion. Crash(): what a power cut now
// would leave, and a new daemon started on it, on the same clock.
#ifndef ROLLBACKD_TESTS_UNIT_RUNTIME_DAEMON_TIMELINE_H_
#define ROLLBACKD_TESTS_UNIT_RUNTIME_DAEMON_TIMELINE_H_

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "daemon/io/http_date.h"
#include "daemon/runtime/daemon.h"
#include "testing/fake_clock.h"
#include "testing/fake_file_system.h"
#include "testing/fakes.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd::testutil {

// Seconds since the timeline's start ("13s"), for readable assertions.
inline std::string At(Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

class Timeline {
 public:
  // One service "web" with the trigger `trigger` (TOML lines inside [[trigger]]) reading
  // "errors" from Prometheus every `interval`, an exec hook, and every event to a webhook.
  explicit Timeline(const std::string& trigger, const std::string& service_extra = "",
                    const std::string& daemon_extra = "")
      : clock_(&io_), fs_(std::make_unique<testing::FakeFileSystem>()) {
    dir_.Write("rollbackd.toml",
               "[daemon]\nstate_dir = \"/state\"\nrules = [\"rules/*.toml\"]\ninterval = \"1s\"\n" +
                   daemon_extra +
                   "\n[prometheus.default]\nurl = \"http://127.0.0.1:1\"\n\n"
                   "[channel.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:1/events\"\n\n"
                   "[[route]]\nchannels = [\"hook\"]\n");
    std::filesystem::create_directories(dir_.path() + "/rules");
    WriteRule(trigger, service_extra);
    NewEffects();
  }
  ~Timeline() {
    daemon_.reset();
    clock_.RunReady(1000);
  }

  void WriteRule(const std::string& trigger, const std::string& service_extra = "") {
    dir_.Write("rules/web.toml",
               "service = \"web\"\n" + service_extra +
                   "\n[[trigger]]\nname = \"errors\"\nquery = \"errors\"\n" + trigger +
                   "\n\n[rollback]\nexec = [\"/bin/rollback\"]\ntimeout = \"1m\"\nverify = "
                   "\"2s\"\n");
  }

  // The value Prometheus answers for "errors" at a time since the start; nullopt: an error.
  std::function<std::optional<double>(Duration)> value = [](Duration) { return 0.0; };

  // Set before Start: Prometheus is read through the real HttpInputReader, over a fake transport
  // that answers `value` as Prometheus's JSON, stamped with `date` of this host's wall clock (its
  // Date header; nullopt: none).
  bool prometheus_over_http = false;
  std::function<std::optional<std::string>(WallTime)> date = [](WallTime now) {
    return std::optional<std::string>(FormatHttpDate(now));
  };
  testing::FakeHttpTransport& prometheus_http() { return *prom_http_; }

  bool Start() {
    DaemonOptions o;
    o.config_path = dir_.path() + "/rollbackd.toml";
    o.listen_override = "127.0.0.1:0";
    InputReader& inputs =
        prometheus_over_http ? static_cast<InputReader&>(*prom_reader_) : *inputs_;
    daemon_ = std::make_unique<Daemon>(
        DaemonEnv{io_, clock_, *fs_, inputs, *hooks_, *http_, *exec_, {}}, o);
    const bool ok = daemon_->Start();
    clock_.RunReady();
    return ok;
  }

  void Advance(Duration d) { ASSERT_TRUE(clock_.Advance(d)) << "timeline did not settle"; }
  void Reload() {
    daemon_->Reload();
    clock_.RunReady();
  }
  void Shutdown(bool* done) {
    daemon_->Shutdown([done] { *done = true; });
    clock_.RunReady();
  }

  // A power cut now: nothing more becomes durable or leaves (callable from inside a step).
  void FreezeAll() {
    fs_->Freeze();
    hooks_->Freeze();
    http_->Freeze();
  }
  // `prepare` (optional) sets up the new life's hook runner before it starts (what Resume says).
  using Prepare = std::function<void(testing::FakeHookRunner&)>;
  bool Crash(const Prepare& prepare = {}) {
    FreezeAll();
    return Restart(prepare);
  }
  // The frozen process is abandoned; a new daemon starts on what was durable.
  bool Restart(const Prepare& prepare = {}) {
    daemon_.reset();
    auto survived = fs_->Durable();
    for (std::string& id : NotificationIds(*survived)) durable_ids_.insert(std::move(id));
    old_.push_back(std::move(fs_));
    fs_ = std::move(survived);
    NewEffects();
    if (prepare) prepare(*hooks_);
    return Start();
  }

  // Events as the decision log has them (the current file system's), "13s rollback.started".
  std::vector<std::string> Decisions() const {
    std::vector<std::string> out;
    for (const nlohmann::json& e : DecisionRecords()) {
      out.push_back(EventAt(e) + " " + e["event"].get<std::string>());
    }
    return out;
  }
  std::vector<nlohmann::json> DecisionRecords() const {
    std::vector<nlohmann::json> out;
    const auto text = fs_->Contents("/state/decisions.jsonl");
    if (!text) return out;
    size_t pos = 0;
    while (pos < text->size()) {
      const size_t end = text->find('\n', pos);
      if (end == std::string::npos) break;
      out.push_back(nlohmann::json::parse(text->substr(pos, end - pos)));
      pos = end + 1;
    }
    return out;
  }
  // Every webhook delivery so far, over every life of the daemon: (webhook-id, payload).
  std::vector<std::pair<std::string, nlohmann::json>> Deliveries() const {
    std::vector<std::pair<std::string, nlohmann::json>> out;
    for (const auto* http : all_http_) {
      for (const HttpRequest& r : http->requests) {
        const std::string* id = r.Header("webhook-id");
        out.emplace_back(id ? *id : "", nlohmann::json::parse(r.body, nullptr, false));
      }
    }
    return out;
  }
  // Hook runs over every life: "13s" each.
  std::vector<std::string> HookRuns() const {
    std::vector<std::string> out;
    for (const auto* hooks : all_hooks_) {
      for (const auto& r : hooks->runs)
        out.push_back(At(std::chrono::duration_cast<Duration>(r->at - start_)));
    }
    return out;
  }

  // The ids of the notifications each crash left durable (in the outbox or in state.json).
  const std::set<std::string>& durable_ids() const { return durable_ids_; }
  static std::vector<std::string> NotificationIds(const testing::FakeFileSystem& fs) {
    std::vector<std::string> ids;
    if (auto outbox = fs.Contents("/state/outbox.jsonl")) {
      size_t pos = 0;
      for (size_t end; (end = outbox->find('\n', pos)) != std::string::npos; pos = end + 1) {
        const auto r = nlohmann::json::parse(outbox->substr(pos, end - pos), nullptr, false);
        if (r.is_object() && r.contains("add")) ids.push_back(r.value("id", ""));
      }
    }
    if (auto state = fs.Contents("/state/state.json")) {
      const auto r = nlohmann::json::parse(*state, nullptr, false);
      if (r.is_object() && r.contains("notifications_pending")) {
        for (const auto& e : r["notifications_pending"]) ids.push_back(e.value("id", ""));
      }
    }
    return ids;
  }

  std::string EventAt(const nlohmann::json& e) const {
    // Event times are RFC 3339 with milliseconds; the wall clock started at 1.8e9 s.
    return e.contains("time") ? TimeOf(e["time"].get<std::string>()) : "?";
  }
  static std::string TimeOf(const std::string& rfc3339);

  testing::FakeClock& clock() { return clock_; }
  testing::FakeFileSystem& fs() { return *fs_; }
  testing::FakeHookRunner& hooks() { return *hooks_; }
  testing::FakeHttpTransport& http() { return *http_; }
  testing::FakeInputReader& inputs() { return *inputs_; }
  Daemon& daemon() { return *daemon_; }
  TempDir& dir() { return dir_; }
  // Step hooks for crash tests: called at every boundary (durable write, hook start and end,
  // delivery), with what it was.
  std::function<void(const std::string& what)> on_step;

 private:
  void NewEffects();

  boost::asio::io_context io_;
  testing::FakeClock clock_;
  SteadyTime start_ = clock_.SteadyNow();
  TempDir dir_;
  std::unique_ptr<testing::FakeFileSystem> fs_;
  std::vector<std::unique_ptr<testing::FakeFileSystem>> old_;
  std::unique_ptr<testing::FakeInputReader> inputs_;
  std::unique_ptr<testing::FakeHttpTransport> prom_http_;
  std::unique_ptr<HttpInputReader> prom_reader_;
  std::vector<std::unique_ptr<testing::FakeHookRunner>> hooks_list_;
  std::vector<std::unique_ptr<testing::FakeHttpTransport>> http_list_;
  std::vector<const testing::FakeHookRunner*> all_hooks_;
  std::vector<const testing::FakeHttpTransport*> all_http_;
  testing::FakeHookRunner* hooks_ = nullptr;
  testing::FakeHttpTransport* http_ = nullptr;
  std::unique_ptr<testing::FakeProcessRunner> exec_;
  std::unique_ptr<Daemon> daemon_;
  std::set<std::string> durable_ids_;
};

inline std::string Timeline::TimeOf(const std::string& rfc3339) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return rfc3339;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const int64_t t = static_cast<int64_t>(timegm(&tm)) * 1000 + ms - int64_t{1'800'000'000} * 1000;
  return At(std::chrono::milliseconds(t));
}

inline void Timeline::NewEffects() {
  fs_->SetOnDurable([this](testing::FakeFileSystem::Op op, const std::string& path) {
    if (on_step) on_step(std::string(testing::OpName(op)) + " " + path);
  });
  inputs_ = std::make_unique<testing::FakeInputReader>(io_);
  inputs_->query = [this](const std::string&, Time at) {
    const auto since = at - Time(std::chrono::seconds(1'800'000'000));
    const std::optional<double> v = value(std::chrono::duration_cast<Duration>(since));
    if (!v) return QueryResult::Error("connection refused", InputError::kConnection);
    QueryResult r;
    r.series.push_back({Labels(), *v});
    return r;
  };
  prom_http_ = std::make_unique<testing::FakeHttpTransport>(io_);
  prom_reader_ = std::make_unique<HttpInputReader>(*prom_http_, clock_);
  prom_http_->respond = [this](const HttpRequest& req) {
    const size_t at = req.body.find("&time=");
    const double secs = at == std::string::npos ? 0 : std::stod(req.body.substr(at + 6));
    const auto since =
        std::chrono::milliseconds(std::llround(secs * 1000)) - std::chrono::seconds(1'800'000'000);
    const std::optional<double> v = value(since);
    if (!v) return HttpResponse::Failed(TransportError::kConnection, "connection refused");
    HttpResponse r;
    r.status = 200;
    r.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},)"
             R"("value":[)" +
             std::to_string(secs) + ",\"" + std::to_string(*v) + "\"]}]}}";
    if (auto d = date(clock_.WallNow())) r.headers.emplace_back("date", *d);
    return r;
  };
  hooks_list_.push_back(std::make_unique<testing::FakeHookRunner>(clock_));
  hooks_ = hooks_list_.back().get();
  all_hooks_.push_back(hooks_);
  hooks_->on_step = [this](const char* what, const std::string&) {
    if (on_step) on_step(what);
  };
  http_list_.push_back(std::make_unique<testing::FakeHttpTransport>(io_));
  http_ = http_list_.back().get();
  all_http_.push_back(http_);
  http_->respond = [this](const HttpRequest&) {
    if (on_step) on_step("delivery");
    HttpResponse r;
    r.status = 200;
    return r;
  };
  exec_ = std::make_unique<testing::FakeProcessRunner>(io_);
}

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_RUNTIME_DAEMON_TIMELINE_H_
