// CheckRoutes: one test per warning, each asserting file:line, key and message, and tests that a
// sensible configuration (the repository's examples included) gets no warning at all.
#include "daemon/config/route_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/engine/event.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kFile[] = "/etc/rollbackd/rollbackd.toml";
constexpr char kCheckoutFile[] = "/etc/rollbackd/rules.d/checkout.toml";
constexpr char kOrdersFile[] = "/etc/rollbackd/rules.d/orders.toml";

// A service with a rollback hook: a critical trigger and a (warning) health check, both rolling
// back.
constexpr char kCheckout[] = R"(service = "checkout"
labels = { team = "payments" }
[[trigger]]
name = "error_rate"
query = "x"
above = 0.02
for = "1m"
severity = "critical"
[[health]]
name = "ready"
url = "http://127.0.0.1:8080/ready"
for = "30s"
[rollback]
exec = ["true"]
)";

// An alert-only service with one warning trigger.
constexpr char kOrders[] = R"(service = "orders"
[[trigger]]
name = "backlog"
query = "y"
above = 5
for = "5m"
severity = "warning"
)";

// The daemon config `text` with the rule files given (none: no services loaded). Every input must
// be valid; only CheckRoutes' own warnings are returned, as "file:line: key: message" lines.
std::vector<std::string> Check(std::string_view text,
                               std::vector<std::pair<const char*, const char*>> rule_files = {
                                   {kCheckoutFile, kCheckout}, {kOrdersFile, kOrders}}) {
  Diagnostics parse;
  std::optional<Config> config = ParseDaemonConfig(text, kFile, &parse);
  for (const auto& [file, rules] : rule_files) {
    if (auto s = ParseRuleFile(rules, file, &parse)) config->services.push_back(std::move(*s));
  }
  EXPECT_TRUE(parse.all().empty()) << parse.all()[0].ToString();
  if (!config) return {"<invalid config>"};
  Diagnostics d;
  CheckRoutes(*config, &d);
  EXPECT_EQ(d.error_count(), 0) << "CheckRoutes only warns";
  std::vector<std::string> out;
  for (const Diagnostic& x : d.Sorted()) out.push_back(x.ToString());
  return out;
}

std::string At(const std::string& file, const std::string& line_key_message) {
  return file + ":" + line_key_message;
}
std::string At(const std::string& line_key_message) { return At(kFile, line_key_message); }

constexpr char kChannels[] = R"([channel.oncall]
type = "webhook"
url = "https://hooks.example.com"
[channel.journal]
type = "log"
)";

// ---- configurations that deserve no warning ----

TEST(RouteCheckTest, ACatchAllRouteWarnsAboutNothing) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match = { severity = "critical" }
channels = ["oncall"]
continue = true
[[route]]
channels = ["journal"]
)"),
              IsEmpty());
}

TEST(RouteCheckTest, RoutesBySeverityThatCoverEverythingWarnAboutNothing) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match = { severity = "critical" }
channels = ["oncall"]
[[route]]
match_re = { severity = "warning|info" }
channels = ["journal"]
)"),
              IsEmpty());
}

TEST(RouteCheckTest, TriggerPendingLeftUnroutedIsNotWarnedAbout) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match_re = { event = "trigger\\.(firing|resolved)|rollback\\..*|source\\..*" }
channels = ["oncall", "journal"]
)"),
              IsEmpty());
}

// ---- (a) routes that never match ----

TEST(RouteCheckTest, AMatchOnAValueNoEventHas) {
  EXPECT_THAT(
      Check(std::string(kChannels) + R"([[route]]
match = { severity = "crit" }
channels = ["oncall"]
[[route]]
match = { event = "rollback.start" }
channels = ["oncall"]
[[route]]
match_re = { event = "rollbacks\\..*" }
channels = ["oncall"]
[[route]]
match_re = { severity = "error|fatal" }
channels = ["oncall"]
[[route]]
channels = ["journal"]
)"),
      ElementsAre(
          At("6:1: warning: route[0]: match.severity = \"crit\" is not a severity (info, warning, "
             "critical); this route never matches"),
          At("9:1: warning: route[1]: match.event = \"rollback.start\" is not an event kind "
             "(trigger.pending, trigger.firing, trigger.resolved, rollback.started, "
             "rollback.succeeded, rollback.failed, rollback.verified, rollback.not_recovered, "
             "rollback.skipped, source.down, source.up, cluster.down, cluster.up, fleet.brake, "
             "fleet.brake_released); this route "
             "never matches"),
          At("12:1: warning: route[2]: match_re.event = \"rollbacks\\..*\" matches no event kind "
             "(trigger.pending, trigger.firing, trigger.resolved, rollback.started, "
             "rollback.succeeded, rollback.failed, rollback.verified, rollback.not_recovered, "
             "rollback.skipped, source.down, source.up, cluster.down, cluster.up, fleet.brake, "
             "fleet.brake_released); this route "
             "never matches"),
          At("15:1: warning: route[3]: match_re.severity = \"error|fatal\" matches no severity "
             "(info, warning, critical); this route never matches")));
}

TEST(RouteCheckTest, EveryEngineEventKindIsAKnownName) {
  std::string routes(kChannels);
  for (int k = 0; k < kAllEventKindCount; ++k) {
    routes += "[[route]]\nmatch = { event = \"" +
              std::string(EventKindName(static_cast<EventKind>(k))) +
              "\" }\nchannels = [\"oncall\"]\n";
  }
  routes += "[[route]]\nchannels = [\"journal\"]\n";
  EXPECT_THAT(Check(routes), IsEmpty());
  // And the other way: every name the check knows is one the engine parses.
  for (std::string_view name :
       {"trigger.pending", "trigger.firing", "trigger.resolved", "rollback.started",
        "rollback.succeeded", "rollback.failed", "rollback.verified", "rollback.not_recovered",
        "rollback.skipped", "source.down", "source.up", "cluster.down", "cluster.up", "fleet.brake",
        "fleet.brake_released"}) {
    EXPECT_TRUE(ParseEventKind(name).has_value()) << name;
  }
}

TEST(RouteCheckTest, ServiceAndTriggerNamesAreCheckedWhenServicesAreLoaded) {
  const std::string text = std::string(kChannels) + R"([[route]]
match = { service = "chekout" }
channels = ["oncall"]
[[route]]
match_re = { service = "pay.*" }
channels = ["oncall"]
[[route]]
match = { trigger = "eror_rate" }
channels = ["oncall"]
[[route]]
match = { service = "checkout", trigger = "backlog" }
channels = ["oncall"]
[[route]]
channels = ["journal"]
)";
  EXPECT_THAT(
      Check(text),
      ElementsAre(At("6:1: warning: route[0]: match.service = \"chekout\" names no configured "
                     "service (checkout, orders); this route never matches"),
                  At("9:1: warning: route[1]: match_re.service = \"pay.*\" matches no service "
                     "(checkout, orders); this route never matches"),
                  At("12:1: warning: route[2]: match.trigger = \"eror_rate\" names no trigger or "
                     "health check of any service (backlog, error_rate, ready); this route never "
                     "matches")));
  // Without rule files nothing is known about services: no warning about their names.
  EXPECT_THAT(Check(text, {}), IsEmpty());
}

TEST(RouteCheckTest, MatchersThatExcludeEachOther) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match = { severity = "critical" }
match_re = { severity = "warning|info" }
channels = ["oncall"]
[[route]]
channels = ["journal"]
)"),
              ElementsAre(At("6:1: warning: route[0]: the matchers on \"severity\" exclude each "
                             "other (no severity passes them all); this route never matches")));
}

TEST(RouteCheckTest, ARouteWithoutMatchersShadowsEveryLaterRoute) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
channels = ["journal"]
[[route]]
match = { severity = "critical" }
channels = ["oncall"]
)"),
              ElementsAre(At("8:1: warning: route[1]: this route never matches: route[0] (line 6) "
                             "comes first, takes every event it would, and has no `continue`")));
}

TEST(RouteCheckTest, AnEarlierRouteWithASubsetOfTheMatchersShadows) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match = { team = "payments" }
channels = ["oncall"]
[[route]]
match = { team = "payments", env = "prod" }
channels = ["journal"]
[[route]]
match = { env = "prod" }
channels = ["journal"]
[[route]]
channels = ["journal"]
)"),
              ElementsAre(At("9:1: warning: route[1]: this route never matches: route[0] (line 6) "
                             "comes first, takes every event it would, and has no `continue`")));
}

TEST(RouteCheckTest, KnownValuesDecideShadowingByWhatTheyAccept) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match_re = { severity = "warning|critical", event = "rollback\\..*" }
channels = ["oncall"]
[[route]]
match = { severity = "critical", event = "rollback.failed" }
channels = ["oncall"]
[[route]]
match = { event = "rollback.failed" }
channels = ["oncall"]
[[route]]
channels = ["journal"]
)"),
              ElementsAre(At("9:1: warning: route[1]: this route never matches: route[0] (line 6) "
                             "comes first, takes every event it would, and has no `continue`")));
}

TEST(RouteCheckTest, ARouteWithContinueShadowsNothing) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
channels = ["journal"]
continue = true
[[route]]
match = { severity = "critical" }
channels = ["oncall"]
[[route]]
channels = ["journal"]
)"),
              IsEmpty());
}

// ---- (b) events that no route takes ----

TEST(RouteCheckTest, EventsNoRouteTakesAreListedPerService) {
  EXPECT_THAT(
      Check(std::string(kChannels) + R"([[route]]
match = { severity = "critical" }
channels = ["oncall", "journal"]
)"),
      ElementsAre(
          At(kCheckoutFile,
             "1:11: warning: route: service \"checkout\": no route takes trigger.firing, "
             "trigger.resolved, rollback.started, rollback.succeeded, rollback.verified, "
             "rollback.skipped of health check \"ready\" (warning) and source.down, source.up; "
             "these events reach no channel"),
          At(kOrdersFile,
             "1:11: warning: route: service \"orders\": no route takes trigger.firing, "
             "trigger.resolved, source.down, source.up; these events reach no channel")));
}

TEST(RouteCheckTest, LabelsFromPrometheusSeriesMightMatch) {
  // `region` can only come from a query's series: trigger events might carry it, health checks
  // and source.down/up (about the query, not a series) never do.
  EXPECT_THAT(
      Check(std::string(kChannels) + R"([[route]]
match = { region = "eu" }
channels = ["oncall", "journal"]
)"),
      ElementsAre(At(kCheckoutFile,
                     "1:11: warning: route: service \"checkout\": no route takes trigger.firing, "
                     "trigger.resolved, rollback.started, rollback.succeeded, rollback.failed, "
                     "rollback.verified, rollback.not_recovered, rollback.skipped of health "
                     "check \"ready\" (warning) and source.down, source.up; these events reach "
                     "no channel"),
                  At(kOrdersFile,
                     "1:11: warning: route: service \"orders\": no route takes source.down, "
                     "source.up; these events reach no channel")));
}

TEST(RouteCheckTest, ServiceLabelsAreKnownAndWinOverSeriesLabels) {
  // checkout's events all carry team = "payments" whatever the series say; orders sets no team,
  // so its trigger's series might.
  EXPECT_THAT(
      Check(std::string(kChannels) + R"([[route]]
match = { team = "search" }
channels = ["oncall", "journal"]
)"),
      ElementsAre(At(kCheckoutFile,
                     "1:11: warning: route: service \"checkout\": no route takes trigger.firing, "
                     "trigger.resolved, rollback.started, rollback.succeeded, rollback.failed, "
                     "rollback.verified, rollback.not_recovered, rollback.skipped, source.down, "
                     "source.up; these events reach no channel"),
                  At(kOrdersFile,
                     "1:11: warning: route: service \"orders\": no route takes source.down, "
                     "source.up; these events reach no channel")));
}

TEST(RouteCheckTest, RollbackFailuresAreCriticalWhateverTheTriggerSeverity) {
  // Only critical events are routed: the health check's (warning) rollback.failed and
  // rollback.not_recovered are critical and so taken.
  auto lines = Check(std::string(kChannels) + R"([[route]]
match = { severity = "critical" }
channels = ["oncall", "journal"]
)");
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines[0], Not(HasSubstr("rollback.failed")));
  EXPECT_THAT(lines[0], Not(HasSubstr("rollback.not_recovered")));
}

TEST(RouteCheckTest, AlertOnlyServicesProduceNoRollbackEvents) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
match_re = { event = "trigger\\..*|source\\..*" }
channels = ["oncall", "journal"]
)",
                    {{kOrdersFile, kOrders}}),
              IsEmpty());
}

// ---- no routes at all ----

TEST(RouteCheckTest, ChannelsWithoutAnyRoute) {
  EXPECT_THAT(Check(kChannels),
              ElementsAre(std::string(kFile) +
                          ": warning: route: no [[route]]: channels \"journal\", \"oncall\" "
                          "receive nothing; events are only logged and written to the decision "
                          "log"));
}

TEST(RouteCheckTest, RollbackHooksWithoutAnyChannel) {
  EXPECT_THAT(Check("[daemon]\n"),
              ElementsAre(std::string(kFile) +
                          ": warning: route: no [channel.*] and no [[route]]: events, rollbacks "
                          "included, are only logged and written to the decision log"));
  // Alert-only services and no channel: nothing to say.
  EXPECT_THAT(Check("[daemon]\n", {{kOrdersFile, kOrders}}), IsEmpty());
  EXPECT_THAT(Check("", {}), IsEmpty());
}

// ---- channels and options ----

TEST(RouteCheckTest, AChannelNoRouteNames) {
  EXPECT_THAT(Check(std::string(kChannels) + R"([[route]]
channels = ["journal"]
)"),
              ElementsAre(At("1:1: warning: channel.oncall: no [[route]] names this channel; it "
                             "receives nothing")));
}

TEST(RouteCheckTest, SendResolvedFalseDoesNotApplyToAlertmanager) {
  EXPECT_THAT(
      Check(std::string(kChannels) + R"([channel.am]
type = "alertmanager"
url = "http://127.0.0.1:9093"
[[route]]
channels = ["oncall", "am"]
send_resolved = false
continue = true
[[route]]
channels = ["journal"]
send_resolved = false
)"),
      ElementsAre(At("9:1: warning: route[0]: send_resolved = false does not apply to "
                     "alertmanager channel \"am\": Alertmanager always receives resolutions "
                     "(without them its alerts stay active until they expire)")));
}

// ---- through LoadConfig: what `rollbackd check --config` and the daemon print ----

using testutil::TempDir;

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(ROLLBACKD_SOURCE_DIR) + "/" + relative);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The repository's example configuration laid out as the package installs it, with the example
// rule files of rules/ copied into its rules.d/, as an operator would start.
std::optional<Config> LoadExampleConfig(const TempDir& dir, std::string_view config_text,
                                        Diagnostics* d) {
  const std::string config = dir.Write("rollbackd.toml", config_text);
  for (const auto& entry : fs::directory_iterator(std::string(ROLLBACKD_SOURCE_DIR) + "/rules")) {
    if (entry.path().extension() != ".toml") continue;
    const std::string name = entry.path().filename().string();
    dir.Write("rules.d/" + name, ReadSourceFile("rules/" + name));
  }
  return LoadConfig(config, d);
}

TEST(RouteCheckTest, TheRepositoryExampleConfigHasNoWarnings) {
  TempDir dir;
  Diagnostics d;
  auto config = LoadExampleConfig(dir, ReadSourceFile("systemd/rollbackd.toml"), &d);
  ASSERT_TRUE(config.has_value());
  EXPECT_GE(config->services.size(), 3u);
  std::vector<std::string> lines;
  for (const Diagnostic& x : d.Sorted()) lines.push_back(x.ToString());
  EXPECT_THAT(lines, IsEmpty());
}

// The channels, routes and API token the example leaves commented out (they need secrets and
// receivers) must work once uncommented: "#key" lines are commented TOML, "# text" is prose.
TEST(RouteCheckTest, TheRepositoryExampleConfigUncommentedHasNoWarnings) {
  std::istringstream in(ReadSourceFile("systemd/rollbackd.toml"));
  std::string text, line;
  while (std::getline(in, line)) {
    if (line.size() >= 2 && line[0] == '#' && line[1] != ' ' && line[1] != '#') line.erase(0, 1);
    if (line == "#") line.clear();
    text += line + "\n";
  }
  TempDir dir;
  Diagnostics d;
  auto config = LoadExampleConfig(dir, text, &d);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->channels.size(), 4u);
  EXPECT_EQ(config->routes.size(), 4u);
  EXPECT_FALSE(config->daemon.api_token_file.empty());
  std::vector<std::string> lines;
  for (const Diagnostic& x : d.Sorted()) lines.push_back(x.ToString());
  EXPECT_THAT(lines, IsEmpty());
}

TEST(RouteCheckTest, LoadConfigReportsRouteWarningsAndKeepsTheConfig) {
  TempDir dir;
  const std::string config = dir.Write("rollbackd.toml", R"([daemon]
rules = ["rules.d/*.toml"]
[prometheus.default]
url = "http://127.0.0.1:9090"
[channel.journal]
type = "log"
[[route]]
match = { service = "chekout" }
channels = ["journal"]
)");
  const std::string rules = dir.Write("rules.d/checkout.toml", kCheckout);
  Diagnostics d;
  auto c = LoadConfig(config, &d);
  ASSERT_TRUE(c.has_value()) << "warnings do not reject a configuration";
  EXPECT_EQ(d.error_count(), 0);
  std::vector<std::string> lines;
  for (const Diagnostic& x : d.Sorted()) lines.push_back(x.ToString());
  EXPECT_THAT(lines,
              ElementsAre(config + ":7:1: warning: route[0]: match.service = \"chekout\" names no "
                                   "configured service (checkout); this route never matches",
                          rules + ":1:11: warning: route: service \"checkout\": no route takes "
                                  "trigger.firing, trigger.resolved, rollback.started, "
                                  "rollback.succeeded, rollback.failed, rollback.verified, "
                                  "rollback.not_recovered, rollback.skipped, source.down, "
                                  "source.up; these events reach no channel"));
}

TEST(RouteCheckTest, LoadConfigSkipsRouteAdviceWhenThereAreErrors) {
  TempDir dir;
  const std::string config = dir.Write("rollbackd.toml", R"([daemon]
rules = ["rules.d/*.toml"]
[prometheus.default]
url = "http://127.0.0.1:9090"
[channel.journal]
type = "log"
)");
  dir.Write("rules.d/checkout.toml", std::string(kCheckout) + "typo = 1\n");
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(config, &d).has_value());
  for (const Diagnostic& x : d.all()) EXPECT_EQ(x.level, Diagnostic::Level::kError) << x.ToString();
}

}  // namespace
}  // namespace rollbackd
