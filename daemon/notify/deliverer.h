// The Notifier's sending half: queued notifications out to their channels. One RetryQueue per
// channel (a lane), driven by Clock timers (backoff, group_wait, Alertmanager's re-sends) and
// sent through the ChannelSenders; every ending is written to the outbox, logged and reported to
// the observer. The outbox is bounded: the oldest notification not in flight makes room.
// Internal to the notify layer; the Notifier (routing, the outbox file, notify.json, repeats)
// owns it.
//
// Held by a shared_ptr: transport completions hold a weak_ptr and are dropped once it is gone.
// Threading: the loop of the clock and the transports.
#ifndef ROLLBACKD_NOTIFY_DELIVERER_H_
#define ROLLBACKD_NOTIFY_DELIVERER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/io/clock.h"
#include "daemon/io/transport.h"
#include "daemon/notify/channel_sender.h"
#include "daemon/notify/delivery.h"
#include "daemon/notify/dispatcher.h"
#include "daemon/notify/notifier.h"
#include "daemon/notify/outbox.h"
#include "daemon/notify/retry_queue.h"

namespace rollbackd {

class Deliverer : public std::enable_shared_from_this<Deliverer> {
 public:
  // The transports and the clock must outlive it; `options` is copied.
  Deliverer(HttpTransport& http, ProcessRunner& exec, Clock& clock, NotifierOptions options);
  // Without an outbox, what is still queued is logged as lost.
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // Where endings are recorded; nullptr (the default): in memory only. Must outlive it.
  void set_outbox(Outbox* outbox) { outbox_ = outbox; }
  void set_observer(DeliveryObserver observer) { observer_ = std::move(observer); }
  // Told of each notification that left the queue (delivered, rejected, expired or dropped).
  void set_ended(std::function<void(const OutboxEntry&)> ended) { ended_ = std::move(ended); }

  // The channels from now on: lanes of removed channels are dropped (each notification reported
  // "dropped"), queued notifications go out with their channel's new settings. `dispatcher`
  // gives the external URL and Alertmanager's firing alerts; it must live until the next call.
  void Configure(std::map<std::string, std::shared_ptr<const ChannelSpec>> channels,
                 const OutboxSettings& limits, const Dispatcher& dispatcher);
  // What the outbox held at start (already in it): queued again, or dropped when the channel is
  // not configured. Then every lane starts.
  void Requeue(std::vector<OutboxEntry> loaded);
  // New notifications: room made, appended to the outbox (one write, one fsync), then sent.
  // False (and `error`) when the outbox append failed; they are sent all the same.
  bool Enqueue(std::vector<OutboxEntry> entries, std::string* error = nullptr);

  void Report(std::string_view channel, DeliveryOutcome outcome);

  bool HasLane(const std::string& channel) const { return lanes_.count(channel) != 0; }
  bool Holds(const std::string& channel, const std::string& id) const;
  size_t pending() const;
  std::map<std::string, size_t> PendingByChannel() const;

  // Calls `done` (on the loop, never from inside Drain) once nothing is pending or `limit` has
  // passed; then stopped() holds and no attempt starts. One drain at a time.
  void Drain(Duration limit, std::function<void()> done);
  bool stopped() const { return stopped_; }

 private:
  // One channel's queue and the timers that drive it.
  struct Lane {
    std::string name;
    std::shared_ptr<const ChannelSpec> channel;
    RetryQueue queue;
    uint64_t attempt_id = 0;  // tells a late completion from the current one
    bool waiting = false;     // for a backoff or a group_wait
    std::unique_ptr<Timer> timer;
    std::unique_ptr<Timer> resend_timer;  // alertmanager: firing alerts are sent again
    bool resend_in_flight = false;
  };

  Time Now();
  RetryQueue::Policy PolicyFor(const Channel& c) const;
  void MakeRoom(const std::vector<OutboxEntry>& incoming);
  uint64_t pending_bytes() const;
  void End(Lane& lane, DeliveryOutcome outcome, const RetryQueue::Item& item,
           const std::string& why);
  void Apply(Lane& lane, std::vector<RetryQueue::Change> changes);
  void Pump(Lane& lane);
  void Wait(Lane& lane, Duration delay);
  void Attempt(Lane& lane, Time now);
  void OnResult(const std::string& name, uint64_t attempt, SendResult result);
  void ScheduleResend(Lane& lane);
  void Resend(Lane& lane);
  void CheckDrained();
  void EndDrain();

  HttpTransport& http_;
  Clock& clock_;
  const NotifierOptions options_;
  std::map<ChannelType, std::unique_ptr<ChannelSender>> senders_;
  DeliveryObserver observer_;
  std::function<void(const OutboxEntry&)> ended_;
  Outbox* outbox_ = nullptr;
  const Dispatcher* dispatcher_ = nullptr;
  OutboxSettings limits_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  uint64_t next_seq_ = 1;  // without an outbox
  std::unique_ptr<Timer> drain_timer_;
  std::unique_ptr<Timer> done_timer_;  // calls Drain's `done`
  std::function<void()> drain_done_;   // set while draining
  bool stopped_ = false;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_DELIVERER_H_
