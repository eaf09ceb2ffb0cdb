#include "daemon/engine/series_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>

namespace rollbackd::internal {
namespace {

Labels Pod(int i) { return Labels({{"pod", std::string("p").append(std::to_string(i))}}); }

TEST(SeriesTableTest, FindsEveryEntryWhateverTheOrder) {
  SeriesTable<int> t;
  for (int i = 0; i < 1000; ++i) t.FindOrInsert(Pod(i)) = i;
  ASSERT_EQ(t.size(), 1000u);
  std::vector<int> order(1000);
  for (int i = 0; i < 1000; ++i) order[i] = i;
  std::mt19937 rng(42);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    t.Rewind();
    for (int i : order) ASSERT_EQ(t.FindOrInsert(Pod(i)), i) << "round " << round;
  }
  EXPECT_EQ(t.size(), 1000u);  // nothing was inserted twice
}

// Label sets crafted so that their (fixed) hashes agree in the low 12 bits would share one run of
// slots under `hash & mask`; mixed with the process's seed they spread over the table.
TEST(SeriesTableTest, CraftedCollisionsOfTheLabelHashSpreadOverTheSlots) {
  std::vector<uint64_t> crafted;
  for (int i = 0; crafted.size() < 64 && i < 2'000'000; ++i) {
    const uint64_t h = Pod(i).hash();
    if ((h & 0xfff) == 0x5a5) crafted.push_back(h);
  }
  ASSERT_EQ(crafted.size(), 64u);
  std::set<uint64_t> slots;
  for (uint64_t h : crafted) slots.insert(SlotHash(h) & 0xfff);
  EXPECT_GT(slots.size(), 56u);  // 64 random picks of 4096 slots: a handful of repeats at most
  EXPECT_NE(SlotSeed(), 0u);
}

TEST(SeriesTableTest, EraseIfKeepsOrderAndTheIndex) {
  SeriesTable<int> t;
  for (int i = 0; i < 100; ++i) t.FindOrInsert(Pod(i)) = i;
  t.EraseIf([](const auto& e) { return e.second % 3 == 0; });
  EXPECT_EQ(t.size(), 66u);
  int previous = -1;
  for (const auto& [labels, v] : t) {
    EXPECT_NE(v % 3, 0);
    EXPECT_GT(v, previous);
    previous = v;
  }
  t.Rewind();
  for (int i = 99; i >= 0; --i) {
    if (i % 3 == 0) continue;
    EXPECT_EQ(t.FindOrInsert(Pod(i)), i);
  }
  EXPECT_EQ(t.size(), 66u);
  EXPECT_EQ(t.FindOrInsert(Pod(3)), 0);  // erased: a fresh default entry
  EXPECT_EQ(t.size(), 67u);
}

TEST(SeriesTableTest, TheEmptyLabelSetIsAKeyLikeAnyOther) {
  SeriesTable<int> t;
  t.FindOrInsert(Labels()) = 7;
  t.FindOrInsert(Pod(1)) = 8;
  t.Rewind();
  EXPECT_EQ(t.FindOrInsert(Pod(1)), 8);
  EXPECT_EQ(t.FindOrInsert(Labels(std::vector<Labels::Pair>{})), 7);
  t.clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.FindOrInsert(Pod(1)), 0);
}

}  // namespace
}  // namespace rollbackd::internal
