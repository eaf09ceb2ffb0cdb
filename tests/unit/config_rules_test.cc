// Rule files (rules.d/<service>.toml): one test per validation rule, each asserting the exact
// file:line:column, key and message of what a typo produces, plus the RULES.md example parsed
// whole.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"

namespace rollbackd {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kFile[] = "rules.d/checkout.toml";

struct Parsed {
  std::optional<Service> service;
  Diagnostics diags;
};

Parsed Parse(std::string_view text) {
  Parsed p;
  p.service = ParseRuleFile(text, kFile, &p.diags);
  return p;
}

// Every diagnostic as the user sees it, sorted: "rules.d/checkout.toml:7:9: trigger[0].for: ...".
std::vector<std::string> Lines(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const Diagnostic& x : d.Sorted()) out.push_back(x.ToString());
  return out;
}

// Matches one diagnostic line: `where_key_message` is "line:column: key: start of the message".
::testing::Matcher<std::string> At(const std::string& where_key_message) {
  return StartsWith(std::string(kFile) + ":" + where_key_message);
}

// A minimal valid trigger, lines 2-6 of every file built on it.
constexpr char kHeader[] = R"(service = "checkout"
[[trigger]]
name = "t"
query = "up"
)";

std::string WithTrigger(std::string_view rest) { return std::string(kHeader) + std::string(rest); }

// A valid trigger to append after a file's last section, so that the file watches something and
// the line numbers above stay as written.
constexpr char kTrailingTrigger[] = R"(
[[trigger]]
name = "t"
query = "up"
above = 1
for = "1m"
)";

std::string AndTrigger(std::string_view text) { return std::string(text) + kTrailingTrigger; }

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
}  // namespace rollbackd
