// `match` in [[trigger]] and [deploy]: what it parses into, and the file:line:column of each
// mistake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"

namespace rollbackd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kFile[] = "rules.d/checkout.toml";

struct Parsed {
  std::optional<Service> service;
  std::vector<std::string> lines;  // every diagnostic as the user sees it, sorted
};

Parsed Parse(std::string_view text) {
  Parsed p;
  Diagnostics diags;
  p.service = ParseRuleFile(text, kFile, &diags);
  for (const Diagnostic& d : diags.Sorted()) p.lines.push_back(d.ToString());
  return p;
}

// Lines 1-6; the test's keys start at line 7.
constexpr char kTrigger[] = R"(service = "checkout"
[[trigger]]
name  = "error_rate"
query = 'sum by (service) (rate(errors_total[1m]))'
above = 0.05
for   = "1m"
)";

TEST(LoaderMatchTest, TriggerAndDeployMatchParseIntoTheModel) {
  Parsed p = Parse(std::string(kTrigger) + R"(match = { service = "checkout", env = "prod" }
[deploy]
version_query = 'max by (service, version) (app_build_info)'
match = { service = "checkout" }
)");
  ASSERT_TRUE(p.service.has_value()) << ::testing::PrintToString(p.lines);
  EXPECT_THAT(p.lines, IsEmpty());
  EXPECT_THAT(p.service->triggers.at(0).match,
              ElementsAre(Pair("env", "prod"), Pair("service", "checkout")));
  EXPECT_THAT(p.service->deploy->match, ElementsAre(Pair("service", "checkout")));
}

TEST(LoaderMatchTest, AnEmptyOrAbsentMatchIsNoFilter) {
  Parsed empty = Parse(std::string(kTrigger) + "match = {}\n");
  ASSERT_TRUE(empty.service.has_value()) << ::testing::PrintToString(empty.lines);
  EXPECT_THAT(empty.service->triggers.at(0).match, IsEmpty());
  Parsed absent = Parse(kTrigger);
  ASSERT_TRUE(absent.service.has_value());
  EXPECT_THAT(absent.service->triggers.at(0).match, IsEmpty());
}

TEST(LoaderMatchTest, BadLabelNameIsAnErrorAtTheName) {
  Parsed p = Parse(std::string(kTrigger) + R"(match = { service = "checkout", "1zone" = "a" }
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(p.lines,
              ElementsAre("rules.d/checkout.toml:7:33: trigger[0].match.1zone: invalid label name "
                          "(letters, digits and _, not starting with a digit)"));
}

TEST(LoaderMatchTest, NonStringValueIsAnErrorAtTheValue) {
  Parsed p = Parse(std::string(kTrigger) + R"(match = { service = "checkout", shard = 3 }
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(p.lines, ElementsAre("rules.d/checkout.toml:7:41: trigger[0].match.shard: expected "
                                   "a string, found an integer"));
}

TEST(LoaderMatchTest, MatchMustBeATable) {
  Parsed p = Parse(std::string(kTrigger) + R"(match = "checkout"
)");
  EXPECT_FALSE(p.service.has_value());
  ASSERT_EQ(p.lines.size(), 1u);
  EXPECT_THAT(p.lines[0], ::testing::StartsWith("rules.d/checkout.toml:7:9: trigger[0].match: "
                                                "expected a table such as { name = \"value\" }"));
}

TEST(LoaderMatchTest, DeployMatchErrorsAndNeedsAVersionQuery) {
  Parsed p = Parse(std::string(kTrigger) + R"([deploy]
guard = "30m"
match = { "service-name" = "checkout" }
)");
  EXPECT_FALSE(p.service.has_value());
  EXPECT_THAT(p.lines,
              ElementsAre("rules.d/checkout.toml:9:9: deploy.match: match filters "
                          "version_query's series; set version_query",
                          "rules.d/checkout.toml:9:11: deploy.match.service-name: invalid label "
                          "name (letters, digits and _, not starting with a digit)"));
}

TEST(LoaderMatchTest, UnknownKeysNearMatchAreStillErrors) {
  Parsed p = Parse(std::string(kTrigger) + R"(match_re = { service = "check.*" }
)");
  EXPECT_FALSE(p.service.has_value());
  ASSERT_EQ(p.lines.size(), 1u);
  EXPECT_THAT(p.lines[0],
              ::testing::StartsWith("rules.d/checkout.toml:7:1: trigger[0].match_re: unknown key"));
}

}  // namespace
}  // namespace rollbackd
