// An in-memory etcd (the Etcd interface): one revision counter, keys with create and mod
// revisions, leases that expire on the Clock's steady time, transactions with their compares, and
// watches. Answers come later on the loop, as the real client's do. `down` makes every request
// fail as etcd without a quorum does: nothing is applied, and no lease expires (no leader expires
// them) until it is back.
#ifndef ROLLBACKD_TESTING_FAKE_ETCD_H_
#define ROLLBACKD_TESTING_FAKE_ETCD_H_

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/cluster/etcd.h"
#include "daemon/io/clock.h"

namespace rollbackd::testing {

class FakeEtcd : public Etcd {
 public:
  FakeEtcd(boost::asio::io_context& io, Clock& clock) : io_(io), clock_(clock) {}

  void Grant(int64_t ttl_seconds, std::function<void(EtcdLeaseResult)> done) override;
  void KeepAlive(int64_t lease, std::function<void(EtcdLeaseResult)> done) override;
  void Revoke(int64_t lease, std::function<void(EtcdStatus)> done) override;
  void Range(std::string key, std::string range_end,
             std::function<void(EtcdRangeResult)> done) override;
  void Txn(EtcdTxn txn, std::function<void(EtcdTxnResult)> done) override;
  std::unique_ptr<Watch> StartWatch(
      std::string key, std::string range_end, int64_t start_revision,
      std::function<void(int64_t, std::vector<EtcdWatchEvent>)> events,
      std::function<void(EtcdStatus)> ended) override;

  bool down = false;
  // The next this-many transactions are applied, but their answer says kUnavailable (a request
  // that timed out at the client and was committed all the same).
  int lose_answers = 0;
  // Expires the leases whose time has passed (every request does this first).
  void Expire();
  bool LeaseAlive(int64_t lease);
  int64_t revision() const { return revision_; }
  const EtcdKv* Get(const std::string& key) const;
  size_t write_txns = 0;  // transactions that wrote

 private:
  struct Lease {
    int64_t ttl;
    SteadyTime expires;
  };
  struct Watcher {
    std::string key, end;
    std::function<void(int64_t, std::vector<EtcdWatchEvent>)> events;
    std::shared_ptr<bool> alive;
  };
  static bool InRange(const std::string& k, const std::string& key, const std::string& end);
  void Notify(const std::vector<EtcdWatchEvent>& changes);
  void Put(const std::string& key, const std::string& value, int64_t lease,
           std::vector<EtcdWatchEvent>* changes);
  void Delete(const std::string& key, std::vector<EtcdWatchEvent>* changes);
  template <typename R>
  void Later(std::function<void(R)> done, R r);

  boost::asio::io_context& io_;
  Clock& clock_;
  int64_t revision_ = 1;
  int64_t next_lease_ = 0x1000;
  std::map<std::string, EtcdKv> kvs_;
  std::map<int64_t, Lease> leases_;
  std::vector<Watcher> watchers_;
  std::vector<EtcdWatchEvent> history_;  // every change, for watches from an earlier revision
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rollbackd::testing

#endif  // ROLLBACKD_TESTING_FAKE_ETCD_H_
