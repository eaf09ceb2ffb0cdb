#include "daemon/runtime/secrets.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/io/fd_io.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

// The log lines LoadSecrets writes, with the default logger swapped for the test.
std::vector<std::string> LoadAndLog(const Config& config, std::vector<std::string>* errors) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  auto secrets = LoadSecrets(config, errors);
  spdlog::set_default_logger(previous);
  EXPECT_TRUE(secrets.has_value());
  return sink->last_formatted();
}

TEST(SecretsTest, ASecretEveryUserCanReadLoadsWithAWarningThatNamesIt) {
  testutil::TempDir dir;
  const std::string token = dir.Write("api.token", "s3cret\n");
  Config config;
  config.daemon.api_token_file = token;

  ASSERT_EQ(::chmod(token.c_str(), 0640), 0);
  EXPECT_FALSE(ReadableByOthers(token));
  std::vector<std::string> errors;
  EXPECT_TRUE(LoadAndLog(config, &errors).empty());

  ASSERT_EQ(::chmod(token.c_str(), 0644), 0);
  EXPECT_TRUE(ReadableByOthers(token));
  const std::vector<std::string> lines = LoadAndLog(config, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("daemon.api_token_file: " + token + " is readable by every user"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[0].find("s3cret"), std::string::npos);  // the path, never the secret
}

TEST(SecretsTest, APrometheusTokenEveryUserCanReadWarnsToo) {
  testutil::TempDir dir;
  const std::string token = dir.Write("prom.token", "t0ken\n");
  ASSERT_EQ(::chmod(token.c_str(), 0604), 0);
  Config config;
  PrometheusSource src;
  src.name = "default";
  src.url = "http://127.0.0.1:9090";
  src.bearer_token_file = token;
  config.sources.push_back(src);
  std::vector<std::string> errors;
  const std::vector<std::string> lines = LoadAndLog(config, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("prometheus.default.bearer_token_file: " + token + " is readable"),
            std::string::npos)
      << lines[0];
}

}  // namespace
}  // namespace rollbackd
