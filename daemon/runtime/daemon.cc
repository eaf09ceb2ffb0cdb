#include "daemon/runtime/daemon.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "daemon/actions/decision_log.h"
#include "daemon/io/exec_runner.h"
#include "daemon/actions/hook_env.h"
#include "daemon/actions/journal.h"
#include "daemon/config/loader.h"
#include "daemon/config/redact.h"
#include "daemon/engine/engine.h"
#include "daemon/notify/notifier.h"
#include "daemon/runtime/metrics.h"
#include "daemon/runtime/schedule.h"
#include "daemon/runtime/secrets.h"
#include "daemon/runtime/service_manager.h"
#include "daemon/runtime/status_json.h"
#include "daemon/server/http_server.h"
#include "daemon/io/file_system.h"
#include "daemon/io/http_client.h"
#include "daemon/io/signing.h"
#include "daemon/sources/probe.h"
#include "daemon/sources/prom_response.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kDecisionLogBytes = 16 << 20;
constexpr int kDecisionLogKeep = 4;
// In state.json beside the engine's state: the notifications of the round it was saved for.
constexpr const char* kPendingNotificationsKey = "notifications_pending";
constexpr size_t kHookOutputTail = 4096;
constexpr Duration kNotificationDrain = std::chrono::seconds(10);
// Prometheus queries of one round in flight at once, per source; the rest wait their turn. All at
// once, a fleet's 7,000 queries opened 7,000 connections: Prometheus serves 512
// (--web.max-connections), curl keeps the connections it got, and every other query timed out,
// round after round (bench/scale). A few kept connections carry the whole round instead, and
// Prometheus runs 20 queries at a time anyway (--query.max-concurrency).
constexpr size_t kQueriesInFlight = 16;

Time WallNow() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string LabelsText(const LabelMap& labels) {
  std::string s;
  for (const auto& [k, v] : labels) {
    s += s.empty() ? "{" : ",";
    s += k + "=\"" + v + "\"";
  }
  return s.empty() ? s : s + "}";
}

// Control characters (a newline in a label value) escaped, so nothing can forge a log line.
std::string OneLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

spdlog::level::level_enum EventLevel(EventKind k) {
  switch (k) {
    case EventKind::kTriggerPending:
    case EventKind::kTriggerResolved:
    case EventKind::kSourceUp:
    case EventKind::kRollbackSucceeded:
    case EventKind::kRollbackVerified:
      return spdlog::level::info;
    case EventKind::kRollbackFailed:
    case EventKind::kRollbackNotRecovered:
      return spdlog::level::err;
    default:
      return spdlog::level::warn;
  }
}

ServerResponse JsonResponse(int status, const json& body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

ServerResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

HttpServerOptions ServerOptions() {
  HttpServerOptions o;
  o.on_error = [](const std::string& message) { spdlog::warn("api server: {}", message); };
  return o;
}

}  // namespace

struct Daemon::Impl {
  Impl(asio::io_context& io_context, DaemonOptions opts)
      : io(io_context),
        options(std::move(opts)),
        http(io),
        exec(io),
        notifier_clock(io),
        notifier(http, exec, notifier_clock, RealFileSystem()),
        server(
            io, [this](const ServerRequest& r) { return Handle(r); }, ServerOptions()),
        metrics(options.version),
        service_manager(io),
        timer(io) {}

  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  // ---- configuration ------------------------------------------------------------------------

  std::shared_ptr<const Config> Load(ConfigSecrets* prepared) {
    Diagnostics diags;
    auto loaded = LoadConfig(options.config_path, &diags);
    for (const Diagnostic& d : diags.Sorted()) {
      if (d.level == Diagnostic::Level::kError) {
        spdlog::error("{}", d.ToString());
      } else {
        spdlog::warn("{}", d.ToString());
      }
    }
    if (!loaded) {
      spdlog::error("{}: {} configuration error(s)", options.config_path, diags.error_count());
      return nullptr;
    }
    std::vector<std::string> errors;
    auto p = LoadSecrets(*loaded, &errors);
    if (!p) {
      for (const std::string& e : errors) spdlog::error("{}: {}", options.config_path, e);
      return nullptr;
    }
    *prepared = std::move(*p);
    return std::make_shared<const Config>(std::move(*loaded));
  }

  // Whole or not at all: every step that can fail comes before the first change.
  bool Adopt(std::shared_ptr<const Config> next, ConfigSecrets prepared) {
    auto engine_next = std::make_unique<Engine>(next);
    if (engine) {
      std::string err;
      if (!engine_next->RestoreState(engine->SaveState(), &err)) {
        // Never expected (the engine reads what it wrote); losing cooldowns and episodes is not
        // an option, so the running configuration stays.
        spdlog::error("engine state could not be carried over: {}", err);
        return false;
      }
    }
    std::vector<std::string> errors;
    if (!notifier.Configure(*next, &errors)) {
      for (const std::string& e : errors) spdlog::error("{}: {}", options.config_path, e);
      return false;
    }
    engine = std::move(engine_next);
    config = std::move(next);
    endpoints = std::move(prepared.endpoints);
    hook_keys = std::move(prepared.hook_keys);
    hook_auth = std::move(prepared.hook_auth);
    api_token = std::move(prepared.api_token);
    schedule = Schedule(*config, *engine, SteadyClock::now());
    check_service.clear();
    for (const Service& s : config->services) {
      for (const HealthCheck& h : s.health) check_service[&h] = s.name;
    }
    size_t triggers = 0, checks = 0;
    for (const Service& s : config->services) {
      triggers += s.triggers.size();
      checks += s.health.size();
    }
    spdlog::info("configuration {}: {} services, {} triggers, {} health checks, {} inputs{}",
                 config->file, config->services.size(), triggers, checks, engine->inputs().size(),
                 config->daemon.dry_run ? " (dry run: no hook will run)" : "");
    metrics.Reload(
        true,
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    return true;
  }

  bool Start() {
    // Before the first Configure: what it drops from the outbox is counted too.
    notifier.SetObserver([this](std::string_view channel, std::string_view result) {
      metrics.Notification(channel, result);
      UpdateOutboxMetrics();
    });
    ConfigSecrets prepared;
    auto loaded = Load(&prepared);
    if (!loaded) {
      metrics.Reload(false, 0);
      return false;
    }
    if (!OpenState(*loaded)) return false;
    if (!Adopt(loaded, std::move(prepared))) {
      metrics.Reload(false, 0);
      return false;
    }
    if (!RestoreEngineState()) return false;

    std::vector<Event> events;
    Reconcile(&events);

    const std::string listen =
        options.listen_override.empty() ? config->daemon.listen : options.listen_override;
    std::string err;
    if (!server.Listen(listen, &err)) {
      spdlog::error("{}", err);
      return false;
    }
    spdlog::info("listening on http://{}", ListenDisplay(listen));
    Process(std::move(events));
    service_manager.StartWatchdog();
    if (schedule.empty()) {  // nothing to read: loaded is ready
      ready = true;
      service_manager.Ready(StatusLine(engine->Status()));
    }
    ScheduleNext();
    return true;
  }

  std::string ListenDisplay(const std::string& listen) const {
    const size_t colon = listen.rfind(':');
    return listen.substr(0, colon) + ":" + std::to_string(server.port());
  }

  void Reload() {
    if (stopping) return;
    if (round_running) {
      reload_pending = true;  // the round's inputs are indexed by the running engine
      return;
    }
    ApplyReload();
  }

  void ApplyReload() {
    reload_pending = false;
    spdlog::info("reloading {}", options.config_path);
    service_manager.Reloading();
    // READY=1 again however the reload ends: the daemon goes on with one configuration or the
    // other.
    struct ReadyAgain {
      Impl* self;
      ~ReadyAgain() { self->service_manager.Ready(self->StatusLine(self->engine->Status())); }
    } ready_again{this};
    ConfigSecrets prepared;
    auto loaded = Load(&prepared);
    if (!loaded) {
      metrics.Reload(false, 0);
      spdlog::error("reload rejected: keeping the configuration loaded before");
      return;
    }
    for (const ServiceStatus& st : engine->Status()) {
      if (st.rollback_in_flight.empty()) continue;
      const bool kept = std::any_of(loaded->services.begin(), loaded->services.end(),
                                    [&](const Service& s) { return s.name == st.name; });
      if (!kept) {
        metrics.Reload(false, 0);
        spdlog::error(
            "reload rejected: service {} has rollback {} in flight and the new "
            "configuration removes it; reload again once it has finished",
            st.name, st.rollback_in_flight);
        return;
      }
    }
    if (loaded->daemon.state_dir != config->daemon.state_dir ||
        loaded->daemon.listen != config->daemon.listen) {
      spdlog::warn("reload: daemon.state_dir and daemon.listen take effect at the next restart");
    }
    if (!Adopt(loaded, std::move(prepared))) {
      metrics.Reload(false, 0);
      spdlog::error("reload rejected: keeping the configuration loaded before");
      return;
    }
    SaveState();
    ScheduleNext();
  }

  // ---- state ----------------------------------------------------------------------------------

  std::string StatePath() const { return state_dir + "/state.json"; }

  bool OpenState(const Config& c) {
    state_dir = c.daemon.state_dir;
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
      spdlog::error("state_dir {}: {}", state_dir, ec.message());
      return false;
    }
    // Two daemons on one state_dir would each run the hook once: refuse the second.
    const std::string lock_path = state_dir + "/lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      spdlog::error("state_dir {}: {}", state_dir,
                    errno == EWOULDBLOCK ? "another rollbackd is running with this state_dir"
                                         : std::strerror(errno));
      return false;
    }
    std::string err;
    journal = Journal::Open(RealFileSystem(), state_dir + "/journal.jsonl", &err);
    if (!journal) {
      spdlog::error("{}", err);
      return false;
    }
    decisions = DecisionLog::Open(RealFileSystem(), state_dir + "/decisions.jsonl", kDecisionLogBytes,
                                  kDecisionLogKeep, &err);
    if (!decisions) {
      spdlog::error("{}", err);
      return false;
    }
    // Notifications not delivered before the last stop go out again once channels are known.
    if (!notifier.Open(state_dir, &err)) {
      spdlog::error("{}", err);
      return false;
    }
    return true;
  }

  // Cooldowns, pauses and firing episodes must survive a restart, or a trigger still firing would
  // roll back a second time: a state file that exists but cannot be read stops the start.
  bool RestoreEngineState() {
    std::ifstream in(StatePath(), std::ios::binary);
    if (!in) {
      if (errno == ENOENT) return true;  // first start
      spdlog::error("{}: {}", StatePath(), std::strerror(errno));
      return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string err;
    if (!engine->RestoreState(ss.str(), &err)) {
      spdlog::error(
          "{}: {}. It is written atomically, so it was changed from outside. Move it "
          "aside to start with fresh state: cooldowns, pauses and firing episodes are "
          "then forgotten (the journal still stops an interrupted hook from rerunning)",
          StatePath(), err);
      return false;
    }
    spdlog::info("state restored from {}", StatePath());
    // The last round's notifications, in case the crash came before they reached the outbox.
    const nlohmann::json root = nlohmann::json::parse(ss.str(), nullptr, false);
    if (root.is_object() && root.contains(kPendingNotificationsKey)) {
      std::vector<OutboxEntry> entries;
      for (const nlohmann::json& j : root[kPendingNotificationsKey]) {
        if (auto e = OutboxEntryFromJson(j)) entries.push_back(std::move(*e));
      }
      notifier.Recover(std::move(entries));
    }
    return true;
  }

  // The engine's state, and `notifications` (a round's, between Prepare and Commit) beside it.
  bool SaveState(std::string* error = nullptr,
                 const std::vector<OutboxEntry>* notifications = nullptr) {
    std::string err;
    try {
      std::string text = engine->SaveState();
      if (notifications != nullptr && !notifications->empty()) {
        nlohmann::json root = nlohmann::json::parse(text);
        nlohmann::json list = nlohmann::json::array();
        for (const OutboxEntry& e : *notifications) list.push_back(OutboxEntryToJson(e));
        root[kPendingNotificationsKey] = std::move(list);
        text = root.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      if (RealFileSystem().WriteFileAtomically(StatePath(), text, &err)) return true;
    } catch (const std::exception& e) {  // the engine's JSON: never expected, never fatal
      err = std::string("serializing engine state: ") + e.what();
    }
    spdlog::error("saving state: {}", err);
    if (error) *error = err;
    return false;
  }

  // After a restart: a rollback the engine had in flight ended while we were gone (the journal has
  // its outcome) or its outcome is unknown. Unknown means interrupted: it is not run again.
  void Reconcile(std::vector<Event>* events) {
    std::string err;
    for (const std::string& id : engine->RollbacksInFlight()) {
      RollbackOutcome outcome;
      if (auto known = journal->Outcome(id)) {
        outcome = *known;
      } else {
        outcome.success = false;
        outcome.error = journal->Knows(id)
                            ? "interrupted: rollbackd stopped after recording the intent; "
                              "whether the hook ran or finished is unknown, so it was not run "
                              "again"
                            : "interrupted: rollbackd stopped before the hook started";
        if (journal->Knows(id) && !journal->RecordOutcome(id, outcome, Now(), &err)) {
          spdlog::error("journal: {}", err);
        }
        spdlog::error("rollback {} was interrupted by a restart; not running it again", id);
      }
      engine->RollbackFinished(id, outcome, Now(), events);
    }
    for (const JournalIntent& in : journal->Unfinished()) {
      RollbackOutcome outcome;
      outcome.error = "interrupted";
      spdlog::error(
          "journal: rollback {} of {} has no outcome and the saved state does not know "
          "it; marking it interrupted, not running it again",
          in.rollback_id, in.service);
      if (!journal->RecordOutcome(in.rollback_id, outcome, Now(), &err)) {
        spdlog::error("journal: {}", err);
      }
    }
  }

  // Evaluation instants never go backwards, whatever the wall clock does.
  Time Now() {
    last_time = std::max(last_time, WallNow());
    return last_time;
  }

  // A round's evaluation instant: its slot's (SlotClock), never before an instant already used.
  Time SlotTime(SteadyClock::time_point slot, SteadyClock::time_point now) {
    last_time = std::max(last_time, slot_clock.At(slot, now, std::chrono::system_clock::now()));
    return last_time;
  }

  // Runs `fn` later on the loop, unless the daemon is destroyed first (tests keep the loop).
  void Post(std::function<void()> fn) {
    asio::post(io, [alive = std::weak_ptr<bool>(alive), fn = std::move(fn)] {
      if (alive.lock()) fn();
    });
  }

  // ---- rounds ---------------------------------------------------------------------------------

  void ScheduleNext() {
    if (stopping || round_running || schedule.empty()) return;
    timer.expires_at(schedule.next());
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) StartRound();
    });
  }

  void StartRound() {
    if (stopping || round_running) return;
    const auto now = SteadyClock::now();
    const auto slot = schedule.empty() ? now : schedule.next();
    const auto& specs = engine->inputs();
    std::vector<char> due(specs.size(), 0);
    outstanding = schedule.TakeDue(now, &due);
    round_results.assign(specs.size(), QueryResult());
    round_read.assign(specs.size(), 0);
    round_queues.clear();
    if (outstanding == 0) {
      ScheduleNext();
      return;
    }
    round_running = true;
    round_start = now;
    round_time = SlotTime(slot, now);
    const uint64_t gen = ++round_gen;
    for (size_t id = 0; id < specs.size(); ++id) {
      if (!due[id]) continue;
      const InputSpec& spec = specs[id];
      const auto started = SteadyClock::now();
      if (spec.kind == InputSpec::Kind::kProbe) {
        const HealthCheck* check = spec.probe;
        const std::string& service = check_service[check];
        RunProbe(http, *check, [this, gen, id, started, check, service](QueryResult r) {
          if (gen != round_gen) return;
          const bool passed = !r.series.empty() && r.series.front().value >= 1 && !r.is_error();
          metrics.Probe(service, check->name, Seconds(SteadyClock::now() - started), passed);
          InputRead(id, std::move(r));
        });
      } else {
        auto ep = endpoints.find(spec.source);
        if (ep == endpoints.end()) {
          // Validation makes this unreachable; an unknown source is an error, never a breach.
          Post([this, gen, id, src = spec.source] {
            if (gen == round_gen) InputRead(id, QueryResult::Error("unknown source " + src));
          });
          continue;
        }
        round_queues[spec.source].waiting.push_back(id);
      }
    }
    for (auto& [source, queue] : round_queues) SendQueries(source, gen);
  }

  // Starts waiting queries of `source` while fewer than kQueriesInFlight are in flight.
  void SendQueries(const std::string& source, uint64_t gen) {
    SourceQueue& queue = round_queues[source];
    const PrometheusEndpoint& endpoint = endpoints.at(source);  // checked in StartRound
    while (queue.in_flight < kQueriesInFlight && !queue.waiting.empty()) {
      const size_t id = queue.waiting.front();
      queue.waiting.pop_front();
      ++queue.in_flight;
      const auto started = SteadyClock::now();  // the query's own time, not its wait
      RunInstantQuery(http, reader, endpoint, engine->inputs()[id].query, round_time,
                      [this, gen, id, started, source](QueryResult r) {
                        if (gen != round_gen) return;
                        metrics.Query(source, Seconds(SteadyClock::now() - started), r);
                        --round_queues[source].in_flight;
                        // The next query goes out before this one's result is taken: the
                        // round may finish in InputRead.
                        SendQueries(source, gen);
                        InputRead(id, std::move(r));
                      });
    }
  }

  void InputRead(size_t id, QueryResult r) {
    if (r.is_error()) {
      const InputSpec& spec = engine->inputs()[id];
      spdlog::debug("query failed ({}): {}: {}", spec.source, spec.query, r.error);
    }
    round_results[id] = std::move(r);
    round_read[id] = 1;
    if (--outstanding == 0) FinishRound();
  }

  void FinishRound() {
    round_running = false;
    if (stopping) return;  // draining: no new evaluations
    Inputs inputs(round_results.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (round_read[i]) inputs[i] = &round_results[i];
    }
    std::vector<Event> events;
    engine->Evaluate(round_time, inputs, &events);
    metrics.RoundDone(Seconds(SteadyClock::now() - round_start));
    const std::vector<ServiceStatus> status = engine->Status();
    metrics.UpdateStatus(status);
    UpdateOutboxMetrics();
    if (!ready) {
      ready = true;
      service_manager.Ready(StatusLine(status));
      spdlog::info("first evaluation done: ready");
    } else if (std::string line = StatusLine(status); line != status_line) {
      service_manager.Status(line);
      status_line = std::move(line);
    }
    if (options.stall_loop_after_rounds > 0 && ++rounds_done >= options.stall_loop_after_rounds) {
      spdlog::warn("test switch: stalling the event loop for good");
      for (;;) ::pause();
    }
    Process(std::move(events));
    if (reload_pending) ApplyReload();
    ScheduleNext();
  }

  // systemd's one-line status: what `systemctl status` shows.
  std::string StatusLine(const std::vector<ServiceStatus>& status) const {
    size_t firing = 0, in_flight = 0, paused = 0;
    for (const ServiceStatus& s : status) {
      for (const SeriesStatus& x : s.series) firing += x.state == "firing" ? 1 : 0;
      in_flight += s.rollback_in_flight.empty() ? 0 : 1;
      paused += s.paused ? 1 : 0;
    }
    return fmt::format(
        "watching {} service(s); {} series firing; {} rollback(s) running; {} paused",
        status.size(), firing, in_flight, paused);
  }

  // ---- events, hooks --------------------------------------------------------------------------

  // Everything an evaluation decided, in order. Recorded first (log, decision log: a crash right
  // after must not lose the record), then the engine state goes to disk, and only then do
  // notifications and hooks start: a crash after this point cannot lead to a second decision for
  // the same episode.
  void Process(std::vector<Event> events) {
    if (events.empty()) return;
    for (const Event& e : events) {
      LogEvent(e);
      metrics.EventEmitted(e);
      std::string err;
      if (!decisions->Record(e, *engine, &err)) spdlog::error("decision log: {}", err);
    }
    // The round's notifications go into the state file with the decisions, then into the outbox:
    // a crash between the two cannot lose them (Recover at the next start).
    std::vector<OutboxEntry> notifications = notifier.Prepare(events);
    std::string save_error;
    const bool saved = SaveState(&save_error, &notifications);
    notifier.Commit(std::move(notifications));
    UpdateOutboxMetrics();
    for (const Event& e : events) {
      if (e.kind == EventKind::kRollbackStarted) {
        StartHook(e, saved ? "" : "state not saved (" + save_error + ")");
      }
    }
  }

  void UpdateOutboxMetrics() {
    metrics.Outbox(notifier.PendingByChannel(), notifier.outbox_bytes());
  }

  void LogEvent(const Event& e) {
    std::string numbers;
    if (e.value) numbers += fmt::format(" value={:g}", *e.value);
    if (e.threshold) numbers += fmt::format(" threshold={:g}", *e.threshold);
    if (e.baseline) numbers += fmt::format(" baseline={:g}", *e.baseline);
    std::string extra;
    if (!e.skip_reason.empty()) extra += " skip_reason=" + e.skip_reason;
    if (!e.rollback_id.empty()) extra += " rollback=" + e.rollback_id;
    // Label values and reasons come from Prometheus and probes: one event stays one log line.
    spdlog::log(
        EventLevel(e.kind), "{}",
        OneLine(fmt::format("{} {}/{}{}{}{}: {} (id {})", EventKindName(e.kind), e.service,
                            e.trigger, LabelsText(e.labels), numbers, extra, e.reason, e.id)));
  }

  const Service* FindService(std::string_view name) const {
    for (const Service& s : config->services) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  // Never runs a hook twice: the journal must not know the id, and must have the intent on disk.
  void StartHook(const Event& started, const std::string& refuse) {
    const std::string id = started.rollback_id.empty() ? started.id : started.rollback_id;
    const Service* service = FindService(started.service);
    std::string err = refuse;
    if (err.empty() && (service == nullptr || !service->rollback)) {
      err = "the service has no rollback hook";
    }
    if (err.empty() && journal->Knows(id)) {
      err = "rollback " + id + " is already in the journal; its hook does not run again";
    }
    if (err.empty()) {
      JournalIntent intent;
      intent.rollback_id = id;
      intent.service = started.service;
      intent.trigger = started.trigger;
      intent.time = started.time;
      if (service->rollback->http) {
        intent.url = RedactUrl(service->rollback->http->url);
      } else {
        intent.argv = service->rollback->exec;
      }
      if (!journal->RecordIntent(intent, &err)) err = "journal: " + err;
    }
    if (!err.empty()) {
      spdlog::error("rollback {} of {}: hook not run: {}", id, started.service, err);
      RollbackOutcome outcome;
      outcome.error = "hook not run: " + err;
      Post([this, id, outcome] { HookDone(id, outcome, false); });
      return;
    }
    ++hooks_running;
    metrics.HooksRunning(hooks_running);
    const RollbackHook& hook = *service->rollback;
    if (hook.http) {
      StartHttpHook(id, started, hook);
    } else {
      StartExecHook(id, started, hook);
    }
  }

  void StartExecHook(const std::string& id, const Event& started, const RollbackHook& hook) {
    ExecRequest req;
    req.argv = hook.exec;
    HookEnv env = HookEnvironment(started);
    for (const std::string& note : env.notes) {
      spdlog::warn("rollback {} of {}: hook environment: {}", id, started.service, OneLine(note));
    }
    req.env = std::move(env.vars);
    req.timeout = hook.timeout;
    req.output_tail = kHookOutputTail;
    spdlog::warn("rollback {} of {}: running {}", id, started.service, hook.exec.front());
    exec.Run(std::move(req), [this, id](ExecResult r) {
      RollbackOutcome o;
      o.success = r.success();
      if (r.started && r.signal == 0 && !r.timed_out) o.exit_code = r.exit_status;
      o.duration = r.duration;
      o.output = std::move(r.output);
      o.error = std::move(r.error);
      HookDone(id, o, true);
    });
  }

  void StartHttpHook(const std::string& id, const Event& started, const RollbackHook& hook) {
    const HttpHook& h = *hook.http;
    auto key_it = hook_keys.find(started.service);
    const std::optional<std::string> key =
        key_it == hook_keys.end() ? std::nullopt : key_it->second;
    const int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(WallNow().time_since_epoch()).count();
    HttpRequest req = SignedJsonPost(h.url, EventToJson(started), id, key, now_s, hook.timeout);
    req.method = h.method;
    for (const auto& [k, v] : h.headers) req.headers.emplace_back(k, v);
    if (auto a = hook_auth.find(started.service); a != hook_auth.end()) {
      req.bearer_token = a->second.bearer_token;
      req.basic_username = a->second.basic_username;
      req.basic_password = a->second.basic_password;
    }
    spdlog::warn("rollback {} of {}: {} {}", id, started.service, h.method, RedactUrl(h.url));
    http.Send(std::move(req), [this, id](HttpResponse r) {
      RollbackOutcome o;
      o.success = r.ok();
      if (r.status > 0) o.http_status = r.status;
      o.duration = r.elapsed;
      o.output =
          r.body.size() > kHookOutputTail ? r.body.substr(r.body.size() - kHookOutputTail) : r.body;
      if (!r.error.empty()) {
        o.error = r.error;
      } else if (!r.ok()) {
        o.error = "HTTP status " + std::to_string(r.status);
      }
      HookDone(id, o, true);
    });
  }

  void HookDone(const std::string& id, const RollbackOutcome& outcome, bool ran) {
    std::string err;
    if (ran) {
      if (!journal->RecordOutcome(id, outcome, Now(), &err)) spdlog::error("journal: {}", err);
      --hooks_running;
      metrics.HooksRunning(hooks_running);
    }
    std::vector<Event> events;
    if (!engine->RollbackFinished(id, outcome, Now(), &events)) {
      spdlog::error("rollback {} finished but the engine no longer tracks it", id);
    }
    Process(std::move(events));
    if (stopping && hooks_running == 0) FinishDrain();
  }

  // ---- shutdown -------------------------------------------------------------------------------

  void Shutdown(std::function<void()> done) {
    if (stopping) return;
    stopping = true;
    service_manager.Stopping();
    shutdown_done = std::move(done);
    timer.cancel();
    server.Stop();
    ++round_gen;  // a round being read is dropped: no new evaluations
    round_running = false;
    if (hooks_running > 0) {
      spdlog::warn("stopping: waiting for {} rollback hook(s) to finish", hooks_running);
      return;  // HookDone continues
    }
    FinishDrain();
  }

  void FinishDrain() {
    if (drained) return;
    drained = true;
    if (notifier.pending() > 0) {
      spdlog::info("stopping: delivering {} pending notification(s)", notifier.pending());
    }
    notifier.Drain(kNotificationDrain, [this] {
      SaveState();
      spdlog::info("stopped");
      if (shutdown_done) Post(std::move(shutdown_done));
    });
  }

  // ---- HTTP API -------------------------------------------------------------------------------

  ServerResponse Handle(const ServerRequest& r) {
    const bool get = r.method == "GET" || r.method == "HEAD";
    if (r.path == "/healthz" && get) return {200, "text/plain; charset=utf-8", "ok\n", {}};
    if (r.path == "/readyz" && get) {
      if (ready && !stopping) return {200, "text/plain; charset=utf-8", "ready\n", {}};
      return {503,
              "text/plain; charset=utf-8",
              stopping ? "stopping\n" : "not ready: first evaluation not done\n",
              {}};
    }
    if (r.path == "/metrics" && get) {
      return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.Serialize(), {}};
    }
    if (r.path == "/api/v1/status" && get) {
      return {200,
              "application/json",
              StatusJson(*config, engine->Status(), {options.version, ready}),
              {}};
    }
    if (r.path == "/api/v1/deploys") {
      if (r.method != "POST") return MethodNotAllowed("POST");
      if (auto denied = Authorize(r)) return *denied;
      return Deploy(r);
    }
    const std::string prefix = "/api/v1/services/";
    if (r.path.rfind(prefix, 0) == 0) {
      const std::string rest = r.path.substr(prefix.size());
      const size_t slash = rest.find('/');
      const std::string name = rest.substr(0, slash);
      const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
      if (action == "pause" || action == "resume") {
        if (r.method != "POST") return MethodNotAllowed("POST");
        if (auto denied = Authorize(r)) return *denied;
        if (!engine->SetPaused(name, action == "pause")) {
          return ErrorResponse(404, "unknown service " + name);
        }
        if (!SaveState()) {
          return ErrorResponse(500,
                               "applied, but the state could not be saved: it will not "
                               "survive a restart (see the log)");
        }
        spdlog::warn("service {} {} through the API ({})", name,
                     action == "pause" ? "paused" : "resumed", r.remote);
        return JsonResponse(200, {{"service", name}, {"paused", action == "pause"}});
      }
    }
    return ErrorResponse(404, "not found: " + r.path);
  }

  static ServerResponse MethodNotAllowed(const std::string& allow) {
    ServerResponse res = ErrorResponse(405, "method not allowed; use " + allow);
    res.headers.emplace_back("Allow", allow);
    return res;
  }

  std::optional<ServerResponse> Authorize(const ServerRequest& r) const {
    if (api_token.empty()) {
      return ErrorResponse(403, "the mutating API is disabled: set daemon.api_token_file");
    }
    const std::string* auth = r.Header("authorization");
    // The scheme is case-insensitive (RFC 9110); the token is not.
    const bool bearer =
        auth != nullptr && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0;
    if (!bearer || !ConstantTimeEqual(std::string_view(*auth).substr(7), api_token)) {
      ServerResponse res = ErrorResponse(401, "a valid bearer token is required");
      res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rollbackd\"");
      spdlog::warn("API {} {} from {}: unauthorized", r.method, r.path, r.remote);
      return res;
    }
    return std::nullopt;
  }

  ServerResponse Deploy(const ServerRequest& r) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ErrorResponse(400,
                           "the body must be a JSON object {\"service\": ..., \"version\": ...}");
    }
    if (!body.contains("service") || !body["service"].is_string() || !body.contains("version") ||
        !body["version"].is_string() || body["version"].get<std::string>().empty()) {
      return ErrorResponse(400, "\"service\" and \"version\" must be non-empty strings");
    }
    const std::string service = body["service"].get<std::string>();
    const std::string version = body["version"].get<std::string>();
    if (!engine->RecordDeploy(service, version, Now())) {
      return ErrorResponse(404, "unknown service " + service);
    }
    if (!SaveState()) {
      return ErrorResponse(500,
                           "recorded, but the state could not be saved: it will not "
                           "survive a restart (see the log)");
    }
    spdlog::info("deploy of {} version {} recorded through the API ({})", service, version,
                 r.remote);
    return JsonResponse(202, {{"service", service}, {"version", version}});
  }

  // ---- members --------------------------------------------------------------------------------

  asio::io_context& io;
  DaemonOptions options;
  HttpClient http;
  PromResponseReader reader;
  ExecRunner exec;
  AsioClock notifier_clock;  // the notifier's timers and wall clock
  Notifier notifier;
  HttpServer server;
  Metrics metrics;
  ServiceManager service_manager;
  asio::steady_timer timer;

  std::shared_ptr<const Config> config;
  std::unique_ptr<Engine> engine;
  std::map<std::string, PrometheusEndpoint> endpoints;
  std::map<std::string, std::optional<std::string>> hook_keys;
  std::map<std::string, ConfigSecrets::HookAuth> hook_auth;  // service -> http hook credentials
  std::string api_token;
  Schedule schedule;
  std::map<const HealthCheck*, std::string> check_service;  // for probe metrics' labels

  std::string state_dir;
  int lock_fd = -1;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<DecisionLog> decisions;

  bool round_running = false;
  uint64_t round_gen = 0;
  std::vector<QueryResult> round_results;
  std::vector<char> round_read;
  struct SourceQueue {
    std::deque<size_t> waiting;  // input ids
    size_t in_flight = 0;
  };
  std::map<std::string, SourceQueue> round_queues;
  size_t outstanding = 0;
  Time round_time{};
  SlotClock slot_clock;
  SteadyClock::time_point round_start{};
  Time last_time{};

  bool ready = false;
  std::string status_line;
  int rounds_done = 0;
  bool reload_pending = false;
  bool stopping = false;
  bool drained = false;
  size_t hooks_running = 0;
  std::function<void()> shutdown_done;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

Daemon::Daemon(asio::io_context& io, DaemonOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
Daemon::~Daemon() = default;
bool Daemon::Start() { return impl_->Start(); }
void Daemon::Reload() { impl_->Reload(); }
void Daemon::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }
uint16_t Daemon::port() const { return impl_->server.port(); }

int RunDaemon(const DaemonOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  // Registered before Start, so a stop or reload signal during startup is not lost.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  Daemon daemon(io, options);
  spdlog::info("rollbackd {} starting with {}", options.version, options.config_path);
  if (!daemon.Start()) return 1;
  bool stopping = false;
  int exit_code = 0;
  std::function<void()> wait = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        daemon.Reload();
      } else if (!stopping) {
        stopping = true;
        spdlog::info("{}: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        daemon.Shutdown([&] { io.stop(); });
      } else {
        spdlog::warn(
            "second stop signal: exiting without waiting; running hooks are killed and "
            "will be reported as interrupted at the next start");
        exit_code = 1;
        io.stop();
      }
      wait();
    });
  };
  wait();
  io.run();
  return exit_code;
}

}  // namespace rollbackd
