// A real etcd cluster for the cluster-mode tests: Debian's `etcd` (3.4) members on loopback, each
// with its own data dir and log under one folder, killed and restarted one at a time so a test
// can take quorum away and give it back. Talk to it through the v3 JSON gateway (/v3/kv/put,
// /v3/kv/range: keys and values base64, int64s as JSON strings) with Http(), or through Put().
#ifndef ROLLBACKD_TESTING_ETCD_CLUSTER_H_
#define ROLLBACKD_TESTING_ETCD_CLUSTER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::it {

// Standard base64 with padding, as the gateway wants keys and values.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);  // nullopt: not base64

// Member i is named "member<i>"; its files are <dir>/member<i>/ (data) and <dir>/member<i>.log.
// Not thread-safe: one test thread drives it.
class EtcdCluster {
 public:
  // Starts `members` members and returns once each has bound its ports; it does not wait for a
  // leader (WaitHealthy does). A member that cannot bind (FreePort() raced with another process)
  // exits at once, and the whole cluster is started again on new ports, three attempts at most.
  // Throws std::runtime_error (with the members' logs) when no attempt starts.
  explicit EtcdCluster(const std::string& dir, int members = 3);
  // SIGKILL to every member, not SIGTERM: a graceful stop of the last member can hang for the
  // request timeout (6 s here) while it has no one to hand leadership to, and the data is thrown
  // away anyway.
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Polls, until `limit`, for a put through each member to succeed (so each serves clients and
  // there is a leader with a quorum), members Kill()ed and not restarted since left out. False
  // when the limit passes first, or at once when one of those members has exited.
  bool WaitHealthy(std::chrono::milliseconds limit);

  int size() const { return static_cast<int>(members_.size()); }
  std::vector<std::string> endpoints() const;  // "http://127.0.0.1:PORT", one per member
  std::string endpoint(int i) const;
  const std::string& log_path(int i) const { return members_.at(i).log; }
  std::string log(int i) const { return ReadFile(log_path(i)); }

  // SIGKILL to member i; returns once it has exited (5 s at most). Its data dir stays.
  void Kill(int i);
  // Starts member i again on the same ports and data dir (--initial-cluster-state existing) and
  // returns once it has bound its ports or exited (10 s at most): running(i) tells which. It
  // serves clients only once it has published itself through raft, so never without a quorum
  // (etcd holds client connections until then), and when its first attempt went out before it
  // knew the leader, only after that attempt times out (6 s): wait with WaitHealthy.
  void Restart(int i);
  bool running(int i);

  // The index of the member that every running member answering POST /v3/maintenance/status
  // (1 s at most apiece) names as leader; -1 when they name different ones, none, or a member
  // that did not answer, or when none answers. Right after an election one may still name the
  // old leader: poll with WaitFor.
  int Leader();

  // POST /v3/kv/put through member i. True when etcd answered 200 with a revision; a member
  // without a quorum holds the request (for 6 s, etcd's request timeout) so `timeout` bounds it.
  bool Put(int i, const std::string& key, const std::string& value,
           std::chrono::milliseconds timeout = 2s);

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::string log;
    bool wanted = true;  // false from Kill() until Restart()
    std::unique_ptr<Process> process;
  };

  bool StartAll();  // false when a member exited or did not bind in time
  void Start(Member& m, const std::string& state);
  bool WaitBound(Member& m);

  std::string dir_;
  std::string token_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace rollbackd::it

#endif  // ROLLBACKD_TESTING_ETCD_CLUSTER_H_
