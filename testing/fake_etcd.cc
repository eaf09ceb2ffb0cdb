#include "testing/fake_etcd.h"

#include <boost/asio/post.hpp>

namespace rollbackd::testing {
namespace {

EtcdStatus Unavailable() { return {EtcdStatus::Code::kUnavailable, "fake etcd: no quorum"}; }

}  // namespace

template <typename R>
void FakeEtcd::Later(std::function<void(R)> done, R r) {
  boost::asio::post(io_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done),
                          r = std::move(r)]() mutable {
    if (alive.lock()) done(std::move(r));
  });
}

bool FakeEtcd::InRange(const std::string& k, const std::string& key, const std::string& end) {
  return end.empty() ? k == key : (k >= key && k < end);
}

void FakeEtcd::Expire() {
  if (down) return;
  std::vector<EtcdWatchEvent> changes;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.expires > clock_.SteadyNow()) {
      ++it;
      continue;
    }
    const int64_t id = it->first;
    it = leases_.erase(it);
    ++revision_;
    for (auto kv = kvs_.begin(); kv != kvs_.end();) {
      if (kv->second.lease == id) {
        changes.push_back({true, {kv->first, "", 0, revision_, 0}});
        kv = kvs_.erase(kv);
      } else {
        ++kv;
      }
    }
  }
  Notify(changes);
}

bool FakeEtcd::LeaseAlive(int64_t lease) {
  Expire();
  return leases_.contains(lease);
}

const EtcdKv* FakeEtcd::Get(const std::string& key) const {
  auto it = kvs_.find(key);
  return it == kvs_.end() ? nullptr : &it->second;
}

void FakeEtcd::Notify(const std::vector<EtcdWatchEvent>& changes) {
  if (changes.empty()) return;
  history_.insert(history_.end(), changes.begin(), changes.end());
  for (const Watcher& w : watchers_) {
    if (w.alive.use_count() == 0 || !*w.alive) continue;
    std::vector<EtcdWatchEvent> mine;
    for (const EtcdWatchEvent& e : changes) {
      if (InRange(e.kv.key, w.key, w.end)) mine.push_back(e);
    }
    if (mine.empty()) continue;
    boost::asio::post(io_, [alive = std::weak_ptr<bool>(w.alive), events = w.events,
                            rev = revision_, mine = std::move(mine)]() mutable {
      if (auto a = alive.lock(); a && *a) events(rev, std::move(mine));
    });
  }
}

void FakeEtcd::Put(const std::string& key, const std::string& value, int64_t lease,
                   std::vector<EtcdWatchEvent>* changes) {
  EtcdKv& kv = kvs_[key];
  if (kv.create_revision == 0) kv.create_revision = revision_;
  kv.key = key;
  kv.value = value;
  kv.mod_revision = revision_;
  kv.lease = lease;
  changes->push_back({false, kv});
}

void FakeEtcd::Delete(const std::string& key, std::vector<EtcdWatchEvent>* changes) {
  if (kvs_.erase(key) > 0) changes->push_back({true, {key, "", 0, revision_, 0}});
}

void FakeEtcd::Grant(int64_t ttl, std::function<void(EtcdLeaseResult)> done) {
  Expire();
  EtcdLeaseResult r;
  if (down) {
    r.status = Unavailable();
  } else {
    r.id = ++next_lease_;
    r.ttl = ttl;
    leases_[r.id] = {ttl, clock_.SteadyNow() + std::chrono::seconds(ttl)};
  }
  Later(std::move(done), r);
}

void FakeEtcd::KeepAlive(int64_t lease, std::function<void(EtcdLeaseResult)> done) {
  Expire();
  EtcdLeaseResult r;
  r.id = lease;
  if (down) {
    r.status = Unavailable();
  } else if (auto it = leases_.find(lease); it != leases_.end()) {
    it->second.expires = clock_.SteadyNow() + std::chrono::seconds(it->second.ttl);
    r.ttl = it->second.ttl;
  }
  Later(std::move(done), r);
}

void FakeEtcd::Revoke(int64_t lease, std::function<void(EtcdStatus)> done) {
  Expire();
  if (down) return Later(std::move(done), Unavailable());
  if (auto it = leases_.find(lease); it != leases_.end()) {
    it->second.expires = clock_.SteadyNow();
    Expire();
  }
  Later(std::move(done), EtcdStatus{});
}

void FakeEtcd::Range(std::string key, std::string end, std::function<void(EtcdRangeResult)> done) {
  Expire();
  EtcdRangeResult r;
  if (down) {
    r.status = Unavailable();
  } else {
    r.revision = revision_;
    for (const auto& [k, kv] : kvs_) {
      if (InRange(k, key, end)) r.kvs.push_back(kv);
    }
  }
  Later(std::move(done), std::move(r));
}

void FakeEtcd::Txn(EtcdTxn txn, std::function<void(EtcdTxnResult)> done) {
  Expire();
  EtcdTxnResult r;
  if (down) {
    r.status = Unavailable();
    return Later(std::move(done), std::move(r));
  }
  bool ok = true;
  for (const EtcdCompare& c : txn.compare) {
    const EtcdKv* kv = Get(c.key);
    const EtcdKv none;
    const EtcdKv& k = kv ? *kv : none;
    switch (c.target) {
      case EtcdCompare::Target::kCreateRevision:
        ok = ok && k.create_revision == c.number;
        break;
      case EtcdCompare::Target::kModRevision:
        ok = ok && k.mod_revision == c.number;
        break;
      case EtcdCompare::Target::kValue:
        ok = ok && kv != nullptr && k.value == c.value;
        break;
      case EtcdCompare::Target::kLease:
        ok = ok && k.lease == c.number;
        break;
    }
  }
  r.succeeded = ok;
  const std::vector<EtcdOp>& ops = ok ? txn.success : txn.failure;
  const bool writes = std::any_of(ops.begin(), ops.end(),
                                  [](const EtcdOp& op) { return op.kind != EtcdOp::Kind::kRange; });
  if (writes) {
    ++revision_;
    ++write_txns;
  }
  std::vector<EtcdWatchEvent> changes;
  for (const EtcdOp& op : ops) {
    if (op.kind == EtcdOp::Kind::kPut) {
      if (op.lease != 0 && !leases_.contains(op.lease)) {
        r.status = {EtcdStatus::Code::kRejected, "requested lease not found"};
        return Later(std::move(done), std::move(r));
      }
      Put(op.key, op.value, op.lease, &changes);
    } else if (op.kind == EtcdOp::Kind::kDelete) {
      Delete(op.key, &changes);
    } else {
      std::vector<EtcdKv> found;
      for (const auto& [k, kv] : kvs_) {
        if (InRange(k, op.key, op.range_end)) found.push_back(kv);
      }
      r.ranges.push_back(std::move(found));
    }
  }
  r.revision = revision_;
  Notify(changes);
  if (lose_answers > 0) {
    --lose_answers;
    r = EtcdTxnResult{};
    r.status = Unavailable();
  }
  Later(std::move(done), std::move(r));
}

namespace {
struct FakeWatch : Etcd::Watch {
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  ~FakeWatch() override { *alive = false; }
};
}  // namespace

std::unique_ptr<Etcd::Watch> FakeEtcd::StartWatch(
    std::string key, std::string range_end, int64_t start_revision,
    std::function<void(int64_t, std::vector<EtcdWatchEvent>)> events,
    std::function<void(EtcdStatus)>) {
  auto w = std::make_unique<FakeWatch>();
  std::vector<EtcdWatchEvent> past;
  for (const EtcdWatchEvent& e : history_) {
    if (e.kv.mod_revision >= start_revision && InRange(e.kv.key, key, range_end)) past.push_back(e);
  }
  if (!past.empty()) {
    boost::asio::post(io_, [alive = std::weak_ptr<bool>(w->alive), events, rev = revision_,
                            past = std::move(past)]() mutable {
      if (auto a = alive.lock(); a && *a) events(rev, std::move(past));
    });
  }
  watchers_.push_back({std::move(key), std::move(range_end), std::move(events), w->alive});
  return w;
}

}  // namespace rollbackd::testing
