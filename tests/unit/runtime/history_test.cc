// The status page's history: one bounded ring per series, fed from the engine's Status() after
// each round. Timelines in evaluation instants; no daemon, no clock.
#include "daemon/runtime/history.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "daemon/runtime/recent_events.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

Time At(Duration d) { return Time(std::chrono::duration_cast<std::chrono::milliseconds>(d)); }

Config TwoServices(Duration web_interval = 1s) {
  Config c;
  c.daemon.interval = 60s;
  Service web;
  web.name = "web";
  web.interval = web_interval;
  Service db;
  db.name = "db";  // the daemon's interval
  c.services = {web, db};
  return c;
}

SeriesStatus Series(const std::string& trigger, double value, const std::string& state = "inactive",
                    std::vector<Labels::Pair> labels = {}) {
  SeriesStatus s;
  s.trigger = trigger;
  s.labels = Labels(labels);
  s.state = state;
  s.value = value;
  s.threshold = 0.05;
  return s;
}

ServiceStatus Status(const std::string& name, std::vector<SeriesStatus> series) {
  ServiceStatus s;
  s.name = name;
  s.series = std::move(series);
  return s;
}

const History::Series* Find(const History& h, const std::string& service,
                            const std::string& trigger) {
  const auto* list = h.SeriesOf(service);
  if (list == nullptr) return nullptr;
  for (const History::Series* s : *list) {
    if (s->trigger == trigger) return s;
  }
  return nullptr;
}

TEST(HistoryTest, BucketsCoverAnHourInAtMost240Points) {
  EXPECT_EQ(History::Bucket(1s), 15s);
  EXPECT_EQ(History::Capacity(1s), 240u);
  EXPECT_EQ(History::Capacity(15s), 240u);
  EXPECT_EQ(History::Bucket(60s), 60s);
  EXPECT_EQ(History::Capacity(60s), 60u);
  EXPECT_EQ(History::Capacity(7min), 9u);  // rounded up: the hour is covered
  EXPECT_EQ(History::Capacity(2h), 1u);
}

TEST(HistoryTest, RingWrapsKeepingTheNewestPointsInOrder) {
  HistoryRing ring(3);
  for (int i = 0; i < 5; ++i) {
    ring.Add(At(i * 15s), 15s, i, 0.5, HistoryState::kInactive);
  }
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.capacity(), 3u);
  EXPECT_EQ(ring.point(0).value, 2);
  EXPECT_EQ(ring.point(1).value, 3);
  EXPECT_EQ(ring.point(2).value, 4);
  EXPECT_EQ(ring.point(2).time_s, 60u);
  EXPECT_EQ(ring.bytes(), 3 * (sizeof(HistoryPoint) + 1));
}

TEST(HistoryTest, RoundsWithinABucketUpdateItsPointAndKeepTheWorstState) {
  HistoryRing ring(240);
  ring.Add(At(0s), 15s, 0.01, 0.05, HistoryState::kInactive);
  ring.Add(At(1s), 15s, 0.2, 0.05, HistoryState::kFiring);
  ring.Add(At(2s), 15s, 0.02, 0.06, HistoryState::kPending);
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.point(0).time_s, 0u);
  EXPECT_FLOAT_EQ(ring.point(0).value, 0.02f);  // the latest value
  EXPECT_FLOAT_EQ(ring.point(0).threshold, 0.06f);
  EXPECT_EQ(ring.state(0), HistoryState::kFiring);  // a firing second is not lost
  ring.Add(At(15s), 15s, NAN, NAN, HistoryState::kInactive);
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_TRUE(std::isnan(ring.point(1).value));
  EXPECT_EQ(ring.state(1), HistoryState::kInactive);
}

TEST(HistoryTest, AnHourOfOneSecondRoundsStaysWithinTheBound) {
  const Config config = TwoServices(1s);
  History h;
  for (int s = 0; s < 2 * 3600; ++s) {
    h.Record(config, {Status("web", {Series("errors", s)})}, At(std::chrono::seconds(s)));
  }
  const History::Series* errors = Find(h, "web", "errors");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->ring.size(), 240u);
  EXPECT_EQ(errors->ring.capacity(), 240u);
  // The last hour: the oldest bucket starts 239 buckets before the newest.
  EXPECT_EQ(errors->ring.point(239).time_s - errors->ring.point(0).time_s, 239u * 15);
  EXPECT_EQ(errors->ring.point(239).value, 2 * 3600 - 1);
  EXPECT_LE(h.bytes(), 3120u + 1024u) << "one series: its 3,120-byte ring and its key";
}

TEST(HistoryTest, SeriesTheEngineNoLongerListsAreForgotten) {
  const Config config = TwoServices();
  History h;
  h.Record(config,
           {Status("web", {Series("errors", 1, "inactive", {{"code", "500"}}),
                           Series("errors", 2, "pending", {{"code", "502"}})}),
            Status("db", {Series("latency", 3)})},
           At(0s));
  EXPECT_EQ(h.series(), 3u);
  h.Record(config,
           {Status("web", {Series("errors", 1, "inactive", {{"code", "502"}})}),
            Status("db", {Series("latency", 3)})},
           At(15s));
  EXPECT_EQ(h.series(), 2u);
  ASSERT_EQ(h.SeriesOf("web")->size(), 1u);
  EXPECT_EQ(*(*h.SeriesOf("web"))[0]->labels.Get("code"), "502");
  EXPECT_EQ((*h.SeriesOf("web"))[0]->ring.size(), 2u) << "the series that stayed kept its points";
}

TEST(HistoryTest, ReloadForgetsRemovedServicesAndRestartsAChangedInterval) {
  Config config = TwoServices(1s);
  History h;
  for (int s = 0; s < 60; s += 15) {
    h.Record(config, {Status("web", {Series("errors", s)}), Status("db", {Series("latency", 1)})},
             At(std::chrono::seconds(s)));
  }
  ASSERT_EQ(Find(h, "web", "errors")->ring.size(), 4u);
  config.services.pop_back();  // db is gone
  h.Retain(config);
  EXPECT_EQ(h.SeriesOf("db"), nullptr);
  EXPECT_EQ(h.series(), 1u);
  EXPECT_EQ(Find(h, "web", "errors")->ring.size(), 4u) << "a reload keeps what stayed";

  config.services[0].interval = 120s;  // buckets of 2 minutes now
  h.Record(config, {Status("web", {Series("errors", 9)})}, At(60s));
  const History::Series* errors = Find(h, "web", "errors");
  EXPECT_EQ(errors->ring.size(), 1u);
  EXPECT_EQ(errors->ring.capacity(), 30u);
  EXPECT_EQ(h.bucket("web"), 120s);
}

TEST(HistoryTest, JsonListsPointsOldestFirstWithNullForUnknown) {
  const Config config = TwoServices();
  History h;
  h.Record(config, {Status("web", {Series("errors", 0.05, "pending", {{"note", "<b>x</b>"}})})},
           At(0s));
  h.Record(config, {Status("web", {Series("errors", NAN, "firing", {{"note", "<b>x</b>"}})})},
           At(15s));
  const json doc = json::parse(HistoryJson(h, "web"));
  EXPECT_EQ(doc["service"], "web");
  EXPECT_EQ(doc["bucket_seconds"], 15.0);
  EXPECT_EQ(doc["capacity"], 240);
  ASSERT_EQ(doc["series"].size(), 1u);
  EXPECT_EQ(doc["series"][0]["trigger"], "errors");
  EXPECT_EQ(doc["series"][0]["labels"]["note"], "<b>x</b>");
  EXPECT_EQ(doc["series"][0]["points"],
            json::parse(R"([[0, 0.05, 0.05, "pending"], [15, null, 0.05, "firing"]])"));
  EXPECT_EQ(json::parse(HistoryJson(h, "db"))["series"], json::array());
}

TEST(RecentEventsTest, KeepsTheNewestEventsPerServiceOldestFirst) {
  RecentEvents recent(3);
  for (int i = 0; i < 5; ++i) {
    Event e;
    e.kind = EventKind::kTriggerPending;
    e.service = i % 2 == 0 ? "web" : "db";
    e.trigger = "t" + std::to_string(i);
    e.time = At(std::chrono::seconds(i));
    recent.Add(e);
  }
  EXPECT_EQ(recent.size(), 3u);
  const json all = json::parse(recent.Json("", 10));
  ASSERT_EQ(all["events"].size(), 3u);
  EXPECT_EQ(all["events"][0]["trigger"], "t2");
  EXPECT_EQ(all["events"][2]["trigger"], "t4");
  const json web = json::parse(recent.Json("web", 1));
  ASSERT_EQ(web["events"].size(), 1u);
  EXPECT_EQ(web["events"][0]["trigger"], "t4");
  EXPECT_EQ(json::parse(recent.Json("nope", 10))["events"], json::array());
}

}  // namespace
}  // namespace rollbackd
