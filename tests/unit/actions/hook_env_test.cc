#include "daemon/actions/hook_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <optional>
#include <set>

#include "daemon/io/exec_runner.h"
#include "tests/unit/loop_util.h"

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
  auto env = HookEnvironment(e).vars;
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
  EXPECT_THAT(env, Not(Contains(Pair("ROLLBACKD_FENCING_TOKEN", ::testing::_))));
  EXPECT_TRUE(std::is_sorted(env.begin(), env.end()));
  e.fencing_token = 4711;
  EXPECT_THAT(HookEnvironment(e).vars, Contains(Pair("ROLLBACKD_FENCING_TOKEN", "4711")));
}

Event Started() {
  Event e;
  e.kind = EventKind::kRollbackStarted;
  e.id = e.rollback_id = "evt_1";
  e.service = "checkout";
  e.trigger = "error_rate";
  e.reason = "value 0.25 > 0.02";
  return e;
}

std::set<std::string> LabelVariables(const HookEnv& env) {
  std::set<std::string> out;
  for (const auto& [k, v] : env.vars) {
    if (k.starts_with("ROLLBACKD_LABEL_")) out.insert(k);
  }
  return out;
}

std::optional<std::string> Var(const HookEnv& env, const std::string& name) {
  for (const auto& [k, v] : env.vars) {
    if (k == name) return v;
  }
  return std::nullopt;
}

size_t Bytes(const HookEnv& env) {
  size_t n = 0;
  for (const auto& [k, v] : env.vars) n += k.size() + v.size() + 2;
  return n;
}

// A scraped target sets any label. A name that is no variable name, holds a NUL or `=`, or that
// collides with another once upper-cased, never becomes (or overrides) a variable; each is noted.
TEST(HookEnvTest, ExportsOnlySanitisedLabelNamesAndReportsTheRest) {
  Event e = Started();
  e.labels = {{"pod", "api-1"},
              {std::string("pod=../../X\0y", 14), "evil"},
              {"Region", "eu"},
              {"region", "us"},
              {"9lives", "x"},
              {"caf\xc3\xa9", "x"},
              {"", "x"},
              {"nul_value", std::string("a\0b", 3)},
              {"ok_name_2", "fine"}};
  const HookEnv env = HookEnvironment(e);
  EXPECT_EQ(LabelVariables(env),
            (std::set<std::string>{"ROLLBACKD_LABEL_POD", "ROLLBACKD_LABEL_OK_NAME_2"}));
  EXPECT_EQ(Var(env, "ROLLBACKD_LABEL_POD"), "api-1");
  EXPECT_EQ(Var(env, "ROLLBACKD_LABELS_OMITTED"), "7");
  bool collision_noted = false;
  for (const std::string& n : env.notes) {
    EXPECT_EQ(n.find('\0'), std::string::npos) << "a note must be printable";
    if (n.find("ROLLBACKD_LABEL_REGION") != std::string::npos &&
        n.find("collide") != std::string::npos) {
      collision_noted = true;
    }
  }
  EXPECT_TRUE(collision_noted);
  for (const auto& [k, v] : env.vars) {
    EXPECT_EQ(k.find_first_of(std::string("=\0", 2)), std::string::npos) << k;
    EXPECT_EQ(v.find('\0'), std::string::npos) << k;
  }
}

// A 1 MiB label, a 200 KB version and 10,000 labels: bounded, cut where documented, and the cut is
// visible to the hook (ROLLBACKD_ENV_TRUNCATED, ROLLBACKD_LABELS_OMITTED).
TEST(HookEnvTest, BoundsValuesAndTheLabelBudget) {
  Event e = Started();
  e.version = std::string(200 << 10, 'v');
  e.reason = std::string(300 << 10, 'r');
  e.labels["big"] = std::string(1 << 20, 'b');
  for (int i = 0; i < 10000; ++i) {
    e.labels[std::string("l").append(std::to_string(10000 + i))] = "value";
  }
  const HookEnv env = HookEnvironment(e);
  EXPECT_EQ(Var(env, "ROLLBACKD_LABEL_BIG")->size(), kHookEnvMaxValue);
  EXPECT_EQ(Var(env, "ROLLBACKD_VERSION")->size(), kHookEnvMaxValue);
  EXPECT_EQ(Var(env, "ROLLBACKD_REASON")->size(), kHookEnvMaxValue);
  const std::string truncated = Var(env, "ROLLBACKD_ENV_TRUNCATED").value_or("");
  EXPECT_NE(truncated.find("ROLLBACKD_LABEL_BIG"), std::string::npos);
  EXPECT_NE(truncated.find("ROLLBACKD_VERSION"), std::string::npos);
  const size_t exported = LabelVariables(env).size();
  EXPECT_GT(exported, 100u);
  EXPECT_LT(exported, 10001u);
  EXPECT_EQ(Var(env, "ROLLBACKD_LABELS_OMITTED"), std::to_string(10001 - exported));
  // Labels go in name order until the budget is spent: "big" first, then l10000, l10001, ...
  EXPECT_TRUE(Var(env, "ROLLBACKD_LABEL_L10000").has_value());
  EXPECT_FALSE(Var(env, "ROLLBACKD_LABEL_L19999").has_value());
  EXPECT_LT(Bytes(env), kHookEnvMaxLabelBytes + 16 * kHookEnvMaxValue);
  EXPECT_LE(env.notes.size(), 11u);
}

TEST(HookEnvTest, CutsAtAUtf8Boundary) {
  Event e = Started();
  e.labels["pod"] = std::string(kHookEnvMaxValue - 1, 'a') + "\xc3\xa9";  // é across the limit
  const HookEnv env = HookEnvironment(e);
  EXPECT_EQ(*Var(env, "ROLLBACKD_LABEL_POD"), std::string(kHookEnvMaxValue - 1, 'a'));
}

// The end-to-end promise: with the hostile event above, the hook still starts (before the budget,
// execve failed with E2BIG and the episode was spent on a hook that never ran).
TEST(HookEnvTest, TheHookStillStartsWithHugeLabels) {
  Event e = Started();
  e.version = std::string(200 << 10, 'v');
  e.labels["big"] = std::string(1 << 20, 'b');
  for (int i = 0; i < 10000; ++i) {
    e.labels[std::string("l").append(std::to_string(i))] = std::string(200, 'x');
  }
  ExecRequest req;
  req.argv = {"/bin/sh", "-c", "printf '%s' \"$ROLLBACKD_SERVICE\""};
  req.env = HookEnvironment(e).vars;
  req.timeout = std::chrono::seconds(5);
  boost::asio::io_context io;
  ExecRunner runner(io);
  std::optional<ExecResult> result;
  runner.Run(std::move(req), [&](ExecResult r) { result = std::move(r); });
  ASSERT_TRUE(testutil::RunUntil(io, [&] { return result.has_value(); }));
  EXPECT_TRUE(result->started) << result->error;
  EXPECT_TRUE(result->success()) << result->error;
  EXPECT_EQ(result->output, "checkout");
}

}  // namespace
}  // namespace rollbackd
