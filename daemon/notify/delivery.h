// The two closed sets of delivery words: what one attempt gave (a sender's result) and what the
// Notifier reports to its observer about a notification. Enums so that nothing compares strings;
// the observer and the outbox get the names, which metrics and people read.
#ifndef ROLLBACKD_NOTIFY_DELIVERY_H_
#define ROLLBACKD_NOTIFY_DELIVERY_H_

#include <string>
#include <string_view>

namespace rollbackd {

// One attempt at a batch of notifications.
enum class DeliveryResult {
  kDelivered,  // the receiver took it (2xx, exit 0)
  kRetry,      // worth another attempt: transport error, 5xx, 408, 429, a failed exec command
  kRejected,   // will not change: any other HTTP status
};

struct SendResult {
  DeliveryResult result = DeliveryResult::kDelivered;
  std::string error;  // for logs, empty when delivered; never a secret or a channel's URL
};

// What the observer hears: a notification ended (delivered, rejected, expired, dropped), or an
// attempt failed and will be tried again (retrying).
enum class DeliveryOutcome {
  kDelivered,
  kRejected,  // a permanent HTTP status
  kExpired,   // max_retries or max_age
  kDropped,   // the outbox was full, the channel was removed, or lost at shutdown
  kRetrying,
};
// "delivered", "rejected", "expired", "dropped", "retrying".
std::string_view DeliveryOutcomeName(DeliveryOutcome o);

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_DELIVERY_H_
