// Rule files (rules.d/<service>.toml), section by section: trigger conditions and baselines,
// [rollback], names and labels, [[health]], duplicates, [deploy], and every problem of a file at
// once. One test per validation rule, each asserting the exact file:line:column, key and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::rulefile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// ---- conditions ----

TEST(ConfigRulesTest, NoConditionIsReportedAtTheTrigger) {
  auto p = Parse(WithTrigger("for = \"1m\"\n"));
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:1: trigger[0]: no condition: set one of above, below, above_ratio, "
                             "below_ratio, above_delta, below_delta")));
}

TEST(ConfigRulesTest, TwoConditionsAreReportedAtTheSecond) {
  auto p = Parse(WithTrigger(R"(below = 1
for = "1m"
above = 5
)"));
  // "second" in the order above, below, ...: the one that is not used.
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("5:9: trigger[0].below: a trigger has exactly one condition, found "
                             "`above` and `below` (write two triggers to watch both sides)")));
}

TEST(ConfigRulesTest, RatioAndDeltaNeedABaseline) {
  for (const char* key : {"above_ratio", "below_ratio", "above_delta", "below_delta"}) {
    auto p = Parse(WithTrigger(std::string(key) + " = 2\nfor = \"1m\"\n"));
    EXPECT_FALSE(p.service.has_value()) << key;
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("5:15: trigger[0]." + std::string(key) + ": `" + key +
                               "` compares with a baseline: set baseline_query or baseline = "
                               "\"snapshot\"")));
  }
}

TEST(ConfigRulesTest, BaselineWithAnAbsoluteConditionHasNoEffect) {
  auto p = Parse(WithTrigger(R"(above = 1
baseline_query = "up offset 1d"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("6:18: trigger[0].baseline_query: a baseline has no effect with "
                             "`above`; use above_ratio or above_delta")));
  auto q = Parse(WithTrigger(R"(below = 1
baseline = "snapshot"
for = "1m"
)"));
  EXPECT_THAT(Lines(q.diags),
              ElementsAre(At("6:12: trigger[0].baseline: a baseline has no effect with `below`; "
                             "use below_ratio or below_delta")));
}

TEST(ConfigRulesTest, UnknownBaselineKind) {
  auto p = Parse(WithTrigger(R"(above_ratio = 1.5
baseline = "yesterday"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("6:12: trigger[0].baseline: unknown baseline \"yesterday\" "
                             "(\"snapshot\"; or use baseline_query for a query)")));
}

TEST(ConfigRulesTest, BaselineAndBaselineQueryTogether) {
  auto p = Parse(WithTrigger(R"(above_ratio = 1.5
baseline_query = "up offset 1d"
baseline = "snapshot"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:12: trigger[0].baseline: set either baseline = \"snapshot\" or "
                             "baseline_query, not both")));
}

TEST(ConfigRulesTest, RatioMustBeGreaterThanZero) {
  for (const char* value : {"0", "0.0", "-1.5"}) {
    auto p = Parse(WithTrigger("below_ratio = " + std::string(value) +
                               "\nbaseline = \"snapshot\"\nfor = \"1m\"\n"));
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("5:15: trigger[0].below_ratio: a ratio must be greater than 0")))
        << value;
  }
}

TEST(ConfigRulesTest, DeltaMustNotBeNegativeButMayBeZero) {
  auto p = Parse(WithTrigger(R"(below_delta = -5
baseline = "snapshot"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("5:15: trigger[0].below_delta: a delta must not be negative")));
  auto zero = Parse(WithTrigger(R"(above_delta = 0
baseline = "snapshot"
for = "1m"
)"));
  EXPECT_THAT(Lines(zero.diags), IsEmpty());
}

// Regression: a condition of the wrong type used to leave the condition as `above`, so a correct
// baseline was reported as "no effect with `above_ratio`; use above_ratio_ratio".
TEST(ConfigRulesTest, ConditionOfTheWrongTypeReportsOnlyTheType) {
  auto p = Parse(WithTrigger(R"(above_ratio = "1.5"
baseline_query = "up offset 1d"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("5:15: trigger[0].above_ratio: expected a number, found a string")));
}

TEST(ConfigRulesTest, MinValueHasNoEffectWithBelow) {
  auto p = Parse(WithTrigger(R"(below = 10
min_value = 1
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("6:13: trigger[0].min_value: min_value has no effect with `below`")));
  // With below_ratio it is the baseline's noise floor: accepted.
  auto ok = Parse(WithTrigger(R"(below_ratio = 0.5
baseline = "snapshot"
min_value = 1
for = "1m"
)"));
  EXPECT_THAT(Lines(ok.diags), IsEmpty());
}

TEST(ConfigRulesTest, MinTrafficAndItsQueryComeTogether) {
  struct Case {
    const char* lines;  // from line 6
    const char* expected;
  } cases[] = {
      {"min_traffic_query = \"sum(rate(x[1m]))\"",
       "6:21: trigger[0].min_traffic_query: min_traffic_query needs min_traffic (the floor)"},
      {"min_traffic = 1",
       "6:15: trigger[0].min_traffic: min_traffic needs min_traffic_query (what to compare it "
       "with)"},
      {"min_traffic_query = \"sum(rate(x[1m]))\"\nmin_traffic = -0.5",
       "7:15: trigger[0].min_traffic: must not be negative"},
  };
  for (const Case& c : cases) {
    auto p = Parse(WithTrigger("above = 1\n" + std::string(c.lines) + "\nfor = \"1m\"\n"));
    EXPECT_THAT(Lines(p.diags), ElementsAre(At(c.expected))) << c.lines;
  }
}

TEST(ConfigRulesTest, UnknownSeverityAndNoData) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
severity = "critcal"
no_data = "ignore"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:12: trigger[0].severity: unknown severity \"critcal\" (critical, "
                             "warning or info)"),
                          At("8:11: trigger[0].no_data: unknown no_data policy \"ignore\" (ok, "
                             "hold or breach)")));
}

// ---- rollback ----

TEST(ConfigRulesTest, RollbackTrueWithoutARollbackSection) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
rollback = true
[[health]]
name = "h"
url = "http://127.0.0.1/ready"
for = "10s"
rollback = true
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:12: trigger[0].rollback: rollback = true but the service has no "
                             "[rollback] section"),
                          At("12:12: health[0].rollback: rollback = true but the service has no "
                             "[rollback] section")));
}

TEST(ConfigRulesTest, TriggerRollbackDefaultsToWhetherTheServiceHasAHook) {
  const char* with_hook = R"(service = "checkout"
[[trigger]]
name = "a"
query = "up"
above = 1
for = "1m"
[[trigger]]
name = "b"
query = "up"
above = 2
for = "1m"
rollback = false
[rollback]
exec = ["undo"]
)";
  auto p = Parse(with_hook);
  ASSERT_TRUE(p.service.has_value());
  EXPECT_TRUE(p.service->triggers[0].rollback);
  EXPECT_FALSE(p.service->triggers[1].rollback);
}

TEST(ConfigRulesTest, HookThatCanNeverRunIsAWarning) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
rollback = false
[rollback]
exec = ["undo"]
)"));
  ASSERT_TRUE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("8:1: warning: rollback: every trigger has rollback = false; this "
                             "hook can never run")));
}

TEST(ConfigRulesTest, RollbackSectionNeedsExactlyOneHook) {
  auto neither = Parse(AndTrigger(R"(service = "checkout"
[rollback]
timeout = "1m"
)"));
  EXPECT_THAT(Lines(neither.diags),
              ElementsAre(At("2:1: rollback: no hook: set exec = [\"program\", \"arg\", ...] or "
                             "http = { url = \"...\" }")));
  auto both = Parse(AndTrigger(R"(service = "checkout"
[rollback]
exec = ["undo"]
http = { url = "https://ci.example.com/rollback" }
)"));
  EXPECT_THAT(Lines(both.diags),
              ElementsAre(At("4:8: rollback.http: set either exec or http, not both")));
}

TEST(ConfigRulesTest, EmptyExecArgv) {
  for (const char* argv : {"[]", "[\"\", \"rollout\"]"}) {
    auto p =
        Parse(AndTrigger("service = \"checkout\"\n[rollback]\nexec = " + std::string(argv) + "\n"));
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("3:8: rollback.exec: empty command: give the program and its "
                               "arguments, e.g. [\"kubectl\", \"rollout\", \"undo\", "
                               "\"deployment/x\"]")))
        << argv;
  }
}

TEST(ConfigRulesTest, HttpHookMethodAndUrl) {
  auto p = Parse(AndTrigger(R"(service = "checkout"
[rollback]
http = { url = "ftp://ci.example.com", method = "GET" }
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("3:16: rollback.http.url: expected an http:// or https:// URL"),
                          At("3:49: rollback.http.method: unsupported method \"GET\" (POST or "
                             "PUT)")));
}

TEST(ConfigRulesTest, HttpHookParsesAndResolvesItsSecretFile) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
[rollback.http]
url = "https://ci.example.com/api/rollback"
method = "PUT"
secret_file = "secrets/ci.key"
headers = { "X-Team" = "payments" }
)"));
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  ASSERT_TRUE(p.service->rollback->http.has_value());
  const HttpHook& h = *p.service->rollback->http;
  EXPECT_EQ(h.url, "https://ci.example.com/api/rollback");
  EXPECT_EQ(h.method, "PUT");
  EXPECT_EQ(h.secret_file, "rules.d/secrets/ci.key");
  EXPECT_EQ(h.headers, (std::map<std::string, std::string>{{"X-Team", "payments"}}));
  EXPECT_TRUE(p.service->rollback->exec.empty());
  EXPECT_TRUE(p.service->triggers[0].rollback);
}

TEST(ConfigRulesTest, ExecProgramWithASlashIsRelativeToTheRuleFile) {
  struct Case {
    const char* program;
    const char* resolved;
  } cases[] = {{"kubectl", "kubectl"},
               {"./hooks/undo.sh", "rules.d/hooks/undo.sh"},
               {"../bin/undo", "bin/undo"},
               {"/usr/local/bin/undo", "/usr/local/bin/undo"}};
  for (const Case& c : cases) {
    auto p = Parse("service = \"checkout\"\n[rollback]\nexec = [\"" + std::string(c.program) +
                   "\", \"./arg\"]\n");
    ASSERT_TRUE(p.service.has_value()) << c.program;
    EXPECT_EQ(p.service->rollback->exec, (std::vector<std::string>{c.resolved, "./arg"}));
  }
}

// ---- names and labels ----

TEST(ConfigRulesTest, InvalidNames) {
  auto p = Parse(R"(service = "check out"
[[trigger]]
name = "error/rate"
query = "up"
above = 1
for = "1m"
[[health]]
name = ""
url = "http://127.0.0.1/"
for = "1m"
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("1:11: service: invalid name \"check out\" (letters, digits, '_', '-' and '.')"),
          At("3:8: trigger[0].name: invalid name \"error/rate\""),
          At("8:8: health[0].name: invalid name \"\"")));
  EXPECT_TRUE(IsValidName("checkout-v2.eu_west"));
  EXPECT_FALSE(IsValidName(std::string(129, 'a')));
  EXPECT_TRUE(IsValidName(std::string(128, 'a')));
}

TEST(ConfigRulesTest, InvalidAndReservedLabelNamesPointAtTheLabel) {
  auto p = Parse(R"(service = "checkout"
labels = { team = "payments", "2fa" = "x", severity = "low" }
[[trigger]]
name = "t"
query = "up"
above = 1
for = "1m"
[trigger.labels]
ok = "1"
"bad-name" = "2"
trigger = "3"
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("2:31: labels.2fa: invalid label name (letters, digits and _, not starting "
             "with a digit)"),
          At("2:44: labels.severity: label \"severity\" is set by rollbackd on every event"),
          At("10:1: trigger[0].labels.bad-name: invalid label name"),
          At("11:1: trigger[0].labels.trigger: label \"trigger\" is set by rollbackd")));
}

// ---- health checks ----

TEST(ConfigRulesTest, HealthCheckUrlAndStatusCodes) {
  auto p = Parse(R"(service = "checkout"
[[health]]
name = "ready"
url = "127.0.0.1:8080/ready"
expect_status = [200, 99, "204", 600]
for = "30s"
[[health]]
name = "live"
url = "https://"
expect_status = []
for = "30s"
[[health]]
name = "up"
url = "http://127.0.0.1/"
expect_status = 200
for = "30s"
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("4:7: health[0].url: expected an http:// or https:// URL"),
                  At("5:23: health[0].expect_status[1]: expected an HTTP status code (100-599)"),
                  At("5:27: health[0].expect_status[2]: expected an HTTP status code"),
                  At("5:34: health[0].expect_status[3]: expected an HTTP status code"),
                  At("9:7: health[1].url: expected an http:// or https:// URL"),
                  At("10:17: health[1].expect_status: expect at least one status code"),
                  At("15:17: health[2].expect_status: expected an array of status codes such as "
                     "[200], found an integer")));
}

TEST(ConfigRulesTest, HealthTimeoutNotShorterThanIntervalIsAWarning) {
  auto p = Parse(R"(service = "checkout"
[[health]]
name = "ready"
url = "http://127.0.0.1/ready"
interval = "5s"
timeout = "5s"
expect_status = [200, 204]
for = "30s"
severity = "warning"
labels = { probe = "ready" }
)");
  ASSERT_TRUE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("6:11: warning: health[0].timeout: a timeout of 5s is not shorter "
                             "than the interval; probes will overlap")));
  const HealthCheck& h = p.service->health[0];
  EXPECT_EQ(h.expect_status, (std::vector<int>{200, 204}));
  EXPECT_EQ(h.severity, Severity::kWarning);
  EXPECT_EQ(h.labels, (LabelMap{{"probe", "ready"}}));
}

// ---- duplicates ----

TEST(ConfigRulesTest, DuplicateTriggerNameNamesTheFirst) {
  auto p = Parse(R"(service = "checkout"
[[trigger]]
name = "errors"
query = "up"
above = 1
for = "1m"
[[trigger]]
name = "errors"
query = "up"
below = 1
for = "1m"
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("8:8: trigger[1].name: duplicate name \"errors\" in service "
                             "\"checkout\" (first at rules.d/checkout.toml:3:8)")));
}

TEST(ConfigRulesTest, TriggersAndHealthChecksShareOneNamespace) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
[[health]]
name = "ready"
url = "http://127.0.0.1/"
for = "1m"
[[health]]
  name = "t"
url = "http://127.0.0.1/"
for = "1m"
)"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("12:10: health[1].name: duplicate name \"t\" in service "
                             "\"checkout\" (first at rules.d/checkout.toml:3:8)")));
}

// ---- deploy ----

TEST(ConfigRulesTest, DeploySection) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
[deploy]
version_query = 'max by (version) (build_info)'
source = "eu"
)"));
  ASSERT_TRUE(p.service.has_value());
  EXPECT_EQ(p.service->deploy->version_query, "max by (version) (build_info)");
  EXPECT_EQ(p.service->deploy->source, "eu");
  EXPECT_EQ(p.service->deploy->source_where.line, 9);
  EXPECT_EQ(p.service->deploy->source_where.column, 10);
  EXPECT_FALSE(p.service->deploy->guard.has_value());
}

// ---- all problems at once ----

TEST(ConfigRulesTest, EveryMistakeInAFileIsReportedSortedByPosition) {
  auto p = Parse(R"(service = "checkout"
interval = "10 s"

[[trigger]]
name      = "error_rate"
query     = 'rate(errors[1m])'
above     = 0.02
fro       = "1m"
severity  = "critcal"

[[trigger]]
name        = "p99"
query       = 'p99'
above_ratio = 1.5
for         = "2m"

[[trigger]]
name      = "error_rate"
query     = 'up == 0'
above     = 0
below     = 1
for       = "0s"
rollback  = true
labels    = { service = "x" }
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_EQ(p.diags.error_count(), 9);
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:12: interval: invalid duration \"10 s\""),
                  At("4:1: trigger[0].for: missing required key"),
                  At("8:1: trigger[0].fro: unknown key (did you mean `for`?)"),
                  At("9:13: trigger[0].severity: unknown severity \"critcal\""),
                  At("14:15: trigger[1].above_ratio: `above_ratio` compares with a baseline"),
                  At("18:13: trigger[2].name: duplicate name \"error_rate\" in service "
                     "\"checkout\" (first at rules.d/checkout.toml:5:13)"),
                  At("21:13: trigger[2].below: a trigger has exactly one condition"),
                  At("23:13: trigger[2].rollback: rollback = true but the service has no "
                     "[rollback] section"),
                  At("24:15: trigger[2].labels.service: label \"service\" is set by rollbackd")));
  // all() keeps the order of discovery; Sorted() orders by line and column.
  std::vector<int> reported_lines;
  for (const Diagnostic& d : p.diags.all()) reported_lines.push_back(d.where.line);
  EXPECT_FALSE(std::is_sorted(reported_lines.begin(), reported_lines.end()));
}

}  // namespace
}  // namespace rollbackd::configtest::rulefile
