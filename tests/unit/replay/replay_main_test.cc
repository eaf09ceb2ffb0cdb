// `rollbackd replay`'s command line without a Prometheus: help, and every bad flag, time, service
// or file refused with a clear message and its exit status before anything is read.
#include "daemon/replay/replay_main.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

class ReplayMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/rules");
    Write("rollbackd.toml",
          "[daemon]\nrules = [\"rules/*.toml\"]\ninterval = \"15s\"\n"
          "[prometheus.default]\nurl = \"http://127.0.0.1:1\"\n" +
              extra_);
    Write("rules/shop.toml",
          "service = \"shop\"\n[[trigger]]\nname = \"errors\"\nquery = 'up'\nabove = 1\n"
          "for = \"1m\"\n");
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() + "/" + name) << text;
  }
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return ReplayMain(args, out_, err_);
  }
  std::string config() const { return dir_.path() + "/rollbackd.toml"; }

  testutil::TempDir dir_;
  std::string extra_;
  std::ostringstream out_, err_;
};

TEST_F(ReplayMainTest, HelpPrintsTheUsageAndExitsZero) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_NE(out_.str().find("usage: rollbackd replay --config FILE"), std::string::npos);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ReplayMainTest, BadFlagsAndTimesExitTwoWithTheReason) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--from", "-1h", "--to", "now"}, "--config FILE is required"},
      {{"--config", config(), "--to", "now"}, "--from and --to are required"},
      {{"--config", config(), "--from", "last week", "--to", "now"},
       "--from: \"last week\" is not a time"},
      {{"--config", config(), "--from", "-1h", "--to", "-1x"},
       "--to: \"-1x\" is not a relative time"},
      {{"--config", config(), "--from", "now", "--to", "-1h"}, "is before --from"},
      {{"--config", config(), "--from", "-1h", "--to", "now", "--step", "0s"}, "--step: \"0s\""},
      {{"--config", config(), "--from", "-1h", "--to", "now", "--hook", "maybe"},
       "--hook must be success or failure"},
      {{"--config", config(), "--from", "-1h", "--to", "now", "--format", "yaml"},
       "--format must be text or json"},
      {{"--config", config(), "--from", "-1h", "--to", "now", "--service", "cart"},
       "no service \"cart\" in " + config() + " (known: shop)"},
      {{"--config", config(), "--from", "-1000d", "--to", "now", "--step", "1s"},
       "more than 5000000 steps of 1s for shop"},
      {{"--config", config(), "--from"}, "--from needs a value"},
      {{"--config", config(), "--frm", "-1h"}, "unknown option --frm"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Run(c.args), 2) << c.says;
    EXPECT_NE(err_.str().find(c.says), std::string::npos) << err_.str();
    EXPECT_NE(err_.str().find("usage:"), std::string::npos);
  }
}

TEST_F(ReplayMainTest, AnUnreadableSecretFileExitsOneNamingTheKeyNotTheContent) {
  Write("rollbackd.toml",
        "[daemon]\nrules = [\"rules/*.toml\"]\n[prometheus.default]\nurl = \"http://127.0.0.1:1\"\n"
        "bearer_token_file = \"missing.token\"\n");
  EXPECT_EQ(Run({"--config", config(), "--from", "-1h", "--to", "now"}), 1);
  EXPECT_NE(err_.str().find("prometheus.default.bearer_token_file"), std::string::npos)
      << err_.str();
}

TEST_F(ReplayMainTest, AConfigurationWithErrorsExitsOneWithItsDiagnostics) {
  Write("rules/shop.toml", "service = \"shop\"\n[[trigger]]\nname = \"errors\"\n");
  EXPECT_EQ(Run({"--config", config(), "--from", "-1h", "--to", "now"}), 1);
  EXPECT_NE(err_.str().find("shop.toml"), std::string::npos) << err_.str();
}

TEST_F(ReplayMainTest, AQueryErrorIsReportedWithItsStepsAndTheQueryNeverABreach) {
  // Nothing listens on port 1: every request fails with a connection error.
  EXPECT_EQ(
      Run({"--config", config(), "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:10:00Z"}),
      0)
      << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("query errors (never a breach, as live):\n    2026-01-01T00:00:00.000Z to "
                      "2026-01-01T00:10:00.000Z (41 steps) shop/errors [default] up: "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("source.down"), std::string::npos) << text;
  EXPECT_EQ(text.find("trigger.firing"), std::string::npos) << text;
}

}  // namespace
}  // namespace rollbackd
