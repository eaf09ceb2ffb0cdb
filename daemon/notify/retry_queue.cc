#include "daemon/notify/retry_queue.h"

#include <algorithm>

namespace rollbackd {

Duration BackoffDelay(const Backoff& backoff, int failed_attempts, double jitter) {
  Duration d = backoff.initial;
  for (int i = 1; i < failed_attempts && d < backoff.max; ++i) d *= 2;
  const double factor = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
  const auto jittered = Duration(static_cast<int64_t>(static_cast<double>(d.count()) * factor));
  return std::min(jittered, backoff.max);
}

uint64_t RetryQueue::bytes() const {
  uint64_t n = 0;
  for (const Item& i : items_) n += i.entry.bytes();
  return n;
}

bool RetryQueue::Holds(const std::string& id) const {
  return std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.entry.id == id; });
}

bool RetryQueue::InBatch(uint64_t seq) const {
  return std::find(batch_.begin(), batch_.end(), seq) != batch_.end();
}

RetryQueue::Step RetryQueue::Next(Time now, std::vector<Change>* changes) {
  Step step;
  if (busy()) return step;
  while (!items_.empty() && now - items_.front().entry.created > policy_.max_age) {
    changes->push_back(Change{DeliveryOutcome::kExpired, std::move(items_.front()),
                              "older than max_age " + FormatDuration(policy_.max_age)});
    items_.pop_front();
  }
  if (items_.empty()) return step;
  const OutboxEntry& head = items_.front().entry;
  if (head.not_before > now) {
    step.kind = Step::kWait;
    step.wait = head.not_before - now;
    return step;
  }
  batch_ = {head.seq};
  for (size_t i = 1; i < items_.size() && batch_.size() < policy_.max_batch; ++i) {
    const OutboxEntry& e = items_[i].entry;
    if (e.group == head.group && e.created <= head.not_before) batch_.push_back(e.seq);
  }
  step.kind = Step::kSend;
  return step;
}

std::vector<const RetryQueue::Item*> RetryQueue::InFlight() const {
  std::vector<const Item*> out;
  for (const Item& i : items_) {
    if (InBatch(i.entry.seq)) out.push_back(&i);
  }
  return out;
}

RetryQueue::Settled RetryQueue::Settle(const SendResult& result, Time now,
                                       const std::function<double()>& jitter) {
  Settled s;
  if (batch_.empty()) return s;
  std::vector<uint64_t> batch;
  batch.swap(batch_);
  for (Item& i : items_) {
    if (std::find(batch.begin(), batch.end(), i.entry.seq) != batch.end()) ++i.attempts;
  }
  auto take = [&](uint64_t seq, DeliveryOutcome outcome, std::string why) {
    for (size_t i = 0; i < items_.size(); ++i) {
      if (items_[i].entry.seq != seq) continue;
      s.changes.push_back(Change{outcome, std::move(items_[i]), std::move(why)});
      items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  };
  if (result.result == DeliveryResult::kDelivered) {
    last_error_.clear();
    for (uint64_t seq : batch) take(seq, DeliveryOutcome::kDelivered, "");
    return s;
  }
  last_error_ = result.error;
  if (result.result == DeliveryResult::kRejected) {
    for (uint64_t seq : batch) take(seq, DeliveryOutcome::kRejected, "not retried");
    return s;
  }
  s.attempts = 1;
  for (const Item& i : items_) {
    if (i.entry.seq == batch.front()) s.attempts = i.attempts;
  }
  s.delay = BackoffDelay(policy_.backoff, s.attempts, jitter ? jitter() : 0.5);
  for (uint64_t seq : batch) {
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const Item& i) { return i.entry.seq == seq; });
    if (it == items_.end()) continue;
    if (policy_.max_retries && it->attempts > *policy_.max_retries) {
      take(seq, DeliveryOutcome::kExpired,
           "max_retries " + std::to_string(*policy_.max_retries) + " reached");
    } else if (now + s.delay - it->entry.created > policy_.max_age) {
      take(seq, DeliveryOutcome::kExpired,
           "max_age " + FormatDuration(policy_.max_age) + " reached");
    } else {
      s.changes.push_back(Change{DeliveryOutcome::kRetrying, Item{}, ""});
    }
  }
  s.retry = !items_.empty();
  return s;
}

const RetryQueue::Item* RetryQueue::OldestIdle() const {
  for (const Item& i : items_) {
    if (!InBatch(i.entry.seq)) return &i;
  }
  return nullptr;
}

RetryQueue::Item RetryQueue::Take(uint64_t seq) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (it->entry.seq != seq) continue;
    Item item = std::move(*it);
    items_.erase(it);
    return item;
  }
  return Item{};
}

std::vector<RetryQueue::Item> RetryQueue::TakeAll() {
  batch_.clear();
  std::vector<Item> out(std::make_move_iterator(items_.begin()),
                        std::make_move_iterator(items_.end()));
  items_.clear();
  return out;
}

}  // namespace rollbackd
