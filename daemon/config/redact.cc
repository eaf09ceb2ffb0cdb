#include "daemon/config/redact.h"

namespace rollbackd {
namespace {

struct UrlParts {
  size_t host = 0;                        // first character after "scheme://"
  size_t userinfo_end = std::string_view::npos;  // one past '@', when there is user info
  size_t rest = std::string_view::npos;   // first '?' or '#', when there is one
};

UrlParts Split(std::string_view url) {
  UrlParts p;
  const size_t scheme = url.find("://");
  p.host = scheme == std::string_view::npos ? 0 : scheme + 3;
  p.rest = url.find_first_of("?#", p.host);
  const std::string_view authority =
      url.substr(p.host, std::min(url.find('/', p.host), p.rest) - p.host);
  // The last '@' of the authority ends the user info (a password may hold an unescaped '@').
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) p.userinfo_end = p.host + at + 1;
  return p;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  const UrlParts p = Split(url);
  std::string out(url.substr(0, p.host));
  const size_t from = p.userinfo_end == std::string_view::npos ? p.host : p.userinfo_end;
  out += url.substr(from, p.rest == std::string_view::npos ? std::string_view::npos : p.rest - from);
  if (p.rest != std::string_view::npos) out += "?redacted";
  return out;
}

bool UrlHasCredentials(std::string_view url) {
  const UrlParts p = Split(url);
  return p.userinfo_end != std::string_view::npos || p.rest != std::string_view::npos;
}

std::string OneLine(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace rollbackd
