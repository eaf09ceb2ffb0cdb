#include "daemon/actions/decision_log.h"
#include "daemon/io/file_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/config/loader.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<Config> OneService() {
  Diagnostics d;
  auto s = ParseRuleFile(R"(
service = "checkout"
[[trigger]]
name = "p99"
query = 'p99'
baseline_query = 'p99 offset 1d'
above_ratio = 2
for = "0s"
[[health]]
name = "ready"
url = "http://127.0.0.1:8080/ready"
for = "0s"
)",
                         "r.toml", &d);
  auto c = std::make_shared<Config>();
  c->services.push_back(std::move(*s));
  return c;
}

class DecisionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rollbackd-decisions-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/decisions.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<nlohmann::json> Lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::string dir_, path_;
};

TEST_F(DecisionLogTest, RecordsTheEventWithTheQueriesBehindIt) {
  Engine engine(OneService());
  Event e;
  e.kind = EventKind::kTriggerFiring;
  e.id = "evt_1";
  e.service = "checkout";
  e.trigger = "p99";
  e.value = 0.9;
  e.reason = "value 0.9 > 0.4 (2 x baseline 0.2)";
  std::string error;
  auto log = DecisionLog::Open(RealFileSystem(), path_, 1 << 20, 3, &error);
  ASSERT_NE(log, nullptr) << error;
  ASSERT_TRUE(log->Record(e, engine, &error)) << error;
  e.trigger = "ready";
  ASSERT_TRUE(log->Record(e, engine, &error)) << error;
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "trigger.firing");
  EXPECT_EQ(lines[0]["reason"], "value 0.9 > 0.4 (2 x baseline 0.2)");
  EXPECT_EQ(lines[0]["queries"]["query"]["query"], "p99");
  EXPECT_EQ(lines[0]["queries"]["query"]["source"], "default");
  EXPECT_EQ(lines[0]["queries"]["baseline_query"]["query"], "p99 offset 1d");
  EXPECT_FALSE(lines[0]["queries"].contains("min_traffic_query"));
  EXPECT_EQ(lines[1]["queries"]["query"]["probe"], "http://127.0.0.1:8080/ready");
}

TEST_F(DecisionLogTest, RotatesBySizeAndKeepsAtMostKeepOldFiles) {
  Engine engine(OneService());
  Event e;
  e.service = "checkout";
  e.trigger = "p99";
  std::string error;
  auto log = DecisionLog::Open(RealFileSystem(), path_, 2000, 2, &error);
  ASSERT_NE(log, nullptr) << error;
  for (int i = 0; i < 60; ++i) {
    e.id = "evt_" + std::to_string(i);
    ASSERT_TRUE(log->Record(e, engine, &error)) << error;
  }
  EXPECT_LE(fs::file_size(path_), 2000u);
  EXPECT_TRUE(fs::exists(path_ + ".1"));
  EXPECT_TRUE(fs::exists(path_ + ".2"));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  // The newest record is last in the live file; nothing in between is lost across .1 and live.
  auto live = Lines(path_);
  auto older = Lines(path_ + ".1");
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.back()["id"], "evt_59");
  EXPECT_EQ(older.back()["id"].get<std::string>(),
            "evt_" + std::to_string(59 - static_cast<int>(live.size())));
  // Reopening continues where it was, counting the existing size.
  log.reset();
  log = DecisionLog::Open(RealFileSystem(), path_, 2000, 2, &error);
  ASSERT_NE(log, nullptr);
  e.id = "evt_60";
  ASSERT_TRUE(log->Record(e, engine, &error));
  EXPECT_LE(fs::file_size(path_), 2000u);
}

TEST_F(DecisionLogTest, AnUnwritablePathIsAnError) {
  std::string error;
  EXPECT_EQ(DecisionLog::Open(RealFileSystem(), dir_ + "/no/such/dir/log", 1000, 1, &error), nullptr);
  EXPECT_NE(error.find("open"), std::string::npos);
}

}  // namespace
}  // namespace rollbackd
