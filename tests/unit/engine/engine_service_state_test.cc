// Cluster mode's view of the engine: one service's decision state (SaveServiceState /
// RestoreServiceState), which a new owner restores to carry on, and inactive services (owned by
// another member), which are not evaluated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kCheckout[] = R"(
service = "checkout"
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.05
for = "1m"
[rollback]
exec = ["undo"]
cooldown = "30m"
)";

TEST(EngineServiceStateTest, UnchangedWhileNothingIsDecided) {
  EngineHarness a(kCheckout);
  a.Set("error_rate", Value(0.01));
  a.Run("0s", "0s", "10s");
  const std::string quiet = a.engine().SaveServiceState("checkout");
  a.Set("error_rate", Value(0.02));  // a different value, still no breach
  a.Run("10s", "1m", "10s");
  EXPECT_EQ(a.engine().SaveServiceState("checkout"), quiet);

  a.Set("error_rate", Value(0.5));
  a.Run("1m10s", "1m10s", "10s");
  const std::string pending = a.engine().SaveServiceState("checkout");
  EXPECT_NE(pending, quiet);
  a.Set("error_rate", Value(0.7));  // still pending, another value
  a.Run("1m20s", "1m30s", "10s");
  EXPECT_EQ(a.engine().SaveServiceState("checkout"), pending);
  EXPECT_EQ(a.engine().SaveServiceState("nope"), "");
}

TEST(EngineServiceStateTest, ANewOwnerFiresAtFirstBreachPlusForAndNeverTwice) {
  EngineHarness a(kCheckout);
  a.Set("error_rate", Value(0.5));
  EXPECT_THAT(Lines(a.Run("0s", "30s", "10s")), ElementsAre("0s trigger.pending error_rate"));
  const std::string pending = a.engine().SaveServiceState("checkout");

  EngineHarness b(kCheckout);  // the new owner
  std::string error;
  ASSERT_TRUE(b.engine().RestoreServiceState("checkout", pending, &error)) << error;
  b.Set("error_rate", Value(0.5));
  EXPECT_THAT(Lines(b.Run("40s", "1m", "10s")),
              ElementsAre("1m trigger.firing error_rate", "1m rollback.started error_rate"));
  const std::string rolled_back = b.engine().SaveServiceState("checkout");

  EngineHarness c(kCheckout);  // and the one after it, while the episode still fires
  ASSERT_TRUE(c.engine().RestoreServiceState("checkout", rolled_back, &error)) << error;
  EXPECT_EQ(c.engine().RollbacksInFlight(), b.engine().RollbacksInFlight());
  c.Set("error_rate", Value(0.5));
  EXPECT_THAT(Kinds(c.Run("1m10s", "5m", "10s")), IsEmpty());
}

TEST(EngineServiceStateTest, EmptyTextStartsAnewAndBadTextChangesNothing) {
  EngineHarness a(kCheckout);
  a.Set("error_rate", Value(0.5));
  a.Run("0s", "10s", "10s");
  std::string error;
  EXPECT_FALSE(a.engine().RestoreServiceState("checkout", "{\"format\":1}", &error));
  EXPECT_THAT(error, ::testing::HasSubstr("invalid state"));
  EXPECT_EQ(a.PhaseOf("error_rate", Labels()), "pending");
  EXPECT_FALSE(a.engine().RestoreServiceState("nope", "", &error));
  ASSERT_TRUE(a.engine().RestoreServiceState("checkout", "", &error)) << error;
  EXPECT_THAT(a.SeriesOf("error_rate"), IsEmpty());
}

TEST(EngineServiceStateTest, AnInactiveServiceIsNotEvaluated) {
  EngineHarness a(kCheckout);
  ASSERT_TRUE(a.engine().SetActive("checkout", false));
  EXPECT_FALSE(a.engine().SetActive("nope", false));
  a.Set("error_rate", Value(0.5));
  EXPECT_THAT(Kinds(a.Run("0s", "5m", "10s")), IsEmpty());
  EXPECT_FALSE(a.engine().Status().at(0).active);
  ASSERT_TRUE(a.engine().SetActive("checkout", true));
  EXPECT_THAT(Lines(a.Run("5m10s", "5m10s", "10s")),
              ElementsAre("5m10s trigger.pending error_rate"));
}

}  // namespace
}  // namespace rollbackd::enginetest
