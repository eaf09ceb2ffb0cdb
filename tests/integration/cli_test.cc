// The operator CLI against a real `rollbackd run` (a real Prometheus scraping the sample service):
// status shows what the daemon decides as it happens, pause/deploy/resume change it with the
// config's token, and the exit statuses are the documented ones, including a daemon that is down.
#include <gtest/gtest.h>

#include "testing/cli_run.h"
#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using testutil::CliRun;
using testutil::RunRollbackd;

TEST(CliIntegration, StatusPauseDeployResumeAgainstALiveDaemon) {
  Stack s(StackOptions{ErrorRateRule({.verify = ""})});
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(2));
  const std::string config = s.dir() + "/rollbackd.toml";

  CliRun status = RunRollbackd({"status", "--config", config});
  ASSERT_EQ(status.exit, 0) << status.err;
  EXPECT_EQ(status.out.rfind("SERVICE  VERSION  TRIGGER     STATE     VALUE", 0), 0u) << status.out;
  EXPECT_NE(status.out.find("\nshop     v1       error_rate  inactive  "), std::string::npos)
      << status.out;

  // The token comes from the config's api_token_file; a wrong one and none are refused.
  CliRun paused = RunRollbackd({"pause", "--config", config, "shop"});
  ASSERT_EQ(paused.exit, 0) << paused.err;
  EXPECT_EQ(paused.out.rfind("paused shop", 0), 0u) << paused.out;
  WriteFile(s.dir() + "/wrong.token", "wrong\n");
  CliRun wrong = RunRollbackd(
      {"resume", "--config", config, "--token-file", s.dir() + "/wrong.token", "shop"});
  EXPECT_EQ(wrong.exit, 4) << wrong.err;
  EXPECT_NE(wrong.err.find("refused the token from " + s.dir() + "/wrong.token (401"),
            std::string::npos)
      << wrong.err;
  CliRun none = RunRollbackd({"resume", "--url", s.daemon_url(), "shop"});
  EXPECT_EQ(none.exit, 4) << none.err;
  EXPECT_EQ(none.err.find(s.api_token()), std::string::npos);
  EXPECT_EQ(RunRollbackd({"pause", "--config", config, "nope"}).exit, 6);

  // A bad deploy fires the trigger; paused, the rollback is skipped, and status says both.
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("rollback.skipped", 30s)) << s.daemon().log();
  status = RunRollbackd({"status", "--url", s.daemon_url(), "--service", "shop"});
  ASSERT_EQ(status.exit, 0) << status.err;
  EXPECT_NE(status.out.find("\nshop     v2       error_rate  firing  0."), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\npaused: shop "), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find('\x1b'), std::string::npos);  // not a terminal
  CliRun json = RunRollbackd({"status", "--config", config, "--json"});
  ASSERT_EQ(json.exit, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["services"][0]["paused"], true);
  EXPECT_EQ(doc["services"][0]["triggers"][0]["state"], "firing");
  EXPECT_EQ(RunRollbackd({"status", "--config", config, "--service", "nope"}).exit, 1);

  CliRun deploy = RunRollbackd({"deploy", "--config", config, "shop", "v3"});
  EXPECT_EQ(deploy.exit, 0) << deploy.err;
  EXPECT_EQ(deploy.out, "recorded the deploy of shop version v3\n");
  CliRun resumed = RunRollbackd({"resume", "--config", config, "shop"});
  EXPECT_EQ(resumed.exit, 0) << resumed.err;
  json = RunRollbackd({"status", "--config", config, "--json"});
  EXPECT_EQ(nlohmann::json::parse(json.out)["services"][0]["paused"], false) << json.out;

  s.StopDaemon();
  CliRun down = RunRollbackd({"status", "--config", config});
  EXPECT_EQ(down.exit, 3);
  EXPECT_NE(down.err.find("cannot reach the daemon at " + s.daemon_url() + ": "), std::string::npos)
      << down.err;
}

}  // namespace
}  // namespace rollbackd::it
