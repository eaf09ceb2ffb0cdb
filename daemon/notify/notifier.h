// Delivering events to channels. The Dispatcher decides what goes where (routes, min_severity,
// repeat, resolutions, group_wait, Alertmanager's alerts); the Notifier keeps each notification
// in the outbox (state_dir/outbox.jsonl, fsync'd before the first attempt) and delivers it:
//   webhook       POST of the event JSON (docs/events.md), signed as Standard Webhooks say
//   slack         an incoming-webhook message (text and blocks), one per group of events
//   alertmanager  POST /api/v2/alerts with the alerts of a group; firing alerts are re-sent every
//                 `resend` while they fire, with endsAt 4 x resend ahead, as Prometheus does
//   exec          the command (argv, no shell) with the event JSON on stdin; exit 0 = delivered
//   log           one info line with the event JSON, at once (no outbox)
// Per channel, notifications leave in the order they were queued, one request at a time; a
// failure is retried with exponential backoff and jitter (transport errors, 5xx, 408, 429, a
// non-zero exit or a timeout of an exec command) until the channel's max_retries or max_age;
// any other HTTP status is a permanent rejection. A notification leaves the outbox when it was
// delivered, rejected or expired; after a restart what is left is sent again, with its original
// id (webhook-id), so that receivers can deduplicate. When the outbox is full ([outbox]) the
// oldest notification is dropped to make room. Each of these endings is logged with the channel,
// the event and the reason, and reported to the observer.
// Logs name channels, events and errors, never a secret, a key or a channel's URL (a Slack URL is
// a credential); a transport error may name the host.
//
// Every effect comes from outside (leveldb's Env, ninja's CommandRunner): requests go through an
// HttpTransport and a ProcessRunner, every wait (retry backoff, group_wait, Alertmanager's
// re-sends, repeats, the drain limit) is a timer of the Clock, the wall clock is Clock::WallNow,
// and the outbox and notify.json go through the FileSystem. Tests pass fakes of each.
//
// Threading: every call and every callback (observer, Drain's `done`) on the loop that runs the
// clock's timers and the transports' callbacks.
#ifndef ROLLBACKD_NOTIFY_NOTIFIER_H_
#define ROLLBACKD_NOTIFY_NOTIFIER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/config/model.h"
#include "daemon/engine/event.h"
#include "daemon/io/clock.h"
#include "daemon/io/file_system.h"
#include "daemon/io/transport.h"
#include "daemon/notify/delivery.h"
#include "daemon/notify/outbox.h"

namespace rollbackd {

// Uniform numbers in [0, 1] from a std::minstd_rand seeded by std::random_device (each call of
// RandomJitter makes a new generator; the function it returns keeps it).
std::function<double()> RandomJitter();

struct NotifierOptions {
  // The wait before retry n is initial_backoff x 2^(n-1), at most max_backoff, then +-20% at
  // random so that receivers coming back up are not hit by every sender at once.
  Duration initial_backoff{std::chrono::seconds(1)};
  Duration max_backoff{std::chrono::seconds(60)};
  // The jitter's randomness: called once per retry, a number in [0, 1] (0: -20%, 1: +20%).
  // RandomJitter() by default; tests pass a constant.
  std::function<double()> jitter = RandomJitter();
  // Several notifications of one group in one request: at most this many (slack, alertmanager).
  size_t max_batch = 20;
};

// For metrics, when a notification to a channel ends: "delivered", "rejected" (a permanent HTTP
// status), "expired" (max_retries or max_age), "dropped" (outbox full, channel removed by a
// reload); and after each failed attempt that will be tried again: "retrying". The words are
// DeliveryOutcomeName's (notify/delivery.h).
using DeliveryObserver = std::function<void(std::string_view channel, std::string_view result)>;

class Notifier {
 public:
  // `http`, `exec`, `clock` and `fs` must outlive the Notifier. Until Configure succeeds no route
  // matches.
  Notifier(HttpTransport& http, ProcessRunner& exec, Clock& clock, FileSystem& fs,
           NotifierOptions options = {});
  // Stops; what is still in the outbox stays there for the next start (without an outbox, each
  // pending notification is logged as lost).
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Keeps notifications in `state_dir` (outbox.jsonl, notify.json); without it they live in
  // memory only. Call once, before Configure. What the outbox holds is sent once Configure has
  // named its channels; notifications for channels the configuration lacks are dropped then.
  bool Open(const std::string& state_dir, std::string* error);

  // Loads the channels and routes of `config`, reading every webhook channel's secret_file. On
  // failure (a secret file unreadable or invalid, a route naming an unknown channel) returns false
  // with one message per problem in `errors`, naming the channel and file but never the secret,
  // and the previous configuration stays in use. What fires is carried over; notifications already
  // queued go out with the channel's new settings.
  bool Configure(const Config& config, std::vector<std::string>* errors);

  // Routes `events` (in order) and queues their notifications: written to the outbox with one
  // fsync, then sent; never blocks on the network. Prepare + Commit.
  void Send(const std::vector<Event>& events) { Commit(Prepare(events)); }
  void Send(const Event& event) { Send(std::vector<Event>{event}); }

  // The two halves of Send, for the daemon, which keeps a round's notifications in its state file
  // between them, so that a crash after the state save cannot lose them (see Recover). Prepare
  // routes `events` and returns their notifications (log channels are written at once); Commit
  // writes them to the outbox with one fsync and starts sending them.
  std::vector<OutboxEntry> Prepare(const std::vector<Event>& events);
  // False (and `error`) when the outbox could not be written: the notifications are sent all the
  // same, but would not survive a crash.
  bool Commit(std::vector<OutboxEntry> entries, std::string* error = nullptr);
  // After a restart: queues those of `entries` (a round's notifications, from the saved state)
  // that the outbox does not hold, because the crash came before Commit. Call after Configure.
  // Returns how many were queued.
  size_t Recover(std::vector<OutboxEntry> entries);
  // Whether a notification (channel, id) is still queued (not delivered, rejected or expired).
  bool Holds(const std::string& channel, const std::string& id) const;

  // Notifications queued and not finished yet, over all channels / per channel.
  size_t pending() const;
  std::map<std::string, size_t> PendingByChannel() const;
  // The outbox file's live bytes (0 without an outbox).
  uint64_t outbox_bytes() const;

  void SetObserver(DeliveryObserver observer);
  // Told of each queued notification when it leaves the queue (delivered, rejected, expired or
  // dropped); cluster mode removes its copy in etcd then.
  void SetEndObserver(std::function<void(const OutboxEntry&)> ended);

  // For shutdown: calls `done` once nothing is pending, or once `limit` has passed; then no new
  // attempt starts and what is left stays in the outbox (logged with its count). `done` is never
  // called from inside Drain, nor after the Notifier is destroyed. One drain at a time.
  void Drain(Duration limit, std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_NOTIFIER_H_
