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
  ASSERT_TRUE(l.Get("a"));
  EXPECT_EQ(*l.Get("a"), "1");
  EXPECT_EQ(*l.Get("b"), "2");
  EXPECT_FALSE(l.Get("c"));
  EXPECT_FALSE(l.Get(""));
  EXPECT_FALSE(l.Get("0"));  // sorts before every name
  EXPECT_FALSE(Labels().Get("a"));
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

// Lengths are stored as varints: names and values of 127, 128 and 20,000 bytes, and empty ones,
// come back exactly; a set built from views equals the one built from pairs.
TEST(LabelsTest, LongAndEmptyNamesAndValuesRoundTrip) {
  const std::string v127(127, 'x'), v128(128, 'y'), big(20000, 'z');
  const Labels l({{v128, big}, {"a", ""}, {v127, v128}, {"", "empty name"}});
  EXPECT_THAT(l.pairs(), ElementsAre(Pair("", "empty name"), Pair("a", ""), Pair(v127, v128),
                                     Pair(v128, big)));
  EXPECT_EQ(*l.Get(v128), big);
  EXPECT_EQ(*l.Get("a"), "");
  Labels::Builder b;
  b.Add(v127, v128);
  b.Add("a", "old");
  b.Add(v128, big);
  b.Add("", "empty name");
  b.Add("a", "");
  EXPECT_EQ(b.Build(), l);
  b.Add("a", "1");
  EXPECT_EQ(b.Build(), L({{"a", "1"}}));  // each Build starts afresh
  EXPECT_EQ(b.Build(), Labels());
}

TEST(LabelsTest, WorksAsAHashMapKey) {
  std::unordered_map<Labels, int, LabelsHash> m;
  for (int i = 0; i < 1000; ++i) m[L({{"pod", std::string("p").append(std::to_string(i))}})] = i;
  EXPECT_EQ(m.size(), 1000u);
  EXPECT_EQ(m.at(L({{"pod", "p737"}})), 737);
}

}  // namespace
}  // namespace rollbackd
