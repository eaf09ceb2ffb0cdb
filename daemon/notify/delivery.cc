#include "daemon/notify/delivery.h"

namespace rollbackd {

std::string_view DeliveryOutcomeName(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::kDelivered:
      return "delivered";
    case DeliveryOutcome::kRejected:
      return "rejected";
    case DeliveryOutcome::kExpired:
      return "expired";
    case DeliveryOutcome::kDropped:
      return "dropped";
    case DeliveryOutcome::kRetrying:
      return "retrying";
  }
  return "unknown";
}

}  // namespace rollbackd
