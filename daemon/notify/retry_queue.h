// One channel's notifications waiting for delivery, and the decisions around them: which go out
// together, when the next attempt may start, when a failed one is retried and when it is given
// up. A plain value: no timers, no I/O, no clock of its own; the wall time and the jitter's
// randomness come in as arguments, so that tests script both. The Notifier owns one per channel
// and does what it says (sends, waits, logs, writes the outbox).
//
// Per queue: notifications leave in the order they were queued, one attempt (one batch) at a time.
//
// Not thread-safe; the daemon's loop owns it.
#ifndef ROLLBACKD_NOTIFY_RETRY_QUEUE_H_
#define ROLLBACKD_NOTIFY_RETRY_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/engine/samples.h"
#include "daemon/notify/delivery.h"
#include "daemon/notify/outbox.h"

namespace rollbackd {

struct Backoff {
  Duration initial{std::chrono::seconds(1)};
  Duration max{std::chrono::seconds(60)};
};

// The wait after `failed_attempts` (>= 1) failed attempts: initial x 2^(n-1), doubling stops
// once at or past `max`, then scaled by 0.8 + 0.4 x `jitter` (`jitter` in [0, 1]: +-20%, so that
// receivers coming back up are not hit by every sender at once), and at most `max`.
Duration BackoffDelay(const Backoff& backoff, int failed_attempts, double jitter);

class RetryQueue {
 public:
  struct Item {
    OutboxEntry entry;
    int attempts = 0;  // made so far
  };
  struct Policy {
    Backoff backoff;
    std::optional<int> max_retries;            // retries after the first attempt; none: no limit
    Duration max_age{std::chrono::hours(12)};  // counted from entry.created
    // Above 1: the head takes along the entries of its group that were queued before its
    // not_before (its group_wait) ended, up to this many in all (slack, alertmanager).
    size_t max_batch = 1;
  };
  // What happened to one notification, in order. Ended ones (every outcome but kRetrying) have
  // left the queue and `item` holds them; a retrying one stays queued and `item` is empty.
  struct Change {
    DeliveryOutcome outcome = DeliveryOutcome::kDelivered;
    Item item;
    std::string why;  // for logs: "max_retries 3 reached"; empty when delivered or retrying
  };

  // A reload may change the policy; it applies from the next decision on.
  void set_policy(Policy policy) { policy_ = std::move(policy); }
  const Policy& policy() const { return policy_; }

  void Push(OutboxEntry entry) { items_.push_back(Item{std::move(entry), 0}); }

  const std::deque<Item>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  uint64_t bytes() const;
  bool Holds(const std::string& id) const;
  // An attempt is in flight (between Next returning kSend and Settle).
  bool busy() const { return !batch_.empty(); }
  // The last failed attempt's error; cleared by a delivery.
  const std::string& last_error() const { return last_error_; }

  struct Step {
    enum Kind {
      kIdle,  // nothing queued (or an attempt is in flight)
      kWait,  // the head's not_before is `wait` ahead
      kSend,  // InFlight() is the batch to send now
    } kind = kIdle;
    Duration wait{0};
  };
  // What is next at `now`. Heads older than max_age leave first (expired, into `changes`).
  Step Next(Time now, std::vector<Change>* changes);
  // The batch in flight, in queue order (its first is the head).
  std::vector<const Item*> InFlight() const;

  struct Settled {
    std::vector<Change> changes;  // in batch order
    // A retry is due: the head waits `delay` before Next; `attempts` is the head's count.
    bool retry = false;
    Duration delay{0};
    int attempts = 0;
  };
  // The in-flight attempt's result at `now`. Every entry of the batch counts one more attempt.
  // Delivered and rejected entries leave; on kRetry each entry either expires (max_retries
  // passed, or the next attempt, `delay` from now, would be past max_age) or stays. `jitter` is
  // called once per kRetry (BackoffDelay's `jitter`).
  Settled Settle(const SendResult& result, Time now, const std::function<double()>& jitter);

  // The oldest notification not in flight (what a full outbox drops first); nullptr if none.
  const Item* OldestIdle() const;
  // Removes `seq` (which must not be in flight) and returns it.
  Item Take(uint64_t seq);
  // Removes everything, in flight or not: a removed channel, a shutdown without an outbox. A late
  // Settle is then a no-op.
  std::vector<Item> TakeAll();

 private:
  bool InBatch(uint64_t seq) const;

  Policy policy_;
  std::deque<Item> items_;
  std::vector<uint64_t> batch_;  // the seqs of the attempt in flight; empty when idle
  std::string last_error_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_RETRY_QUEUE_H_
