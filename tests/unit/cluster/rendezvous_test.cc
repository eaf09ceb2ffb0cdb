// Ownership by rendezvous hashing (RendezvousOwner): every member computes the same owner, the
// services spread evenly, and a member leaving or joining moves only the services it loses or wins.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/cluster/membership.h"

namespace rollbackd {
namespace {

std::vector<std::string> Services(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("service-" + std::to_string(i));
  return out;
}

TEST(RendezvousTest, NoMembersNoOwnerAndOneMemberOwnsAll) {
  EXPECT_EQ(RendezvousOwner("shop", {}), "");
  EXPECT_EQ(RendezvousOwner("shop", {"a"}), "a");
}

TEST(RendezvousTest, TheOrderOfTheViewDoesNotMatter) {
  for (const std::string& s : Services(200)) {
    EXPECT_EQ(RendezvousOwner(s, {"a", "b", "c"}), RendezvousOwner(s, {"c", "a", "b"})) << s;
  }
}

TEST(RendezvousTest, ThreeThousandServicesOverThreeMembersAreAboutAThousandEach) {
  std::map<std::string, int> count;
  for (const std::string& s : Services(3000)) ++count[RendezvousOwner(s, {"a", "b", "c"})];
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [member, n] : count) {
    EXPECT_GT(n, 900) << member;
    EXPECT_LT(n, 1100) << member;
  }
}

TEST(RendezvousTest, ALeavingMemberMovesOnlyItsServicesAndAJoiningOneTakesAFairShare) {
  int moved_on_leave = 0;
  int moved_on_join = 0;
  for (const std::string& s : Services(3000)) {
    const std::string before = RendezvousOwner(s, {"a", "b", "c"});
    const std::string without_c = RendezvousOwner(s, {"a", "b"});
    if (before != "c") {
      EXPECT_EQ(without_c, before) << s << " moved although its owner stayed";
    } else {
      ++moved_on_leave;
    }
    const std::string with_d = RendezvousOwner(s, {"a", "b", "c", "d"});
    if (with_d != before) {
      EXPECT_EQ(with_d, "d") << s << " moved between members that stayed";
      ++moved_on_join;
    }
  }
  EXPECT_GT(moved_on_leave, 900);
  EXPECT_GT(moved_on_join, 600);  // about a quarter
  EXPECT_LT(moved_on_join, 900);
}

}  // namespace
}  // namespace rollbackd
