#include "daemon/io/transport.h"

#include <strings.h>

#include <cctype>

namespace rollbackd {

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

const std::string* HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  }
  return nullptr;
}

bool HttpResponse::AddHeader(std::string_view name, std::string_view value) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!value.empty() && space(value.front())) value.remove_prefix(1);
  while (!value.empty() && space(value.back())) value.remove_suffix(1);
  size_t bytes = name.size() + value.size();
  for (const auto& [k, v] : headers) bytes += k.size() + v.size();
  if (headers.size() >= kMaxHeaders || bytes > kMaxHeaderBytes) return false;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  headers.emplace_back(std::move(lower), std::string(value));
  return true;
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
