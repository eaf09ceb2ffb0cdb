#include "daemon/actions/hook_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbackd {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::testing::Pair;

TEST(HookEnvTest, CarriesTheDecisionAndEveryLabel) {
  Event e;
  e.kind = EventKind::kRollbackStarted;
  e.id = "evt_1";
  e.rollback_id = "evt_1";
  e.service = "checkout";
  e.trigger = "error_rate";
  e.severity = Severity::kCritical;
  e.value = 0.1;
  e.threshold = 0.02;
  e.version = "v2";
  e.reason = "value 0.25 > 0.02 held 1m >= 1m";
  e.labels = {{"pod", "api-1; rm -rf /"}, {"region", "eu"}, {"service", "shadowed?"}};
  auto env = HookEnvironment(e);
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_SERVICE", "checkout")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_TRIGGER", "error_rate")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_EVENT_ID", "evt_1")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_SEVERITY", "critical")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_VALUE", "0.1")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_THRESHOLD", "0.02")));
  EXPECT_THAT(env, Not(Contains(Pair("ROLLBACKD_BASELINE", ::testing::_))));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_VERSION", "v2")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_LABEL_POD", "api-1; rm -rf /")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_LABEL_REGION", "eu")));
  EXPECT_THAT(env, Contains(Pair("ROLLBACKD_LABEL_SERVICE", "shadowed?")));
  EXPECT_TRUE(std::is_sorted(env.begin(), env.end()));
}

}  // namespace
}  // namespace rollbackd
