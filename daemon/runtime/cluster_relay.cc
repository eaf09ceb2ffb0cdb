// ClusterSync's relays: what members hand each other through etcd besides decision state, namely
// the copies of queued notifications (taken over from a member that is gone) and the API's
// pause, resume and deploy requests for a service another member owns. See cluster_sync.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "daemon/runtime/cluster_sync.h"

namespace rollbackd {

std::string ClusterSync::OutboxKey(const std::string& service, const std::string& channel,
                                   const std::string& id) const {
  return settings_.prefix + "/outbox/" + service + "/" + channel + "/" + id;
}

void ClusterSync::Publish(const std::vector<OutboxEntry>& entries) {
  if (engine_ == nullptr || !membership_.live()) return;
  std::vector<EtcdTxn> txns(1);
  size_t bytes = 0;
  for (const OutboxEntry& e : entries) {
    auto r = records_.find(e.service);
    if (r == records_.end() || !r->second.loaded) continue;
    const nlohmann::json value = {{"member", settings_.name}, {"entry", OutboxEntryToJson(e)}};
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > kOutboxEntryMax || outbox_count_[e.service] >= kOutboxPerService) {
      spdlog::warn(
          "cluster: notification {} to {} ({} of {}) stays in this member's outbox only: {}", e.id,
          e.channel, e.kind, e.service,
          text.size() > kOutboxEntryMax ? "too large for etcd" : "the service's share is full");
      continue;
    }
    const std::string key = OutboxKey(e.service, e.channel, e.id);
    outbox_keys_[e.channel + '\n' + e.id] = key;
    ++outbox_count_[e.service];
    // Under the lease: a member's copies go when it does not, only by their delivery.
    if (txns.back().success.size() >= 64 || bytes + text.size() > (1u << 20)) {
      txns.emplace_back();
      bytes = 0;
    }
    bytes += text.size() + key.size();
    txns.back().success.push_back({EtcdOp::Kind::kPut, key, std::move(text), 0, ""});
  }
  for (EtcdTxn& txn : txns) {
    if (txn.success.empty()) continue;
    ++writes_;
    etcd_.Txn(std::move(txn), [](EtcdTxnResult r) {
      if (!r.status.ok()) {
        spdlog::warn(
            "cluster: notifications not copied to etcd ({}): they are delivered from "
            "this member's outbox only",
            r.status.error);
      }
    });
  }
}

void ClusterSync::Ended(const OutboxEntry& e) {
  auto it = outbox_keys_.find(e.channel + '\n' + e.id);
  if (it == outbox_keys_.end()) return;
  EtcdTxn txn;
  txn.success.push_back({EtcdOp::Kind::kDelete, it->second, "", 0, ""});
  outbox_keys_.erase(it);
  if (size_t& n = outbox_count_[e.service]; n > 0) --n;
  ++writes_;
  etcd_.Txn(std::move(txn), [](EtcdTxnResult r) {
    if (!r.status.ok()) {
      spdlog::debug("cluster: a delivered notification's copy stays in etcd: {}", r.status.error);
    }
  });
}

void ClusterSync::ScanOutbox() {
  const std::string prefix = settings_.prefix + "/outbox/";
  etcd_.Range(prefix, PrefixEnd(prefix),
              [this, alive = std::weak_ptr<bool>(alive_), prefix](EtcdRangeResult result) {
                if (!alive.lock() || !result.status.ok() || engine_ == nullptr) return;
                const std::vector<std::string> live = membership_.members();
                std::vector<OutboxEntry> taken;
                for (const EtcdKv& kv : result.kvs) {
                  auto j = nlohmann::json::parse(kv.value, nullptr, false);
                  if (!j.is_object()) continue;
                  const std::string member = j.value("member", "");
                  if (member == settings_.name ||
                      std::find(live.begin(), live.end(), member) != live.end()) {
                    continue;  // its member delivers it (this one, from its own outbox)
                  }
                  std::optional<OutboxEntry> e =
                      OutboxEntryFromJson(j.value("entry", nlohmann::json()));
                  if (!e) continue;
                  auto r = records_.find(e->service);
                  if (r == records_.end() || !r->second.loaded) continue;
                  const std::string id = e->channel + '\n' + e->id;
                  if (outbox_keys_.contains(id)) continue;  // taken already
                  outbox_keys_[id] = kv.key;
                  ++outbox_count_[e->service];
                  taken.push_back(std::move(*e));
                }
                if (taken.empty()) return;
                spdlog::warn(
                    "cluster: {} notification(s) left undelivered by members no longer live are "
                    "sent from here, with their ids",
                    taken.size());
                if (callbacks_.recover) callbacks_.recover(std::move(taken));
              });
}

void ClusterSync::Request(const std::string& service, const std::string& op,
                          const std::string& version,
                          std::function<void(bool, std::string, std::string)> done) {
  // Unique and in order per member; the owner applies them in etcd's order (mod_revision).
  char seq[32];
  std::snprintf(seq, sizeof seq, "%020llu", static_cast<unsigned long long>(++request_seq_));
  const std::string key = settings_.prefix + "/requests/" + service + "/" + settings_.name + "-" +
                          std::to_string(membership_.lease()) + "-" + seq;
  const nlohmann::json value = {{"op", op}, {"version", version}, {"from", settings_.name}};
  EtcdTxn txn;
  txn.success.push_back({EtcdOp::Kind::kPut, key, value.dump(), 0, ""});
  ++writes_;
  etcd_.Txn(std::move(txn), [this, alive = std::weak_ptr<bool>(alive_), service,
                             done = std::move(done)](EtcdTxnResult r) {
    if (!alive.lock()) return;
    if (!r.status.ok()) return done(false, "", r.status.error);
    done(true, membership_.OwnerOf(service), "");
  });
}

// Requests are rare: the watch only says "look", and ApplyRequests reads them all.
void ClusterSync::WatchRequests(int64_t from) {
  const std::string prefix = settings_.prefix + "/requests/";
  requests_watch_ = etcd_.StartWatch(
      prefix, PrefixEnd(prefix), from,
      [this](int64_t, std::vector<EtcdWatchEvent> events) {
        if (std::any_of(events.begin(), events.end(),
                        [](const EtcdWatchEvent& e) { return !e.deleted; })) {
          ApplyRequests();
        }
      },
      [this, alive = std::weak_ptr<bool>(alive_)](EtcdStatus) {
        if (!alive.lock()) return;
        requests_retry_->At(clock_.SteadyNow() + std::chrono::seconds(1), [this] {
          ApplyRequests();  // whatever came while the watch was down
          WatchRequests(0);
        });
      });
}

void ClusterSync::ApplyRequests() {
  if (engine_ == nullptr || owned() == 0) return;
  if (applying_) {
    apply_again_ = true;
    return;
  }
  applying_ = true;
  const std::string prefix = settings_.prefix + "/requests/";
  etcd_.Range(prefix, PrefixEnd(prefix),
              [this, alive = std::weak_ptr<bool>(alive_), prefix](EtcdRangeResult result) {
                if (!alive.lock()) return;
                applying_ = false;
                if (result.status.ok() && engine_ != nullptr) {
                  std::sort(result.kvs.begin(), result.kvs.end(),
                            [](const EtcdKv& a, const EtcdKv& b) {
                              return a.mod_revision < b.mod_revision;
                            });
                  size_t applied = 0;
                  for (const EtcdKv& kv : result.kvs) {
                    const std::string rest = kv.key.substr(prefix.size());
                    const std::string service = rest.substr(0, rest.find('/'));
                    auto r = records_.find(service);
                    if (r == records_.end() || !r->second.loaded) continue;
                    auto j = nlohmann::json::parse(kv.value, nullptr, false);
                    if (j.is_object() && callbacks_.apply) {
                      callbacks_.apply(service, j.value("op", ""), j.value("version", ""),
                                       j.value("from", ""));
                    }
                    // Applied at least once: a member that dies before this delete leaves it to the
                    // next.
                    EtcdTxn done;
                    done.compare.push_back(
                        {EtcdCompare::Target::kModRevision, kv.key, kv.mod_revision, ""});
                    done.success.push_back({EtcdOp::Kind::kDelete, kv.key, "", 0, ""});
                    ++writes_;
                    etcd_.Txn(std::move(done), [](EtcdTxnResult) {});
                    if (++applied >= 64) break;  // the rest at the next look
                  }
                  if (applied > 0) Sync();  // the states they changed
                }
                if (apply_again_) {
                  apply_again_ = false;
                  ApplyRequests();
                }
              });
}

}  // namespace rollbackd
