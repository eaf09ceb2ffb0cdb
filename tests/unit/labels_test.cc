// Label sets: sorted, unique names, hash computed once, PromQL-style printing.
#include "daemon/engine/labels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unordered_map>

namespace rollbackd {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

Labels L(std::vector<Labels::Pair> pairs) { return Labels(std::move(pairs)); }

TEST(LabelsTest, SortsByName) {
  Labels l({{"zone", "z1"}, {"app", "web"}, {"pod", "p1"}});
  EXPECT_THAT(l.pairs(), ElementsAre(Pair("app", "web"), Pair("pod", "p1"), Pair("zone", "z1")));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_FALSE(l.empty());
}

TEST(LabelsTest, ANameGivenTwiceKeepsItsLastValue) {
  Labels l({{"b", "1"}, {"a", "x"}, {"b", "2"}, {"c", "y"}, {"b", "3"}});
  EXPECT_THAT(l.pairs(), ElementsAre(Pair("a", "x"), Pair("b", "3"), Pair("c", "y")));
  EXPECT_EQ(l, L({{"a", "x"}, {"b", "3"}, {"c", "y"}}));
  EXPECT_EQ(l.hash(), L({{"c", "y"}, {"b", "3"}, {"a", "x"}}).hash());
}

TEST(LabelsTest, Get) {
  Labels l({{"b", "2"}, {"a", "1"}});
  ASSERT_NE(l.Get("a"), nullptr);
  EXPECT_EQ(*l.Get("a"), "1");
  EXPECT_EQ(*l.Get("b"), "2");
  EXPECT_EQ(l.Get("c"), nullptr);
  EXPECT_EQ(l.Get(""), nullptr);
  EXPECT_EQ(Labels().Get("a"), nullptr);
}

TEST(LabelsTest, EqualityAndHashFollowTheSet) {
  const Labels a({{"job", "api"}, {"pod", "p1"}});
  const Labels same({{"pod", "p1"}, {"job", "api"}});
  EXPECT_EQ(a, same);
  EXPECT_EQ(a.hash(), same.hash());
  EXPECT_EQ(LabelsHash()(a), static_cast<size_t>(a.hash()));
  for (const Labels& other :
       {L({{"job", "api"}}), L({{"job", "api"}, {"pod", "p2"}}),
        L({{"job", "api"}, {"pod", "p1"}, {"x", ""}}), L({{"job", "apip"}, {"od", "1"}}),
        Labels()}) {
    EXPECT_FALSE(a == other) << other.ToString();
    EXPECT_NE(a.hash(), other.hash()) << other.ToString();
  }
  // Field boundaries count: {a="bc"} and {ab="c"} differ.
  EXPECT_NE(L({{"a", "bc"}}).hash(), L({{"ab", "c"}}).hash());
  EXPECT_FALSE(L({{"a", "bc"}}) == L({{"ab", "c"}}));
}

TEST(LabelsTest, TheEmptySetIsOneSetHoweverItIsBuilt) {
  // A source may build an unlabeled series either way, and restored state builds it from pairs:
  // all of them must be the same key.
  const Labels by_default;
  const Labels from_pairs(std::vector<Labels::Pair>{});
  const Labels from_map = Labels::FromMap({});
  EXPECT_TRUE(by_default.empty());
  EXPECT_EQ(by_default, from_pairs);
  EXPECT_EQ(by_default, from_map);
  EXPECT_EQ(by_default.hash(), from_pairs.hash());
  std::unordered_map<Labels, int, LabelsHash> m;
  m[by_default] = 1;
  EXPECT_EQ(m.count(from_pairs), 1u);
  // Duplicates collapsing to one set equal the set built directly.
  EXPECT_EQ(L({{"a", "1"}, {"a", "2"}}), L({{"a", "2"}}));
}

TEST(LabelsTest, FromMap) {
  LabelMap m{{"team", "payments"}, {"env", "prod"}};
  Labels l = Labels::FromMap(m);
  EXPECT_EQ(l, L({{"env", "prod"}, {"team", "payments"}}));
}

TEST(LabelsTest, ToStringEscapesAsPromQL) {
  EXPECT_EQ(Labels().ToString(), "{}");
  EXPECT_EQ(L({{"b", "y"}, {"a", "x"}}).ToString(), "{a=\"x\", b=\"y\"}");
  EXPECT_EQ(L({{"msg", "say \"hi\"\n\\"}}).ToString(), "{msg=\"say \\\"hi\\\"\\n\\\\\"}");
  EXPECT_EQ(L({{"empty", ""}}).ToString(), "{empty=\"\"}");
  EXPECT_EQ(L({{"u", "caf\xc3\xa9"}}).ToString(), "{u=\"caf\xc3\xa9\"}");
}

TEST(LabelsTest, WorksAsAHashMapKey) {
  std::unordered_map<Labels, int, LabelsHash> m;
  for (int i = 0; i < 1000; ++i) m[L({{"pod", "p" + std::to_string(i)}})] = i;
  EXPECT_EQ(m.size(), 1000u);
  EXPECT_EQ(m.at(L({{"pod", "p737"}})), 737);
}

}  // namespace
}  // namespace rollbackd
