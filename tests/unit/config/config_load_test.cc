// What spans files (ValidateConfig), loading from disk (LoadConfig with its rule globs,
// LoadRuleFiles), the diagnostics' order, and files given in the wrong place. Each test asserts the
// exact file:line:column, key and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd::configtest::daemonconfig {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testutil::TempDir;

// A rule file for service `name` whose one trigger reads from `source`.
std::string RuleFile(const std::string& name, const std::string& source = "default") {
  return "service = \"" + name + "\"\n[[trigger]]\nname = \"t\"\nquery = \"up\"\nsource = \"" +
         source + "\"\nabove = 1\nfor = \"1m\"\n";
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
    t.name = std::string("t").append(std::to_string(s.triggers.size()));
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

// An empty (or truncated) rollbackd.toml is valid TOML and a valid configuration: it must not
// load quietly into a daemon that watches nothing.
TEST(ConfigDaemonTest, LoadConfigWarnsLoudlyWhenNothingIsWatched) {
  TempDir dir;
  std::string config = dir.Write("rollbackd.toml", "");
  Diagnostics empty;
  auto c = LoadConfig(config, &empty);
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(Lines(empty),
              ElementsAre(config + ":1:1: warning: daemon.rules: no services: no rule files are "
                                   "named, so rollbackd watches nothing and rolls nothing back "
                                   "(set daemon.rules, e.g. [\"/etc/rollbackd/rules.d/*.toml\"])"));

  dir.Write("rollbackd.toml", "[daemon]\nrules = [\"none/*.toml\"]\n");
  Diagnostics unmatched;
  ASSERT_TRUE(LoadConfig(config, &unmatched).has_value());
  EXPECT_THAT(Lines(unmatched),
              ElementsAre(config + ":2:9: warning: daemon.rules: no services: no rule file "
                                   "defines one, so rollbackd watches nothing and rolls nothing "
                                   "back",
                          HasSubstr("2:10: warning: daemon.rules[0]: no rule file matches")));
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
  Diagnostic no_column;
  no_column.where = {"c.toml", 4, 0};
  no_column.key = "key";
  no_column.message = "msg";
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
}  // namespace rollbackd::configtest::daemonconfig
