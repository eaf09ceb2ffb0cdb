#include "daemon/actions/journal.h"
#include "daemon/io/file_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rollbackd-journal-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/journal";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Journal> Open() {
    std::string error;
    auto j = Journal::Open(RealFileSystem(), path_, &error);
    EXPECT_NE(j, nullptr) << error;
    return j;
  }
  static JournalIntent Intent(const std::string& id) {
    return {id, "checkout", "error_rate", Time(std::chrono::seconds(100)), {"kubectl", "undo"}, ""};
  }
  std::string Contents() {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_, path_;
};

TEST_F(JournalTest, AnIntentWithoutOutcomeSurvivesAReopenAsUnfinished) {
  std::string error;
  {
    auto j = Open();
    ASSERT_TRUE(j->RecordIntent(Intent("r1"), &error)) << error;
    ASSERT_TRUE(j->RecordIntent(Intent("r2"), &error)) << error;
    RollbackOutcome ok;
    ok.success = true;
    ASSERT_TRUE(j->RecordOutcome("r1", ok, Time(std::chrono::seconds(101)), &error)) << error;
    EXPECT_EQ(j->Unfinished().size(), 1u);
  }  // "crash": the process ends here
  auto j = Open();
  auto unfinished = j->Unfinished();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].rollback_id, "r2");
  EXPECT_EQ(unfinished[0].service, "checkout");
  EXPECT_EQ(unfinished[0].argv, (std::vector<std::string>{"kubectl", "undo"}));
  EXPECT_EQ(unfinished[0].time, Time(std::chrono::seconds(100)));
}

TEST_F(JournalTest, OutcomesAreRememberedAcrossAReopenAndAnIdIsNeverForgotten) {
  std::string error;
  {
    auto j = Open();
    EXPECT_FALSE(j->Knows("r1"));
    ASSERT_TRUE(j->RecordIntent(Intent("r1"), &error)) << error;
    ASSERT_TRUE(j->RecordIntent(Intent("r2"), &error)) << error;
    EXPECT_TRUE(j->Knows("r1"));
    EXPECT_FALSE(j->Outcome("r1").has_value());
    RollbackOutcome o;
    o.success = false;
    o.exit_code = 3;
    o.duration = std::chrono::milliseconds(1500);
    o.error = "exit status 3";
    ASSERT_TRUE(j->RecordOutcome("r1", o, Time(std::chrono::seconds(101)), &error)) << error;
  }
  auto j = Open();
  auto o = j->Outcome("r1");
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->success);
  EXPECT_EQ(o->exit_code, 3);
  EXPECT_EQ(o->duration, std::chrono::milliseconds(1500));
  EXPECT_EQ(o->error, "exit status 3");
  EXPECT_TRUE(j->Knows("r1"));
  EXPECT_TRUE(j->Knows("r2"));
  EXPECT_FALSE(j->Outcome("r2").has_value());
  EXPECT_FALSE(j->Knows("r3"));
}

TEST_F(JournalTest, ATornLastRecordIsIgnoredAndDoesNotCorruptTheNext) {
  std::string error;
  {
    auto j = Open();
    ASSERT_TRUE(j->RecordIntent(Intent("r1"), &error));
  }
  std::ofstream(path_, std::ios::app) << R"({"type":"outcome","rollback_id":"r1","ti)";
  {
    auto j = Open();
    ASSERT_EQ(j->Unfinished().size(), 1u);  // the outcome never completed
    ASSERT_TRUE(j->RecordIntent(Intent("r2"), &error));
  }
  auto j = Open();
  EXPECT_EQ(j->Unfinished().size(), 2u);
}

TEST_F(JournalTest, ACompleteLastRecordWithoutNewlineIsKept) {
  std::ofstream(path_) << R"({"type":"intent","rollback_id":"r1","service":"s","time":1})";
  std::string error;
  {
    auto j = Open();
    ASSERT_EQ(j->Unfinished().size(), 1u);
    ASSERT_TRUE(j->RecordIntent(Intent("r2"), &error));
  }
  EXPECT_EQ(Open()->Unfinished().size(), 2u);
}

TEST_F(JournalTest, ADamagedRecordInTheMiddleIsAnErrorNotAnEmptyJournal) {
  std::ofstream(path_) << "{\"type\":\"intent\",\"rollback_id\":\"r1\",\"service\":\"s\",\"time\":1}\n"
                       << "garbage\n"
                       << "{\"type\":\"intent\",\"rollback_id\":\"r2\",\"service\":\"s\",\"time\":2}\n";
  std::string error;
  EXPECT_EQ(Journal::Open(RealFileSystem(), path_, &error), nullptr);
  EXPECT_NE(error.find(path_ + ":2: unreadable journal record"), std::string::npos) << error;
}

// The fix for what fuzz/state_dir_fuzz.cc found in state.json (a float cast to an integer,
// undefined behaviour out of range) covers the journal too: a time or a status that is not a JSON
// integer is a damaged record.
TEST_F(JournalTest, ANumberThatIsNotAnIntegerIsADamagedRecord) {
  for (const char* bad :
       {R"({"type":"intent","rollback_id":"r1","service":"s","time":1e300})",
        R"({"type":"intent","rollback_id":"r1","service":"s","time":1.5})",
        R"({"type":"outcome","rollback_id":"r1","success":true,"duration_ms":-1e30})"}) {
    std::ofstream(path_) << bad << "\n{\"type\":\"intent\",\"rollback_id\":\"r2\",\"time\":2}\n";
    std::string error;
    EXPECT_EQ(Journal::Open(RealFileSystem(), path_, &error), nullptr) << bad;
    EXPECT_NE(error.find(path_ + ":1: unreadable journal record"), std::string::npos) << error;
  }
}

TEST_F(JournalTest, AnUnwritableLocationIsAnError) {
  std::string error;
  EXPECT_EQ(Journal::Open(RealFileSystem(), dir_ + "/missing/journal", &error), nullptr);
  EXPECT_NE(error.find("open"), std::string::npos);
}

TEST_F(JournalTest, CompactsToTheUnfinishedAndTheRecentWhenLarge) {
  std::string error;
  {
    auto j = Open();
    RollbackOutcome ok;
    ok.success = true;
    ok.error = std::string(1000, 'x');
    for (int i = 0; i < 1200; ++i) {
      std::string id = std::string("r").append(std::to_string(i));
      ASSERT_TRUE(j->RecordIntent(Intent(id), &error));
      if (i != 7) {
        ASSERT_TRUE(j->RecordOutcome(id, ok, Time{}, &error));
      }
    }
  }
  ASSERT_GT(fs::file_size(path_), kJournalCompactBytes);
  {
    auto j = Open();
    ASSERT_EQ(j->Unfinished().size(), 1u);
    EXPECT_EQ(j->Unfinished()[0].rollback_id, "r7");
  }
  EXPECT_LT(fs::file_size(path_), kJournalCompactBytes / 2);
  auto j = Open();  // and it still reads back, with the recent outcomes
  ASSERT_EQ(j->Unfinished().size(), 1u);
  EXPECT_TRUE(j->Outcome("r1199").has_value());
  EXPECT_TRUE(j->Outcome("r" + std::to_string(1199 - kJournalKeepFinished + 2)).has_value());
  EXPECT_FALSE(j->Outcome("r0").has_value());
  EXPECT_TRUE(j->RecordIntent(Intent("r9999"), &error)) << error;
}

TEST(WriteFileAtomicallyTest, ReplacesTheWholeFile) {
  char tmpl[] = "/tmp/rollbackd-atomic-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/state.json";
  std::string error;
  ASSERT_TRUE(RealFileSystem().WriteFileAtomically(path, "first, and longer", &error)) << error;
  ASSERT_TRUE(RealFileSystem().WriteFileAtomically(path, "second", &error)) << error;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "second");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(RealFileSystem().WriteFileAtomically(std::string(tmpl) + "/no/such/dir/x", "x", &error));
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace rollbackd
