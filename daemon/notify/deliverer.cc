#include "daemon/notify/deliverer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace rollbackd {
namespace {

using nlohmann::json;

std::string Describe(const OutboxEntry& e) {
  return e.kind + " of service " + e.service + ", notification " + e.id;
}

}  // namespace

Deliverer::Deliverer(HttpTransport& http, ProcessRunner& exec, Clock& clock,
                     NotifierOptions options)
    : http_(http),
      clock_(clock),
      options_(std::move(options)),
      drain_timer_(clock.NewTimer()),
      done_timer_(clock.NewTimer()) {
  for (ChannelType t : {ChannelType::kWebhook, ChannelType::kSlack, ChannelType::kAlertmanager,
                        ChannelType::kExec}) {
    senders_[t] = MakeChannelSender(t, http, exec);
  }
}

Deliverer::~Deliverer() {
  if (outbox_ != nullptr) return;
  for (const auto& [name, lane] : lanes_) {
    for (const RetryQueue::Item& i : lane->queue.items()) {
      spdlog::warn("notification to channel {} lost at shutdown: {}", name, Describe(i.entry));
    }
  }
}

Time Deliverer::Now() { return std::chrono::time_point_cast<Duration>(clock_.WallNow()); }

void Deliverer::Report(std::string_view channel, DeliveryOutcome outcome) {
  if (observer_) observer_(channel, DeliveryOutcomeName(outcome));
}

// ---- channels and queueing -------------------------------------------------------------------

RetryQueue::Policy Deliverer::PolicyFor(const Channel& c) const {
  RetryQueue::Policy p;
  p.backoff = Backoff{options_.initial_backoff, options_.max_backoff};
  p.max_retries = c.max_retries;
  p.max_age = c.max_age.value_or(limits_.max_age);
  auto it = senders_.find(c.type);
  p.max_batch = it != senders_.end() && it->second->batches() ? options_.max_batch : 1;
  return p;
}

void Deliverer::Configure(std::map<std::string, std::shared_ptr<const ChannelSpec>> channels,
                          const OutboxSettings& limits, const Dispatcher& dispatcher) {
  dispatcher_ = &dispatcher;
  limits_ = limits;
  for (auto it = lanes_.begin(); it != lanes_.end();) {
    if (channels.count(it->first) != 0) {
      ++it;
      continue;
    }
    Lane& lane = *it->second;
    for (const RetryQueue::Item& i : lane.queue.TakeAll()) {
      End(lane, DeliveryOutcome::kDropped, i,
          "channel " + it->first + " was removed from the configuration");
    }
    it = lanes_.erase(it);
  }
  for (const auto& [name, ch] : channels) {
    if (ch->config.type == ChannelType::kLog) continue;
    auto& lane = lanes_[name];
    if (!lane) {
      lane = std::make_unique<Lane>();
      lane->name = name;
      lane->timer = clock_.NewTimer();
      lane->resend_timer = clock_.NewTimer();
    }
    lane->channel = ch;
    lane->queue.set_policy(PolicyFor(ch->config));
    ScheduleResend(*lane);
  }
}

void Deliverer::Requeue(std::vector<OutboxEntry> loaded) {
  for (OutboxEntry& e : loaded) {
    auto it = lanes_.find(e.channel);
    if (it == lanes_.end()) {
      std::string error;
      if (outbox_) outbox_->Remove(e.seq, DeliveryOutcomeName(DeliveryOutcome::kDropped), &error);
      spdlog::warn("notification {} ({} of service {}) dropped: channel {} is not configured",
                   e.id, e.kind, e.service, e.channel);
      Report(e.channel, DeliveryOutcome::kDropped);
      if (ended_) ended_(e);
      continue;
    }
    it->second->queue.Push(std::move(e));
  }
  for (const auto& [name, lane] : lanes_) Pump(*lane);
}

bool Deliverer::Enqueue(std::vector<OutboxEntry> entries, std::string* error_out) {
  if (entries.empty()) return true;
  MakeRoom(entries);
  bool durable = true;
  if (outbox_) {
    std::string error;
    if (!outbox_->Add(&entries, &error)) {
      spdlog::error("outbox {}: {}; {} notification(s) kept in memory only", outbox_->path(),
                    error, entries.size());
      if (error_out) *error_out = "outbox " + outbox_->path() + ": " + error;
      durable = false;
    }
  } else {
    for (OutboxEntry& e : entries) e.seq = next_seq_++;
  }
  std::set<std::string> touched;
  for (OutboxEntry& e : entries) {
    auto it = lanes_.find(e.channel);
    if (it == lanes_.end()) continue;  // the dispatcher only names configured channels
    touched.insert(e.channel);
    it->second->queue.Push(std::move(e));
  }
  for (const std::string& name : touched) Pump(*lanes_.at(name));
  return durable;
}

// The outbox is bounded: the oldest notifications that are not being sent make room.
void Deliverer::MakeRoom(const std::vector<OutboxEntry>& incoming) {
  uint64_t bytes = 0;
  for (const OutboxEntry& e : incoming) bytes += e.bytes();
  size_t count = pending() + incoming.size();
  uint64_t total = pending_bytes() + bytes;
  while (count > limits_.max_entries || total > limits_.max_bytes) {
    Lane* oldest = nullptr;
    const RetryQueue::Item* item = nullptr;
    for (auto& [name, lane] : lanes_) {
      const RetryQueue::Item* i = lane->queue.OldestIdle();
      if (i != nullptr && (item == nullptr || i->entry.seq < item->entry.seq)) {
        oldest = lane.get();
        item = i;
      }
    }
    if (oldest == nullptr) break;  // everything left is in flight
    total -= std::min(total, item->entry.bytes());
    --count;
    End(*oldest, DeliveryOutcome::kDropped, oldest->queue.Take(item->entry.seq),
        "the outbox is full (max_entries " + std::to_string(limits_.max_entries) +
            ", max_bytes " + std::to_string(limits_.max_bytes) + ")");
  }
}

bool Deliverer::Holds(const std::string& channel, const std::string& id) const {
  auto it = lanes_.find(channel);
  return it != lanes_.end() && it->second->queue.Holds(id);
}

size_t Deliverer::pending() const {
  size_t n = 0;
  for (const auto& [name, lane] : lanes_) n += lane->queue.size();
  return n;
}

uint64_t Deliverer::pending_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, lane] : lanes_) n += lane->queue.bytes();
  return n;
}

std::map<std::string, size_t> Deliverer::PendingByChannel() const {
  std::map<std::string, size_t> out;
  for (const auto& [name, lane] : lanes_) out[name] = lane->queue.size();
  return out;
}

// `item` left `lane`'s queue: delivered, rejected, expired or dropped.
void Deliverer::End(Lane& lane, DeliveryOutcome outcome, const RetryQueue::Item& item,
                    const std::string& why) {
  const std::string_view result = DeliveryOutcomeName(outcome);
  if (outbox_) {
    std::string error;
    if (!outbox_->Remove(item.entry.seq, result, &error)) {
      spdlog::error("outbox {}: {} (the notification may be sent again after a restart)",
                    outbox_->path(), error);
    }
  }
  if (outcome == DeliveryOutcome::kDelivered) {
    spdlog::debug("notification to channel {} delivered: {}", lane.name, Describe(item.entry));
  } else {
    const std::string& last_error = lane.queue.last_error();
    spdlog::warn("notification to channel {} {} after {} attempt{}: {}; {}{}", lane.name, result,
                 item.attempts, item.attempts == 1 ? "" : "s", Describe(item.entry), why,
                 last_error.empty() || outcome == DeliveryOutcome::kDropped
                     ? ""
                     : "; last error: " + last_error);
  }
  Report(lane.name, outcome);
  if (ended_) ended_(item.entry);
}

void Deliverer::Apply(Lane& lane, std::vector<RetryQueue::Change> changes) {
  for (RetryQueue::Change& c : changes) {
    if (c.outcome == DeliveryOutcome::kRetrying) {
      Report(lane.name, c.outcome);
    } else {
      End(lane, c.outcome, c.item, c.why);
    }
  }
}

// ---- sending ---------------------------------------------------------------------------------

void Deliverer::Pump(Lane& lane) {
  if (stopped_ || lane.queue.busy() || lane.waiting) return;
  const Time now = Now();
  std::vector<RetryQueue::Change> expired;
  const RetryQueue::Step step = lane.queue.Next(now, &expired);
  Apply(lane, std::move(expired));
  switch (step.kind) {
    case RetryQueue::Step::kIdle:
      CheckDrained();
      return;
    case RetryQueue::Step::kWait:
      Wait(lane, step.wait);
      return;
    case RetryQueue::Step::kSend:
      Attempt(lane, now);
      return;
  }
}

void Deliverer::Wait(Lane& lane, Duration delay) {
  lane.waiting = true;
  // The lane owns the timer: when a reload removes the lane, the wait goes with it.
  // At most a day at a time: Pump works out the wait again when it wakes. A not_before read back
  // from a damaged outbox can lie thousands of years ahead, and the steady clock's nanoseconds
  // overflow past 292 years (undefined behaviour: found by fuzz/state_dir_fuzz.cc).
  const Duration wait = std::clamp(delay, Duration(0), Duration(std::chrono::hours(24)));
  clock_.After(*lane.timer, wait, [this, &lane] {
    lane.waiting = false;
    Pump(lane);
  });
}

void Deliverer::Attempt(Lane& lane, Time now) {
  const uint64_t attempt = ++lane.attempt_id;
  auto it = senders_.find(lane.channel->config.type);
  if (it == senders_.end() || it->second == nullptr) {  // log channels are never queued
    OnResult(lane.name, attempt, SendResult{});
    return;
  }
  const std::vector<const RetryQueue::Item*> items = lane.queue.InFlight();
  SendBatch batch;
  batch.channel = lane.name;
  for (const RetryQueue::Item* i : items) batch.entries.push_back(&i->entry);
  batch.attempt = items.front()->attempts + 1;
  batch.now = now;
  batch.external_url = dispatcher_->external_url();
  it->second->Send(*lane.channel, batch,
                   [weak = weak_from_this(), name = lane.name, attempt](SendResult r) {
                     if (auto self = weak.lock()) self->OnResult(name, attempt, std::move(r));
                   });
}

void Deliverer::OnResult(const std::string& name, uint64_t attempt, SendResult result) {
  auto it = lanes_.find(name);
  if (it == lanes_.end()) return;  // the channel went away with a reload
  Lane& lane = *it->second;
  if (!lane.queue.busy() || lane.attempt_id != attempt) return;
  RetryQueue::Settled s = lane.queue.Settle(result, Now(), options_.jitter);
  Apply(lane, std::move(s.changes));
  if (result.result != DeliveryResult::kRetry) {
    Pump(lane);
    return;
  }
  if (!s.retry) {
    CheckDrained();
    return;
  }
  spdlog::info("notification to channel {} failed (attempt {}), retrying in {}; {} queued: {}",
               lane.name, s.attempts, FormatDuration(s.delay), lane.queue.size(), result.error);
  Wait(lane, s.delay);
}

// ---- Alertmanager re-sends -------------------------------------------------------------------

void Deliverer::ScheduleResend(Lane& lane) {
  lane.resend_timer->Cancel();
  if (lane.channel->config.type != ChannelType::kAlertmanager || stopped_) return;
  clock_.After(*lane.resend_timer, lane.channel->config.resend, [this, &lane] {
    Resend(lane);
    ScheduleResend(lane);
  });
}

// Alertmanager forgets an alert that is not sent again before its endsAt. While the queue holds
// notifications, those carry the news; otherwise the firing alerts go again.
void Deliverer::Resend(Lane& lane) {
  if (dispatcher_ == nullptr || !lane.queue.empty() || lane.resend_in_flight) return;
  const std::vector<json> alerts = dispatcher_->FiringAlerts(lane.name);
  if (alerts.empty()) return;
  std::vector<const json*> refs;
  for (const json& a : alerts) refs.push_back(&a);
  lane.resend_in_flight = true;
  http_.Send(AlertmanagerRequest(lane.channel->config, refs, Now()),
             [weak = weak_from_this(), name = lane.name, n = alerts.size()](HttpResponse r) {
               auto self = weak.lock();
               if (!self) return;
               auto it = self->lanes_.find(name);
               if (it != self->lanes_.end()) it->second->resend_in_flight = false;
               if (r.ok()) {
                 spdlog::debug("channel {}: {} firing alert(s) sent again", name, n);
               } else {
                 spdlog::warn("channel {}: sending {} firing alert(s) again failed: {}", name, n,
                              r.status == 0 ? r.error : "HTTP " + std::to_string(r.status));
               }
             });
}

// ---- drain -----------------------------------------------------------------------------------

void Deliverer::CheckDrained() {
  if (!drain_done_ || pending() != 0) return;
  for (const auto& [name, lane] : lanes_) {
    if (lane->queue.busy()) return;
  }
  EndDrain();
}

void Deliverer::Drain(Duration limit, std::function<void()> done) {
  drain_done_ = std::move(done);
  if (pending() == 0) {
    EndDrain();
    return;
  }
  clock_.After(*drain_timer_, limit, [this] {
    if (drain_done_) EndDrain();
  });
}

void Deliverer::EndDrain() {
  drain_timer_->Cancel();
  stopped_ = true;
  for (auto& [name, lane] : lanes_) {
    lane->timer->Cancel();
    lane->resend_timer->Cancel();
  }
  const size_t left = pending();
  if (left > 0) {
    if (outbox_) {
      spdlog::warn("stopping with {} notification(s) not delivered; they stay in {} and are "
                   "sent at the next start",
                   left, outbox_->path());
    } else {
      for (auto& [name, lane] : lanes_) {
        const std::string last_error = lane->queue.last_error();
        for (const RetryQueue::Item& i : lane->queue.TakeAll()) {
          spdlog::warn("notification to channel {} lost at shutdown: {}; last error: {}", name,
                       Describe(i.entry), last_error);
          Report(name, DeliveryOutcome::kDropped);
        }
      }
    }
  }
  // Not from inside Drain: on the loop, at once. The timer dies with the Deliverer, and `done`
  // with it.
  done_timer_->At(clock_.SteadyNow(), [done = std::move(drain_done_)] { done(); });
  drain_done_ = nullptr;
}

}  // namespace rollbackd
