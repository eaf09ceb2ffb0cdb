// `rollbackd test` itself: results, and every way a test file can be wrong.
#include "daemon/ruletest/ruletest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

// One [[test.expect]] of a test file: `event` at `at`, with `more` (TOML lines) after.
std::string Expect(const std::string& at, const std::string& event, const std::string& more = "") {
  return "[[test.expect]]\nat = \"" + at + "\"\nevent = \"" + event + "\"\n" + more;
}

// Rule files and test files in a temp dir of the test's own, removed after it.
class RuleTestDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rollbackd-ruletest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Runs the test file at `path`; returns the output, and the summary through `summary`.
  static std::string RunFile(const std::string& path, RuleTestSummary* summary) {
    std::ostringstream out;
    *summary = RunRuleTestFile(path, {}, out);
    return out.str();
  }

  std::string dir_;
};

class RuleTestTest : public RuleTestDirTest {
 protected:
  void SetUp() override {
    RuleTestDirTest::SetUp();
    Write("svc.toml", R"(
service = "svc"
[[trigger]]
name  = "errors"
query = 'sum(rate(errors_total[1m]))'
above = 1
for   = "20s"
severity = "critical"
[[trigger]]
name  = "errors_again"
query = 'sum(rate(errors_total[1m]))'
above = 5
for   = "0s"
[rollback]
exec = ["true"]
)");
  }

  // Runs `text` as a test file; returns the output, and the summary through `summary`.
  std::string Run(const std::string& text, RuleTestSummary* summary = nullptr) {
    RuleTestSummary s;
    std::string out = RunFile(Write("t.toml", text), &s);
    if (summary != nullptr) *summary = s;
    return out;
  }
};

TEST_F(RuleTestTest, PassesWhenEveryEventIsExpected) {
  RuleTestSummary s;
  std::string out = Run(
      R"(
rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "fires after 20s and rolls back"
[test.inputs]
errors = "0 2x3"
)" + Expect("10s", "trigger.pending", "trigger = \"errors\"\n") +
          Expect("30s", "trigger.firing", "trigger = \"errors\"\nreason = \"held 20s >= 20s\"\n") +
          Expect("30s", "rollback.started") + Expect("30s", "rollback.succeeded"),
      &s);
  EXPECT_EQ(s.passed, 1) << out;
  EXPECT_EQ(s.failed, 0) << out;
  // Like a FAIL line, a PASS line names the test's file and line: [[test]] is on line 4.
  EXPECT_NE(out.find("PASS "), std::string::npos);
  EXPECT_NE(out.find(".toml:4: fires after 20s and rolls back\n"), std::string::npos) << out;
}

TEST_F(RuleTestTest, AnUnexpectedEventFails) {
  RuleTestSummary s;
  std::string out = Run(R"(
rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "expects nothing"
[test.inputs]
errors = "2x1"
)",
                        &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NE(out.find("unexpected: 0s trigger.pending errors"), std::string::npos) << out;
}

TEST_F(RuleTestTest, HookFailureAndDryRunAreSelectable) {
  RuleTestSummary s;
  std::string out = Run(R"(
rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "failing hook"
hook = "failure"
ignore = ["trigger.pending", "trigger.firing"]
[test.inputs]
errors = "2x2"
)" + Expect("20s", "rollback.started") +
                            Expect("20s", "rollback.failed", "reason = \"exit status 1\"\n") + R"(
[[test]]
name = "dry run"
dry_run = true
ignore = ["trigger.pending", "trigger.firing"]
[test.inputs]
errors = "2x2"
)" + Expect("20s", "rollback.skipped", "skip_reason = \"dry_run\"\n"),
                        &s);
  EXPECT_EQ(s.passed, 2) << out;
}

TEST_F(RuleTestTest, SharedQueryMustBeGivenOnce) {
  RuleTestSummary s;
  std::string out = Run(R"(
rule_file = "svc.toml"
[[test]]
name = "conflict"
[test.inputs]
errors = "1"
errors_again = "1"
)",
                        &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NE(out.find("are the same query; give its values once"), std::string::npos) << out;
}

TEST_F(RuleTestTest, UnknownInputNamesTheKnownOnes) {
  std::string out = Run(R"(
rule_file = "svc.toml"
[[test]]
name = "typo"
[test.inputs]
eror = "1"
)");
  EXPECT_NE(out.find("no query named \"eror\""), std::string::npos) << out;
  EXPECT_NE(out.find("known: errors, errors_again"), std::string::npos) << out;
}

TEST_F(RuleTestTest, MalformedTestFileIsReportedWithLocations) {
  RuleTestSummary s;
  std::string out = Run(R"(rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "bad"
hook = "maybe"
ignore = ["trigger.exploded"]
[test.inputs]
errors = "1 two"
[[test.expect]]
at = "15s"
event = "trigger.firing"
colour = "red"
)",
                        &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.passed, 0);
  const std::string file = dir_ + "/t.toml";
  EXPECT_NE(out.find(file + ":5:8: test[0].hook: expected \"success\" or \"failure\""),
            std::string::npos) << out;
  EXPECT_NE(out.find(file + ":6:10: test[0].ignore: unknown event kind \"trigger.exploded\""),
            std::string::npos) << out;
  EXPECT_NE(out.find(file + ":8:10: test[0].inputs.errors: bad value \"two\""), std::string::npos)
      << out;
  EXPECT_NE(out.find(file + ":10:6: test[0].expect[0].at: 15s is not an evaluation time (every 10s"),
            std::string::npos) << out;
  EXPECT_NE(out.find(file + ":12:1: test[0].expect[0].colour: unknown key"), std::string::npos)
      << out;
}

TEST_F(RuleTestTest, BrokenRuleFileFailsWithItsDiagnostics) {
  Write("broken.toml", "service = \"x\"\n[[trigger]]\nname = \"a\"\nquery = \"up\"\nfor = \"1m\"\n");
  RuleTestSummary s;
  std::string out = Run(R"(
rule_file = "broken.toml"
[[test]]
name = "never runs"
)",
                        &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NE(out.find("broken.toml:2:1: trigger[0]: no condition"), std::string::npos) << out;
  EXPECT_NE(out.find("the test file cannot be run"), std::string::npos) << out;
}

TEST_F(RuleTestTest, ARuleFileGivenInsteadOfATestFileSaysSo) {
  RuleTestSummary s;
  const std::string out = RunFile(dir_ + "/svc.toml", &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NE(out.find("svc.toml: this is a rule file, not a rule test file"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("unknown key"), std::string::npos) << out;
}

// A fleet rule file: the test gives the shared query's series of several services, and `match`
// keeps the file's own, exactly as in the daemon.
TEST_F(RuleTestTest, LabelledInputsPassThroughTheTriggersMatch) {
  Write("fleet.toml", R"(
service = "cart"
[[trigger]]
name  = "errors"
query = 'sum by (service) (rate(errors_total[1m]))'
match = { service = "cart" }
above = 1
for   = "10s"
[rollback]
exec = ["true"]
)");
  RuleTestSummary s;
  std::string out =
      Run(R"(
rule_file = "fleet.toml"
interval = "10s"
[[test]]
name = "only cart's series counts"
[test.inputs]
'errors{service="cart"}'     = "0 0 5x3"
'errors{service="checkout"}' = "5x5"
)" + Expect("20s", "trigger.pending", "labels = { service = \"cart\" }\n") +
              Expect("30s", "trigger.firing", "labels = { service = \"cart\" }\n") +
              Expect("30s", "rollback.started") + Expect("30s", "rollback.succeeded") +
              R"(
[[test]]
name = "another service's series alone is no data"
[test.inputs]
'errors{service="checkout"}' = "5x5"
)",
          &s);
  EXPECT_EQ(s.passed, 2) << out;
  EXPECT_EQ(s.failed, 0) << out;
}

TEST_F(RuleTestTest, MissingFileFails) {
  RuleTestSummary s;
  EXPECT_NE(RunFile(dir_ + "/absent.toml", &s).find("cannot read file"), std::string::npos);
  EXPECT_EQ(s.failed, 1);
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// `rollbackd test` feeds escalation steps, comparisons and the fleet brake like any trigger.
class RuleTestJudgementTest : public RuleTestDirTest {
 protected:
  std::string Run(const std::string& rules, const std::string& test, RuleTestSummary* s) {
    Write("svc.toml", rules);
    return RunFile(Write("t.toml", test), s);
  }
};

TEST_F(RuleTestJudgementTest, AnEscalationStepFiresSooner) {
  RuleTestSummary s;
  std::string out = Run(R"T(
service = "svc"
[[trigger]]
name = "errors"
query = 'errors'
above = 0.02
for = "1m"
escalate = [ { above = 0.2, for = "10s", severity = "critical" } ]
)T",
                        R"T(
rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "a severe fault fires after the step's 10s"
[test.inputs]
errors = "0 0.3x3"
)T" + Expect("10s", "trigger.pending") +
                            Expect("20s", "trigger.firing",
                                   "reason = \"value 0.3 > 0.2 held 10s >= 10s (escalate[0])\"\n"),
                        &s);
  EXPECT_EQ(s.failed, 0) << out;
  EXPECT_EQ(s.passed, 1) << out;
}

TEST_F(RuleTestJudgementTest, TheFleetBrakeHoldsTheRollbackPastItsLimit) {
  RuleTestSummary s;
  std::string out = Run(R"T(
service = "svc"
[rollback]
exec = ["true"]
cooldown = "0s"
[[trigger]]
name = "errors"
query = 'errors'
above = 1
for = "0s"
)T",
                        R"T(
rule_file = "svc.toml"
interval = "10s"
brake = { max_rollbacks = 1, window = "10m" }
[[test]]
name = "a second rollback within the window is held"
ignore = ["trigger.firing", "trigger.resolved", "rollback.succeeded", "rollback.verified"]
[test.inputs]
errors = "5 0 5"
)T" + Expect("0s", "rollback.started") +
                            Expect("20s", "rollback.skipped", "skip_reason = \"fleet_brake\"\n") +
                            Expect("20s", "fleet.brake"),
                        &s);
  EXPECT_EQ(s.failed, 0) << out;
}

TEST_F(RuleTestJudgementTest, AComparisonIsFedByTheQueryAndItsBaseline) {
  RuleTestSummary s;
  std::string out = Run(R"T(
service = "svc"
[[trigger]]
name = "latency"
query = 'canary'
baseline_query = 'stable'
compare = { test = "mann_whitney", window = "1m", confidence = 0.98, min_effect = 1.2, min_samples = 6 }
for = "0s"
)T",
                        R"T(
rule_file = "svc.toml"
interval = "10s"
[[test]]
name = "a canary twice as slow fires once six samples a side are in"
[test.inputs]
latency = "2+0.01x7"
"latency.baseline" = "1+0.01x7"
)T" + Expect("50s", "trigger.firing",
             "reason = \"p = 0.0010822510822510823 < 0.02 (Mann-Whitney U = "
             "36, n = 6 and 6 within 1m)\"\n"),
                        &s);
  EXPECT_EQ(s.failed, 0) << out;
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// Several rule files in one test file: a fleet. Inputs and deploys are named per service.
class RuleTestFleetTest : public RuleTestDirTest {};

TEST_F(RuleTestFleetTest, TheBrakeHoldsTheThirdServiceOfAFleet) {
  for (const std::string name : {"cart", "shop", "search"}) {
    Write(name + ".toml", "service = \"" + name + R"T("
[rollback]
exec = ["true"]
[[trigger]]
name = "errors"
above = 0.05
for = "20s"
)T" + "query = 'errors{service=\"" +
                              name + "\"}'\n");
  }
  RuleTestSummary s;
  const std::string out =
      RunFile(Write("t.toml", R"T(
rule_files = ["cart.toml", "shop.toml", "search.toml"]
interval = "10s"
brake = { max_rollbacks = 2, window = "10m" }
[[test]]
name = "a shared outage: two roll back, the third is held"
ignore = ["trigger.pending", "trigger.firing", "rollback.succeeded"]
[test.inputs]
"cart/errors" = "0 0.5x5"
"shop/errors" = "0 0.5x5"
"search/errors" = "0 0.5x5"
)T" + Expect("30s", "rollback.started", "service = \"cart\"\n") +
                                  Expect("30s", "rollback.started", "service = \"shop\"\n") +
                                  Expect("30s", "rollback.skipped",
                                         "service = \"search\"\n"
                                         "skip_reason = \"fleet_brake\"\n") +
                                  Expect("30s", "fleet.brake", "reason = \"holding search\"\n")),
              &s);
  EXPECT_EQ(s.passed, 1) << out;
  EXPECT_EQ(s.failed, 0) << out;

  // An unprefixed name is unknown with several services, and the error lists the known ones.
  const std::string bad = RunFile(Write("bad.toml", R"T(
rule_files = ["cart.toml", "shop.toml"]
[[test]]
name = "unprefixed"
[test.inputs]
errors = "0"
)T"),
                                  &s);
  EXPECT_EQ(s.failed, 1);
  EXPECT_NE(bad.find("no query named \"errors\""), std::string::npos) << bad;
  EXPECT_NE(bad.find("cart/errors"), std::string::npos) << bad;
}

}  // namespace
}  // namespace rollbackd
