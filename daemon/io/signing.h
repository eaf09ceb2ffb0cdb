// Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver recomputes
// base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")) and compares it with the
// `webhook-signature` header, "v1,<signature>". Receivers can use the spec's published libraries.
#ifndef ROLLBACKD_IO_SIGNING_H_
#define ROLLBACKD_IO_SIGNING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config/duration.h"
#include "daemon/io/transport.h"

namespace rollbackd {

// The HMAC key from a secret file's content: "whsec_<base64>" (the spec's form) is decoded; any
// other content is used as raw bytes. Trailing newlines (and \r) are removed first. nullopt and
// `error` set when the content is empty or a whsec_ secret is not valid base64. The key itself
// never appears in `error`.
std::optional<std::string> WebhookKeyFromSecret(std::string_view content, std::string* error);

// The HMAC key in the secret file at `path` (WebhookKeyFromSecret of its content), for webhook
// channels and signed http hooks alike. nullopt and `error` ("cannot read: ...", or why the content
// is not a key) on failure; the content never appears in `error`.
std::optional<std::string> ReadWebhookKeyFile(const std::string& path, std::string* error);

// "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
std::string SignWebhook(std::string_view key, std::string_view id, int64_t timestamp_seconds,
                        std::string_view body);

// The signed JSON POST of webhook channels and of `http` rollback hooks: Content-Type
// application/json, User-Agent rollbackd, webhook-id `id`, webhook-timestamp `now_seconds` (the
// time of this attempt, so a retry is signed anew) and, with a key, webhook-signature.
HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view id,
                           const std::optional<std::string>& key, int64_t now_seconds,
                           Duration timeout);

// A JSON POST: Content-Type application/json, User-Agent rollbackd.
HttpRequest JsonPost(std::string url, std::string body, Duration timeout);

std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_SIGNING_H_
