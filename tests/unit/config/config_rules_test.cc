// Rule files (rules.d/<service>.toml), the file as a whole: the RULES.md example parsed whole,
// defaults, the diagnostic itself, syntax, unknown keys, wrong types, durations and required keys.
// Each test asserts the exact file:line:column, key and message of what a typo produces. The
// sections' own rules (conditions, rollback, names, health checks, deploy) are in
// config_rules_sections_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::rulefile {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// ---- the example from RULES.md ----

constexpr char kRulesMdExample[] = R"toml(service = "checkout"
labels  = { team = "payments", env = "prod" }   # added to every event
interval = "10s"                                # optional, overrides the daemon default

[[trigger]]
name      = "error_rate"
query     = 'sum(rate(http_requests_total{job="checkout",code=~"5.."}[1m])) / sum(rate(http_requests_total{job="checkout"}[1m]))'
above     = 0.02            # condition: one of above / below, or a baseline comparison
for       = "1m"            # must hold this long, on every evaluation, before it fires
severity  = "critical"      # critical | warning | info
no_data   = "ok"            # ok (default) | hold | breach : what an empty result means
rollback  = true            # false: alert only

[[trigger]]
name        = "p99_latency"
query       = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[2m])))'
baseline_query = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[2m] offset 1d)))'
above_ratio = 1.5           # current > 1.5 x baseline ; also below_ratio, above_delta, below_delta
min_value   = 0.05          # noise floor: never breach while current < 0.05
min_traffic_query = 'sum(rate(http_requests_total{job="checkout"}[2m]))'  # optional, any trigger
min_traffic = 1.0           # below this the evaluation counts as no data (too little evidence)
for         = "2m"
severity    = "critical"

[[trigger]]
name        = "orders"
query       = 'sum(rate(orders_placed_total[5m]))'
baseline    = "snapshot"    # the value the query had when the deploy was seen (see [deploy])
below_ratio = 0.7
for         = "5m"
severity    = "warning"
rollback    = false

[[health]]                  # HTTP probes, polled by the daemon itself
name     = "ready"
url      = "http://127.0.0.1:8080/ready"
interval = "5s"
timeout  = "1s"
expect_status = [200]
for      = "30s"
severity = "critical"

[deploy]                    # optional: how the daemon knows a change happened
version_query = 'max by (version) (app_build_info{job="checkout"})'  # a new `version` label = a deploy
guard = "30m"               # triggers act only within this long after a deploy (absent: always)

[rollback]
exec     = ["kubectl", "rollout", "undo", "deployment/checkout", "-n", "prod"]
# or: http = { url = "https://ci.example.com/api/rollback", method = "POST", secret_file = "..." }
timeout  = "2m"
cooldown = "30m"            # no second rollback of this service within this time
verify   = "5m"             # after the hook, the firing triggers must clear within this
)toml";

TEST(ConfigRulesTest, RulesMdExampleParsesIntoTheModel) {
  auto p = Parse(kRulesMdExample);
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  const Service& s = *p.service;
  EXPECT_EQ(s.name, "checkout");
  EXPECT_EQ(s.file, kFile);
  EXPECT_EQ(s.labels, (LabelMap{{"env", "prod"}, {"team", "payments"}}));
  EXPECT_EQ(s.interval, milliseconds(10'000));
  EXPECT_FALSE(s.dry_run);
  EXPECT_EQ(s.where.line, 1);
  EXPECT_EQ(s.where.column, 11);

  ASSERT_EQ(s.triggers.size(), 3u);
  const Trigger& err = s.triggers[0];
  EXPECT_EQ(err.name, "error_rate");
  EXPECT_EQ(err.source, "default");
  EXPECT_THAT(err.query,
              StartsWith("sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}"));
  EXPECT_EQ(err.condition, ConditionKind::kAbove);
  EXPECT_DOUBLE_EQ(err.threshold, 0.02);
  EXPECT_EQ(err.baseline, BaselineKind::kNone);
  EXPECT_FALSE(err.min_value.has_value());
  EXPECT_EQ(err.min_traffic_query, "");
  EXPECT_EQ(err.for_duration, minutes(1));
  EXPECT_EQ(err.severity, Severity::kCritical);
  EXPECT_EQ(err.no_data, NoDataPolicy::kOk);
  EXPECT_TRUE(err.rollback);
  EXPECT_EQ(err.where.line, 5);

  const Trigger& p99 = s.triggers[1];
  EXPECT_EQ(p99.name, "p99_latency");
  EXPECT_EQ(p99.condition, ConditionKind::kAboveRatio);
  EXPECT_DOUBLE_EQ(p99.threshold, 1.5);
  EXPECT_EQ(p99.baseline, BaselineKind::kQuery);
  EXPECT_THAT(p99.baseline_query, HasSubstr("[2m] offset 1d)))"));
  ASSERT_TRUE(p99.min_value.has_value());
  EXPECT_DOUBLE_EQ(*p99.min_value, 0.05);
  EXPECT_EQ(p99.min_traffic_query, "sum(rate(http_requests_total{job=\"checkout\"}[2m]))");
  EXPECT_DOUBLE_EQ(p99.min_traffic, 1.0);
  EXPECT_EQ(p99.for_duration, minutes(2));
  EXPECT_EQ(p99.severity, Severity::kCritical);
  EXPECT_TRUE(p99.rollback) << "defaults to true: the service has [rollback]";

  const Trigger& orders = s.triggers[2];
  EXPECT_EQ(orders.condition, ConditionKind::kBelowRatio);
  EXPECT_DOUBLE_EQ(orders.threshold, 0.7);
  EXPECT_EQ(orders.baseline, BaselineKind::kSnapshot);
  EXPECT_EQ(orders.baseline_query, "");
  EXPECT_EQ(orders.for_duration, minutes(5));
  EXPECT_EQ(orders.severity, Severity::kWarning);
  EXPECT_FALSE(orders.rollback);

  ASSERT_EQ(s.health.size(), 1u);
  const HealthCheck& h = s.health[0];
  EXPECT_EQ(h.name, "ready");
  EXPECT_EQ(h.url, "http://127.0.0.1:8080/ready");
  EXPECT_EQ(h.interval, seconds(5));
  EXPECT_EQ(h.timeout, seconds(1));
  EXPECT_EQ(h.expect_status, std::vector<int>{200});
  EXPECT_EQ(h.for_duration, seconds(30));
  EXPECT_EQ(h.severity, Severity::kCritical);
  EXPECT_TRUE(h.rollback);

  ASSERT_TRUE(s.deploy.has_value());
  EXPECT_EQ(s.deploy->version_query, "max by (version) (app_build_info{job=\"checkout\"})");
  EXPECT_EQ(s.deploy->source, "default");
  EXPECT_EQ(s.deploy->guard, minutes(30));

  ASSERT_TRUE(s.rollback.has_value());
  EXPECT_EQ(s.rollback->exec, (std::vector<std::string>{"kubectl", "rollout", "undo",
                                                        "deployment/checkout", "-n", "prod"}));
  EXPECT_FALSE(s.rollback->http.has_value());
  EXPECT_EQ(s.rollback->timeout, minutes(2));
  EXPECT_EQ(s.rollback->cooldown, minutes(30));
  EXPECT_EQ(s.rollback->verify, minutes(5));
  EXPECT_EQ(s.rollback->where.line, 47);
}

TEST(ConfigRulesTest, DefaultsForOptionalKeys) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
[[health]]
name = "h"
url = "https://x.example/health"
for = "0s"
)"));
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  EXPECT_FALSE(p.service->interval.has_value());
  EXPECT_FALSE(p.service->rollback.has_value());
  EXPECT_FALSE(p.service->deploy.has_value());
  const Trigger& t = p.service->triggers[0];
  EXPECT_EQ(t.source, "default");
  EXPECT_EQ(t.severity, Severity::kWarning);
  EXPECT_EQ(t.no_data, NoDataPolicy::kOk);
  EXPECT_FALSE(t.rollback) << "no [rollback]: alert only";
  const HealthCheck& h = p.service->health[0];
  EXPECT_EQ(h.interval, milliseconds(0));
  EXPECT_EQ(h.timeout, seconds(1));
  EXPECT_EQ(h.expect_status, std::vector<int>{200});
  EXPECT_EQ(h.severity, Severity::kWarning) << "the same default as a trigger's";
  EXPECT_FALSE(h.rollback);
}

TEST(ConfigRulesTest, EveryConditionKindAndBaselineKind) {
  struct Case {
    const char* lines;
    ConditionKind kind;
    double threshold;
    BaselineKind baseline;
  } cases[] = {
      {"above = 0.5", ConditionKind::kAbove, 0.5, BaselineKind::kNone},
      {"below = -3", ConditionKind::kBelow, -3, BaselineKind::kNone},
      {"above_ratio = 2\nbaseline = \"snapshot\"", ConditionKind::kAboveRatio, 2,
       BaselineKind::kSnapshot},
      {"below_ratio = 0.5\nbaseline_query = \"up offset 1d\"", ConditionKind::kBelowRatio, 0.5,
       BaselineKind::kQuery},
      {"above_delta = 10\nbaseline = \"snapshot\"", ConditionKind::kAboveDelta, 10,
       BaselineKind::kSnapshot},
      {"below_delta = 0\nbaseline_query = \"up offset 1w\"", ConditionKind::kBelowDelta, 0,
       BaselineKind::kQuery},
  };
  for (const Case& c : cases) {
    auto p = Parse(WithTrigger(std::string(c.lines) + "\nfor = \"1m\"\n"));
    ASSERT_TRUE(p.service.has_value()) << c.lines << "\n"
                                       << ::testing::PrintToString(Lines(p.diags));
    const Trigger& t = p.service->triggers[0];
    EXPECT_EQ(t.condition, c.kind) << c.lines;
    EXPECT_DOUBLE_EQ(t.threshold, c.threshold) << c.lines;
    EXPECT_EQ(t.baseline, c.baseline) << c.lines;
    EXPECT_EQ(ConditionKeyName(t.condition),
              std::string_view(c.lines).substr(0, ConditionKeyName(t.condition).size()));
  }
}

TEST(ConfigRulesTest, NoDataPoliciesAndSeverities) {
  struct Case {
    const char* no_data;
    NoDataPolicy policy;
    const char* severity;
    Severity sev;
  } cases[] = {{"ok", NoDataPolicy::kOk, "info", Severity::kInfo},
               {"hold", NoDataPolicy::kHold, "warning", Severity::kWarning},
               {"breach", NoDataPolicy::kBreach, "critical", Severity::kCritical}};
  for (const Case& c : cases) {
    auto p = Parse(WithTrigger("above = 1\nfor = \"1m\"\nno_data = \"" + std::string(c.no_data) +
                               "\"\nseverity = \"" + c.severity + "\"\n"));
    ASSERT_TRUE(p.service.has_value()) << c.no_data;
    EXPECT_EQ(p.service->triggers[0].no_data, c.policy);
    EXPECT_EQ(NoDataName(c.policy), c.no_data);
    EXPECT_EQ(p.service->triggers[0].severity, c.sev);
    EXPECT_EQ(SeverityName(c.sev), c.severity);
  }
}

// ---- the diagnostic itself ----

TEST(ConfigRulesTest, DiagnosticCarriesFileLineColumnKeyAndFormatsThem) {
  auto p = Parse(WithTrigger(R"(above = 1
fro = "1m"
)"));
  EXPECT_FALSE(p.service.has_value());
  ASSERT_EQ(p.diags.all().size(), 2u);
  const Diagnostic& missing = p.diags.all()[0];  // reported while reading, before Finish()
  EXPECT_EQ(missing.level, Diagnostic::Level::kError);
  EXPECT_EQ(missing.where.file, kFile);
  EXPECT_EQ(missing.where.line, 2);  // the [[trigger]] header: the key is absent
  EXPECT_EQ(missing.where.column, 1);
  EXPECT_EQ(missing.key, "trigger[0].for");
  EXPECT_EQ(missing.message, "missing required key (a duration such as \"30s\")");
  const Diagnostic& typo = p.diags.all()[1];
  EXPECT_EQ(typo.where.line, 6);
  EXPECT_EQ(typo.where.column, 1);
  EXPECT_EQ(typo.key, "trigger[0].fro");
  EXPECT_EQ(typo.ToString(),
            "rules.d/checkout.toml:6:1: trigger[0].fro: unknown key (did you mean `for`?)");
  EXPECT_EQ(p.diags.error_count(), 2);
  EXPECT_TRUE(p.diags.has_errors());
}

TEST(ConfigRulesTest, WarningFormatAndAWarningAloneStillLoads) {
  auto p = Parse("service = \"checkout\"\n");
  ASSERT_TRUE(p.service.has_value()) << "warnings do not reject a file";
  EXPECT_EQ(p.diags.error_count(), 0);
  EXPECT_FALSE(p.diags.has_errors());
  ASSERT_EQ(p.diags.all().size(), 1u);
  EXPECT_EQ(p.diags.all()[0].level, Diagnostic::Level::kWarning);
  EXPECT_EQ(p.diags.all()[0].ToString(),
            "rules.d/checkout.toml:1:11: warning: service: the service has no [[trigger]] and no "
            "[[health]]; it watches nothing");
}

// ---- syntax and unknown keys ----

TEST(ConfigRulesTest, TomlSyntaxErrorHasItsPosition) {
  auto p = Parse(R"(service = "checkout"
labels = { team = "payments"
)");
  EXPECT_FALSE(p.service.has_value());
  ASSERT_EQ(p.diags.all().size(), 1u);
  const Diagnostic& d = p.diags.all()[0];
  EXPECT_EQ(d.where.file, kFile);
  EXPECT_EQ(d.where.line, 2);
  EXPECT_EQ(d.where.column, 29);  // the newline inside the inline table
  EXPECT_EQ(d.key, "");
  EXPECT_THAT(d.message, HasSubstr("inline table"));
  EXPECT_THAT(d.ToString(), StartsWith("rules.d/checkout.toml:2:29: Error while parsing"));
}

TEST(ConfigRulesTest, SyntaxErrorOnALaterLine) {
  auto p = Parse(WithTrigger("above = 1\nfor = \"1m\"\nseverity = critical\n"));
  EXPECT_FALSE(p.service.has_value());
  ASSERT_EQ(p.diags.all().size(), 1u);
  EXPECT_EQ(p.diags.all()[0].where.line, 7);
  EXPECT_EQ(p.diags.all()[0].where.column, 12);
}

TEST(ConfigRulesTest, UnknownKeyInTriggerSuggestsTheClosestKnownKey) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
severty = "critical"
)"));
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("7:1: trigger[0].severty: unknown key (did you mean `severity`?)")));
}

TEST(ConfigRulesTest, UnknownKeyFarFromEveryKnownKeyHasNoHint) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "1m"
  description = "error budget"
)"));
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("7:3: trigger[0].description: unknown key")));
  EXPECT_THAT(p.diags.all()[0].message, Not(HasSubstr("did you mean")));
}

TEST(ConfigRulesTest, UnknownKeysAtEveryLevel) {
  auto p = Parse(R"(service = "checkout"
intervall = "10s"
[[trigger]]
name = "t"
query = "up"
above = 1
for = "1m"
[deploy]
gaurd = "1h"
[rollback]
exec = ["undo"]
cooldwn = "1h"
[rollback.http]
url = "https://ci.example.com"
methd = "PUT"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:1: intervall: unknown key (did you mean `interval`?)"),
                          At("9:1: deploy.gaurd: unknown key (did you mean `guard`?)"),
                          At("12:1: rollback.cooldwn: unknown key (did you mean `cooldown`?)"),
                          At("13:1: rollback.http: set either exec or http, not both"),
                          At("15:1: rollback.http.methd: unknown key (did you mean `method`?)")));
}

TEST(ConfigRulesTest, InlineSecretsPointToTheFileVariant) {
  for (const char* key : {"secret", "token", "password", "bearer_token", "api_token", "hmac_key"}) {
    auto p = Parse(AndTrigger(std::string(R"(service = "checkout"
[rollback]
http = { url = "https://ci.example.com/rollback", )") +
                              key + R"( = "hunter2" }
)"));
    EXPECT_FALSE(p.service.has_value()) << key;
    ASSERT_EQ(p.diags.all().size(), 1u) << key;
    const Diagnostic& d = p.diags.all()[0];
    EXPECT_EQ(d.where.line, 3) << key;
    EXPECT_EQ(d.where.column, 51) << key;
    EXPECT_EQ(d.key, "rollback.http." + std::string(key));
    EXPECT_EQ(d.message,
              "secrets are never read from configuration files; put it in a file and "
              "use `" +
                  std::string(key) + "_file`");
  }
}

// ---- wrong types ----

TEST(ConfigRulesTest, WrongTypeIsReportedAtTheValue) {
  struct Case {
    const char* line;  // line 5 of a trigger whose other keys are valid
    const char* expected;
  } cases[] = {
      {"above = \"0.02\"", "5:9: trigger[0].above: expected a number, found a string"},
      {"above = inf", "5:9: trigger[0].above: expected a finite number"},
      {"above = nan", "5:9: trigger[0].above: expected a finite number"},
      {"above = 1\nseverity = 2", "6:12: trigger[0].severity: expected a string, found an integer"},
      {"above = 1\nrollback = \"yes\"",
       "6:12: trigger[0].rollback: expected true or false, found a string"},
      {"above = 1\nlabels = [\"a\"]",
       "6:10: trigger[0].labels: expected a table such as { name = \"value\" }, found an array"},
      {"above = 1\nlabels = { a = 1 }",
       "6:16: trigger[0].labels.a: expected a string, found an "
       "integer"},
      {"above = 1\nmin_value = true",
       "6:13: trigger[0].min_value: expected a number, found a "
       "boolean"},
      {"above = 1\nsource = 1979-05-27",
       "6:10: trigger[0].source: expected a string, found a date"},
  };
  for (const Case& c : cases) {
    auto p = Parse(WithTrigger(std::string(c.line) + "\nfor = \"1m\"\n"));
    EXPECT_FALSE(p.service.has_value()) << c.line;
    EXPECT_THAT(Lines(p.diags), ElementsAre(At(c.expected))) << c.line;
  }
}

TEST(ConfigRulesTest, WrongTypeForADuration) {
  auto p = Parse(WithTrigger("above = 1\nfor = 60\n"));
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("6:7: trigger[0].for: expected a duration string such as \"30s\" or "
                             "\"1m30s\", found an integer")));
}

TEST(ConfigRulesTest, WrongTypeForQueryString) {
  auto p = Parse(R"(service = "checkout"
[[trigger]]
name = "t"
query = 5
above = 1
for = "1m"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("4:9: trigger[0].query: expected a string, found an integer")));
}

TEST(ConfigRulesTest, WrongTypeForArraysAndTables) {
  auto p = Parse(R"(service = "checkout"
trigger = { name = "t" }
health = "ready"
deploy = "on"
[rollback]
exec = "kubectl rollout undo"
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("1:11: warning: service: the service has no [[trigger]] and no [[health]]"),
                  At("2:11: trigger: expected an array of tables ([[trigger]]), found a table"),
                  At("3:10: health: expected an array of tables ([[health]]), found a string"),
                  At("4:10: deploy: expected a table, found a string"),
                  At("6:8: rollback.exec: expected an array of strings, found a string")));
}

TEST(ConfigRulesTest, ArrayElementsOfTheWrongType) {
  auto p = Parse(R"(service = "checkout"
trigger = [1]
[rollback]
exec = ["kubectl", 2]
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:11: warning: service: the service has no [[trigger]]"),
                          At("2:12: trigger[0]: expected a table ([[trigger]])"),
                          At("4:20: rollback.exec[1]: expected a string, found an integer")));
}

// ---- durations ----

TEST(ConfigRulesTest, BadDurationsNameTheTextAndTheFormat) {
  for (const char* text : {"2 minutes", "1.5m", "30m1h", "", "-1m", "1M", "90"}) {
    auto p = Parse(WithTrigger("above = 1\nfor = \"" + std::string(text) + "\"\n"));
    EXPECT_FALSE(p.service.has_value()) << text;
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("6:7: trigger[0].for: invalid duration \"" + std::string(text) +
                               "\" (use whole numbers with units ms, s, m, h, d, w, largest "
                               "first: \"1m30s\")")))
        << text;
  }
}

TEST(ConfigRulesTest, ZeroDurationsAreRejectedWhereAWindowMustExist) {
  auto p = Parse(R"(service = "checkout"
interval = "0s"
[[health]]
name = "h"
url = "http://127.0.0.1/ready"
interval = "0ms"
timeout = "0s"
for = "0s"
[deploy]
guard = "0s"
[rollback]
exec = ["undo"]
timeout = "0m"
verify = "0h"
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("2:12: interval: must be longer than 0s"),
                                          At("6:12: health[0].interval: must be longer than 0s"),
                                          At("7:11: health[0].timeout: must be longer than 0s"),
                                          At("10:9: deploy.guard: must be longer than 0s"),
                                          At("13:11: rollback.timeout: must be longer than 0s"),
                                          At("14:10: rollback.verify: must be longer than 0s")));
}

TEST(ConfigRulesTest, ZeroIsAllowedForForAndCooldown) {
  auto p = Parse(WithTrigger(R"(above = 1
for = "0s"
[rollback]
exec = ["undo"]
cooldown = "0s"
)"));
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.service.has_value());
  EXPECT_EQ(p.service->triggers[0].for_duration, milliseconds(0));
  EXPECT_EQ(p.service->rollback->cooldown, milliseconds(0));
  EXPECT_EQ(p.service->rollback->timeout, minutes(2));  // defaults
  EXPECT_EQ(p.service->rollback->verify, minutes(5));
}

// ---- required keys ----

TEST(ConfigRulesTest, MissingRequiredKeysPointAtTheirTable) {
  auto p = Parse(R"(labels = { team = "payments" }
[[trigger]]
above = 1
[[health]]
severity = "info"
[rollback]
http = { method = "PUT" }
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:1: service: missing required key (a string)"),
                          At("2:1: trigger[0].name: missing required key (a string)"),
                          At("2:1: trigger[0].query: missing required key (a string)"),
                          At("2:1: trigger[0].for: missing required key (a duration"),
                          At("4:1: health[0].name: missing required key (a string)"),
                          At("4:1: health[0].url: missing required key (a string)"),
                          At("4:1: health[0].for: missing required key (a duration"),
                          At("7:8: rollback.http.url: missing required key (a string)")));
}

TEST(ConfigRulesTest, EmptyQueries) {
  auto p = Parse(R"(service = "checkout"
[[trigger]]
name = "t"
query = "  "
above_ratio = 2
baseline_query = ""
for = "1m"
[deploy]
version_query = "\n"
)");
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("4:9: trigger[0].query: empty query"),
                                          At("6:18: trigger[0].baseline_query: empty query"),
                                          At("9:17: deploy.version_query: empty query")));
}

}  // namespace
}  // namespace rollbackd::configtest::rulefile
