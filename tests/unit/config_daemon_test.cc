// rollbackd.toml (ParseDaemonConfig), what spans files (ValidateConfig), and loading from disk
// (LoadConfig with its rule globs, LoadRuleFiles): one test per validation rule, each asserting the
// exact file:line:column, key and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kFile[] = "/etc/rollbackd/rollbackd.toml";

struct Parsed {
  std::optional<Config> config;
  Diagnostics diags;
};

Parsed Parse(std::string_view text) {
  Parsed p;
  p.config = ParseDaemonConfig(text, kFile, &p.diags);
  return p;
}

std::vector<std::string> Lines(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const Diagnostic& x : d.Sorted()) out.push_back(x.ToString());
  return out;
}

// Matches one diagnostic line of kFile: "line:column: key: start of the message".
::testing::Matcher<std::string> At(const std::string& where_key_message) {
  return StartsWith(std::string(kFile) + ":" + where_key_message);
}

using testutil::TempDir;

// A rule file for service `name` whose one trigger reads from `source`.
std::string RuleFile(const std::string& name, const std::string& source = "default") {
  return "service = \"" + name + "\"\n[[trigger]]\nname = \"t\"\nquery = \"up\"\nsource = \"" +
         source + "\"\nabove = 1\nfor = \"1m\"\n";
}

// ---- the example from RULES.md ----

constexpr char kRulesMdExample[] = R"toml([daemon]
listen    = "127.0.0.1:9464"        # /metrics, /healthz, /readyz, /api/v1/*
state_dir = "/var/lib/rollbackd"    # journal, outbox, trigger state
rules     = ["/etc/rollbackd/rules.d/*.toml"]   # globs, relative to this file
interval  = "15s"                   # default evaluation interval
dry_run   = false                   # evaluate and notify, never run a rollback hook
api_token_file = "/etc/rollbackd/api.token"     # required for mutating API calls

[prometheus.default]                # named sources; triggers pick one with `source`
url      = "http://127.0.0.1:9090"
timeout  = "5s"
bearer_token_file = "/etc/rollbackd/prom.token" # optional; also basic auth, TLS CA/cert options
headers  = { "X-Scope-OrgID" = "team-a" }        # optional (Thanos/Cortex/Mimir tenants)

[channel.oncall]                    # alert channels, by name
type = "webhook"                    # webhook | slack | alertmanager | exec | log
url  = "https://hooks.example.com/rollbackd"
secret_file = "/etc/rollbackd/oncall.secret"     # HMAC-SHA256 signing (Standard Webhooks)
timeout = "5s"

[channel.am]
type = "alertmanager"
url  = "http://127.0.0.1:9093"

[channel.chat]
type = "slack"
url  = "https://hooks.slack.com/services/..."

[[route]]                           # first match wins unless `continue = true`
match    = { severity = "critical" }  # equality on event labels; `match_re` for regexes;
                                      # an empty or absent `match` matches every event
channels = ["oncall", "am"]
repeat   = "30m"                    # re-notify a still-firing trigger this often
continue = true
[[route]]
match    = { severity = "warning" }
channels = ["chat"]
)toml";

TEST(ConfigDaemonTest, RulesMdExampleParsesIntoTheModel) {
  auto p = Parse(kRulesMdExample);
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const Config& c = *p.config;
  EXPECT_EQ(c.file, kFile);
  EXPECT_EQ(c.daemon.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/rollbackd");
  EXPECT_EQ(c.daemon.rules, std::vector<std::string>{"/etc/rollbackd/rules.d/*.toml"});
  EXPECT_EQ(c.daemon.interval, seconds(15));
  EXPECT_FALSE(c.daemon.dry_run);
  EXPECT_EQ(c.daemon.api_token_file, "/etc/rollbackd/api.token");
  EXPECT_TRUE(c.services.empty()) << "ParseDaemonConfig does not expand the globs";

  ASSERT_EQ(c.sources.size(), 1u);
  const PrometheusSource* prom = c.FindSource("default");
  ASSERT_NE(prom, nullptr);
  EXPECT_EQ(prom->url, "http://127.0.0.1:9090");
  EXPECT_EQ(prom->timeout, seconds(5));
  EXPECT_EQ(prom->bearer_token_file, "/etc/rollbackd/prom.token");
  EXPECT_EQ(prom->headers, (std::map<std::string, std::string>{{"X-Scope-OrgID", "team-a"}}));
  EXPECT_EQ(prom->where.line, 9);
  EXPECT_EQ(c.FindSource("other"), nullptr);

  ASSERT_EQ(c.channels.size(), 3u);
  const Channel* oncall = c.FindChannel("oncall");
  ASSERT_NE(oncall, nullptr);
  EXPECT_EQ(oncall->type, ChannelType::kWebhook);
  EXPECT_EQ(oncall->url, "https://hooks.example.com/rollbackd");
  EXPECT_EQ(oncall->secret_file, "/etc/rollbackd/oncall.secret");
  EXPECT_EQ(oncall->timeout, seconds(5));
  EXPECT_FALSE(oncall->min_severity.has_value());
  ASSERT_NE(c.FindChannel("am"), nullptr);
  EXPECT_EQ(c.FindChannel("am")->type, ChannelType::kAlertmanager);
  EXPECT_EQ(c.FindChannel("am")->url, "http://127.0.0.1:9093");
  ASSERT_NE(c.FindChannel("chat"), nullptr);
  EXPECT_EQ(c.FindChannel("chat")->type, ChannelType::kSlack);
  EXPECT_EQ(ChannelTypeName(ChannelType::kSlack), "slack");

  ASSERT_EQ(c.routes.size(), 2u);
  const Route& first = c.routes[0];
  ASSERT_EQ(first.matchers.size(), 1u);
  EXPECT_EQ(first.matchers[0].label, "severity");
  EXPECT_EQ(first.matchers[0].value, "critical");
  EXPECT_FALSE(first.matchers[0].regex);
  EXPECT_EQ(first.channels, (std::vector<std::string>{"oncall", "am"}));
  EXPECT_EQ(first.repeat, minutes(30));
  EXPECT_TRUE(first.continue_matching);
  EXPECT_EQ(first.where.line, 29);
  const Route& second = c.routes[1];
  EXPECT_EQ(second.matchers[0].value, "warning");
  EXPECT_EQ(second.channels, std::vector<std::string>{"chat"});
  EXPECT_FALSE(second.repeat.has_value());
  EXPECT_FALSE(second.continue_matching);
}

TEST(ConfigDaemonTest, AnEmptyFileIsAllDefaults) {
  auto p = Parse("");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  EXPECT_EQ(p.config->daemon.listen, "127.0.0.1:9464");
  EXPECT_EQ(p.config->daemon.state_dir, "/var/lib/rollbackd");
  EXPECT_EQ(p.config->daemon.interval, seconds(15));
  EXPECT_TRUE(p.config->daemon.rules.empty());
  EXPECT_TRUE(p.config->sources.empty());
  EXPECT_TRUE(p.config->channels.empty());
  EXPECT_TRUE(p.config->routes.empty());
}

TEST(ConfigDaemonTest, RelativePathsResolveAgainstTheConfigFolder) {
  auto p = Parse(R"([daemon]
state_dir = "state"
api_token_file = "../secrets/api.token"
rules = ["rules.d/*.toml"]
[prometheus.default]
url = "https://prom.example.com/"
bearer_token_file = "prom.token"
[prometheus.tenant]
url = "https://mimir.example.com"
basic_auth = { username = "rollbackd", password_file = "./mimir.pass" }
tls = { ca_file = "ca.pem", cert_file = "/pki/client.pem", key_file = "pki/client.key" }
[channel.hook]
type = "webhook"
url = "https://hooks.example.com"
secret_file = "hook.secret"
[channel.script]
type = "exec"
command = ["./notify.sh", "./not-a-path-arg"]
[channel.pager]
type = "exec"
command = ["pager-cli", "send"]
)");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const Config& c = *p.config;
  EXPECT_EQ(c.daemon.state_dir, "/etc/rollbackd/state");
  EXPECT_EQ(c.daemon.api_token_file, "/etc/secrets/api.token");
  EXPECT_EQ(c.daemon.rules, std::vector<std::string>{"rules.d/*.toml"}) << "kept as written";
  EXPECT_EQ(c.FindSource("default")->bearer_token_file, "/etc/rollbackd/prom.token");
  EXPECT_EQ(c.FindSource("default")->url, "https://prom.example.com") << "trailing / removed";
  const PrometheusSource* tenant = c.FindSource("tenant");
  EXPECT_EQ(tenant->basic_auth_username, "rollbackd");
  EXPECT_EQ(tenant->basic_auth_password_file, "/etc/rollbackd/mimir.pass");
  EXPECT_EQ(tenant->tls.ca_file, "/etc/rollbackd/ca.pem");
  EXPECT_EQ(tenant->tls.cert_file, "/pki/client.pem");
  EXPECT_EQ(tenant->tls.key_file, "/etc/rollbackd/pki/client.key");
  EXPECT_FALSE(tenant->tls.insecure_skip_verify);
  EXPECT_EQ(c.FindChannel("hook")->secret_file, "/etc/rollbackd/hook.secret");
  EXPECT_EQ(c.FindChannel("script")->command,
            (std::vector<std::string>{"/etc/rollbackd/notify.sh", "./not-a-path-arg"}));
  EXPECT_EQ(c.FindChannel("pager")->command, (std::vector<std::string>{"pager-cli", "send"}));
}

// ---- [daemon] ----

TEST(ConfigDaemonTest, DaemonSectionFields) {
  auto p = Parse(R"([daemon]
listen = "9464"
interval = "0s"
dry_run = "no"
rules = "rules.d/*.toml"
api_token = "s3cret"
state_dri = "/var/lib/x"
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:10: daemon.listen: expected host:port, e.g. \"127.0.0.1:9464\""),
                  At("3:12: daemon.interval: must be longer than 0s"),
                  At("4:11: daemon.dry_run: expected true or false, found a string"),
                  At("5:9: daemon.rules: expected an array of strings, found a string"),
                  At("6:1: daemon.api_token: secrets are never read from configuration files; "
                     "put it in a file and use `api_token_file`"),
                  At("7:1: daemon.state_dri: unknown key (did you mean `state_dir`?)")));
}

TEST(ConfigDaemonTest, RuleGlobsMustBeStrings) {
  auto p = Parse("[daemon]\nrules = [\"a/*.toml\", 3]\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:22: daemon.rules[1]: expected a string, found an integer")));
}

TEST(ConfigDaemonTest, UnknownTopLevelSection) {
  auto p =
      Parse("[daemon]\n[channels.x]\ntype = \"log\"\n[promethus.default]\nurl = \"http://p\"\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:2: channels: unknown key (did you mean `channel`?)"),
                          At("4:2: promethus: unknown key (did you mean `prometheus`?)")));
}

// ---- [prometheus.*] ----

TEST(ConfigDaemonTest, PrometheusSourceChecks) {
  auto p = Parse(R"([prometheus.default]
timeout = "0s"
bearer_token = "abc"
[prometheus."eu west"]
url = "prom:9090"
[prometheus.auth]
url = "http://prom"
bearer_token_file = "t"
basic_auth = { username = "u", password = "p" }
tls = { cert_file = "c.pem", insecure_skip_verify = "yes" }
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("1:1: prometheus.default.url: missing required key (a string)"),
          At("2:11: prometheus.default.timeout: must be longer than 0s"),
          At("3:1: prometheus.default.bearer_token: secrets are never read from configuration "
             "files; put it in a file and use `bearer_token_file`"),
          At("4:1: prometheus.eu west: invalid source name \"eu west\""),
          At("5:7: prometheus.eu west.url: expected an http:// or https:// URL"),
          At("9:14: prometheus.auth.basic_auth.password_file: missing required key (a string)"),
          At("9:14: prometheus.auth.basic_auth: set either bearer_token_file or basic_auth, "
             "not both"),
          At("9:32: prometheus.auth.basic_auth.password: secrets are never read from "
             "configuration files; put it in a file and use `password_file`"),
          At("10:21: prometheus.auth.tls.cert_file: a client certificate needs both cert_file "
             "and key_file"),
          At("10:53: prometheus.auth.tls.insecure_skip_verify: expected true or false")));
}

TEST(ConfigDaemonTest, PrometheusEntryThatIsNotATable) {
  auto p = Parse("prometheus = { default = \"http://127.0.0.1:9090\" }\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:26: prometheus.default: expected a table ([prometheus.default])")));
}

// ---- [channel.*] ----

TEST(ConfigDaemonTest, ChannelTypeIsRequiredAndKnown) {
  auto p = Parse(R"([channel.a]
url = "https://x.example"
[channel.b]
type = "email"
[channel."c d"]
type = "log"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:1: channel.a.type: missing required key (a string)"),
                          At("4:8: channel.b.type: unknown channel type \"email\" (webhook, "
                             "slack, alertmanager, exec or log)"),
                          At("5:1: channel.c d: invalid channel name \"c d\"")));
}

TEST(ConfigDaemonTest, UrlIsRequiredForWebhookSlackAndAlertmanager) {
  for (const char* type : {"webhook", "slack", "alertmanager"}) {
    auto p = Parse("[channel.x]\ntype = \"" + std::string(type) + "\"\n");
    const std::string article = std::string(type) == "alertmanager" ? "an " : "a ";
    EXPECT_THAT(Lines(p.diags), ElementsAre(At("1:1: channel.x.url: missing required key (" +
                                               article + type + " channel posts to a URL)")))
        << type;
  }
}

TEST(ConfigDaemonTest, UrlIsForbiddenForExecAndLog) {
  auto p = Parse(R"([channel.e]
type = "exec"
command = ["notify"]
url = "http://x"
[channel.l]
type = "log"
url = "http://x"
)");
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("4:7: channel.e.url: an exec channel has no url"),
                                          At("7:7: channel.l.url: a log channel has no url")));
}

TEST(ConfigDaemonTest, ChannelUrlMustBeHttp) {
  auto p = Parse("[channel.x]\ntype = \"slack\"\nurl = \"hooks.slack.com/services/T0\"\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("3:7: channel.x.url: expected an http:// or https:// URL")));
}

TEST(ConfigDaemonTest, ExecChannelCommand) {
  auto p = Parse(R"([channel.none]
type = "exec"
[channel.empty]
type = "exec"
command = []
[channel.hook]
type = "webhook"
url = "https://x.example"
command = ["notify"]
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("1:1: channel.none.command: missing required key (an exec channel runs a command)"),
          At("5:11: channel.empty.command: empty command: give the program and its arguments"),
          At("9:11: channel.hook.command: only an exec channel has a command")));
}

TEST(ConfigDaemonTest, SecretFileOnlyForWebhooks) {
  auto p = Parse(R"([channel.chat]
type = "slack"
url = "https://hooks.slack.com/x"
secret_file = "chat.secret"
[channel.hook]
type = "webhook"
url = "https://x.example"
secret = "whsec_abc"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("4:15: channel.chat.secret_file: only a webhook channel signs its "
                             "requests"),
                          At("8:1: channel.hook.secret: secrets are never read from configuration "
                             "files; put it in a file and use `secret_file`")));
}

TEST(ConfigDaemonTest, ChannelMinSeverityAndTimeout) {
  auto bad = Parse(R"([channel.x]
type = "log"
min_severity = "error"
timeout = "0ms"
)");
  EXPECT_THAT(Lines(bad.diags),
              ElementsAre(At("3:16: channel.x.min_severity: unknown severity \"error\" (critical, "
                             "warning or info)"),
                          At("4:11: channel.x.timeout: must be longer than 0s")));
  auto good =
      Parse("[channel.x]\ntype = \"log\"\nmin_severity = \"warning\"\ntimeout = \"250ms\"\n");
  ASSERT_TRUE(good.config.has_value());
  EXPECT_EQ(good.config->channels[0].min_severity, Severity::kWarning);
  EXPECT_EQ(good.config->channels[0].timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(good.config->channels[0].type, ChannelType::kLog);
}

// ---- [[route]] ----

TEST(ConfigDaemonTest, UnknownChannelInARouteIsReportedAtTheArrayElement) {
  auto p = Parse(R"([channel.oncall]
type = "log"
[[route]]
channels = ["oncall", "on-call", "pager"]
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("4:23: route[0].channels[1]: unknown channel \"on-call\""),
                          At("4:34: route[0].channels[2]: unknown channel \"pager\"")));
}

TEST(ConfigDaemonTest, RouteChannelsAreRequiredAndNotEmpty) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
match = { severity = "critical" }
[[route]]
channels = []
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("3:1: route[0].channels: missing required key (an array of strings)"),
                          At("6:12: route[1].channels: a route needs at least one channel")));
}

TEST(ConfigDaemonTest, RouteMatchersLabelNamesAndRegexes) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
match = { "team-name" = "payments" }
match_re = { service = "check(out", "0day" = ".*", trigger = "error_.*" }
channels = ["x"]
)");
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("4:11: route[0].match.team-name: invalid label name"),
                  At("5:24: route[0].match_re.service: invalid regular expression \"check(out\""),
                  At("5:37: route[0].match_re.0day: invalid label name")));
  const Diagnostic regex = p.diags.Sorted()[1];
  EXPECT_EQ(regex.where.line, 5);
  EXPECT_EQ(regex.where.column, 24);  // the regex itself, not the table
  EXPECT_EQ(regex.key, "route[0].match_re.service");
}

TEST(ConfigDaemonTest, RouteMatchersAreKept) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
match_re = { service = "check.*" }
match = { env = "prod" }
channels = ["x"]
[[route]]
channels = ["x"]
)");
  ASSERT_TRUE(p.config.has_value()) << ::testing::PrintToString(Lines(p.diags));
  const Route& r = p.config->routes[0];
  ASSERT_EQ(r.matchers.size(), 2u);
  EXPECT_EQ(r.matchers[0].label, "env");
  EXPECT_FALSE(r.matchers[0].regex);
  EXPECT_EQ(r.matchers[1].label, "service");
  EXPECT_EQ(r.matchers[1].value, "check.*");
  EXPECT_TRUE(r.matchers[1].regex);
  EXPECT_TRUE(p.config->routes[1].matchers.empty()) << "no match: every event";
}

TEST(ConfigDaemonTest, RouteRepeatContinueAndShape) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
channels = ["x"]
repeat = "0s"
continue = 1
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("5:10: route[0].repeat: must be longer than 0s"),
                          At("6:12: route[0].continue: expected true or false, found an integer")));
  auto table = Parse("[route]\nchannels = [\"x\"]\n");
  EXPECT_THAT(
      Lines(table.diags),
      ElementsAre(At("1:1: route: expected an array of tables ([[route]]), found a table")));
}

// Regression: a route that is not a table used to shift the indexes of the routes after it, and the
// unknown-channel check then dereferenced a null table.
TEST(ConfigDaemonTest, RouteThatIsNotATableDoesNotCrashTheChannelCheck) {
  auto p = Parse(R"(route = ["oncall", { channels = ["nope"] }]
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:10: route[0]: expected a table ([[route]])"),
                          At("1:34: route[1].channels[0]: unknown channel \"nope\"")));
}

// ---- channel delivery options, templates, resend ----

TEST(ConfigDaemonTest, ChannelDeliveryOptionsAndTemplatesAreRead) {
  auto p = Parse(R"toml([channel.am]
type = "alertmanager"
url = "http://127.0.0.1:9093"
max_retries = 0
max_age = "2h"
title = "{service}: {event}"
text = "{reason} ({labels.env})"
resend = "5m"
[channel.chat]
type = "slack"
url = "https://hooks.slack.com/x"
title = "{{rollbackd}} {service}"
[channel.hook]
type = "webhook"
url = "https://x.example"
max_retries = 12
)toml");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const Channel* am = p.config->FindChannel("am");
  EXPECT_EQ(am->max_retries, 0);
  EXPECT_EQ(am->max_age, std::chrono::hours(2));
  EXPECT_EQ(am->title, "{service}: {event}");
  EXPECT_EQ(am->text, "{reason} ({labels.env})");
  EXPECT_EQ(am->resend, minutes(5));
  const Channel* chat = p.config->FindChannel("chat");
  EXPECT_EQ(chat->title, "{{rollbackd}} {service}") << "kept as written";
  EXPECT_EQ(chat->text, "");
  EXPECT_EQ(chat->max_retries, std::nullopt);
  EXPECT_EQ(chat->max_age, std::nullopt) << "absent: [outbox].max_age";
  EXPECT_EQ(chat->resend, minutes(1)) << "the default";
  EXPECT_EQ(p.config->FindChannel("hook")->max_retries, 12);
}

TEST(ConfigDaemonTest, ChannelMaxRetriesAndMaxAge) {
  auto p = Parse(R"([channel.a]
type = "log"
max_retries = -1
max_age = "0s"
[channel.b]
type = "log"
max_retries = 1.5
max_age = 30
[channel.c]
type = "log"
max_retries = 3000000000
max_retrys = 3
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("3:15: channel.a.max_retries: must not be negative (0: one attempt, never retried)"),
          At("4:11: channel.a.max_age: must be longer than 0s"),
          At("7:15: channel.b.max_retries: expected an integer, found a float"),
          At("8:11: channel.b.max_age: expected a duration string such as \"30s\""),
          At("11:15: channel.c.max_retries: too large (at most 2147483647)"),
          At("12:1: channel.c.max_retrys: unknown key (did you mean `max_retries`?)")));
}

TEST(ConfigDaemonTest, InvalidTemplatesAreErrorsAtTheirKey) {
  auto p = Parse(R"([channel.chat]
type = "slack"
url = "https://hooks.slack.com/x"
title = "{servce} failed"
text = "value {value"
[channel.am]
type = "alertmanager"
url = "http://am:9093"
text = "}"
title = 3
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("4:9: channel.chat.title: invalid template: unknown field {servce} "
                             "(known: event, id, time, service,"),
                          At("5:8: channel.chat.text: invalid template: unclosed { at offset 6"),
                          At("9:8: channel.am.text: invalid template: lone } at offset 0 (write "
                             "}} for a literal brace)"),
                          At("10:9: channel.am.title: expected a string, found an integer")));
}

TEST(ConfigDaemonTest, TemplatesOnlyOnSlackAndAlertmanagerChannels) {
  auto p = Parse(R"([channel.hook]
type = "webhook"
url = "https://x.example"
title = "{service}"
[channel.script]
type = "exec"
command = ["notify"]
text = "{reason}"
[channel.journal]
type = "log"
title = "x"
text = "y"
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("4:9: channel.hook.title: only slack and alertmanager channels take a "
                     "`title` template; a webhook channel sends the event JSON as it is"),
                  At("8:8: channel.script.text: only slack and alertmanager channels take a "
                     "`text` template; an exec channel gets the event JSON on stdin"),
                  At("11:9: channel.journal.title: only slack and alertmanager channels take a "
                     "`title` template; a log channel writes one line per event"),
                  At("12:8: channel.journal.text: only slack and alertmanager channels take a "
                     "`text` template; a log channel writes one line per event")));
}

TEST(ConfigDaemonTest, ResendOnlyForAlertmanagerAndAtLeastOneSecond) {
  auto p = Parse(R"([channel.am]
type = "alertmanager"
url = "http://am:9093"
resend = "500ms"
[channel.am2]
type = "alertmanager"
url = "http://am:9093"
resend = "0s"
[channel.hook]
type = "webhook"
url = "https://x.example"
resend = "1m"
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("4:10: channel.am.resend: must be at least 1s (each resend posts "
                             "every firing alert again)"),
                          At("8:10: channel.am2.resend: must be longer than 0s"),
                          At("12:10: channel.hook.resend: only an alertmanager channel re-sends "
                             "firing alerts")));
  auto good = Parse(
      "[channel.am]\ntype = \"alertmanager\"\nurl = \"http://am:9093\"\n"
      "resend = \"1s\"\n");
  ASSERT_TRUE(good.config.has_value()) << ::testing::PrintToString(Lines(good.diags));
  EXPECT_EQ(good.config->channels[0].resend, seconds(1));
}

// ---- [[route]] group_wait and send_resolved ----

TEST(ConfigDaemonTest, RouteGroupWaitAndSendResolvedAreRead) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
channels = ["x"]
group_wait = "30s"
send_resolved = false
[[route]]
channels = ["x"]
group_wait = "0s"
send_resolved = true
[[route]]
channels = ["x"]
group_wait = "10m"
[[route]]
channels = ["x"]
)");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const std::vector<Route>& r = p.config->routes;
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].group_wait, seconds(30));
  EXPECT_FALSE(r[0].send_resolved);
  EXPECT_EQ(r[1].group_wait, seconds(0));
  EXPECT_TRUE(r[1].send_resolved);
  EXPECT_EQ(r[2].group_wait, minutes(10)) << "the limit itself is allowed";
  EXPECT_EQ(r[3].group_wait, seconds(0)) << "default: at once";
  EXPECT_TRUE(r[3].send_resolved) << "default";
}

TEST(ConfigDaemonTest, RouteGroupWaitAndSendResolvedErrors) {
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
channels = ["x"]
group_wait = "11m"
send_resolved = "no"
[[route]]
channels = ["x"]
group_wait = 30
[[route]]
channels = ["x"]
group_wait = "-1s"
sendresolved = false
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("5:14: route[0].group_wait: a group_wait of 11m holds back the first "
                     "notification too long (at most 10m; usually 10s to 1m)"),
                  At("6:17: route[0].send_resolved: expected true or false, found a string"),
                  At("9:14: route[1].group_wait: expected a duration string such as \"30s\""),
                  At("12:14: route[2].group_wait: invalid duration \"-1s\""),
                  At("13:1: route[2].sendresolved: unknown key (did you mean `send_resolved`?)")));
}

// ---- [daemon].external_url ----

TEST(ConfigDaemonTest, ExternalUrlLosesItsTrailingSlash) {
  auto p = Parse("[daemon]\nexternal_url = \"https://rollbackd.example.com/\"\n");
  ASSERT_TRUE(p.config.has_value()) << ::testing::PrintToString(Lines(p.diags));
  EXPECT_EQ(p.config->daemon.external_url, "https://rollbackd.example.com");
  auto path = Parse("[daemon]\nexternal_url = \"http://10.0.0.1:9464/rollbackd//\"\n");
  ASSERT_TRUE(path.config.has_value());
  EXPECT_EQ(path.config->daemon.external_url, "http://10.0.0.1:9464/rollbackd");
  EXPECT_EQ(Parse("").config->daemon.external_url, "") << "default: no links";
}

TEST(ConfigDaemonTest, ExternalUrlMustBeHttpWithAHost) {
  for (const char* url : {"rollbackd.example.com", "ftp://x.example", "https://", "https:///x"}) {
    auto p = Parse("[daemon]\nexternal_url = \"" + std::string(url) + "\"\n");
    EXPECT_FALSE(p.config.has_value()) << url;
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("2:16: daemon.external_url: expected an http:// or "
                               "https:// URL, e.g. \"https://rollbackd.example.com\"")))
        << url;
  }
  auto p = Parse("[daemon]\nexternal_url = 8080\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:16: daemon.external_url: expected a string, found an integer")));
}

// ---- [outbox] ----

TEST(ConfigDaemonTest, OutboxDefaultsAndValues) {
  auto defaults = Parse("");
  ASSERT_TRUE(defaults.config.has_value());
  EXPECT_EQ(defaults.config->outbox.max_entries, 10000u);
  EXPECT_EQ(defaults.config->outbox.max_bytes, 64ull << 20);
  EXPECT_EQ(defaults.config->outbox.max_age, std::chrono::hours(12));

  auto p = Parse("[outbox]\nmax_entries = 500\nmax_bytes = \"512KiB\"\nmax_age = \"1d\"\n");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  EXPECT_EQ(p.config->outbox.max_entries, 500u);
  EXPECT_EQ(p.config->outbox.max_bytes, 512u << 10);
  EXPECT_EQ(p.config->outbox.max_age, std::chrono::hours(24));
}

TEST(ConfigDaemonTest, OutboxMaxBytesTakesBytesOrAUnit) {
  const std::pair<std::string, uint64_t> kCases[] = {
      {"\"64MiB\"", 64ull << 20},
      {"\"512KiB\"", 512ull << 10},
      {"\"1GiB\"", 1ull << 30},
      {"\"10MB\"", 10000000},
      {"\"500KB\"", 500000},
      {"\"1GB\"", 1000000000},
      {"\"100000B\"", 100000},
      {"65536", 65536},
      {"\"64KiB\"", 65536},
      {"\"1048576\"", 0}};  // digits alone in a string: no unit, invalid
  for (const auto& [value, bytes] : kCases) {
    auto p = Parse("[outbox]\nmax_bytes = " + value + "\n");
    if (bytes == 0) {
      EXPECT_FALSE(p.config.has_value()) << value;
      continue;
    }
    ASSERT_TRUE(p.config.has_value()) << value << ": " << ::testing::PrintToString(Lines(p.diags));
    EXPECT_EQ(p.config->outbox.max_bytes, bytes) << value;
  }
}

TEST(ConfigDaemonTest, OutboxErrors) {
  auto p = Parse(R"([outbox]
max_entries = 0
max_bytes = "64 MiB"
max_age = "0s"
max_entrys = 5
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:15: outbox.max_entries: must be at least 1"),
                  At("3:13: outbox.max_bytes: invalid size \"64 MiB\"; expected a number of "
                     "bytes or a string such as \"64MiB\" (units B, KB, MB, GB, KiB, MiB, GiB)"),
                  At("4:11: outbox.max_age: must be longer than 0s"),
                  At("5:1: outbox.max_entrys: unknown key (did you mean `max_entries`?)")));

  const std::pair<std::string, std::string> kBad[] = {
      {"\"100B\"", "must be at least 64KiB (65536 bytes)"},
      {"1000", "must be at least 64KiB (65536 bytes)"},
      {"-1", "must not be negative"},
      {"1.5",
       "expected a number of bytes or a string such as \"64MiB\" (units B, KB, MB, GB, "
       "KiB, MiB, GiB), found a float"},
      {"\"1TiB\"", "invalid size \"1TiB\""},
      {"\"64mib\"", "invalid size \"64mib\""},
      {"\"MiB\"", "invalid size \"MiB\""},
      {"\"20000000000GiB\"", "invalid size \"20000000000GiB\""},  // overflows 64 bits
      {"\"99999999999999999999B\"", "invalid size"},
  };
  for (const auto& [value, message] : kBad) {
    auto bad = Parse("[outbox]\nmax_bytes = " + value + "\n");
    EXPECT_THAT(Lines(bad.diags), ElementsAre(At("2:13: outbox.max_bytes: " + message))) << value;
  }
  auto big = Parse("[outbox]\nmax_entries = 3000000000\n");
  EXPECT_THAT(Lines(big.diags),
              ElementsAre(At("2:15: outbox.max_entries: too large (at most 2147483647)")));
  auto table = Parse("outbox = 5\n");
  EXPECT_THAT(Lines(table.diags),
              ElementsAre(At("1:10: outbox: expected a table, found an integer")));
}

TEST(ConfigFileKindTest, AnOutboxSectionMarksADaemonConfig) {
  Diagnostics d;
  EXPECT_FALSE(ParseDaemonConfig("service = \"x\"\n[outbox]\nmax_entries = 5\n", "d.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(), "d.toml:1:1: service: unknown key");
  Diagnostics alone;
  EXPECT_TRUE(ParseDaemonConfig("[outbox]\nmax_entries = 5\n", "d.toml", &alone));
  EXPECT_TRUE(alone.all().empty());
}

// ---- ValidateConfig: what spans files ----

Service MakeService(const std::string& name, const std::string& file, int line,
                    std::vector<std::pair<std::string, int>> trigger_sources = {}) {
  Service s;
  s.name = name;
  s.file = file;
  s.where = {file, line, 11};
  for (const auto& [source, source_line] : trigger_sources) {
    Trigger t;
    t.name = "t" + std::to_string(s.triggers.size());
    t.source = source;
    t.source_where = {file, source_line, 10};
    s.triggers.push_back(t);
  }
  return s;
}

PrometheusSource MakeSource(const std::string& name) {
  PrometheusSource p;
  p.name = name;
  p.url = "http://127.0.0.1:9090";
  return p;
}

Deploy MakeDeploy(const std::string& version_query, const std::string& source,
                  SourceLocation source_where) {
  Deploy d;
  d.version_query = version_query;
  d.source = source;
  d.source_where = std::move(source_where);
  return d;
}

TEST(ConfigDaemonTest, ValidateReportsDuplicateServicesWithTheFirstLocation) {
  Config c;
  c.services.push_back(MakeService("checkout", "rules.d/a.toml", 1));
  c.services.push_back(MakeService("search", "rules.d/b.toml", 1));
  c.services.push_back(MakeService("checkout", "rules.d/c.toml", 3));
  Diagnostics d;
  ValidateConfig(c, /*check_sources=*/false, &d);
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(),
            "rules.d/c.toml:3:11: service: duplicate service \"checkout\" (also in "
            "rules.d/a.toml:1:11)");
}

TEST(ConfigDaemonTest, ValidateReportsUnknownSourcesAtTheSourceKey) {
  Config c;
  c.file = "rollbackd.toml";
  c.sources.push_back(MakeSource("default"));
  c.sources.push_back(MakeSource("eu"));
  c.services.push_back(MakeService("checkout", "rules.d/a.toml", 1, {{"default", 5}, {"us", 12}}));
  c.services.back().deploy = MakeDeploy("build_info", "asia", {"rules.d/a.toml", 20, 10});
  Diagnostics d;
  ValidateConfig(c, /*check_sources=*/true, &d);
  EXPECT_THAT(Lines(d),
              ElementsAre("rules.d/a.toml:12:10: trigger[1].source: unknown source \"us\"",
                          "rules.d/a.toml:20:10: deploy.source: unknown source \"asia\""));
  Diagnostics unchecked;
  ValidateConfig(c, /*check_sources=*/false, &unchecked);
  EXPECT_THAT(Lines(unchecked), IsEmpty());
}

TEST(ConfigDaemonTest, ValidateSaysWhenTheConfigDefinesNoSourceAtAll) {
  Config c;
  c.file = "/etc/rollbackd/rollbackd.toml";
  c.services.push_back(MakeService("checkout", "rules.d/a.toml", 1, {{"default", 4}}));
  Diagnostics d;
  ValidateConfig(c, /*check_sources=*/true, &d);
  EXPECT_THAT(Lines(d), ElementsAre("rules.d/a.toml:4:10: trigger[0].source: unknown source "
                                    "\"default\" (/etc/rollbackd/rollbackd.toml defines no "
                                    "[prometheus.*])"));
}

TEST(ConfigDaemonTest, DeployWithoutVersionQueryNeedsNoSource) {
  Config c;
  c.sources.push_back(MakeSource("default"));
  c.services.push_back(MakeService("checkout", "rules.d/a.toml", 1));
  c.services.back().deploy = MakeDeploy("", "nowhere", {"rules.d/a.toml", 9, 10});
  Diagnostics d;
  ValidateConfig(c, /*check_sources=*/true, &d);
  EXPECT_THAT(Lines(d), IsEmpty());
}

// ---- LoadConfig: the daemon config and its rule globs, from disk ----

constexpr char kDaemonWithSource[] = R"([daemon]
rules = ["rules.d/*.toml"]
[prometheus.default]
url = "http://127.0.0.1:9090"
)";

TEST(ConfigDaemonTest, LoadConfigExpandsRelativeGlobsInOrder) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", kDaemonWithSource);
  dir.Write("rules.d/search.toml", RuleFile("search"));
  dir.Write("rules.d/checkout.toml", RuleFile("checkout"));
  dir.Write("rules.d/README.md", "not a rule file");
  Diagnostics d;
  auto c = LoadConfig(config, &d);
  EXPECT_THAT(Lines(d), IsEmpty());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->file, config);
  ASSERT_EQ(c->services.size(), 2u);
  EXPECT_EQ(c->services[0].name, "checkout");
  EXPECT_EQ(c->services[0].file, dir.Path("rules.d/checkout.toml"));
  EXPECT_EQ(c->services[1].name, "search");
}

TEST(ConfigDaemonTest, LoadConfigLiteralMissingFileIsAnErrorWildcardMatchingNothingAWarning) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", R"([daemon]
rules = ["rules.d/*.toml",
         "extra/*.toml",
         "extra/payments.toml"]
[prometheus.default]
url = "http://127.0.0.1:9090"
)");
  dir.Write("rules.d/checkout.toml", RuleFile("checkout"));
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  EXPECT_THAT(Lines(d),
              ElementsAre(config + ":3:10: warning: daemon.rules[1]: no rule file matches \"" +
                              dir.Path("extra/*.toml") + "\"",
                          config + ":4:10: daemon.rules[2]: no such rule file \"" +
                              dir.Path("extra/payments.toml") + "\""));

  // The warning alone does not reject the configuration.
  dir.Write("rollbackd.toml",
            "[daemon]\nrules = [\"rules.d/*.toml\", \"extra/*.toml\"]\n"
            "[prometheus.default]\nurl = \"http://127.0.0.1:9090\"\n");
  Diagnostics warned;
  auto c = LoadConfig(config, &warned);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->services.size(), 1u);
  EXPECT_EQ(warned.error_count(), 0);
  EXPECT_EQ(warned.all().size(), 1u);
}

TEST(ConfigDaemonTest, LoadConfigReportsRuleFileErrorsWithTheRuleFilePath) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", kDaemonWithSource);
  std::string rule = dir.Write("rules.d/checkout.toml", R"(service = "checkout"
[[trigger]]
name = "t"
query = "up"
above = 1
for = "1 minute"
)");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  EXPECT_THAT(Lines(d), ElementsAre(rule + ":6:7: trigger[0].for: invalid duration \"1 minute\" "
                                           "(use whole numbers with units ms, s, m, h, d, w, "
                                           "largest first: \"1m30s\")"));
}

TEST(ConfigDaemonTest, LoadConfigReportsDuplicateServicesAcrossFiles) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", kDaemonWithSource);
  std::string a = dir.Write("rules.d/a.toml", RuleFile("checkout"));
  std::string b = dir.Write("rules.d/b.toml", "# copied from a.toml\n" + RuleFile("checkout"));
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  EXPECT_THAT(Lines(d), ElementsAre(b + ":2:11: service: duplicate service \"checkout\" (also in " +
                                    a + ":1:11)"));
}

TEST(ConfigDaemonTest, LoadConfigReadsAFileNamedByTwoGlobsOnce) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", R"([daemon]
rules = ["rules.d/*.toml", "./rules.d/checkout.toml"]
[prometheus.default]
url = "http://127.0.0.1:9090"
)");
  dir.Write("rules.d/checkout.toml", RuleFile("checkout"));
  Diagnostics d;
  auto c = LoadConfig(config, &d);
  EXPECT_THAT(Lines(d), IsEmpty());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->services.size(), 1u);
}

TEST(ConfigDaemonTest, LoadConfigChecksSourcesWithAndWithoutPrometheusSections) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", kDaemonWithSource);
  std::string rule = dir.Write("rules.d/checkout.toml", RuleFile("checkout", "thanos"));
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  EXPECT_THAT(Lines(d), ElementsAre(rule + ":5:10: trigger[0].source: unknown source \"thanos\""));

  dir.Write("rollbackd.toml", "[daemon]\nrules = [\"rules.d/*.toml\"]\n");
  Diagnostics none;
  EXPECT_FALSE(LoadConfig(config, &none).has_value());
  EXPECT_THAT(Lines(none),
              ElementsAre(rule + ":5:10: trigger[0].source: unknown source \"thanos\" (" + config +
                          " defines no [prometheus.*])"));
}

TEST(ConfigDaemonTest, LoadConfigUnknownSourceOfATriggerWithoutSourceKeyPointsAtTheTrigger) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml",
                                 "[daemon]\nrules = [\"r.toml\"]\n"
                                 "[prometheus.eu]\nurl = \"http://p\"\n");
  std::string rule = dir.Write("r.toml", R"(service = "checkout"

[[trigger]]
name = "t"
query = "up"
above = 1
for = "1m"
[deploy]
version_query = "build_info"
source = "us"
)");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  EXPECT_THAT(Lines(d), ElementsAre(rule + ":3:1: trigger[0].source: unknown source \"default\"",
                                    rule + ":10:10: deploy.source: unknown source \"us\""));
}

// Both files are reported in one run: a typo in rollbackd.toml must not hide the rule files'
// errors.
TEST(ConfigDaemonTest, LoadConfigReportsDaemonAndRuleFileErrorsTogether) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", R"([daemon]
rules = ["rules.d/*.toml"]
intervall = "15s"
)");
  std::string rule = dir.Write("rules.d/checkout.toml", R"(service = "checkout"
[[trigger]]
name = "t"
query = "up"
above = 1
fro = "1m"
)");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  // No source check: rollbackd.toml has errors, so a missing source may be one of them.
  EXPECT_THAT(Lines(d),
              ElementsAre(config + ":3:1: daemon.intervall: unknown key (did you mean `interval`?)",
                          rule + ":2:1: trigger[0].for: missing required key (a duration such as "
                                 "\"30s\")",
                          rule + ":6:1: trigger[0].fro: unknown key (did you mean `for`?)"));
}

TEST(ConfigDaemonTest, LoadConfigOfAMissingFileNamesTheFile) {
  TempDir dir;
  std::string missing = dir.Path("nope.toml");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(missing, &d).has_value());
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].where.line, 0);
  EXPECT_EQ(d.all()[0].ToString(), missing + ": cannot read file: No such file or directory");
}

TEST(ConfigDaemonTest, LoadConfigSyntaxErrorStopsAtTheDaemonConfig) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", "[daemon\nrules = []\n");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].where.file, config);
  EXPECT_EQ(d.all()[0].where.line, 1);
  EXPECT_EQ(d.all()[0].where.column, 8);
}

// ---- LoadRuleFiles: `rollbackd check` / `rollbackd test` without a daemon config ----

TEST(ConfigDaemonTest, LoadRuleFilesAcceptsAnySourceAndChecksDuplicates) {
  TempDir dir;
  std::string a = dir.Write("a.toml", RuleFile("checkout", "anything"));
  std::string b = dir.Write("b.toml", RuleFile("search", "thanos"));
  Diagnostics d;
  auto c = LoadRuleFiles({a, b}, &d);
  EXPECT_THAT(Lines(d), IsEmpty());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->file, "");
  EXPECT_EQ(c->daemon.interval, seconds(15));
  ASSERT_EQ(c->services.size(), 2u);
  EXPECT_EQ(c->services[0].triggers[0].source, "anything");

  std::string dup = dir.Write("dup.toml", RuleFile("checkout"));
  Diagnostics dd;
  EXPECT_FALSE(LoadRuleFiles({a, b, dup}, &dd).has_value());
  EXPECT_THAT(
      Lines(dd),
      ElementsAre(dup + ":1:11: service: duplicate service \"checkout\" (also in " + a + ":1:11)"));
}

TEST(ConfigDaemonTest, LoadRuleFilesReportsEveryFile) {
  TempDir dir;
  std::string missing = dir.Path("missing.toml");
  std::string bad = dir.Write("bad.toml", "service = \"bad name\"\n");
  std::string good = dir.Write("good.toml", RuleFile("good"));
  Diagnostics d;
  EXPECT_FALSE(LoadRuleFiles({missing, bad, good}, &d).has_value());
  EXPECT_EQ(d.error_count(), 2);
  EXPECT_THAT(Lines(d), ElementsAre(bad + ":1:11: service: invalid name \"bad name\" (letters, "
                                          "digits, '_', '-' and '.')",
                                    bad + ":1:11: warning: service: the service has no [[trigger]] "
                                          "and no [[health]]; it watches nothing",
                                    missing + ": cannot read file: No such file or directory"));
}

// ---- Diagnostics ----

TEST(ConfigDaemonTest, SortedOrdersByFileLineColumnThenReportOrder) {
  Diagnostics d;
  d.Error({"b.toml", 1, 1}, "k", "b1");
  d.Error({"a.toml", 10, 2}, "k", "a10");
  d.Warning({"a.toml", 2, 30}, "k", "a2-30");
  d.Error({"a.toml", 2, 7}, "k", "a2-7 first");
  d.Error({"a.toml", 2, 7}, "k", "a2-7 second");
  d.Error({"a.toml", 0, 0}, "", "whole file");
  std::vector<std::string> messages;
  for (const Diagnostic& x : d.Sorted()) messages.push_back(x.message);
  EXPECT_THAT(messages,
              ElementsAre("whole file", "a2-7 first", "a2-7 second", "a2-30", "a10", "b1"));
  EXPECT_EQ(d.error_count(), 5);
  EXPECT_EQ(d.all().front().message, "b1") << "all() keeps the order of reports";
  EXPECT_EQ(d.Sorted()[0].ToString(), "a.toml: whole file");
  EXPECT_EQ(d.Sorted()[3].ToString(), "a.toml:2:30: warning: k: a2-30");
  Diagnostic no_column{Diagnostic::Level::kError, {"c.toml", 4, 0}, "key", "msg"};
  EXPECT_EQ(no_column.ToString(), "c.toml:4: key: msg");
}

TEST(ConfigDaemonTest, EveryMistakeInTheDaemonConfigIsReported) {
  auto p = Parse(R"([daemon]
listen = "localhost"
interval = "15 s"

[prometheus.default]
url = "127.0.0.1:9090"

[channel.oncall]
type = "webhok"

[channel.am]
type = "alertmanager"

[[route]]
match_re = { severity = "[" }
channels = ["oncall", "chat"]
repeat = "-30m"
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_EQ(p.diags.error_count(), 8);
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:10: daemon.listen: expected host:port"),
                  At("3:12: daemon.interval: invalid duration \"15 s\""),
                  At("6:7: prometheus.default.url: expected an http:// or https:// URL"),
                  At("9:8: channel.oncall.type: unknown channel type \"webhok\""),
                  At("11:1: channel.am.url: missing required key (an alertmanager channel posts to "
                     "a URL)"),
                  At("15:25: route[0].match_re.severity: invalid regular expression \"[\""),
                  At("16:23: route[0].channels[1]: unknown channel \"chat\""),
                  At("17:10: route[0].repeat: invalid duration \"-30m\"")));
}

}  // namespace
}  // namespace rollbackd

namespace rollbackd {
namespace {

// Files given in the wrong place get one clear error naming the right command, not a list of
// unknown keys.
TEST(ConfigFileKindTest, ARuleFileGivenAsTheDaemonConfig) {
  Diagnostics d;
  EXPECT_FALSE(ParseDaemonConfig("service = \"x\"\n[[trigger]]\nname = \"a\"\n", "r.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(),
            "r.toml: this is a rule file, not a daemon config; check it with `rollbackd check "
            "r.toml`, or name it in [daemon].rules");
}

TEST(ConfigFileKindTest, ADaemonConfigGivenAsARuleFile) {
  Diagnostics d;
  EXPECT_FALSE(ParseRuleFile("[daemon]\ninterval = \"15s\"\n[prometheus.default]\nurl = \"x\"\n",
                             "rollbackd.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(),
            "rollbackd.toml: this is a daemon config (rollbackd.toml), not a rule file; check it "
            "with `rollbackd check --config rollbackd.toml`");
}

TEST(ConfigFileKindTest, ARuleTestFileGivenAsARuleFile) {
  Diagnostics d;
  EXPECT_FALSE(ParseRuleFile("rule_file = \"../x.toml\"\n[[test]]\nname = \"t\"\n", "t.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_NE(d.all()[0].message.find("run it with `rollbackd test t.toml`"), std::string::npos);
}

TEST(ConfigFileKindTest, AMixedUpDaemonConfigStillGetsItsOwnErrors) {
  Diagnostics d;
  EXPECT_FALSE(ParseDaemonConfig("service = \"x\"\n[daemon]\ninterval = \"15s\"\n", "d.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(), "d.toml:1:1: service: unknown key");
}

TEST(ConfigFileKindTest, AFolderIsNamedAsSuch) {
  Diagnostics d;
  EXPECT_FALSE(LoadRuleFiles({"/tmp"}, &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(), "/tmp: is a folder; give files (e.g. rules/*.toml)");
}

TEST(ConfigFileKindTest, AFileNamedTwiceIsReadOnce) {
  char tmpl[] = "/tmp/rollbackd-twice-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/a.toml") << "service = \"a\"\n";
  Diagnostics d;
  auto config = LoadRuleFiles({dir + "/a.toml", dir + "/./a.toml"}, &d);
  ASSERT_TRUE(config) << (d.all().empty() ? "" : d.all()[0].ToString());
  EXPECT_EQ(config->services.size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rollbackd
