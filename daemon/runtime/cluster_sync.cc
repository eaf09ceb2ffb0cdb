#include "daemon/runtime/cluster_sync.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace rollbackd {
namespace {

MembershipOptions OptionsFrom(const ClusterSettings& s) {
  return MembershipOptions{s.name, s.prefix, s.lease_ttl};
}

}  // namespace

ClusterSync::ClusterSync(Etcd& etcd, Clock& clock, const ClusterSettings& settings,
                         Callbacks callbacks)
    : etcd_(etcd),
      clock_(clock),
      settings_(settings),
      callbacks_(std::move(callbacks)),
      membership_(etcd, clock, OptionsFrom(settings),
                  Membership::Callbacks{[this] { Refresh(); },
                                        [this](bool up) {
                                          if (callbacks_.health) callbacks_.health(up);
                                        },
                                        [this](bool ok) {
                                          if (callbacks_.renewed) callbacks_.renewed(ok);
                                        }}),
      retry_(clock.NewTimer()),
      requests_retry_(clock.NewTimer()) {}

ClusterSync::~ClusterSync() = default;

void ClusterSync::Start() {
  membership_.Start();
  WatchRequests(0);
}

void ClusterSync::Stop(std::function<void()> done) {
  retry_->Cancel();
  requests_retry_->Cancel();
  requests_watch_.reset();
  membership_.Stop(std::move(done));
}

std::string ClusterSync::StateKey(const std::string& service) const {
  return settings_.prefix + "/services/" + service + "/state";
}
std::string ClusterSync::RollbackKey(const std::string& service) const {
  return settings_.prefix + "/services/" + service + "/rollback";
}

size_t ClusterSync::owned() const {
  size_t n = 0;
  for (const auto& [name, r] : records_) n += r.loaded ? 1 : 0;
  return n;
}

void ClusterSync::Attach(Engine& engine) {
  engine_ = &engine;
  std::map<std::string, Record> kept;
  const std::vector<Service>& services = engine.config().services;
  for (size_t i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    auto it = records_.find(s.name);
    if (it != records_.end()) kept.emplace(s.name, std::move(it->second));
    kept[s.name].index = i;
    engine.SetActive(s.name, it != records_.end() && kept[s.name].loaded);
  }
  records_ = std::move(kept);
  write_queue_.clear();  // Sync queues again what changed
  for (auto& [name, r] : records_) r.queued = false;
  Refresh();
}

void ClusterSync::Drop(const std::string& service, const std::string& why) {
  Record& r = records_[service];
  if (r.loaded) spdlog::info("cluster: service {} no longer evaluated here: {}", service, why);
  std::vector<std::function<void()>> waiting = std::move(r.after_write);
  const size_t index = r.index;
  const bool queued = r.queued;
  r = Record{};
  r.index = index;
  r.queued = queued;  // still in write_queue_: Pump skips it
  if (engine_) engine_->SetActive(service, false);
  for (auto& w : waiting) w();  // intents: they fail now
}

void ClusterSync::WriteEnded(const std::string& service) {
  Record& r = records_[service];
  r.writing = false;
  std::vector<std::function<void()>> waiting = std::move(r.after_write);
  r.after_write.clear();
  for (auto& w : waiting) w();
}

void ClusterSync::Refresh() {
  if (engine_ == nullptr) return;
  const std::vector<std::string> members = membership_.members();
  const bool someone_left =
      std::any_of(last_members_.begin(), last_members_.end(), [&](const std::string& m) {
        return std::find(members.begin(), members.end(), m) == members.end();
      });
  last_members_ = members;
  bool need_load = false;
  bool changed = false;
  const bool live = membership_.live();
  for (const Service& s : engine_->config().services) {
    Record& r = records_[s.name];
    // One view for every service (Owns would copy the member list once per service).
    const bool owns = live && RendezvousOwner(s.name, members) == settings_.name;
    if (r.owned && !owns) {
      changed |= r.loaded;
      Drop(s.name, live ? "owned by " + RendezvousOwner(s.name, members) + " now"
                        : "this member's lease is in doubt");
    } else if (!r.owned && owns) {
      r.owned = true;
      need_load = true;
    } else if (r.owned && !r.loaded) {
      need_load = true;  // a load that was deferred or failed
    }
  }
  if (changed && callbacks_.ownership_changed) callbacks_.ownership_changed();
  if (need_load) {
    Load();  // scans the outbox once loaded
  } else if (someone_left && owned() > 0) {
    ScanOutbox();
  }
}

// One range over every service's keys; each service owned and not yet loaded is restored from it.
void ClusterSync::Load() {
  if (loading_) {
    load_again_ = true;
    return;
  }
  loading_ = true;
  const std::string prefix = settings_.prefix + "/services/";
  etcd_.Range(
      prefix, PrefixEnd(prefix),
      [this, alive = std::weak_ptr<bool>(alive_), prefix](EtcdRangeResult result) {
        if (!alive.lock()) return;
        loading_ = false;
        if (engine_ == nullptr) return;
        bool retry = !result.status.ok();
        if (!result.status.ok()) {
          spdlog::warn("cluster: reading service states failed: {}", result.status.error);
        }
        struct Stored {
          const EtcdKv* state = nullptr;
          const EtcdKv* rollback = nullptr;
        };
        std::map<std::string, Stored> stored;
        for (const EtcdKv& kv : result.kvs) {
          const std::string rest = kv.key.substr(prefix.size());
          const size_t slash = rest.rfind('/');
          if (slash == std::string::npos) continue;
          Stored& st = stored[rest.substr(0, slash)];
          if (rest.compare(slash, std::string::npos, "/state") == 0) st.state = &kv;
          if (rest.compare(slash, std::string::npos, "/rollback") == 0) st.rollback = &kv;
        }
        const std::vector<std::string> live_members = membership_.members();
        std::vector<Event> orphans;
        bool changed = false;
        for (const Service& s : engine_->config().services) {
          Record& r = records_[s.name];
          if (!result.status.ok() || !r.owned || r.loaded || !membership_.live() ||
              RendezvousOwner(s.name, live_members) != settings_.name) {
            continue;
          }
          const Stored& st = stored[s.name];
          std::string err;
          if (!engine_->RestoreServiceState(s.name, st.state ? st.state->value : "", &err)) {
            spdlog::error("cluster: the state of {} in etcd cannot be read ({}); not evaluated",
                          s.name, err);
            continue;
          }
          // A rollback in flight: whose?
          std::string in_flight;
          for (const ServiceStatus& status : engine_->Status()) {
            if (status.name == s.name) in_flight = status.rollback_in_flight;
          }
          std::string starter;
          if (!in_flight.empty() && st.rollback) {
            auto j = nlohmann::json::parse(st.rollback->value, nullptr, false);
            if (j.is_object() && j.value("id", "") == in_flight) starter = j.value("member", "");
          }
          if (!in_flight.empty() && starter != settings_.name &&
              std::find(live_members.begin(), live_members.end(), starter) != live_members.end()) {
            // Its hook runs there; this member carries on once that member recorded the outcome.
            spdlog::info("cluster: {} moves here once rollback {} at {} has ended", s.name,
                         in_flight, starter);
            retry = true;
            continue;
          }
          r.loaded = true;
          r.revision = st.state ? st.state->mod_revision : 0;
          r.text = engine_->SaveServiceState(s.name);
          r.hash = engine_->ServiceStateHash(r.index);
          engine_->SetActive(s.name, true);
          changed = true;
          if (!in_flight.empty() && !(callbacks_.running && callbacks_.running(in_flight))) {
            RollbackOutcome o;
            if (auto known = callbacks_.outcome ? callbacks_.outcome(in_flight) : std::nullopt) {
              o = *known;
            } else {
              o.error =
                  starter.empty() || starter == settings_.name
                      ? "interrupted: its intent was not confirmed by etcd in time"
                      : "interrupted: member " + starter + ", which ran its hook, left the cluster";
            }
            engine_->RollbackFinished(
                in_flight, o,
                std::chrono::time_point_cast<std::chrono::milliseconds>(clock_.WallNow()),
                &orphans);
          }
        }
        if (changed) {
          spdlog::info("cluster: member {} evaluates {} service(s) of {} ({} member(s) live)",
                       settings_.name, owned(), records_.size(), live_members.size());
          if (callbacks_.ownership_changed) callbacks_.ownership_changed();
        }
        if (!orphans.empty() && callbacks_.events) callbacks_.events(std::move(orphans));
        if (changed) {
          ScanOutbox();
          ApplyRequests();
        }
        if (load_again_) {
          load_again_ = false;
          Load();
        } else if (retry) {
          retry_->At(clock_.SteadyNow() + std::chrono::seconds(1), [this] { Refresh(); });
        }
      });
}

std::vector<EtcdCompare> ClusterSync::Conditions(const Record& r,
                                                 const std::string& service) const {
  return {{EtcdCompare::Target::kLease, membership_.member_key(), membership_.lease(), ""},
          {EtcdCompare::Target::kModRevision, StateKey(service), r.revision, ""}};
}

// After every round: a hash per owned service (no allocation); only a service whose hash moved is
// serialised, and written if its text did.
void ClusterSync::Sync() {
  if (engine_ == nullptr) return;
  for (auto& [name, r] : records_) {
    if (!r.loaded || r.queued) continue;
    if (engine_->ServiceStateHash(r.index) == r.hash) continue;
    if (r.writing) {
      r.dirty = true;
      continue;
    }
    Queue(name);
  }
  Pump();
}

void ClusterSync::Queue(const std::string& service) {
  Record& r = records_[service];
  if (r.queued) return;
  r.queued = true;
  write_queue_.push_back(service);
}

void ClusterSync::Pump() {
  while (writes_in_flight_ < kWritesInFlight && !write_queue_.empty()) {
    const std::string service = std::move(write_queue_.front());
    write_queue_.pop_front();
    Record& r = records_[service];
    r.queued = false;
    if (!r.loaded) continue;
    if (r.writing) {
      r.dirty = true;
      continue;
    }
    Write(service);
  }
}

void ClusterSync::Write(const std::string& service) {
  Record& r = records_[service];
  const uint64_t hash = engine_->ServiceStateHash(r.index);
  std::string text = engine_->SaveServiceState(service);
  if (text == r.text) r.hash = hash;  // a change that writes nothing
  if (text == r.text || !membership_.live()) return;
  EtcdTxn txn;
  txn.compare = Conditions(r, service);
  txn.success.push_back({EtcdOp::Kind::kPut, StateKey(service), text, 0, ""});
  r.writing = true;
  ++writes_;
  ++writes_in_flight_;
  etcd_.Txn(std::move(txn), [this, alive = std::weak_ptr<bool>(alive_), service, hash,
                             text = std::move(text)](EtcdTxnResult result) {
    if (!alive.lock()) return;
    --writes_in_flight_;
    Record& r = records_[service];
    if (!r.writing) return Pump();  // dropped meanwhile
    if (!result.status.ok()) {
      spdlog::warn("cluster: writing the state of {} failed: {}", service, result.status.error);
      WriteEnded(service);  // the next round writes it again
      return Pump();
    }
    if (!result.succeeded) {
      Drop(service, "its state in etcd was written by another member, or this lease ended");
      Refresh();
      return Pump();
    }
    r.revision = result.revision;
    r.text = text;
    r.hash = hash;
    const bool dirty = r.dirty;
    r.dirty = false;
    WriteEnded(service);
    if (dirty && !records_[service].writing) Queue(service);
    Pump();
  });
}

// The intent's answer was lost. Rewriting the state as it was before the intent, on the same
// condition (nobody wrote since), settles it: if that succeeds, the intent can never apply any
// more (it was not applied: no hook); if the condition fails, etcd says who wrote: the intent
// itself (the hook runs, with the intent's revision as its token) or another member.
void ClusterSync::Confirm(const std::string& service, const std::string& id,
                          const std::string& text, const std::string& error,
                          std::function<void(std::optional<int64_t>, std::string)> done) {
  Record& r = records_[service];
  if (!r.loaded || !membership_.live()) {
    Drop(service, "etcd did not confirm a rollback intent");
    done(std::nullopt, "etcd did not confirm the intent (" + error +
                           ") before this member's lease came in doubt");
    return;
  }
  EtcdTxn txn;
  txn.compare = Conditions(r, service);
  txn.success.push_back({EtcdOp::Kind::kPut, StateKey(service), r.text, 0, ""});
  txn.failure.push_back({EtcdOp::Kind::kRange, StateKey(service), "", 0, ""});
  txn.failure.push_back({EtcdOp::Kind::kRange, RollbackKey(service), "", 0, ""});
  ++writes_;
  etcd_.Txn(std::move(txn), [this, alive = std::weak_ptr<bool>(alive_), service, id, text, error,
                             done = std::move(done)](EtcdTxnResult result) mutable {
    if (!alive.lock()) return;
    Record& r = records_[service];
    if (!result.status.ok()) {
      // Still no answer: again shortly, for as long as the lease is beyond doubt.
      std::unique_ptr<Timer>& timer = confirm_timers_[service];
      if (!timer) timer = clock_.NewTimer();
      timer->At(clock_.SteadyNow() + std::chrono::milliseconds(200),
                [this, service, id, text, error, done = std::move(done)]() mutable {
                  Confirm(service, id, text, error, std::move(done));
                });
      return;
    }
    if (result.succeeded) {
      Drop(service, "a rollback intent was not applied");
      done(std::nullopt, "etcd did not take the intent (" + error + "); it was not applied");
      return;
    }
    const EtcdKv* state =
        result.ranges.size() > 0 && !result.ranges[0].empty() ? &result.ranges[0][0] : nullptr;
    const EtcdKv* intent =
        result.ranges.size() > 1 && !result.ranges[1].empty() ? &result.ranges[1][0] : nullptr;
    auto j = intent ? nlohmann::json::parse(intent->value, nullptr, false) : nlohmann::json();
    if (state != nullptr && intent != nullptr && j.is_object() && j.value("id", "") == id &&
        j.value("member", "") == settings_.name && state->mod_revision == intent->mod_revision) {
      spdlog::info("cluster: rollback intent {} of {} was applied after all (revision {})", id,
                   service, intent->mod_revision);
      r.revision = state->mod_revision;
      r.text = text;
      done(intent->mod_revision, "");
      WriteEnded(service);
      return;
    }
    Drop(service, "another member wrote its state in etcd, or this lease ended");
    done(std::nullopt,
         "the intent transaction failed: this member no longer owns the service under a live "
         "lease, or another member changed its state in etcd");
  });
}

void ClusterSync::Intents(std::vector<Event> events, std::function<void(std::vector<Event>)> done) {
  struct Batch {
    std::vector<Event> events;
    std::vector<std::string> refused;  // by index; empty: the intent holds
    size_t waiting = 0;
    std::function<void(std::vector<Event>)> done;
  };
  auto batch = std::make_shared<Batch>();
  batch->refused.resize(events.size());
  batch->waiting =
      static_cast<size_t>(std::count_if(events.begin(), events.end(), [](const Event& e) {
        return e.kind == EventKind::kRollbackStarted;
      }));
  batch->events = std::move(events);
  batch->done = std::move(done);
  auto finish = [](Batch& b) {
    std::vector<Event> kept;
    for (size_t j = 0; j < b.events.size(); ++j) {
      if (b.refused[j].empty()) {
        kept.push_back(std::move(b.events[j]));
      } else {
        spdlog::warn("rollback {} of {} not started here: {}", b.events[j].id, b.events[j].service,
                     b.refused[j]);
      }
    }
    b.done(std::move(kept));
  };
  if (batch->waiting == 0) return finish(*batch);
  for (size_t i = 0; i < batch->events.size(); ++i) {
    if (batch->events[i].kind != EventKind::kRollbackStarted) continue;
    Intent(batch->events[i], [batch, i, finish](std::optional<int64_t> token, std::string err) {
      if (token) {
        batch->events[i].fencing_token = *token;
      } else {
        batch->refused[i] = err.empty() ? "refused" : err;
      }
      if (--batch->waiting == 0) finish(*batch);
    });
  }
}

Event ClusterSync::HealthEvent(const ClusterSettings& settings, bool up, Time now) {
  Event e;
  e.kind = up ? EventKind::kClusterUp : EventKind::kClusterDown;
  e.time = now;
  e.severity = Severity::kWarning;
  e.trigger = settings.name;
  e.labels = {{"member", settings.name}};
  e.reason = up ? "etcd answers again: this member takes part in the cluster again"
                : "no answer from etcd for " + FormatDuration(settings.lease_ttl) +
                      " (lease_ttl): this member runs no rollback hook until it answers";
  e.id = MakeEventId(e.kind, "", e.trigger, 0, e.time);
  return e;
}

void ClusterSync::Intent(const Event& started,
                         std::function<void(std::optional<int64_t>, std::string)> done) {
  const std::string service = started.service;
  Record& r = records_[service];
  if (!r.loaded || !membership_.live()) {
    done(std::nullopt, "this member does not own the service under a live lease");
    return;
  }
  if (r.writing) {
    // The conditions need the revision that write brings back: an intent waits for it (bounded
    // by the request timeout).
    r.after_write.push_back(
        [this, started, done = std::move(done)]() mutable { Intent(started, std::move(done)); });
    return;
  }
  const std::string id = started.rollback_id.empty() ? started.id : started.rollback_id;
  const std::string text = engine_->SaveServiceState(service);
  const uint64_t hash = engine_->ServiceStateHash(r.index);
  const nlohmann::json intent = {{"id", id},
                                 {"member", settings_.name},
                                 {"trigger", started.trigger},
                                 {"time", FormatTime(started.time)}};
  EtcdTxn txn;
  txn.compare = Conditions(r, service);
  txn.success.push_back({EtcdOp::Kind::kPut, StateKey(service), text, 0, ""});
  txn.success.push_back({EtcdOp::Kind::kPut, RollbackKey(service), intent.dump(), 0, ""});
  r.writing = true;
  ++writes_;
  etcd_.Txn(std::move(txn), [this, alive = std::weak_ptr<bool>(alive_), service, text, id, hash,
                             done = std::move(done)](EtcdTxnResult result) mutable {
    if (!alive.lock()) return;
    Record& r = records_[service];
    if (!result.status.ok()) {
      // A request that timed out may still be committed later: ask etcd what became of it.
      Confirm(service, id, text, result.status.error, std::move(done));
      return;
    }
    if (!result.succeeded) {
      Drop(service, "another member wrote its state in etcd, or this lease ended");
      done(std::nullopt,
           "the intent transaction failed: this member no longer owns the service under a live "
           "lease, or another member changed its state in etcd");
      return;
    }
    r.revision = result.revision;
    r.text = text;
    r.hash = hash;
    const bool dirty = r.dirty;
    r.dirty = false;
    done(result.revision, "");
    WriteEnded(service);
    if (dirty && !records_[service].writing && records_[service].loaded) Queue(service);
    Pump();
  });
}

}  // namespace rollbackd
