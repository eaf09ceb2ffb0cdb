#include "daemon/io/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon/io/fd_io.h"

namespace rollbackd {

namespace {
// A secret file is a few bytes; anything this large is a mistake (a log, a device).
constexpr size_t kMaxSecretBytes = 1 << 20;
}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::optional<std::string> WebhookKeyFromSecret(std::string_view content, std::string* error) {
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.remove_suffix(1);
  }
  if (content.empty()) {
    *error = "the secret is empty";
    return std::nullopt;
  }
  constexpr std::string_view kPrefix = "whsec_";
  if (content.substr(0, kPrefix.size()) != kPrefix) return std::string(content);
  auto key = Base64Decode(content.substr(kPrefix.size()));
  if (!key || key->empty()) {
    *error = "a whsec_ secret must be followed by standard base64";
    return std::nullopt;
  }
  return key;
}

std::string SignWebhook(std::string_view key, std::string_view id, int64_t timestamp_seconds,
                        std::string_view body) {
  std::string message;
  message.reserve(id.size() + body.size() + 24);
  message.append(id);
  message.push_back('.');
  message.append(std::to_string(timestamp_seconds));
  message.push_back('.');
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return "v1," + Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::optional<std::string> ReadWebhookKeyFile(const std::string& path, std::string* error) {
  std::string reason;
  auto content = ReadFileToString(path, &reason, kMaxSecretBytes);
  if (!content) {
    *error = "cannot read: " + reason;
    return std::nullopt;
  }
  return WebhookKeyFromSecret(*content, error);
}

HttpRequest JsonPost(std::string url, std::string body, Duration timeout) {
  HttpRequest r;
  r.method = "POST";
  r.url = std::move(url);
  r.timeout = timeout;
  r.headers = {{"Content-Type", "application/json"}, {"User-Agent", "rollbackd"}};
  r.body = std::move(body);
  return r;
}

HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view id,
                           const std::optional<std::string>& key, int64_t now_seconds,
                           Duration timeout) {
  HttpRequest r = JsonPost(std::move(url), std::move(body), timeout);
  r.headers.emplace_back("webhook-id", std::string(id));
  r.headers.emplace_back("webhook-timestamp", std::to_string(now_seconds));
  if (key) {
    r.headers.emplace_back("webhook-signature", SignWebhook(*key, id, now_seconds, r.body));
  }
  return r;
}

}  // namespace rollbackd
