#include "daemon/runtime/status_page.h"

#include <openssl/sha.h>

#include "daemon/io/signing.h"
#include "daemon/runtime/status_page_html.h"  // generated from status_page.html (CMake)

namespace rollbackd {
namespace {

// The text between the first `open` and the `close` after it; "" when absent.
std::string_view Between(std::string_view html, std::string_view open, std::string_view close) {
  const size_t start = html.find(open);
  if (start == std::string_view::npos) return {};
  const size_t end = html.find(close, start + open.size());
  if (end == std::string_view::npos) return {};
  return html.substr(start + open.size(), end - start - open.size());
}

}  // namespace

std::string CspHash(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return "'sha256-" +
         Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) + "'";
}

const StatusPage& GetStatusPage() {
  static const StatusPage page = [] {
    const std::string_view html(kStatusPageHtml, sizeof kStatusPageHtml - 1);
    StatusPage p;
    p.html = html;
    p.csp = "default-src 'none'; script-src " + CspHash(Between(html, "<script>", "</script>")) +
            "; style-src " + CspHash(Between(html, "<style>", "</style>")) +
            "; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'";
    return p;
  }();
  return page;
}

}  // namespace rollbackd
