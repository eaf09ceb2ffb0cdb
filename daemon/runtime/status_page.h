// GET /: the status page (docs/operations.md, "The status page"). One HTML document with its style
// and script inline, compiled into the binary from status_page.html, so that it works on a host
// without network access. It reads the JSON API (status, history, events) and draws everything
// with textContent and SVG elements: no data ever becomes markup.
#ifndef ROLLBACKD_RUNTIME_STATUS_PAGE_H_
#define ROLLBACKD_RUNTIME_STATUS_PAGE_H_

#include <string>
#include <string_view>

namespace rollbackd {

struct StatusPage {
  std::string_view html;
  // Content-Security-Policy: nothing but this page's own style and script (by SHA-256), and
  // requests to the daemon itself.
  std::string csp;
};

// Built once (the hashes), then shared.
const StatusPage& GetStatusPage();

// The CSP source of an inline block: 'sha256-<base64 of SHA-256(text)>'.
std::string CspHash(std::string_view text);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_STATUS_PAGE_H_
