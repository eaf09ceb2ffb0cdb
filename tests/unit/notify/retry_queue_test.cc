// The retry queue on its own: time and randomness come in as arguments, so every case is a
// timeline of explicit instants.
#include "daemon/notify/retry_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const Time kT0 = Time(1'700'000'000'000ms);

OutboxEntry Entry(uint64_t seq, Duration created = 0s, Duration group_wait = 0s,
                  std::string group = "checkout") {
  OutboxEntry e;
  e.seq = seq;
  e.channel = "oncall";
  e.group = std::move(group);
  e.id = "evt_" + std::to_string(seq);
  e.kind = "trigger.firing";
  e.service = e.group;
  e.created = kT0 + created;
  e.not_before = e.created + group_wait;
  e.payload = "{}";
  return e;
}

std::vector<uint64_t> Seqs(const std::vector<const RetryQueue::Item*>& items) {
  std::vector<uint64_t> out;
  for (const RetryQueue::Item* i : items) out.push_back(i->entry.seq);
  return out;
}

std::vector<std::string> Words(const std::vector<RetryQueue::Change>& changes) {
  std::vector<std::string> out;
  for (const RetryQueue::Change& c : changes) {
    out.push_back(std::string(DeliveryOutcomeName(c.outcome)) +
                  (c.why.empty() ? "" : " (" + c.why + ")"));
  }
  return out;
}

const std::function<double()> kNoJitter = [] { return 0.5; };

TEST(BackoffDelay, DoublesFromInitialAndJittersWithinTwentyPercentUpToMax) {
  const Backoff b{1s, 60s};
  struct Case {
    int failed;
    double jitter;
    Duration want;
  };
  for (const Case c : {
           Case{1, 0.5, 1s},
           Case{2, 0.5, 2s},
           Case{3, 0.5, 4s},
           Case{6, 0.5, 32s},
           Case{7, 0.5, 60s},      // 64 s, at most max
           Case{1000, 0.5, 60s},   // doubling stops at max: no overflow
           Case{1, 0.0, 800ms},    // -20%
           Case{1, 1.0, 1200ms},   // +20%
           Case{4, 0.25, 7200ms},  // 8 s x 0.9
           Case{7, 0.0, 51200ms},  // 64 s x 0.8: below max
           Case{7, 1.0, 60s},
           Case{1, -3.0, 800ms},  // out of [0, 1]: clamped
           Case{1, 7.0, 1200ms},
       }) {
    SCOPED_TRACE(::testing::Message() << c.failed << " failed, jitter " << c.jitter);
    EXPECT_EQ(BackoffDelay(b, c.failed, c.jitter), c.want);
  }
}

TEST(RetryQueue, AnEmptyQueueIsIdle) {
  RetryQueue q;
  std::vector<RetryQueue::Change> changes;
  EXPECT_EQ(q.Next(kT0, &changes).kind, RetryQueue::Step::kIdle);
  EXPECT_THAT(changes, IsEmpty());
  EXPECT_FALSE(q.busy());
}

TEST(RetryQueue, TheHeadWaitsForItsGroupWaitThenGoesAlone) {
  RetryQueue q;
  q.Push(Entry(1, 0s, 30s));
  q.Push(Entry(2, 10s, 30s));  // same group, but the queue does not batch (max_batch 1)
  std::vector<RetryQueue::Change> changes;
  RetryQueue::Step step = q.Next(kT0 + 10s, &changes);
  EXPECT_EQ(step.kind, RetryQueue::Step::kWait);
  EXPECT_EQ(step.wait, 20s);
  step = q.Next(kT0 + 30s, &changes);
  EXPECT_EQ(step.kind, RetryQueue::Step::kSend);
  EXPECT_THAT(Seqs(q.InFlight()), ElementsAre(1u));
  EXPECT_TRUE(q.busy());
  EXPECT_EQ(q.Next(kT0 + 30s, &changes).kind, RetryQueue::Step::kIdle);  // one at a time
}

TEST(RetryQueue, ABatchTakesItsGroupQueuedWithinTheHeadsGroupWait) {
  RetryQueue q;
  RetryQueue::Policy p;
  p.max_batch = 3;
  q.set_policy(p);
  q.Push(Entry(1, 0s, 30s));
  q.Push(Entry(2, 5s, 30s, "search"));  // another group
  q.Push(Entry(3, 10s, 30s));
  q.Push(Entry(4, 30s, 30s));  // queued as the group_wait ended: still in
  q.Push(Entry(5, 31s, 30s));  // after: its own batch
  q.Push(Entry(6, 20s, 30s));  // in, but the batch is full
  std::vector<RetryQueue::Change> changes;
  ASSERT_EQ(q.Next(kT0 + 30s, &changes).kind, RetryQueue::Step::kSend);
  EXPECT_THAT(Seqs(q.InFlight()), ElementsAre(1u, 3u, 4u));
  const RetryQueue::Settled s = q.Settle({DeliveryResult::kDelivered, ""}, kT0 + 31s, kNoJitter);
  EXPECT_THAT(Words(s.changes), ElementsAre("delivered", "delivered", "delivered"));
  EXPECT_THAT(Seqs({&q.items()[0], &q.items()[1], &q.items()[2]}), ElementsAre(2u, 5u, 6u));
}

TEST(RetryQueue, ARetryWaitsTheBackoffOfTheHeadsAttempts) {
  RetryQueue q;
  q.Push(Entry(1));
  std::vector<RetryQueue::Change> changes;
  int draws = 0;
  const std::function<double()> jitter = [&] {
    ++draws;
    return 1.0;
  };
  Time now = kT0;
  for (const Duration want : {1200ms, 2400ms, 4800ms}) {
    ASSERT_EQ(q.Next(now, &changes).kind, RetryQueue::Step::kSend);
    const RetryQueue::Settled s = q.Settle({DeliveryResult::kRetry, "HTTP 503"}, now, jitter);
    EXPECT_THAT(Words(s.changes), ElementsAre("retrying"));
    EXPECT_TRUE(s.retry);
    EXPECT_EQ(s.delay, want);
    now += s.delay;
  }
  EXPECT_EQ(draws, 3);  // once per retry
  EXPECT_EQ(q.items()[0].attempts, 3);
  EXPECT_EQ(q.last_error(), "HTTP 503");
  ASSERT_EQ(q.Next(now, &changes).kind, RetryQueue::Step::kSend);
  const RetryQueue::Settled s = q.Settle({DeliveryResult::kDelivered, ""}, now, jitter);
  EXPECT_EQ(draws, 3);  // a delivery draws nothing
  ASSERT_EQ(s.changes.size(), 1u);
  EXPECT_EQ(s.changes[0].item.attempts, 4);
  EXPECT_EQ(q.last_error(), "");
  EXPECT_TRUE(q.empty());
}

TEST(RetryQueue, ARejectionEndsTheWholeBatch) {
  RetryQueue q;
  RetryQueue::Policy p;
  p.max_batch = 5;
  q.set_policy(p);
  q.Push(Entry(1));
  q.Push(Entry(2));
  std::vector<RetryQueue::Change> changes;
  ASSERT_EQ(q.Next(kT0, &changes).kind, RetryQueue::Step::kSend);
  const RetryQueue::Settled s =
      q.Settle({DeliveryResult::kRejected, "HTTP 400: bad"}, kT0, kNoJitter);
  EXPECT_THAT(Words(s.changes), ElementsAre("rejected (not retried)", "rejected (not retried)"));
  EXPECT_FALSE(s.retry);
  EXPECT_EQ(q.last_error(), "HTTP 400: bad");
  EXPECT_TRUE(q.empty());
}

TEST(RetryQueue, MaxRetriesCountsRetriesAfterTheFirstAttempt) {
  RetryQueue q;
  RetryQueue::Policy p;
  p.max_retries = 2;
  q.set_policy(p);
  q.Push(Entry(1));
  q.Push(Entry(2));
  std::vector<RetryQueue::Change> changes;
  std::vector<std::string> words;
  Time now = kT0;
  RetryQueue::Settled s;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(q.Next(now, &changes).kind, RetryQueue::Step::kSend);
    s = q.Settle({DeliveryResult::kRetry, "refused"}, now, kNoJitter);
    for (const std::string& w : Words(s.changes)) words.push_back(w);
    now += s.delay;
  }
  EXPECT_THAT(words, ElementsAre("retrying", "retrying", "expired (max_retries 2 reached)"));
  EXPECT_EQ(s.changes[0].item.attempts, 3);
  // The next one waits the backoff of the head that just failed, then goes.
  EXPECT_TRUE(s.retry);
  EXPECT_EQ(s.delay, 4s);
  EXPECT_THAT(Seqs({&q.items()[0]}), ElementsAre(2u));
}

TEST(RetryQueue, MaxAgeEndsANotificationBeforeAnAttemptAndBeforeATooLateRetry) {
  RetryQueue q;
  RetryQueue::Policy p;
  p.max_age = 10s;
  q.set_policy(p);
  q.Push(Entry(1, 0s));
  q.Push(Entry(2, 8s));
  std::vector<RetryQueue::Change> changes;
  // Not sent until 11 s: the first is too old by then.
  ASSERT_EQ(q.Next(kT0 + 11s, &changes).kind, RetryQueue::Step::kSend);
  EXPECT_THAT(Words(changes), ElementsAre("expired (older than max_age 10s)"));
  EXPECT_THAT(Seqs(q.InFlight()), ElementsAre(2u));
  // Failing at 17 s: the retry would come at 18 s, 10 s after it was queued, which is allowed.
  RetryQueue::Settled s = q.Settle({DeliveryResult::kRetry, "refused"}, kT0 + 17s, kNoJitter);
  EXPECT_THAT(Words(s.changes), ElementsAre("retrying"));
  ASSERT_EQ(q.Next(kT0 + 18s, &changes).kind, RetryQueue::Step::kSend);
  // Failing at 18 s: the retry, 2 s later, would be too late.
  s = q.Settle({DeliveryResult::kRetry, "refused"}, kT0 + 18s, kNoJitter);
  EXPECT_THAT(Words(s.changes), ElementsAre("expired (max_age 10s reached)"));
  EXPECT_FALSE(s.retry);
  EXPECT_TRUE(q.empty());
}

TEST(RetryQueue, WhatAFullOutboxDropsIsTheOldestNotInFlight) {
  RetryQueue q;
  q.Push(Entry(1));
  q.Push(Entry(2));
  std::vector<RetryQueue::Change> changes;
  ASSERT_EQ(q.Next(kT0, &changes).kind, RetryQueue::Step::kSend);
  const RetryQueue::Item* oldest = q.OldestIdle();
  ASSERT_NE(oldest, nullptr);
  EXPECT_EQ(oldest->entry.seq, 2u);
  EXPECT_EQ(q.Take(2).entry.id, "evt_2");
  EXPECT_EQ(q.OldestIdle(), nullptr);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(q.Holds("evt_1"));
  EXPECT_FALSE(q.Holds("evt_2"));
}

TEST(RetryQueue, AfterTakeAllALateResultChangesNothing) {
  RetryQueue q;
  q.Push(Entry(1));
  std::vector<RetryQueue::Change> changes;
  ASSERT_EQ(q.Next(kT0, &changes).kind, RetryQueue::Step::kSend);
  EXPECT_EQ(q.TakeAll().size(), 1u);
  EXPECT_FALSE(q.busy());
  const RetryQueue::Settled s = q.Settle({DeliveryResult::kDelivered, ""}, kT0, kNoJitter);
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_TRUE(q.empty());
}

TEST(DeliveryOutcomeName, IsTheObserversWord) {
  EXPECT_EQ(DeliveryOutcomeName(DeliveryOutcome::kDelivered), "delivered");
  EXPECT_EQ(DeliveryOutcomeName(DeliveryOutcome::kRejected), "rejected");
  EXPECT_EQ(DeliveryOutcomeName(DeliveryOutcome::kExpired), "expired");
  EXPECT_EQ(DeliveryOutcomeName(DeliveryOutcome::kDropped), "dropped");
  EXPECT_EQ(DeliveryOutcomeName(DeliveryOutcome::kRetrying), "retrying");
}

}  // namespace
}  // namespace rollbackd
