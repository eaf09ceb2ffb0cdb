// The Etcd interface over etcd's v3 JSON gateway (`/v3/...`, served by every etcd 3.4 member
// beside gRPC), on the daemon's HttpTransport: no gRPC stack, and every request has the timeout
// of [cluster].timeout and never blocks the loop. Requests go to one endpoint at a time; one that
// does not answer (or answers "no leader") moves the client on to the next. With username and
// password_file, the client authenticates (/v3/auth/authenticate) and sends the token, again after
// etcd invalidates it.
#ifndef ROLLBACKD_CLUSTER_ETCD_CLIENT_H_
#define ROLLBACKD_CLUSTER_ETCD_CLIENT_H_

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "daemon/cluster/etcd.h"
#include "daemon/config/model.h"
#include "daemon/io/transport.h"

namespace rollbackd {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", tried in turn
  Duration timeout{std::chrono::seconds(2)};
  Duration watch_timeout{std::chrono::seconds(30)};  // a watch stream is started anew after it
  TlsOptions tls;
  std::string username;
  std::string password;
};

class EtcdClient : public Etcd {
 public:
  EtcdClient(boost::asio::io_context& io, HttpTransport& http, EtcdClientOptions options,
             EtcdObserver observer = {});
  ~EtcdClient() override;

  void Grant(int64_t ttl_seconds, std::function<void(EtcdLeaseResult)> done) override;
  void KeepAlive(int64_t lease, std::function<void(EtcdLeaseResult)> done) override;
  void Revoke(int64_t lease, std::function<void(EtcdStatus)> done) override;
  void Range(std::string key, std::string range_end,
             std::function<void(EtcdRangeResult)> done) override;
  void Txn(EtcdTxn txn, std::function<void(EtcdTxnResult)> done) override;
  std::unique_ptr<Watch> StartWatch(
      std::string key, std::string range_end, int64_t start_revision,
      std::function<void(int64_t revision, std::vector<EtcdWatchEvent>)> events,
      std::function<void(EtcdStatus)> ended) override;

  const std::string& endpoint() const;  // the one requests go to now

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CLUSTER_ETCD_CLIENT_H_
