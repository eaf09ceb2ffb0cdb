#include "daemon/io/transport.h"

#include <strings.h>

namespace rollbackd {

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

std::string_view TransportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kConnection:
      return "connection";
    case TransportError::kTls:
      return "tls";
    case TransportError::kTooLarge:
      return "too_large";
    case TransportError::kLocal:
      return "local";
    case TransportError::kOther:
      return "other";
  }
  return "other";
}

}  // namespace rollbackd
