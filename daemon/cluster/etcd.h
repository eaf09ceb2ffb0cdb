// etcd's v3 key-value API as the cluster uses it: leases, ranges, transactions and a watch. An
// interface, so that the cluster's logic runs against an in-memory etcd in tests
// (testing/fake_etcd.h) and against a real etcd cluster through EtcdClient (its JSON gateway).
//
// Threading: calls and callbacks on the owner's event loop; a callback never runs inside the call.
#ifndef ROLLBACKD_CLUSTER_ETCD_H_
#define ROLLBACKD_CLUSTER_ETCD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollbackd {

struct EtcdKv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// Why a request failed. kUnavailable: no answer (timeout, refused, no quorum); the caller retries,
// on another endpoint. kRejected: etcd answered with an error (a bad request, auth).
struct EtcdStatus {
  enum class Code { kOk, kUnavailable, kRejected };
  Code code = Code::kOk;
  std::string error;
  bool ok() const { return code == Code::kOk; }
};

// One condition of a transaction; all must hold for `success` to run.
struct EtcdCompare {
  enum class Target { kCreateRevision, kModRevision, kValue, kLease };
  Target target = Target::kModRevision;
  std::string key;
  int64_t number = 0;  // create or mod revision (0: the key does not exist), or a lease id
  std::string value;   // kValue
};

struct EtcdOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut: 0 for none
  std::string range_end;  // kDelete, kRange: "" for the key alone
};

struct EtcdTxn {
  std::vector<EtcdCompare> compare;
  std::vector<EtcdOp> success;
  std::vector<EtcdOp> failure;
};

struct EtcdTxnResult {
  EtcdStatus status;
  bool succeeded = false;
  int64_t revision = 0;                     // the store's revision after the transaction
  std::vector<std::vector<EtcdKv>> ranges;  // what each kRange op of the branch taken read
};

struct EtcdRangeResult {
  EtcdStatus status;
  int64_t revision = 0;
  std::vector<EtcdKv> kvs;
};

struct EtcdLeaseResult {
  EtcdStatus status;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds; <= 0 after a keepalive: the lease is gone
};

struct EtcdWatchEvent {
  bool deleted = false;
  EtcdKv kv;  // for a delete: key and mod_revision
};

// Observes every request, for metrics: the operation ("range", "txn", "lease_keepalive", ...),
// its duration and whether it failed.
using EtcdObserver = std::function<void(std::string_view op, double seconds, bool failed)>;

// The end of every range of keys under `prefix`: the prefix with its last byte incremented.
std::string PrefixEnd(const std::string& prefix);

class Etcd {
 public:
  virtual ~Etcd() = default;
  virtual void Grant(int64_t ttl_seconds, std::function<void(EtcdLeaseResult)> done) = 0;
  virtual void KeepAlive(int64_t lease, std::function<void(EtcdLeaseResult)> done) = 0;
  virtual void Revoke(int64_t lease, std::function<void(EtcdStatus)> done) = 0;
  virtual void Range(std::string key, std::string range_end,
                     std::function<void(EtcdRangeResult)> done) = 0;
  virtual void Txn(EtcdTxn txn, std::function<void(EtcdTxnResult)> done) = 0;

  // Streams the changes of [key, range_end) from `start_revision` on: `events` for each batch, in
  // order, then `ended` once (an error, etcd's own cancel, or the stream's time limit). The caller
  // starts a new watch from the last revision seen + 1. Destroying the handle stops the stream
  // (no callback after).
  class Watch {
   public:
    virtual ~Watch() = default;
  };
  virtual std::unique_ptr<Watch> StartWatch(
      std::string key, std::string range_end, int64_t start_revision,
      std::function<void(int64_t revision, std::vector<EtcdWatchEvent>)> events,
      std::function<void(EtcdStatus)> ended) = 0;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CLUSTER_ETCD_H_
