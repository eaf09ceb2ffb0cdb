// The exactly-once path under injected write failures and crashes (testing/fake_file_system.h):
//  - each write of one rollback's lifecycle fails in turn: a failed write before the hook keeps the
//    hook from running and rollback.failed names it; nothing decided is lost; the next start
//    recovers;
//  - a crash at every step boundary of one rollback's lifecycle: at most one hook run, every
//    notification made durable is delivered with its original id, and no rollback outcome is
//    reported twice with different ids.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/runtime/daemon_timeline.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::FakeFileSystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::Timeline;

constexpr const char* kTrigger = "above = 0.05\nfor = \"10s\"\nseverity = \"critical\"";

std::function<std::optional<double>(Duration)> BreachFrom(Timeline& t, Duration from) {
  return [&t, from](Duration at) -> std::optional<double> {
    const bool rolled_back = !t.hooks().runs.empty() && !t.hooks().runs.back()->done;
    return at >= from && !rolled_back ? 0.5 : 0.01;
  };
}

std::set<std::string> DeliveredIds(const Timeline& t) {
  std::set<std::string> ids;
  for (const auto& [id, payload] : t.Deliveries()) ids.insert(id);
  return ids;
}

struct WriteFault {
  const char* name;
  FakeFileSystem::Op op;
  const char* path;
  int nth;           // the nth such operation after t=12.5s fails
  bool before_hook;  // then the hook must not run
  const char* says;  // what rollback.failed says
};

void PrintTo(const WriteFault& f, std::ostream* os) { *os << f.name; }

class WriteFailureTest : public ::testing::TestWithParam<WriteFault> {};

TEST_P(WriteFailureTest, AFailedWriteBeforeTheHookStopsItAndNothingDecidedIsLost) {
  const WriteFault f = GetParam();
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  ASSERT_TRUE(t.Start());
  t.Advance(12500ms);
  int seen = 0;
  t.fs().SetFault([&](FakeFileSystem::Op op,
                      const std::string& path) -> std::optional<std::string> {
    if (op != f.op || path != f.path || ++seen != f.nth) return std::nullopt;
    return std::string(testing::OpName(op)) + " " + path + ": No space left on device (injected)";
  });
  t.Advance(7500ms);
  ASSERT_GE(seen, f.nth) << "the write under test never happened: " << f.name;
  t.fs().SetFault(nullptr);

  if (f.before_hook) {
    EXPECT_THAT(t.HookRuns(), IsEmpty()) << f.name;
    const auto records = t.DecisionRecords();
    auto failed = std::find_if(records.begin(), records.end(), [](const nlohmann::json& e) {
      return e["event"] == "rollback.failed";
    });
    ASSERT_NE(failed, records.end()) << ::testing::PrintToString(t.Decisions());
    EXPECT_THAT((*failed)["reason"].get<std::string>(), HasSubstr(f.says));
    EXPECT_THAT((*failed)["reason"].get<std::string>(), HasSubstr("No space left on device"));
  } else {
    EXPECT_THAT(t.HookRuns(), ElementsAre("13s")) << f.name;
    const auto d = t.Decisions();
    EXPECT_NE(std::find(d.begin(), d.end(), "13s rollback.succeeded"), d.end())
        << ::testing::PrintToString(d);
  }
  // Every decision reached the webhook, failure or not.
  for (const nlohmann::json& e : t.DecisionRecords()) {
    EXPECT_TRUE(DeliveredIds(t).contains(e["id"].get<std::string>())) << e.dump();
  }

  // The next start recovers: it starts, and never runs the hook (again).
  const size_t runs = t.HookRuns().size();
  ASSERT_TRUE(t.Crash()) << f.name;
  t.Advance(30s);
  EXPECT_EQ(t.HookRuns().size(), runs) << f.name;
}

INSTANTIATE_TEST_SUITE_P(
    EachWrite, WriteFailureTest,
    ::testing::Values(WriteFault{"state save", FakeFileSystem::Op::kAtomicWrite,
                                 "/state/state.json", 1, true, "state not saved"},
                      WriteFault{"outbox append", FakeFileSystem::Op::kSync, "/state/outbox.jsonl",
                                 1, true, "notifications not written"},
                      WriteFault{"journal intent", FakeFileSystem::Op::kSync,
                                 "/state/journal.jsonl", 1, true, "journal intent not written"},
                      WriteFault{"journal outcome", FakeFileSystem::Op::kSync,
                                 "/state/journal.jsonl", 2, false, ""},
                      WriteFault{"notify state", FakeFileSystem::Op::kAtomicWrite,
                                 "/state/notify.json", 1, false, ""}),
    [](const auto& info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), ' ', '_');
      return n;
    });

TEST(WriteFailureCarryTest, NotificationsTheOutboxRefusedStayInTheStateFileUntilDelivered) {
  Timeline t(kTrigger);
  t.value = BreachFrom(t, 3s);
  bool failed = false;
  ASSERT_TRUE(t.Start());
  t.Advance(12500ms);
  t.fs().SetFault([&](FakeFileSystem::Op op, const std::string& path) -> std::optional<std::string> {
    // For good: a disk that stays broken under the outbox (state.json is elsewhere).
    if (op != FakeFileSystem::Op::kSync || path != "/state/outbox.jsonl") return {};
    failed = true;
    return std::string("fdatasync: Input/output error (injected)");
  });
  t.http().Freeze();  // the receiver is away: nothing is delivered, so nothing may be forgotten
  t.Advance(1s);
  ASSERT_TRUE(failed);
  std::vector<std::string> kept = Timeline::NotificationIds(*t.fs().Durable());
  const auto records = t.DecisionRecords();
  for (const nlohmann::json& e : records) {
    if (e["event"] == "trigger.firing" || e["event"] == "rollback.started") {
      EXPECT_NE(std::find(kept.begin(), kept.end(), e["id"]), kept.end())
          << e["event"] << " was refused by the outbox and must stay in state.json";
    }
  }
}

// Runs one rollback's lifecycle (breach at 3s, hook at 13s for 1s, verified), crashing after
// boundary `crash_at` (1-based; 0: no crash). Returns the boundaries seen in the first life.
std::vector<std::string> Lifecycle(Timeline& t, size_t crash_at) {
  std::vector<std::string> steps;
  // Breaching 3s..25s whatever the hook does: a second decision in the episode would show.
  t.value = [](Duration at) -> std::optional<double> { return at >= 3s && at < 25s ? 0.5 : 0.01; };
  t.hooks().duration = 1s;
  bool crashed = false;
  t.on_step = [&](const std::string& what) {
    if (crashed) return;
    steps.push_back(what);
    if (steps.size() == crash_at) {
      crashed = true;
      t.FreezeAll();
    }
  };
  EXPECT_TRUE(t.Start());
  t.Advance(12500ms);  // settled: from here on, the steps of the one rollback
  steps.clear();
  t.Advance(7500ms);
  if (crashed) {
    t.on_step = nullptr;
    EXPECT_TRUE(t.Restart());
    t.hooks().duration = 1s;
    t.Advance(30s);
  }
  return steps;
}

TEST(CrashBoundaryTest, AtEveryStepOfOneRollbackAtMostOneHookRunAndNothingDurableIsLost) {
  std::vector<std::string> boundaries;
  {
    Timeline t(kTrigger);
    boundaries = Lifecycle(t, 0);
    ASSERT_THAT(t.HookRuns(), ElementsAre("13s"));
    const auto d = t.Decisions();
    ASSERT_NE(std::find(d.begin(), d.end(), "16s rollback.not_recovered"), d.end())
        << ::testing::PrintToString(d);
  }
  const size_t n = boundaries.size();
  ASSERT_GE(n, 8u) << ::testing::PrintToString(boundaries);
  std::cout << "crash-boundary test: " << n << " boundaries in one rollback lifecycle:";
  for (const std::string& b : boundaries) std::cout << " [" << b << "]";
  std::cout << "\n";
  for (size_t k = 1; k <= n; ++k) {
    SCOPED_TRACE("crash after boundary " + std::to_string(k) + " of " + std::to_string(n) + ": " +
                 boundaries[k - 1]);
    Timeline t(kTrigger);
    Lifecycle(t, k);
    EXPECT_LE(t.HookRuns().size(), 1u);
    // Every notification that was durable at the crash was delivered, with its id; so was every
    // event the second life decided.
    const std::set<std::string> delivered = DeliveredIds(t);
    for (const std::string& id : t.durable_ids()) EXPECT_TRUE(delivered.contains(id)) << id;
    for (const nlohmann::json& e : t.DecisionRecords()) {
      EXPECT_TRUE(delivered.contains(e["id"].get<std::string>())) << e.dump();
    }
    // The lifecycle completed: the rollback has an outcome after the restart.
    EXPECT_TRUE(t.daemon().Status()[0].rollback_in_flight.empty());
    // No rollback outcome reported twice with different ids.
    std::set<std::string> outcomes;
    for (const auto& [id, payload] : t.Deliveries()) {
      const std::string kind = payload.value("event", "");
      if (kind == "rollback.succeeded" || kind == "rollback.failed") outcomes.insert(id);
    }
    EXPECT_LE(outcomes.size(), 1u) << ::testing::PrintToString(outcomes);
  }
}

}  // namespace
}  // namespace rollbackd
