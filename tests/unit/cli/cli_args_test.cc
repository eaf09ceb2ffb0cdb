// Argument parsing and usage of every command: --help and -h print the command's usage on stdout
// and exit 0; a usage error says what is wrong on stderr and exits 2. The binary itself is run.
#include <gtest/gtest.h>

#include "daemon/cli/args.h"
#include "daemon/cli/usage.h"
#include "testing/cli_run.h"

namespace rollbackd {
namespace {

using testutil::RunRollbackd;

TEST(CliArgsTest, ValuesSwitchesPositionalsAndTheEndOfOptions) {
  ParsedArgs p;
  std::string error;
  ASSERT_TRUE(ParseArgs({"--url=http://x:1", "shop", "--json", "--config", "c.toml", "--", "--v2"},
                        {{"--url", "--config"}, {"--json"}}, &p, &error))
      << error;
  EXPECT_EQ(p.values["--url"], "http://x:1");
  EXPECT_EQ(p.values["--config"], "c.toml");
  EXPECT_EQ(p.switches.count("--json"), 1u);
  EXPECT_EQ(p.positional, (std::vector<std::string>{"shop", "--v2"}));
  EXPECT_FALSE(p.help);
}

TEST(CliArgsTest, ProblemsAreNamed) {
  std::string error;
  ParsedArgs a;
  EXPECT_FALSE(ParseArgs({"--url"}, {{"--url"}, {}}, &a, &error));
  EXPECT_EQ(error, "--url needs a value");
  ParsedArgs b;
  EXPECT_FALSE(ParseArgs({"--url="}, {{"--url"}, {}}, &b, &error));
  EXPECT_EQ(error, "--url needs a value");
  ParsedArgs c;
  EXPECT_FALSE(ParseArgs({"--jsn"}, {{}, {"--json"}}, &c, &error));
  EXPECT_EQ(error, "unknown option --jsn");
  ParsedArgs d;
  EXPECT_FALSE(ParseArgs({"--json=1"}, {{}, {"--json"}}, &d, &error));
}

TEST(CliArgsTest, HelpWinsOverEveryOtherProblemButNotAfterTheEndOfOptions) {
  std::string error;
  ParsedArgs a;
  EXPECT_TRUE(ParseArgs({"--bogus", "-h"}, {{}, {}}, &a, &error));
  EXPECT_TRUE(a.help);
  ParsedArgs b;
  EXPECT_TRUE(ParseArgs({"--", "--help"}, {{}, {}}, &b, &error));
  EXPECT_FALSE(b.help);
  EXPECT_EQ(b.positional, std::vector<std::string>{"--help"});
}

class CommandHelpTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CommandHelpTest, HelpPrintsTheCommandsUsageOnStdoutAndExitsZero) {
  const std::string command = GetParam();
  ASSERT_NE(CommandUsage(command), nullptr);
  for (const char* flag : {"--help", "-h"}) {
    const testutil::CliRun r = RunRollbackd({command, flag});
    EXPECT_EQ(r.exit, 0) << command << " " << flag << ": " << r.err;
    EXPECT_EQ(r.out, CommandUsage(command)) << command << " " << flag;
    EXPECT_EQ(r.out.rfind("usage: rollbackd " + command, 0), 0u) << r.out;
    EXPECT_EQ(r.err, "") << command << " " << flag;
  }
  const testutil::CliRun r = RunRollbackd({"help", command});
  EXPECT_EQ(r.exit, 0);
  EXPECT_EQ(r.out, CommandUsage(command));
}

INSTANTIATE_TEST_SUITE_P(EveryCommand, CommandHelpTest,
                         ::testing::Values("run", "check", "test", "version", "status", "pause",
                                           "resume", "deploy", "help"));

TEST(CliHelpTest, TopLevelHelpListsEveryCommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}}) {
    const testutil::CliRun r = RunRollbackd(args);
    EXPECT_EQ(r.exit, 0) << args[0];
    EXPECT_EQ(r.out, kTopUsage) << args[0];
  }
  for (const char* command :
       {"run", "check", "test", "status", "pause", "resume", "deploy", "version", "help"}) {
    EXPECT_NE(std::string(kTopUsage).find(std::string("\n  ") + command + " "), std::string::npos)
        << command;
  }
  const testutil::CliRun none = RunRollbackd({});
  EXPECT_EQ(none.exit, 2);
  EXPECT_EQ(none.err, kTopUsage);
  const testutil::CliRun unknown = RunRollbackd({"help", "frobnicate"});
  EXPECT_EQ(unknown.exit, 2);
  EXPECT_NE(unknown.err.find("unknown command frobnicate"), std::string::npos);
}

TEST(CliHelpTest, HelpWinsOverAMissingArgument) {
  // `test` without files is a usage error, and once was "unknown option --help".
  const testutil::CliRun r = RunRollbackd({"test", "-v", "--help"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, CommandUsage("test"));
  EXPECT_EQ(RunRollbackd({"deploy", "--help", "shop"}).exit, 0);
  EXPECT_EQ(RunRollbackd({"pause", "--url", "http://127.0.0.1:1", "-h"}).exit, 0);
}

struct UsageCase {
  std::vector<std::string> args;
  std::string message;
};

TEST(CliUsageTest, UsageErrorsNameTheProblemOnStderrAndExitTwo) {
  const std::vector<UsageCase> cases = {
      {{"status", "--bogus"},
       "rollbackd status: unknown option --bogus\n\nusage: rollbackd status"},
      {{"status", "shop"},
       "rollbackd status: unexpected argument shop (one service: --service NAME)"},
      {{"status", "--url"}, "rollbackd status: --url needs a value"},
      {{"pause"}, "rollbackd pause: pause needs one SERVICE\n\nusage: rollbackd pause"},
      {{"resume", "a", "b"}, "rollbackd resume: resume needs one SERVICE"},
      {{"deploy", "shop"}, "rollbackd deploy: deploy needs SERVICE and VERSION"},
      {{"pause", ".."}, "rollbackd pause: not a service name: .."},
      {{"pause", "a/b"}, "rollbackd pause: not a service name: a/b"},
      {{"deploy", "shop?x=1", "v2"}, "rollbackd deploy: not a service name: shop?x=1"},
      {{"deploy", "shop", ""}, "rollbackd deploy: VERSION must not be empty"},
      {{"test", "--bogus"}, "rollbackd: unknown option --bogus"},
      {{"run"}, "rollbackd: run needs --config FILE"},
      {{"check"}, "rollbackd: check takes either --config FILE or rule files"},
  };
  for (const UsageCase& c : cases) {
    const testutil::CliRun r = RunRollbackd(c.args);
    EXPECT_EQ(r.exit, 2) << c.args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind(c.message, 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace rollbackd
