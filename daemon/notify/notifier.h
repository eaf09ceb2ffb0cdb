// Delivering events to channels: routes pick the channels ([[route]]), each channel's
// `min_severity` filters, and each channel type delivers in its own way:
//   webhook  POST of the event JSON (docs/events.md), signed as Standard Webhooks say, retried with
//            exponential backoff and jitter on transport errors, 5xx, 408 and 429; any other
//            non-2xx status is a permanent rejection
//   log      one info line with the event JSON
//   slack, alertmanager, exec: not implemented in this version; counted as "unsupported" and
//            warned about once per channel and configuration
// Retries live in memory only: a restart loses what was not delivered yet (a durable outbox comes
// later). Logs name channels, events and errors, never a secret, a key or a channel's URL (a Slack
// URL is a credential); a transport error may name the host.
//
// Threading: every call and every callback (observer, Drain's `done`) on the io_context's thread.
#ifndef ROLLBACKD_NOTIFY_NOTIFIER_H_
#define ROLLBACKD_NOTIFY_NOTIFIER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/config/model.h"
#include "daemon/engine/event.h"
#include "daemon/sources/http_client.h"

namespace rollbackd {

struct NotifierOptions {
  // The wait before retry n is initial_backoff x 2^(n-1), at most max_backoff, then +-20% at
  // random so that receivers coming back up are not hit by every sender at once.
  Duration initial_backoff{std::chrono::seconds(1)};
  Duration max_backoff{std::chrono::seconds(60)};
  // A delivery is given up after max_attempts attempts, or when its next attempt would start more
  // than max_age after the event was sent.
  int max_attempts = 10;
  Duration max_age{std::chrono::minutes(10)};
  // The wall clock for webhook-timestamp; tests inject one to see it change between attempts.
  std::function<Time()> clock = [] {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  };
};

// For metrics: called when the delivery of an event to a channel ends, with "delivered",
// "dropped" (rejected, given up, or lost at shutdown) or "unsupported" (channel type not
// implemented), and after each failed attempt that will be tried again, with "retrying". Log and
// unsupported channels report from inside Send.
using DeliveryObserver = std::function<void(std::string_view channel, std::string_view result)>;

class Notifier {
 public:
  // `io` and `http` must outlive the Notifier. Until Configure succeeds no route matches.
  Notifier(boost::asio::io_context& io, HttpClient& http, NotifierOptions options = {});
  // Abandons deliveries still pending, logging each as lost (the observer is not called). Call
  // Drain first to give them a chance.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Loads the channels and routes of `config`, reading every webhook channel's secret_file. On
  // failure (a secret file unreadable or invalid, a route naming an unknown channel) returns false
  // with one message per problem in `errors`, naming the channel and file but never the secret,
  // and the previous configuration stays in use. Deliveries already started keep the settings (url,
  // key, timeout) they started with.
  bool Configure(const Config& config, std::vector<std::string>* errors);

  // Routes `event` and starts delivering it to each channel; never blocks. An event no route
  // matches is not sent. Webhook retries reuse the event's id as webhook-id, so receivers can
  // deduplicate.
  void Send(const Event& event);

  // Webhook deliveries not finished yet (in flight or waiting for a retry).
  size_t pending() const;

  void SetObserver(DeliveryObserver observer);

  // For shutdown: calls `done` once nothing is pending, or once `limit` has passed; then every
  // delivery still pending is abandoned, logged as lost with its channel and event id, and reported
  // "dropped". Until then retries go on as usual. `done` is never called from inside Drain, nor
  // after the Notifier is destroyed. One drain at a time.
  void Drain(Duration limit, std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared so that late callbacks can tell it is gone (weak_ptr)
};

// The signed JSON POST of webhook channels and of `http` rollback hooks: Content-Type
// application/json, User-Agent rollbackd, webhook-id `id`, webhook-timestamp `now_seconds` (the
// time of this attempt, so a retry is signed anew) and, with a key, webhook-signature.
HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view id,
                           const std::optional<std::string>& key, int64_t now_seconds,
                           Duration timeout);

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_NOTIFIER_H_
