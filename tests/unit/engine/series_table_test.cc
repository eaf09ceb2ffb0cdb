#include "daemon/engine/series_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
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
