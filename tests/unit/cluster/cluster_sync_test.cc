// Cluster mode's state and intents (ClusterSync) on an in-memory etcd and the fake clock: a round
// without transitions writes nothing, a decision writes the service's state once, and the intent
// transaction holds only for the owner under a live lease whose view of the state is current.
#include "daemon/runtime/cluster_sync.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "testing/fake_clock.h"
#include "testing/fake_etcd.h"
#include "tests/unit/engine/engine_test_util.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using enginetest::EngineHarness;
using enginetest::Kinds;
using enginetest::Only;
using enginetest::Value;
using testing::FakeClock;
using testing::FakeEtcd;

constexpr char kShop[] = R"(
service = "shop"
[[trigger]]
name = "errors"
query = 'errors'
above = 0.05
for = "30s"
[rollback]
exec = ["undo"]
cooldown = "1h"
)";

ClusterSettings Settings(const std::string& name) {
  ClusterSettings s;
  s.name = name;
  s.prefix = "/t";
  s.lease_ttl = 10s;
  return s;
}

struct Member {
  Member(FakeEtcd& etcd, FakeClock& clock, const std::string& name)
      : engine(kShop), sync(etcd, clock, Settings(name), {}) {
    sync.Attach(engine.engine());
    sync.Start();
  }
  bool active() { return engine.engine().Status().at(0).active; }
  // The intent of the rollback.started among `events`.
  std::pair<std::optional<int64_t>, std::string> Intent(const std::vector<Event>& events,
                                                        FakeClock& clock) {
    std::pair<std::optional<int64_t>, std::string> result{std::nullopt, "no answer"};
    sync.Intent(Only(events, EventKind::kRollbackStarted),
                [&](std::optional<int64_t> token, std::string err) {
                  result = {token, err};
                });
    EXPECT_TRUE(clock.RunReady());
    return result;
  }
  EngineHarness engine;
  ClusterSync sync;
};

class ClusterSyncTest : public ::testing::Test {
 protected:
  boost::asio::io_context io;
  FakeClock clock{&io};
  FakeEtcd etcd{io, clock};
};

TEST_F(ClusterSyncTest, SteadyStateWritesNothingAndADecisionWritesOnce) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  ASSERT_TRUE(a.active());
  a.engine.Set("errors", Value(0.01));
  a.engine.Eval("0s");  // the series appears: written once
  a.sync.Sync();
  ASSERT_TRUE(clock.RunReady());
  const size_t after_start = etcd.write_txns;
  for (int i = 1; i < 100; ++i) {
    a.engine.Eval(std::to_string(i * 15) + "s");
    a.sync.Sync();
    ASSERT_TRUE(clock.RunReady());
  }
  EXPECT_EQ(etcd.write_txns, after_start) << "no transition, no write";

  a.engine.Set("errors", Value(0.5));
  EXPECT_EQ(Kinds(a.engine.Eval("1500s")), std::vector<std::string>{"trigger.pending"});
  a.sync.Sync();
  ASSERT_TRUE(clock.RunReady());
  for (int i = 1; i < 2; ++i) {  // still pending, another value: nothing new to write
    a.engine.Set("errors", Value(0.6));
    a.engine.Eval("1510s");
    a.sync.Sync();
    ASSERT_TRUE(clock.RunReady());
  }
  EXPECT_EQ(etcd.write_txns, after_start + 1);
  ASSERT_NE(etcd.Get("/t/services/shop/state"), nullptr);
  EXPECT_EQ(etcd.Get("/t/services/shop/state")->value, a.engine.engine().SaveServiceState("shop"));
}

TEST_F(ClusterSyncTest, TheIntentGivesAnIncreasingFencingTokenToTheOwner) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a.engine.Set("errors", Value(0.5));
  std::vector<Event> events = a.engine.Run("0s", "30s", "10s");
  const int64_t before = etcd.revision();
  auto [token, err] = a.Intent(events, clock);
  ASSERT_TRUE(token.has_value()) << err;
  EXPECT_GT(*token, before);
  EXPECT_EQ(*token, etcd.revision());
  const EtcdKv* intent = etcd.Get("/t/services/shop/rollback");
  ASSERT_NE(intent, nullptr);
  EXPECT_EQ(intent->mod_revision, *token);
  EXPECT_NE(intent->value.find("\"member\":\"a\""), std::string::npos);
  // The state written with it has the rollback in flight: a new owner never runs it again.
  EXPECT_NE(
      etcd.Get("/t/services/shop/state")->value.find(Only(events, EventKind::kRollbackStarted).id),
      std::string::npos);
}

TEST_F(ClusterSyncTest, TheIntentFailsWhenAnotherMemberWroteTheStateMeanwhile) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a.engine.Set("errors", Value(0.5));
  std::vector<Event> events = a.engine.Run("0s", "30s", "10s");
  // Another member (say, one that took the service over during a pause) wrote its state.
  EtcdTxn other;
  other.success.push_back({EtcdOp::Kind::kPut, "/t/services/shop/state", "{}", 0, ""});
  etcd.Txn(other, [](EtcdTxnResult) {});
  ASSERT_TRUE(clock.RunReady());
  auto [token, err] = a.Intent(events, clock);
  EXPECT_FALSE(token.has_value());
  EXPECT_NE(err.find("intent transaction failed"), std::string::npos) << err;
  EXPECT_EQ(etcd.Get("/t/services/shop/rollback"), nullptr);
  EXPECT_FALSE(a.active()) << "handed back until read again from etcd";
}

TEST_F(ClusterSyncTest, AnIntentWhoseAnswerWasLostIsSettledByEtcd) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a.engine.Set("errors", Value(0.5));
  std::vector<Event> events = a.engine.Run("0s", "30s", "10s");
  // Committed, but the answer timed out: the hook runs, with the intent's revision.
  etcd.lose_answers = 1;
  auto [token, err] = a.Intent(events, clock);
  ASSERT_TRUE(token.has_value()) << err;
  EXPECT_EQ(*token, etcd.Get("/t/services/shop/rollback")->mod_revision);
  EXPECT_TRUE(a.active());
}

TEST_F(ClusterSyncTest, AnIntentThatDidNotApplyCannotApplyLater) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a.engine.Set("errors", Value(0.5));
  std::vector<Event> events = a.engine.Run("0s", "30s", "10s");
  etcd.down = true;  // nothing applied, no answer
  std::optional<std::pair<std::optional<int64_t>, std::string>> result;
  a.sync.Intent(Only(events, EventKind::kRollbackStarted),
                [&](std::optional<int64_t> token, std::string e) { result.emplace(token, e); });
  ASSERT_TRUE(clock.Advance(1s));
  EXPECT_FALSE(result.has_value()) << "asked again while the lease is beyond doubt";
  etcd.down = false;
  ASSERT_TRUE(clock.Advance(1s));
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->first.has_value());
  EXPECT_NE(result->second.find("not applied"), std::string::npos) << result->second;
  EXPECT_EQ(etcd.Get("/t/services/shop/rollback"), nullptr);
  EXPECT_FALSE(a.active()) << "read again from etcd, where the decision was never made";
}

TEST_F(ClusterSyncTest, NoIntentWithoutALiveLease) {
  Member a(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a.engine.Set("errors", Value(0.5));
  std::vector<Event> events = a.engine.Run("0s", "30s", "10s");
  etcd.down = true;
  ASSERT_TRUE(clock.Advance(9s));  // renewals fail; the lease is in doubt from ttl - margin on
  auto [token, err] = a.Intent(events, clock);
  EXPECT_FALSE(token.has_value());
  etcd.down = false;
  EXPECT_EQ(etcd.Get("/t/services/shop/rollback"), nullptr);
}

TEST_F(ClusterSyncTest, ANewOwnerCarriesOnThePendingWindowAndNeverRollsBackTwice) {
  auto a = std::make_unique<Member>(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  a->engine.Set("errors", Value(0.5));
  EXPECT_EQ(Kinds(a->engine.Run("0s", "10s", "10s")), std::vector<std::string>{"trigger.pending"});
  a->sync.Sync();
  ASSERT_TRUE(clock.RunReady());

  Member b(etcd, clock, "b");
  ASSERT_TRUE(clock.RunReady());
  // One of them evaluates the service; stop `a` and `b` has it.
  bool stopped = false;
  a->sync.Stop([&] { stopped = true; });
  ASSERT_TRUE(clock.Advance(1s));
  ASSERT_TRUE(stopped);
  a.reset();
  b.sync.Refresh();
  ASSERT_TRUE(clock.RunReady());
  ASSERT_TRUE(b.active());
  b.engine.Set("errors", Value(0.5));
  // Fires at first breach (0s) + for (30s), not 30s after the takeover.
  EXPECT_EQ(Kinds(b.engine.Run("20s", "30s", "10s")),
            (std::vector<std::string>{"trigger.firing", "rollback.started"}));
}

TEST_F(ClusterSyncTest, NotificationsADeadMemberLeftAreTakenOverWithTheirIds) {
  auto a = std::make_unique<Member>(etcd, clock, "a");
  ASSERT_TRUE(clock.RunReady());
  OutboxEntry e;
  e.channel = "pager";
  e.id = "evt_1";
  e.kind = "rollback.started";
  e.service = "shop";
  e.payload = "{}";
  OutboxEntry other = e;
  other.service = "unknown";  // not a service of this member: not copied
  a->sync.Publish({e, other});
  ASSERT_TRUE(clock.RunReady());
  ASSERT_NE(etcd.Get("/t/outbox/shop/pager/evt_1"), nullptr);
  EXPECT_EQ(etcd.Get("/t/outbox/unknown/pager/evt_1"), nullptr);

  // Delivered: the copy goes.
  a->sync.Ended(e);
  ASSERT_TRUE(clock.RunReady());
  EXPECT_EQ(etcd.Get("/t/outbox/shop/pager/evt_1"), nullptr);

  // Not delivered when `a` dies (its lease runs out): `b` takes it over.
  e.id = "evt_2";
  a->sync.Publish({e});
  ASSERT_TRUE(clock.RunReady());
  std::vector<OutboxEntry> recovered;
  ClusterSync::Callbacks callbacks;
  callbacks.recover = [&](std::vector<OutboxEntry> entries) { recovered = std::move(entries); };
  EngineHarness b_engine(kShop);
  ClusterSync b(etcd, clock, Settings("b"), callbacks);
  b.Attach(b_engine.engine());
  b.Start();
  ASSERT_TRUE(clock.RunReady());
  EXPECT_TRUE(recovered.empty()) << "a is live: it delivers its own";
  a.reset();  // a dies without a word: its lease expires (the fake etcd notices at b's renewals)
  ASSERT_TRUE(clock.Advance(15s));
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].id, "evt_2");
  EXPECT_EQ(recovered[0].channel, "pager");
  b.Ended(recovered[0]);
  ASSERT_TRUE(clock.RunReady());
  EXPECT_EQ(etcd.Get("/t/outbox/shop/pager/evt_2"), nullptr);
}

}  // namespace
}  // namespace rollbackd
