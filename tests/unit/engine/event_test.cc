// Events: kind names, times, ids and the documented JSON payload (docs/rules.md, "Events").
#include "daemon/engine/event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd::enginetest {
namespace {

using ::testing::ElementsAre;
using nlohmann::json;

std::set<std::string> Keys(const json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) out.insert(k);
  return out;
}

TEST(EventKindTest, NamesRoundTrip) {
  const char* names[] = {"trigger.pending",      "trigger.firing",   "trigger.resolved",
                         "rollback.started",     "rollback.succeeded", "rollback.failed",
                         "rollback.verified",    "rollback.not_recovered",
                         "rollback.skipped",     "source.down",      "source.up"};
  ASSERT_EQ(std::size(names), static_cast<size_t>(kEventKindCount));
  for (int i = 0; i < kEventKindCount; ++i) {
    EventKind k = static_cast<EventKind>(i);
    EXPECT_EQ(EventKindName(k), names[i]);
    EXPECT_EQ(ParseEventKind(names[i]), k);
  }
  EXPECT_FALSE(ParseEventKind("trigger").has_value());
  EXPECT_FALSE(ParseEventKind("").has_value());
  EXPECT_FALSE(ParseEventKind("TRIGGER.FIRING").has_value());
}

TEST(EventTimeTest, FormatsRfc3339UtcWithMilliseconds) {
  using namespace std::chrono;
  EXPECT_EQ(FormatTime(Time{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(kT0), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(At("1m10s5ms")), "2026-01-01T00:01:10.005Z");
  const Time doc = time_point_cast<milliseconds>(sys_days{year{2026} / 11 / 21}) + hours(19) +
                   minutes(4) + seconds(19) + milliseconds(123);
  EXPECT_EQ(FormatTime(doc), "2026-11-21T19:04:19.123Z");
  EXPECT_EQ(FormatTime(Time(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTime(Time(milliseconds(-1000))), "1969-12-31T23:59:59.000Z");
  // 2024 is a leap year.
  EXPECT_EQ(FormatTime(time_point_cast<milliseconds>(sys_days{year{2024} / 2 / 29})),
            "2024-02-29T00:00:00.000Z");
}

TEST(EventIdTest, DeterministicAndDistinct) {
  const std::regex form("^evt_[0-9a-f]{16}$");
  const std::string base = MakeEventId(EventKind::kTriggerFiring, "svc", "t", 42, kT0);
  EXPECT_TRUE(std::regex_match(base, form)) << base;
  EXPECT_EQ(MakeEventId(EventKind::kTriggerFiring, "svc", "t", 42, kT0), base);

  std::set<std::string> ids;
  for (int k = 0; k < kEventKindCount; ++k) {
    for (int ms : {0, 1, 1000}) {
      ids.insert(MakeEventId(static_cast<EventKind>(k), "svc", "t", 42,
                             kT0 + std::chrono::milliseconds(ms)));
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEventKindCount) * 3);
  EXPECT_NE(MakeEventId(EventKind::kTriggerFiring, "svc2", "t", 42, kT0), base);
  EXPECT_NE(MakeEventId(EventKind::kTriggerFiring, "svc", "t2", 42, kT0), base);
  EXPECT_NE(MakeEventId(EventKind::kTriggerFiring, "svc", "t", 43, kT0), base);
  // Field boundaries count: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(MakeEventId(EventKind::kTriggerFiring, "ab", "c", 0, kT0),
            MakeEventId(EventKind::kTriggerFiring, "a", "bc", 0, kT0));
}

TEST(EventIdTest, EngineIdsAreUniqueAndTheSameOnEveryReplica) {
  const char* rules = R"(
service = "web"
[[trigger]]
name = "errors"
query = 'errors by (pod)'
above = 1
for = "20s"
[rollback]
exec = ["undo"]
cooldown = "0s"
)";
  EngineHarness a(rules), b(rules);
  std::vector<Event> ea, eb;
  for (int round = 0; round < 6; ++round) {
    std::vector<std::pair<Labels, double>> samples;
    for (int pod = 0; pod < 5; ++pod) {
      samples.emplace_back(L({{"pod", "p" + std::to_string(pod)}}), (round + pod) % 3 == 0 ? 0 : 5);
    }
    a.Set("errors", Series(samples));
    b.Set("errors", Series(samples));
    const std::string t = std::to_string(round * 10) + "s";
    for (const Event& e : a.Eval(t)) ea.push_back(e);
    for (const Event& e : b.Eval(t)) eb.push_back(e);
  }
  ASSERT_EQ(ea.size(), eb.size());
  ASSERT_GT(ea.size(), 10u);
  std::set<std::string> ids;
  for (size_t i = 0; i < ea.size(); ++i) {
    EXPECT_EQ(ea[i].id, eb[i].id);
    EXPECT_TRUE(ids.insert(ea[i].id).second) << "duplicate id for " << Line(ea[i], "pod");
  }
}

// The events of one rollback, from the engine.
struct RollbackEvents {
  Event firing, started, succeeded;
};
RollbackEvents MakeRollback() {
  EngineHarness h(R"(
service = "checkout"
labels = { team = "payments", env = "prod" }
[[trigger]]
name = "error_rate"
query = 'errors'
above = 0.02
for = "1m"
severity = "critical"
[rollback]
exec = ["kubectl", "rollout", "undo", "deployment/checkout", "-n", "prod"]
)");
  h.engine().RecordDeploy("checkout", "v2", kT0);
  h.Set("error_rate", Value(0.2));
  std::vector<Event> events = h.Run("0s", "1m", "10s");
  RollbackEvents out;
  out.firing = Only(events, EventKind::kTriggerFiring);
  out.started = Only(events, EventKind::kRollbackStarted);
  out.succeeded = Only(h.Finish(out.started.id, true, "1m12s"), EventKind::kRollbackSucceeded);
  return out;
}

TEST(EventJsonTest, TriggerEventCarriesEveryDocumentedField) {
  RollbackEvents r = MakeRollback();
  json j = json::parse(EventToJson(r.firing));
  EXPECT_EQ(Keys(j), (std::set<std::string>{"event", "id", "time", "service", "trigger",
                                            "severity", "labels", "value", "threshold",
                                            "baseline", "condition", "reason", "version"}));
  EXPECT_EQ(j["event"], "trigger.firing");
  EXPECT_EQ(j["id"], r.firing.id);
  EXPECT_EQ(j["time"], "2026-01-01T00:01:00.000Z");
  EXPECT_EQ(j["service"], "checkout");
  EXPECT_EQ(j["trigger"], "error_rate");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["labels"], (json{{"env", "prod"}, {"team", "payments"}}));
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["threshold"].get<double>(), 0.02);
  EXPECT_TRUE(j["baseline"].is_null());
  EXPECT_EQ(j["condition"], "above 0.02");
  EXPECT_EQ(j["reason"], "value 0.2 > 0.02 held 1m >= 1m");
  EXPECT_EQ(j["version"], "v2");
}

TEST(EventJsonTest, UnknownNumbersAndVersionAreNull) {
  Event e;
  e.kind = EventKind::kSourceDown;
  e.id = "evt_1";
  e.time = kT0;
  e.service = "svc";
  json j = json::parse(EventToJson(e));
  EXPECT_TRUE(j["value"].is_null());
  EXPECT_TRUE(j["threshold"].is_null());
  EXPECT_TRUE(j["baseline"].is_null());
  EXPECT_TRUE(j["version"].is_null());
  EXPECT_EQ(j["labels"], json::object());
  EXPECT_EQ(j["severity"], "warning");
  EXPECT_FALSE(j.contains("rollback"));
}

TEST(EventJsonTest, RollbackStartedCarriesTheRollbackObject) {
  RollbackEvents r = MakeRollback();
  json j = json::parse(EventToJson(r.started));
  EXPECT_EQ(j["event"], "rollback.started");
  EXPECT_EQ(j["reason"], "error_rate: value 0.2 > 0.02 held 1m >= 1m");
  EXPECT_EQ(j["version"], "v2");
  ASSERT_TRUE(j.contains("rollback"));
  const json& rb = j["rollback"];
  EXPECT_EQ(Keys(rb),
            (std::set<std::string>{"id", "cause_id", "skip_reason", "hook", "exit_status",
                                   "duration_seconds", "output", "fencing_token"}));
  EXPECT_TRUE(rb["fencing_token"].is_null()) << "standalone: no token";
  Event fenced = r.started;
  fenced.fencing_token = 9007199254740000LL;
  EXPECT_EQ(json::parse(EventToJson(fenced))["rollback"]["fencing_token"], 9007199254740000LL);
  EXPECT_EQ(rb["id"], r.started.id);
  EXPECT_EQ(rb["id"], j["id"]);
  EXPECT_EQ(rb["cause_id"], r.firing.id);
  EXPECT_TRUE(rb["skip_reason"].is_null());
  EXPECT_EQ(rb["hook"], (json{{"type", "exec"},
                              {"argv", {"kubectl", "rollout", "undo", "deployment/checkout", "-n",
                                        "prod"}}}));
  EXPECT_TRUE(rb["exit_status"].is_null());
  EXPECT_TRUE(rb["duration_seconds"].is_null());
  EXPECT_EQ(rb["output"], "");
}

TEST(EventJsonTest, RollbackSucceededCarriesTheHooksOutcome) {
  RollbackEvents r = MakeRollback();
  json j = json::parse(EventToJson(r.succeeded));
  EXPECT_EQ(j["event"], "rollback.succeeded");
  EXPECT_EQ(j["time"], "2026-01-01T00:01:12.000Z");
  const json& rb = j["rollback"];
  EXPECT_EQ(rb["id"], r.started.id);  // shared by the events of one rollback
  EXPECT_NE(j["id"], r.started.id);
  EXPECT_EQ(rb["cause_id"], r.firing.id);
  EXPECT_EQ(rb["exit_status"], 0);
  EXPECT_DOUBLE_EQ(rb["duration_seconds"].get<double>(), 12.0);
  EXPECT_EQ(rb["output"], "deployment.apps/checkout rolled back\n");
}

TEST(EventJsonTest, SkippedHttpHookAndEveryRollbackKind) {
  Event e;
  e.kind = EventKind::kRollbackSkipped;
  e.skip_reason = "dry_run";
  e.hook = HookInfo{"http", {}, "https://ci.example.com/rollback", "POST"};
  e.duration = Duration(1500);
  json j = json::parse(EventToJson(e));
  EXPECT_EQ(j["rollback"]["skip_reason"], "dry_run");
  EXPECT_TRUE(j["rollback"]["id"].is_null());
  EXPECT_TRUE(j["rollback"]["cause_id"].is_null());
  EXPECT_EQ(j["rollback"]["hook"],
            (json{{"type", "http"}, {"url", "https://ci.example.com/rollback"}}));
  EXPECT_DOUBLE_EQ(j["rollback"]["duration_seconds"].get<double>(), 1.5);
  for (int k = 0; k < kEventKindCount; ++k) {
    Event x;
    x.kind = static_cast<EventKind>(k);
    json xj = json::parse(EventToJson(x));
    const bool rollback = EventKindName(x.kind).substr(0, 9) == "rollback.";
    EXPECT_EQ(xj.contains("rollback"), rollback) << EventKindName(x.kind);
    EXPECT_EQ(xj["event"], EventKindName(x.kind));
    EXPECT_TRUE(xj["rollback"].is_null() || rollback);
  }
}

TEST(EventJsonTest, InvalidUtf8InHookOutputIsReplacedNotThrown) {
  Event e;
  e.kind = EventKind::kRollbackFailed;
  e.output = std::string("ok \xff\xfe tail");
  e.reason = "quote \" and newline \n";
  std::string text;
  ASSERT_NO_THROW(text = EventToJson(e));
  json j = json::parse(text);
  EXPECT_EQ(j["reason"], "quote \" and newline \n");
  const std::string out = j["rollback"]["output"].get<std::string>();
  EXPECT_EQ(out.substr(0, 3), "ok ");
  EXPECT_EQ(out.substr(out.size() - 5), " tail");
}

}  // namespace
}  // namespace rollbackd::enginetest
