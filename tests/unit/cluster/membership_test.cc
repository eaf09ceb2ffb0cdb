// A member's lease and view on the fake clock and an in-memory etcd (testing/fake_etcd.h): it
// stops acting before its lease can have expired, reports the cluster down after lease_ttl without
// an answer, and two members split services and take over each other's.
#include "daemon/cluster/membership.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "testing/fake_clock.h"
#include "testing/fake_etcd.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeEtcd;

struct Member {
  Member(FakeEtcd& etcd, FakeClock& clock, const std::string& name)
      : membership(etcd, clock, MembershipOptions{name, "/t", 10s},
                   Membership::Callbacks{
                       [this] { ++changes; }, [this](bool up) { health.push_back(up); }, {}}) {}
  int changes = 0;
  std::vector<bool> health;
  Membership membership;
};

class MembershipTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  FakeClock clock{&io};
  FakeEtcd etcd{io, clock};
};

TEST_F(MembershipTest, LiveOnceRegisteredAndStopsActingBeforeTheLeaseCanExpire) {
  Member a(etcd, clock, "a");
  EXPECT_FALSE(a.membership.live());
  a.membership.Start();
  ASSERT_TRUE(clock.RunReady());
  ASSERT_TRUE(a.membership.live());
  EXPECT_EQ(a.membership.members(), std::vector<std::string>{"a"});
  ASSERT_NE(etcd.Get("/t/members/a"), nullptr);
  EXPECT_EQ(etcd.Get("/t/members/a")->lease, a.membership.lease());

  // Renewals keep it live for as long as etcd answers.
  ASSERT_TRUE(clock.Advance(60s));
  EXPECT_TRUE(a.membership.live());
  EXPECT_TRUE(a.membership.healthy());

  // etcd loses its quorum: no renewal is confirmed from now on.
  etcd.down = true;
  const SteadyTime cut = clock.SteadyNow();
  const SteadyTime valid_until = a.membership.lease_valid_until();
  // The last renewal was sent at most a third of the lease before the cut.
  EXPECT_LE(valid_until - cut, 10s);
  EXPECT_GE(valid_until - cut, 10s - 10s / 3 - 1ms);
  SteadyTime stopped{};
  for (int i = 0; i < 200 && stopped == SteadyTime{}; ++i) {
    ASSERT_TRUE(clock.Advance(50ms));
    if (!a.membership.live()) stopped = clock.SteadyNow();
  }
  ASSERT_NE(stopped, SteadyTime{});
  // Not acting any more at valid_until - margin, while etcd still holds the lease.
  EXPECT_LE(stopped, valid_until - Membership::Margin(10s) + 50ms);
  EXPECT_TRUE(etcd.LeaseAlive(a.membership.lease()));
  EXPECT_TRUE(a.membership.members().empty());
  EXPECT_EQ(a.membership.OwnerOf("shop"), "");

  // cluster.down once lease_ttl has passed without an answer, and only once.
  ASSERT_TRUE(clock.Advance(10s));
  EXPECT_EQ(a.health, std::vector<bool>{false});

  // etcd is back (its leases ran out meanwhile): a new lease, live again, cluster.up.
  etcd.down = false;
  const int64_t old = a.membership.lease();
  EXPECT_FALSE(etcd.LeaseAlive(old));
  ASSERT_TRUE(clock.Advance(3s));
  EXPECT_TRUE(a.membership.live());
  EXPECT_EQ(a.health, (std::vector<bool>{false, true}));
  EXPECT_NE(a.membership.lease(), old);
  EXPECT_TRUE(etcd.LeaseAlive(a.membership.lease()));
}

TEST_F(MembershipTest, TwoMembersSplitServicesAndOneTakesOverWhenTheOtherStops) {
  Member a(etcd, clock, "a");
  Member b(etcd, clock, "b");
  a.membership.Start();
  b.membership.Start();
  ASSERT_TRUE(clock.Advance(1s));
  ASSERT_EQ(a.membership.members(), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(b.membership.members(), (std::vector<std::string>{"a", "b"}));
  int owned_by_a = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string s = "s" + std::to_string(i);
    EXPECT_NE(a.membership.Owns(s), b.membership.Owns(s)) << s << ": exactly one owner";
    owned_by_a += a.membership.Owns(s) ? 1 : 0;
  }
  EXPECT_GT(owned_by_a, 30);
  EXPECT_LT(owned_by_a, 70);

  bool stopped = false;
  b.membership.Stop([&] { stopped = true; });  // revokes: a takes over at once, not after a TTL
  ASSERT_TRUE(clock.Advance(100ms));
  EXPECT_TRUE(stopped);
  EXPECT_EQ(a.membership.members(), std::vector<std::string>{"a"});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(a.membership.Owns("s" + std::to_string(i)));
}

TEST_F(MembershipTest, AMemberWhoseLeaseExpiredRegistersAgainUnderANewOne) {
  Member a(etcd, clock, "a");
  a.membership.Start();
  ASSERT_TRUE(clock.RunReady());
  const int64_t first = a.membership.lease();
  // A process paused for longer than the lease (SIGSTOP, a VM freeze): time passes, no timer runs.
  clock.Spend(30s);
  EXPECT_FALSE(a.membership.live());
  EXPECT_FALSE(etcd.LeaseAlive(first));
  ASSERT_TRUE(clock.Advance(2s));
  EXPECT_TRUE(a.membership.live());
  EXPECT_NE(a.membership.lease(), first);
  EXPECT_EQ(etcd.Get("/t/members/a")->lease, a.membership.lease());
}

}  // namespace
}  // namespace rollbackd
