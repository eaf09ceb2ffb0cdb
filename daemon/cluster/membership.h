// A cluster member's view of the cluster: its own lease, the live members, and which of them owns
// each service. Members register under `<prefix>/members/<name>`, a key bound to their lease, so a
// member whose lease expires drops out of every view; every member watches that prefix and
// computes owners alike, by rendezvous hashing over the live members' names: a service moves only
// when its owner leaves or a member joins that now wins it (about 1/N of the services).
//
// Lease timing, on the steady clock: a renewal sent at t and confirmed with TTL s proves the lease
// alive until t + s at the earliest; the member counts itself live until that instant less a
// margin (a fifth of the lease, at least a second), and renews every third of the lease. So a
// member cut off from etcd stops acting before its lease can have expired and another member can
// have taken its services. After lease_ttl without any answer from etcd the cluster is reported
// down (cluster.down), and up again at the first answer.
//
// Threading: on the loop that runs the Clock's timers and the Etcd callbacks.
#ifndef ROLLBACKD_CLUSTER_MEMBERSHIP_H_
#define ROLLBACKD_CLUSTER_MEMBERSHIP_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/cluster/etcd.h"
#include "daemon/config/duration.h"
#include "daemon/io/clock.h"

namespace rollbackd {

struct MembershipOptions {
  std::string name;
  std::string prefix = "/rollbackd";
  Duration lease_ttl{std::chrono::seconds(10)};
};

// The owner of `service` among `members` (names): the highest hash of (member, service); "" when
// there are none. Every member computes the same.
std::string RendezvousOwner(std::string_view service, const std::vector<std::string>& members);

class Membership {
 public:
  struct Callbacks {
    std::function<void()> changed;             // live(), or the members, changed
    std::function<void(bool healthy)> health;  // cluster.down (false) / cluster.up (true)
    std::function<void(bool ok)> renewed;      // each lease renewal, for metrics
  };
  Membership(Etcd& etcd, Clock& clock, MembershipOptions options, Callbacks callbacks);
  ~Membership();

  void Start();
  // Revokes the lease (so the others take over at once, not after the TTL), then `done`.
  void Stop(std::function<void()> done);

  // This member holds a lease that is alive beyond doubt, and is registered under it.
  bool live() const;
  bool healthy() const { return healthy_; }
  int64_t lease() const { return lease_; }
  const std::string& name() const { return options_.name; }
  std::string member_key() const;
  SteadyTime lease_valid_until() const { return valid_until_; }
  // Live members, sorted: the others as etcd shows them, and this one while live().
  std::vector<std::string> members() const;
  // The owner of `service` in this member's view; "" when no member is live.
  std::string OwnerOf(std::string_view service) const;
  bool Owns(std::string_view service) const;

  static constexpr Duration Margin(Duration ttl) {
    return std::max<Duration>(ttl / 5, std::chrono::seconds(1));
  }

 private:
  void Grant();
  void Register();
  void Renew();
  void Load();
  void Watch(int64_t from);
  void ScheduleRenew(Duration after);
  void ScheduleExpiry();
  void Answered();  // etcd answered: healthy again
  void Unanswered();
  void LeaseLost(const std::string& why);
  void Changed();

  Etcd& etcd_;
  Clock& clock_;
  MembershipOptions options_;
  Callbacks callbacks_;
  std::unique_ptr<Timer> renew_timer_;
  std::unique_ptr<Timer> expiry_timer_;
  std::unique_ptr<Timer> health_timer_;
  std::unique_ptr<Timer> watch_timer_;
  std::unique_ptr<Etcd::Watch> watch_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  int64_t lease_ = 0;
  bool registered_ = false;
  bool stopping_ = false;
  bool healthy_ = true;
  bool was_live_ = false;
  SteadyTime valid_until_{};
  std::vector<std::string> others_;  // sorted, without this member
  bool self_seen_ = false;           // our own key, as etcd shows it
};

}  // namespace rollbackd

#endif  // ROLLBACKD_CLUSTER_MEMBERSHIP_H_
