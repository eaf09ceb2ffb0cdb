// rollbackd.toml (ParseDaemonConfig): [channel.*] and [[route]], with the channels' delivery
// options, templates and resend, and the routes' group_wait and send_resolved. One test per
// validation rule, each asserting the exact file:line:column, key and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::daemonconfig {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

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

// Found by fuzz/daemon_config_fuzz.cc: a back-reference or a repeat count with many digits
// ((x)\8888888888888888888, x{99999999999999999999}) overflowed a long inside libstdc++'s regex
// compiler (undefined behaviour) while the loader checked the route. RE2, whose syntax
// Alertmanager's matchers use, has neither back-references nor counts above 1000: both are
// errors now, before std::regex sees them.
TEST(ConfigDaemonTest, RouteRegexesWithBackReferencesOrHugeRepeatCountsAreErrors) {
  using ::testing::AllOf;
  using ::testing::HasSubstr;
  auto p = Parse(R"([channel.x]
type = "log"
[[route]]
match_re = { a = '(x)\8888888888888888888', b = 'x{99999999999999999999}', c = 'x{2,1001}', d = '(x)\1' }
channels = ["x"]
)");
  const auto bad = [](const std::string& key, const std::string& why) {
    return AllOf(HasSubstr(": route[0].match_re." + key + ": invalid regular expression "),
                 HasSubstr(why));
  };
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(bad("a", ": back-references (\\1) are not supported"),
                  bad("b", "x{99999999999999999999}\": a repeat count above 1000 (RE2's limit)"),
                  bad("c", "x{2,1001}\": a repeat count above 1000"),
                  bad("d", ": back-references (\\1) are not supported")));
  // What RE2 takes still loads: counts up to 1000, escapes, \0, braces and digits in a class.
  auto ok = Parse(R"([channel.x]
type = "log"
[[route]]
match_re = { a = 'x{1000}', b = 'x{0,1000}y{3,}', c = '\.5\d{2}\0', d = '[{9999]{2}[\]{]' }
channels = ["x"]
)");
  EXPECT_THAT(Lines(ok.diags), IsEmpty());
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

}  // namespace
}  // namespace rollbackd::configtest::daemonconfig
