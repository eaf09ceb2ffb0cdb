// The outbox file: what is added survives reopening until removed; torn writes and damage.
#include "daemon/notify/outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class OutboxTest : public ::testing::Test {
 protected:

  static OutboxEntry Entry(const std::string& id, const std::string& channel = "oncall") {
    OutboxEntry e;
    e.channel = channel;
    e.group = "0/checkout";
    e.id = id;
    e.kind = "trigger.firing";
    e.service = "checkout";
    e.created = Time(1'700'000'000'000ms);
    e.not_before = e.created + 5s;
    e.payload = "{\"id\":\"" + id + "\",\"text\":\"line\\nbreak \xc3\xa9\"}";
    return e;
  }

  std::unique_ptr<Outbox> Open() {
    std::string error;
    auto o = Outbox::Open(RealFileSystem(), path_, &error);
    EXPECT_NE(o, nullptr) << error;
    return o;
  }

  testutil::TempDir dir_;
  const std::string path_ = dir_.Path("outbox.jsonl");
};

TEST_F(OutboxTest, WhatWasAddedAndNotRemovedIsThereAfterReopening) {
  {
    auto o = Open();
    std::vector<OutboxEntry> batch = {Entry("a"), Entry("b"), Entry("c", "chat")};
    std::string error;
    ASSERT_TRUE(o->Add(&batch, &error)) << error;
    EXPECT_EQ(batch[0].seq, 1u);
    EXPECT_EQ(batch[2].seq, 3u);
    EXPECT_EQ(o->live(), 3u);
    ASSERT_TRUE(o->Remove(batch[1].seq, "delivered", &error)) << error;
    EXPECT_EQ(o->live(), 2u);
  }
  auto o = Open();
  const std::vector<OutboxEntry> loaded = o->TakeLoaded();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].id, "a");
  EXPECT_EQ(loaded[0].seq, 1u);
  EXPECT_EQ(loaded[0].payload, Entry("a").payload);
  EXPECT_EQ(loaded[0].not_before, Entry("a").not_before);
  EXPECT_EQ(loaded[0].group, "0/checkout");
  EXPECT_EQ(loaded[1].id, "c");
  EXPECT_EQ(loaded[1].channel, "chat");
  // Sequence numbers go on; none is reused.
  std::vector<OutboxEntry> more = {Entry("d")};
  std::string error;
  ASSERT_TRUE(o->Add(&more, &error));
  EXPECT_EQ(more[0].seq, 4u);
}

TEST_F(OutboxTest, ATornLastLineIsIgnoredAndCutAway) {
  {
    auto o = Open();
    std::vector<OutboxEntry> batch = {Entry("a")};
    std::string error;
    ASSERT_TRUE(o->Add(&batch, &error));
  }
  std::ofstream(path_, std::ios::app) << "{\"add\":2,\"channel\":\"onc";
  auto o = Open();
  ASSERT_EQ(o->TakeLoaded().size(), 1u);
  std::vector<OutboxEntry> batch = {Entry("b")};
  std::string error;
  ASSERT_TRUE(o->Add(&batch, &error));
  o.reset();
  EXPECT_EQ(Open()->TakeLoaded().size(), 2u);
}

TEST_F(OutboxTest, ADamagedLineIsAnErrorNotAnEmptyOutbox) {
  std::ofstream(path_) << "this is not json\n";
  std::string error;
  EXPECT_EQ(Outbox::Open(RealFileSystem(), path_, &error), nullptr);
  EXPECT_THAT(error, ::testing::HasSubstr(path_ + ":1: not an outbox record"));
}

// Found by fuzz/state_dir_fuzz.cc: an alertmanager entry whose payload was not a JSON object
// (the file changed from outside) was read as live, and its delivery threw out of the sender,
// killing the daemon right after the start. Such a line is damage, as any unreadable one.
TEST_F(OutboxTest, AnEntryWhosePayloadIsNotAJsonObjectIsDamage) {
  for (const char* payload : {"", "[1]", "\\\"text\\\"", "{\\\"torn\\\":"}) {
    std::ofstream(path_)
        << "{\"add\":1,\"channel\":\"am\",\"id\":\"e1\",\"created\":1,\"payload\":\"" << payload
        << "\"}\n{\"add\":2}\n";
    std::string error;
    EXPECT_EQ(Outbox::Open(RealFileSystem(), path_, &error), nullptr) << payload;
    EXPECT_THAT(error, ::testing::HasSubstr(path_ + ":1: malformed outbox record")) << payload;
  }
  OutboxEntry e = Entry("a");
  EXPECT_NE(OutboxEntryFromJson(OutboxEntryToJson(e)), std::nullopt);
  e.payload = "[\"an array\"]";
  EXPECT_EQ(OutboxEntryFromJson(OutboxEntryToJson(e)), std::nullopt);
}

TEST_F(OutboxTest, TheFileIsCompactedOnceMostOfItIsDone) {
  auto o = Open();
  std::string error;
  for (int round = 0; round < 30; ++round) {  // 100 per write: one fsync each
    std::vector<OutboxEntry> batch;
    for (int i = 0; i < 100; ++i) {
      batch.push_back(Entry(std::string("n").append(std::to_string(round * 100 + i))));
      std::string& payload = batch.back().payload;  // a JSON object, 400 bytes larger
      payload.insert(payload.size() - 1, ",\"pad\":\"" + std::string(400, 'x') + "\"");
    }
    ASSERT_TRUE(o->Add(&batch, &error)) << error;
    for (const OutboxEntry& e : batch) {
      if (e.id != "n1234") {
        ASSERT_TRUE(o->Remove(e.seq, "delivered", &error)) << error;
      }
    }
  }
  EXPECT_EQ(o->live(), 1u);
  EXPECT_LT(fs::file_size(path_), 1u << 20);  // compacted at least once on the way
  o.reset();
  auto again = Open();
  const auto loaded = again->TakeLoaded();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].id, "n1234");
}

// Compactions while running read back only the live lines, from where the outbox knows they are:
// records kept here and there across several compactions (and added between them) must come back
// whole and in order.
TEST_F(OutboxTest, CompactionsWhileRunningKeepEveryLiveRecordWhole) {
  auto o = Open();
  std::string error;
  std::vector<std::string> kept;
  uint64_t smallest_file = UINT64_MAX;
  for (int round = 0; round < 60; ++round) {
    std::vector<OutboxEntry> batch;
    for (int i = 0; i < 50; ++i) {
      batch.push_back(Entry("n" + std::to_string(round * 50 + i)));
      std::string& payload = batch.back().payload;
      payload.insert(payload.size() - 1, ",\"pad\":\"" + std::string(300 + i, 'x') + "\"");
    }
    ASSERT_TRUE(o->Add(&batch, &error)) << error;
    for (size_t i = 0; i < batch.size(); ++i) {
      if ((round * 50 + i) % 37 == 0) {
        kept.push_back(batch[i].id);
      } else {
        ASSERT_TRUE(o->Remove(batch[i].seq, "delivered", &error)) << error;
      }
    }
    smallest_file = std::min<uint64_t>(smallest_file, o->file_bytes());
  }
  EXPECT_EQ(o->live(), kept.size());
  EXPECT_LT(smallest_file, o->live_bytes() * 2) << "never compacted";
  EXPECT_EQ(fs::file_size(path_), o->file_bytes());
  o.reset();
  auto again = Open();
  const auto loaded = again->TakeLoaded();
  ASSERT_EQ(loaded.size(), kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(loaded[i].id, kept[i]);
    EXPECT_NE(loaded[i].payload.find("\"id\":\"" + kept[i] + "\""), std::string::npos);
  }
}

}  // namespace
}  // namespace rollbackd
