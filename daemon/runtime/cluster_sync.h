// Cluster mode's side of the daemon (docs/operations.md, "Cluster mode"): which services this
// member evaluates, their decision state in etcd, and the rollback intent transaction.
//
// - Ownership: the services Membership says this member owns are active in the engine, each once
//   its state is loaded from etcd (`<prefix>/services/<name>/state`); the others are inactive. A
//   service whose rollback is in flight at another live member is taken over only when it ends.
// - State: after each round, a service whose decision state changed is written, conditioned on
//   this member's live lease and on the revision it last read or wrote (nobody else wrote since).
//   In steady state nothing is written. A write that finds another member's state hands the
//   service back: it is inactive until loaded again.
// - Intent: a rollback.started becomes one transaction, on the same two conditions, that writes
//   the state (with the rollback in flight) and `<prefix>/services/<name>/rollback`; its revision
//   is the fencing token. Without it, the hook does not run.
// - Notifications: each one this member queues for an owned service is copied to
//   `<prefix>/outbox/<service>/<channel>/<id>` and removed when it leaves the queue. A member
//   taking a service over from one that is no longer live queues what that member left there,
//   with the same ids (receivers deduplicate by webhook-id). Bounded: kOutboxPerService entries
//   per service, kOutboxEntryMax bytes each; beyond that a notification stays in the local
//   outbox only (logged).
//
// Threading: on the daemon's loop.
#ifndef ROLLBACKD_RUNTIME_CLUSTER_SYNC_H_
#define ROLLBACKD_RUNTIME_CLUSTER_SYNC_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/cluster/etcd.h"
#include "daemon/cluster/membership.h"
#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "daemon/io/clock.h"
#include "daemon/notify/outbox.h"

namespace rollbackd {

class ClusterSync {
 public:
  struct Callbacks {
    std::function<void()> ownership_changed;   // services became active or inactive
    std::function<void(bool healthy)> health;  // cluster.down / cluster.up
    std::function<void(bool ok)> renewed;      // lease renewals, for metrics
    // Rollbacks in flight that were taken over from a member no longer live (or that this
    // member's etcd write left unconfirmed): the events of reporting them failed, as a restart
    // would. `running` tells the ones whose hook runs here.
    std::function<void(std::vector<Event>)> events;
    std::function<bool(const std::string& rollback_id)> running;
    // The outcome this member's journal recorded, if any (a hook that ended before a restart).
    std::function<std::optional<RollbackOutcome>(const std::string& rollback_id)> outcome;
    // Notifications a member that is gone left undelivered, for services this member owns now.
    std::function<void(std::vector<OutboxEntry>)> recover;
    // A pause, resume or deploy another member's API took for a service this member owns
    // (op "pause", "resume" or "deploy"; `version` for a deploy).
    std::function<void(const std::string& service, const std::string& op,
                       const std::string& version, const std::string& from)>
        apply;
  };
  // State writes in flight at once; the others wait their turn (a new owner of 1,000 services
  // writes each once: 1,000 requests at once cost more memory than the services themselves).
  static constexpr size_t kWritesInFlight = 8;
  static constexpr size_t kOutboxPerService = 1000;
  static constexpr size_t kOutboxEntryMax = 256 << 10;  // etcd takes 1.5 MiB per request
  ClusterSync(Etcd& etcd, Clock& clock, const ClusterSettings& settings, Callbacks callbacks);
  ~ClusterSync();

  void Start();
  void Stop(std::function<void()> done);  // revokes the lease

  // The engine rounds evaluate, again after each reload: every service inactive until owned and
  // loaded. The engine must stay alive until the next Attach or the end.
  void Attach(Engine& engine);
  // Applies Membership's view: deactivates services no longer owned (all of them when the lease
  // is in doubt), loads those newly owned. Cheap when nothing changed; called before each round.
  void Refresh();
  // Writes the state of owned services whose decisions changed.
  void Sync();
  // The intent of `started` (a rollback.started of an owned service); `done` gets the fencing
  // token, or nullopt and why not.
  void Intent(const Event& started,
              std::function<void(std::optional<int64_t> token, std::string error)> done);
  // The intents of every rollback.started among `events`, at once; `done` gets the events with
  // their fencing tokens, without the rollback.started whose intent failed (each logged).
  void Intents(std::vector<Event> events, std::function<void(std::vector<Event>)> done);

  // cluster.down (up = false) or cluster.up of this member, at `now`.
  static Event HealthEvent(const ClusterSettings& settings, bool up, Time now);

  // Hands a pause, resume or deploy of `service` to its owner: `<prefix>/requests/<service>/...`,
  // applied (in order) and removed by whichever member owns the service, now or once one does.
  // `done` gets the owner in this member's view, or false and why etcd did not take it.
  void Request(const std::string& service, const std::string& op, const std::string& version,
               std::function<void(bool ok, std::string owner, std::string error)> done);

  // Copies to etcd the notifications of owned services among `entries` (just queued here).
  void Publish(const std::vector<OutboxEntry>& entries);
  // A notification left this member's queue: its copy in etcd goes.
  void Ended(const OutboxEntry& entry);

  const Membership& membership() const { return membership_; }
  std::string OwnerOf(const std::string& service) const { return membership_.OwnerOf(service); }
  size_t owned() const;
  uint64_t writes() const { return writes_; }  // etcd write transactions sent (state, intents)

 private:
  struct Record {
    bool owned = false;    // this member took it: loading, or active once loaded
    bool loaded = false;   // active in the engine
    int64_t revision = 0;  // the state key's mod_revision as last read or written (0: none)
    std::string text;      // the state as last read or written
    bool writing = false;
    bool dirty = false;                              // changed again while a write was in flight
    bool queued = false;                             // waiting for a write slot
    uint64_t hash = 0;                               // Engine::ServiceStateHash of `text`
    size_t index = 0;                                // in the engine's config().services
    std::vector<std::function<void()>> after_write;  // intents waiting for `writing` to end
  };
  void Load();
  void Write(const std::string& service);
  void Queue(const std::string& service);
  void Pump();
  void Drop(const std::string& service, const std::string& why);
  void WriteEnded(const std::string& service);
  void Confirm(const std::string& service, const std::string& id, const std::string& text,
               const std::string& error,
               std::function<void(std::optional<int64_t>, std::string)> done);
  std::string StateKey(const std::string& service) const;
  std::string RollbackKey(const std::string& service) const;
  std::vector<EtcdCompare> Conditions(const Record& r, const std::string& service) const;
  std::string OutboxKey(const std::string& service, const std::string& channel,
                        const std::string& id) const;
  void ScanOutbox();  // takes over what members no longer live left for services owned here
  void WatchRequests(int64_t from);
  void ApplyRequests();  // the requests for services loaded here, in order, then removed

  Etcd& etcd_;
  Clock& clock_;
  ClusterSettings settings_;
  Callbacks callbacks_;
  Membership membership_;
  Engine* engine_ = nullptr;
  std::map<std::string, Record> records_;
  bool loading_ = false;
  bool load_again_ = false;
  std::unique_ptr<Timer> retry_;
  uint64_t writes_ = 0;
  std::map<std::string, std::string> outbox_keys_;  // channel + '\n' + id -> its key in etcd
  std::map<std::string, size_t> outbox_count_;      // per service, published and not ended
  std::vector<std::string> last_members_;
  std::unique_ptr<Etcd::Watch> requests_watch_;
  std::unique_ptr<Timer> requests_retry_;
  std::map<std::string, std::unique_ptr<Timer>> confirm_timers_;  // per service
  bool applying_ = false;
  bool apply_again_ = false;
  uint64_t request_seq_ = 0;
  std::deque<std::string> write_queue_;
  size_t writes_in_flight_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_CLUSTER_SYNC_H_
