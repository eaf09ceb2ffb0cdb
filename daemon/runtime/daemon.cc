#include "daemon/runtime/daemon.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <set>

#include "daemon/config/redact.h"
#include "daemon/notify/notifier.h"
#include "daemon/runtime/api.h"
#include "daemon/runtime/cluster_sync.h"
#include "daemon/runtime/config_set.h"
#include "daemon/runtime/event_log.h"
#include "daemon/runtime/history.h"
#include "daemon/runtime/metrics.h"
#include "daemon/runtime/recent_events.h"
#include "daemon/runtime/recovery.h"
#include "daemon/runtime/round_runner.h"
#include "daemon/runtime/service_manager.h"
#include "daemon/runtime/state_store.h"
#include "daemon/runtime/status_json.h"
#include "daemon/server/http_server.h"

namespace rollbackd {
namespace {

constexpr Duration kNotificationDrain = std::chrono::seconds(10);
// Notifications whose outbox append failed ride along in state.json until they leave the queue
// (bounded).
constexpr size_t kCarriedMax = 1000;

double UnixSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

struct Daemon::Impl : DaemonControl {
  Impl(DaemonEnv e, DaemonOptions opts)
      : env(e),
        options(std::move(opts)),
        metrics(options.version),
        service_manager(env.clock),
        notifier(env.http, env.exec, env.clock, env.fs),
        store(env.fs),
        api(*this, &env.clock),
        server(
            env.io, [this](const ServerRequest& r) { return api.Handle(r); }, ServerOptions()),
        rounds(env.clock, env.inputs, metrics,
               [this](const RoundRunner::Round& r) { Evaluate(r); }) {}

  static HttpServerOptions ServerOptions() {
    HttpServerOptions o;
    o.on_error = [](const std::string& message) { spdlog::warn("api server: {}", message); };
    return o;
  }

  // ---- start and reload -----------------------------------------------------------------------

  bool Start() {
    // Before the first Configure: what it drops from the outbox is counted too.
    notifier.SetObserver([this](std::string_view channel, std::string_view result) {
      metrics.Notification(channel, result);
      UpdateOutboxMetrics();
    });
    auto loaded = LoadConfigSet(options.config_path);
    std::string err;
    if (!loaded) return Rejected();
    if (!store.Open(loaded->config->daemon.state_dir, &err) ||
        // Notifications not delivered before the last stop go out again once channels are known.
        !notifier.Open(store.dir(), &err)) {
      spdlog::error("{}", err);
      return false;
    }
    if (loaded->config->cluster && !MakeCluster(*loaded)) return Rejected();
    if (!Adopt(std::move(*loaded))) return Rejected();
    if (!RestoreState()) return false;
    if (cluster) {
      // etcd holds the services' state; each is restored from there when this member owns it.
      for (const Service& s : config->services) engine->RestoreServiceState(s.name, "", &err);
    }
    std::vector<Event> events;
    std::vector<std::string> resume;
    if (!env.fs.CreateDirectories(store.dir() + "/hooks", &err)) {
      spdlog::error("{}", err);
      return false;
    }
    ReconcileJournal(*engine, store.journal(), rounds.Now(), &events, &resume);
    const std::string listen =
        options.listen_override.empty() ? config->daemon.listen : options.listen_override;
    if (!server.Listen(listen, &err)) {
      spdlog::error("{}", err);
      return false;
    }
    spdlog::info("listening on http://{}:{}", listen.substr(0, listen.rfind(':')), server.port());
    Process(std::move(events));
    for (const std::string& id : resume) ResumeHook(id);
    if (cluster) cluster->Start();
    service_manager.StartWatchdog();
    if (rounds.empty()) MarkReady();  // nothing to read: loaded is ready
    rounds.ScheduleNext();
    return true;
  }

  bool Rejected() {
    metrics.Reload(false, 0);
    return false;
  }

  bool MakeCluster(const ConfigSet& loaded) {
    const ClusterSettings& settings = *loaded.config->cluster;
    if (!env.etcd) {
      spdlog::error("{}: [cluster] is set, and this build has no etcd client", options.config_path);
      return false;
    }
    etcd = env.etcd(settings, loaded.secrets.etcd_password,
                    [this](std::string_view op, double seconds, bool failed) {
                      metrics.EtcdRequest(op, seconds, failed);
                    });
    ClusterSync::Callbacks callbacks;
    callbacks.ownership_changed = [this] {
      status_snapshot.reset();
      UpdateClusterMetrics();
    };
    callbacks.health = [this](bool up) {
      status_snapshot.reset();
      ClusterHealth(up);
    };
    callbacks.renewed = [this](bool ok) {
      metrics.LeaseRenewal(ok);
      UpdateClusterMetrics();
    };
    callbacks.events = [this](std::vector<Event> events) { Process(std::move(events)); };
    callbacks.running = [this](const std::string& id) { return running_ids.contains(id); };
    callbacks.outcome = [this](const std::string& id) { return store.journal().Outcome(id); };
    callbacks.recover = [this](std::vector<OutboxEntry> entries) {
      notifier.Recover(std::move(entries));
      UpdateOutboxMetrics();
    };
    callbacks.apply = [this](const std::string& service, const std::string& op,
                             const std::string& version, const std::string& from) {
      const bool known = op == "deploy" ? engine->RecordDeploy(service, version, rounds.Now())
                                        : engine->SetPaused(service, op == "pause");
      status_snapshot.reset();
      if (!known) return;
      if (op == "deploy") {
        spdlog::info("deploy of {} version {} recorded through member {}'s API", service,
                     OneLine(version), OneLine(from));
      } else {
        spdlog::warn("service {} {} through member {}'s API", service,
                     op == "pause" ? "paused" : "resumed", from);
      }
      SaveState(nullptr);
    };
    notifier.SetEndObserver([this](const OutboxEntry& e) {
      if (cluster) cluster->Ended(e);
    });
    cluster = std::make_unique<ClusterSync>(*etcd, env.clock, settings, std::move(callbacks));
    spdlog::info("cluster mode: member {} of {} at {} (lease {})", settings.name, settings.prefix,
                 fmt::join(settings.etcd, ", "), FormatDuration(settings.lease_ttl));
    return true;
  }

  // cluster.down after lease_ttl without an answer from etcd; cluster.up at the next.
  void ClusterHealth(bool up) {
    UpdateClusterMetrics();
    Process({ClusterSync::HealthEvent(*config->cluster, up, rounds.Now())});
  }

  void UpdateClusterMetrics() {
    if (!cluster) return;
    const Membership& m = cluster->membership();
    metrics.Cluster(m.members().size(), cluster->owned(), m.live());
  }

  // Whole or not at all: every step that can fail comes before the first change.
  bool Adopt(ConfigSet next) {
    auto engine_next = std::make_unique<Engine>(next.config);
    std::string err;
    // Never expected to fail (the engine reads what it wrote); losing cooldowns and episodes is
    // not an option, so the running configuration stays.
    if (engine && !engine_next->RestoreState(engine->SaveState(), &err)) {
      spdlog::error("engine state could not be carried over: {}", err);
      return false;
    }
    std::vector<std::string> errors;
    if (!notifier.Configure(*next.config, &errors)) {
      for (const std::string& e : errors) spdlog::error("{}: {}", options.config_path, e);
      return false;
    }
    engine = std::move(engine_next);
    status_snapshot.reset();
    if (cluster) cluster->Attach(*engine);
    config = std::move(next.config);
    history.Retain(*config);
    secrets = std::move(next.secrets);
    api.SetToken(secrets.api_token);
    server.SetServerNames(ApiServerNames(config->daemon));
    rounds.Configure(*engine, secrets.endpoints);
    spdlog::info("{}", ConfigSummary(*config, engine->inputs().size()));
    metrics.Reload(true, UnixSeconds(env.clock.WallNow()));
    metrics.SetServices(config->services.size());
    return true;
  }

  void Reload() {
    if (is_stopping) return;
    if (rounds.running()) {
      reload_pending = true;  // the round's inputs are indexed by the running engine
      return;
    }
    reload_pending = false;
    spdlog::info("reloading {}", options.config_path);
    service_manager.Reloading();
    // READY=1 again however the reload ends: the daemon goes on with one configuration or the
    // other. By then the other one is freed: its memory goes back to the system (glibc keeps it
    // otherwise, and a reload at 100,000 triggers left the daemon at twice its size).
    struct ReadyAgain {
      Impl* self;
      ~ReadyAgain() {
        ::malloc_trim(0);
        self->service_manager.Ready(StatusLine(self->engine->Status()));
      }
    } ready_again{this};
    auto loaded = LoadConfigSet(options.config_path);
    if (!loaded || !ReloadAllowed(*config, *loaded->config, engine->Status()) ||
        !Adopt(std::move(*loaded))) {
      Rejected();
      spdlog::error("reload rejected: keeping the configuration loaded before");
      return;
    }
    SaveState(nullptr);
    rounds.ScheduleNext();
  }

  // ---- state ----------------------------------------------------------------------------------

  // Cooldowns, pauses and firing episodes must survive a restart, or a trigger still firing would
  // roll back a second time: a state file that exists but cannot be read stops the start.
  bool RestoreState() {
    std::vector<OutboxEntry> pending;
    std::string err;
    if (!store.Restore(*engine, &pending, &err)) {
      spdlog::error("{}", err);
      return false;
    }
    // The last round's notifications, in case the crash came before they reached the outbox.
    notifier.Recover(std::move(pending));
    return true;
  }

  // The engine's state, and `notifications` (a round's, between Prepare and Commit) beside it.
  bool SaveState(std::string* error, const std::vector<OutboxEntry>& notifications = {}) {
    std::erase_if(carried, [&](const OutboxEntry& e) { return !notifier.Holds(e.channel, e.id); });
    std::vector<OutboxEntry> pending = carried;
    pending.insert(pending.end(), notifications.begin(), notifications.end());
    std::string err;
    last_save = env.clock.SteadyNow();
    if (store.Save(engine->SaveState(), pending, &err)) return true;
    spdlog::error("saving state: {}", err);
    metrics.StateWriteFailed("state");
    if (error) *error = err;
    return false;
  }

  // ---- rounds and the exactly-once sequence ---------------------------------------------------

  void Evaluate(const RoundRunner::Round& round) {
    if (is_stopping) return;          // draining: no new evaluations
    if (cluster) cluster->Refresh();  // no service is evaluated under a lease in doubt
    std::vector<Event> events;
    engine->Evaluate(round.time, *round.inputs, &events);
    status_snapshot.reset();
    metrics.RoundDone(round.seconds);
    metrics.ClockHeld(round.clock_held);
    const std::vector<ServiceStatus> status = engine->Status();
    metrics.UpdateStatus(status);
    history.Record(*config, status, round.time);
    if (config->daemon.brake) metrics.Brake(engine->BrakeState(round.time));
    UpdateOutboxMetrics();
    if (!is_ready) {
      MarkReady();
      spdlog::info("first evaluation done: ready");
    } else {
      service_manager.Status(StatusLine(status));
    }
    // The next round waits for this one's rollback intents (cluster mode: etcd transactions).
    Process(std::move(events), [this] {
      if (reload_pending) Reload();
      rounds.ScheduleNext();
    });
  }

  void MarkReady() {
    is_ready = true;
    status_snapshot.reset();
    service_manager.Ready(StatusLine(engine->Status()));
  }

  // Everything an evaluation decided, in order. Recorded first (log, decision log), then the
  // engine state goes to disk with the round's notifications, then the notifications to the
  // outbox, and only then do hooks start (each after its journal intent): a crash at any point
  // cannot lead to a second decision for the same episode, nor lose a notification decided.
  //
  // Cluster mode: first each rollback.started's intent transaction; one that fails is not
  // notified and its hook does not run (another member owns the service, or etcd is gone).
  void Process(std::vector<Event> events, std::function<void()> then = {}) {
    if (!cluster || std::none_of(events.begin(), events.end(), [](const Event& e) {
          return e.kind == EventKind::kRollbackStarted;
        })) {
      Record(std::move(events));
      if (then) then();
      return;
    }
    cluster->Intents(std::move(events), [this, alive = std::weak_ptr<bool>(alive),
                                         then = std::move(then)](std::vector<Event> kept) {
      if (!alive.lock()) return;
      Record(std::move(kept));
      if (then) then();
    });
  }

  void Record(std::vector<Event> events) {
    status_snapshot.reset();
    if (events.empty()) {
      // What changes without an event (a comparison's samples, an escalation step's window, the
      // values a snapshot baseline takes) reaches disk at least this often.
      if (env.clock.SteadyNow() - last_save >= kQuietSaveInterval) SaveState(nullptr);
      if (cluster) cluster->Sync();
      return;
    }
    for (const Event& e : events) {
      LogEvent(e, *engine, store.decisions());
      recent.Add(e);
      metrics.EventEmitted(e);
    }
    std::vector<OutboxEntry> notifications = notifier.Prepare(events);
    std::string refuse;
    if (!SaveState(&refuse, notifications)) {
      refuse = "state not saved (" + refuse + ")";
    }
    std::vector<OutboxEntry> copy;
    if (carried.size() + notifications.size() <= kCarriedMax) copy = notifications;
    if (cluster) cluster->Publish(notifications);  // so that a new owner can deliver them
    std::string outbox_error;
    if (!notifier.Commit(std::move(notifications), &outbox_error)) {
      // Sent all the same; kept in state.json so that a crash does not lose them.
      metrics.StateWriteFailed("outbox");
      carried.insert(carried.end(), copy.begin(), copy.end());
      if (refuse.empty()) refuse = "notifications not written (" + outbox_error + ")";
    }
    UpdateOutboxMetrics();
    for (const Event& e : events) {
      if (e.kind == EventKind::kRollbackStarted) StartHook(e, refuse);
    }
    if (cluster) cluster->Sync();
  }

  // Never runs a hook twice: the journal must not know the id, and must have the intent on disk.
  void StartHook(const Event& started, std::string err) {
    const std::string id = started.rollback_id.empty() ? started.id : started.rollback_id;
    auto service = std::find_if(config->services.begin(), config->services.end(),
                                [&](const Service& s) { return s.name == started.service; });
    if (err.empty() && (service == config->services.end() || !service->rollback)) {
      err = "the service has no rollback hook";
    }
    if (err.empty() && store.journal().Knows(id)) {
      err = "rollback " + id + " is already in the journal; its hook does not run again";
    }
    if (err.empty()) {
      JournalIntent intent{id, started.service, started.trigger, started.time, {}, {}};
      if (service->rollback->http) {
        intent.url = RedactUrl(service->rollback->http->url);
      } else {
        intent.argv = service->rollback->exec;
      }
      if (!store.journal().RecordIntent(intent, &err)) {
        err = "journal intent not written (" + err + ")";
        metrics.StateWriteFailed("journal");
      }
    }
    if (!err.empty()) {
      spdlog::error("rollback {} of {}: hook not run: {}", id, started.service, err);
      RollbackOutcome outcome;
      outcome.error = "hook not run: " + err;
      Post([this, id, outcome] { HookDone(id, outcome, false); });
      return;
    }
    metrics.HooksRunning(++hooks_running);
    running_ids.insert(id);
    HookRun run{id, started, *service->rollback, secrets.HookCredentialsFor(started.service),
                HookRecord(id)};
    env.hooks.Run(std::move(run),
                  [this, id, alive = std::weak_ptr<bool>(alive)](RollbackOutcome o) {
                    if (alive.lock()) HookDone(id, o, true);
                  });
  }

  std::string HookRecord(const std::string& id) const { return HookRecordPath(store.dir(), id); }

  // After a restart, a rollback whose intent is in the journal and whose outcome is not: its
  // hook's supervisor may still run it (then the daemon waits, as for a hook it started), or may
  // have recorded how it ended while the daemon was down. Only a hook whose fate nobody recorded
  // is "interrupted".
  void ResumeHook(const std::string& id) {
    metrics.HooksRunning(++hooks_running);
    running_ids.insert(id);
    if (IsHttpHookIntent(store.journal(), id)) {
      // An http hook's request was in flight: whether the receiver acted on it nobody recorded.
      return Post([this, id] {
        Resumed(id, {ResumedHook::State::kUnknown, {}, "an http hook's request was in flight"});
      });
    }
    spdlog::warn(
        "rollback {}: its hook was started before the restart; finding out what became "
        "of it",
        id);
    env.hooks.Resume(HookRecord(id), [this, id](ResumedHook r) {
      Post([this, id, r = std::move(r)] { Resumed(id, r); });
    });
  }

  void Resumed(const std::string& id, const ResumedHook& r) {
    HookDone(id, OutcomeAfterRestart(id, r), true);
  }

  void HookDone(const std::string& id, const RollbackOutcome& outcome, bool ran) {
    std::string err;
    if (ran) {
      running_ids.erase(id);
      if (!store.journal().RecordOutcome(id, outcome, rounds.Now(), &err)) {
        spdlog::error("journal: {}", err);
        metrics.StateWriteFailed("journal");
      } else {
        env.hooks.Forget(HookRecord(id));  // the journal has it now
      }
      metrics.HooksRunning(--hooks_running);
    }
    std::vector<Event> events;
    if (!engine->RollbackFinished(id, outcome, rounds.Now(), &events)) {
      spdlog::error("rollback {} finished but the engine no longer tracks it", id);
    }
    Process(std::move(events));
    if (is_stopping && hooks_running == 0) FinishDrain();
  }

  // ---- shutdown -------------------------------------------------------------------------------

  void Shutdown(std::function<void()> done) {
    if (is_stopping) return;
    is_stopping = true;
    status_snapshot.reset();
    service_manager.Stopping();
    shutdown_done = std::move(done);
    server.Stop();
    rounds.Stop();  // a round being read is dropped: no new evaluations
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
      SaveState(nullptr);
      auto stopped = [this] {
        spdlog::info("stopped");
        if (shutdown_done) Post(std::move(shutdown_done));
      };
      if (!cluster) return stopped();
      cluster->Sync();
      cluster->Stop(stopped);  // the lease is revoked: the others take over at once
    });
  }

  // ---- DaemonControl (the API) ---------------------------------------------------------------

  bool ready() const override { return is_ready; }
  bool stopping() const override { return is_stopping; }
  std::string MetricsText() override {
    metrics.History(history.series(), history.bytes());  // walks every series: per scrape only
    const HttpServer::Counters c = server.counters();
    metrics.Api({server.connections(), c.evicted_idle, c.evicted_slow, c.refused, c.misdirected,
                 api.unauthorized()});
    return metrics.Serialize();
  }
  std::optional<std::string> HistoryDocument(const std::string& service) override {
    if (std::none_of(config->services.begin(), config->services.end(),
                     [&](const Service& s) { return s.name == service; })) {
      return std::nullopt;
    }
    return HistoryJson(history, service);
  }
  std::string EventsDocument(const std::string& service, size_t limit) override {
    return recent.Json(service, limit);
  }
  // GET /api/v1/status is built once per change, not per request: at 50,000 series a document
  // takes 1.4 s on the loop, and readers polling it each second stalled /healthz for seconds.
  // Everything that changes what it shows (a round, an event, the API, a reload) drops the
  // snapshot; in cluster mode it is also at most kClusterSnapshotAge old (owners move without
  // an event here).
  std::string StatusDocument() override {
    const SteadyTime now = env.clock.SteadyNow();
    if (status_snapshot && !(cluster && now - status_snapshot_at > kClusterSnapshotAge)) {
      return *status_snapshot;
    }
    status_snapshot = BuildStatusDocument();
    status_snapshot_at = now;
    return *status_snapshot;
  }
  std::string BuildStatusDocument() {
    DaemonInfo info{options.version, is_ready, std::nullopt, {}};
    if (cluster) {
      const Membership& m = cluster->membership();
      info.cluster = DaemonInfo::Cluster{
          m.name(), m.members(), m.healthy(),
          m.live(), m.lease(),   [this](const std::string& s) {
                                           return cluster->OwnerOf(s); }};
    }
    info.brake = engine->BrakeState(rounds.Now());
    return StatusJson(*config, engine->Status(), info);
  }
  void Forward(const std::string& service, const std::string& op, const std::string& version,
               std::function<void(Forwarded)> done) override {
    if (!cluster) return done(Forwarded{false, "", "not a cluster member"});
    cluster->Request(service, op, version,
                     [done = std::move(done)](bool ok, std::string owner, std::string error) {
                       done(Forwarded{ok, std::move(owner), std::move(error)});
                     });
  }
  // Cluster mode: only the owner changes a service's state (it writes it to etcd).
  bool Elsewhere(const std::string& service) {
    if (!cluster) return false;
    for (const ServiceStatus& s : engine->Status()) {
      if (s.name == service) return !s.active;
    }
    return false;
  }
  ControlResult RecordDeploy(const std::string& service, const std::string& version) override {
    if (Elsewhere(service)) return ControlResult::kNotOwner;
    status_snapshot.reset();
    if (!engine->RecordDeploy(service, version, rounds.Now()))
      return ControlResult::kUnknownService;
    if (cluster) cluster->Sync();
    return SaveState(nullptr) ? ControlResult::kDone : ControlResult::kNotSaved;
  }
  ControlResult SetPaused(const std::string& service, bool paused) override {
    if (Elsewhere(service)) return ControlResult::kNotOwner;
    status_snapshot.reset();
    if (!engine->SetPaused(service, paused)) return ControlResult::kUnknownService;
    if (cluster) cluster->Sync();
    return SaveState(nullptr) ? ControlResult::kDone : ControlResult::kNotSaved;
  }

  std::optional<BrakeReleased> ReleaseBrake() override {
    if (!config->daemon.brake) return std::nullopt;
    std::vector<Event> events;
    BrakeReleased out;
    out.held = engine->ReleaseBrake(rounds.Now(), &events);
    status_snapshot.reset();
    // Recorded and sent like a round's events; the state is saved with them.
    Process(std::move(events));
    out.saved = SaveState(nullptr);
    return out;
  }

  void UpdateOutboxMetrics() {
    metrics.Outbox(notifier.PendingByChannel(), notifier.outbox_bytes());
  }

  // Runs `fn` later on the loop, unless the daemon is destroyed first (tests keep the loop).
  void Post(std::function<void()> fn) {
    boost::asio::post(env.io, [alive = std::weak_ptr<bool>(alive), fn = std::move(fn)] {
      if (alive.lock()) fn();
    });
  }

  static constexpr Duration kQuietSaveInterval = std::chrono::minutes(1);
  SteadyTime last_save{};
  static constexpr Duration kClusterSnapshotAge = std::chrono::seconds(1);
  std::optional<std::string> status_snapshot;  // GET /api/v1/status, until something changes
  SteadyTime status_snapshot_at{};

  DaemonEnv env;
  DaemonOptions options;
  Metrics metrics;
  ServiceManager service_manager;
  Notifier notifier;
  StateStore store;
  Api api;
  HttpServer server;
  RoundRunner rounds;
  History history;      // the status page's sparklines
  RecentEvents recent;  // the status page's recent events

  std::shared_ptr<const Config> config;
  std::unique_ptr<Engine> engine;
  ConfigSecrets secrets;
  std::vector<OutboxEntry> carried;      // notifications the outbox could not take
  std::unique_ptr<Etcd> etcd;            // cluster mode
  std::unique_ptr<ClusterSync> cluster;  // cluster mode
  std::set<std::string> running_ids;     // rollbacks whose hook runs now

  bool is_ready = false;
  bool reload_pending = false;
  bool is_stopping = false;
  bool drained = false;
  size_t hooks_running = 0;
  std::function<void()> shutdown_done;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

Daemon::Daemon(DaemonEnv env, DaemonOptions options)
    : impl_(std::make_unique<Impl>(env, std::move(options))) {}
Daemon::~Daemon() = default;
bool Daemon::Start() { return impl_->Start(); }
void Daemon::Reload() { impl_->Reload(); }
void Daemon::Shutdown(std::function<void()> done) { impl_->Shutdown(std::move(done)); }
uint16_t Daemon::port() const { return impl_->server.port(); }
DaemonControl& Daemon::control() { return *impl_; }
std::vector<ServiceStatus> Daemon::Status() const {
  return impl_->engine ? impl_->engine->Status() : std::vector<ServiceStatus>{};
}

}  // namespace rollbackd
