#include "daemon/runtime/secrets.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/io/fd_io.h"
#include "daemon/io/signing.h"
#include "daemon/sources/endpoints.h"

namespace rollbackd {

bool ConstantTimeEqual(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  const size_t n = std::min(given.size(), expected.size());
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

namespace {

void WarnIfReadableByOthers(const std::string& path, const std::string& key) {
  if (ReadableByOthers(path)) {
    spdlog::warn(
        "{}: {} is readable by every user of this host: chmod o-r it (0640, owner root, "
        "group rollbackd, is the packaged layout)",
        key, path);
  }
}

}  // namespace

std::optional<ConfigSecrets> LoadSecrets(const Config& config, std::vector<std::string>* errors) {
  ConfigSecrets out;
  const size_t errors_before = errors->size();
  std::string err;
  auto read = [&](const std::string& path, const std::string& key, std::string* into) {
    if (auto content = ReadSecretFile(path, &err)) {
      WarnIfReadableByOthers(path, key);
      *into = std::move(*content);
    } else {
      errors->push_back(key + ": " + err);
    }
  };
  std::vector<std::string> warnings;
  out.endpoints = LoadEndpoints(config, errors, &warnings);
  for (const std::string& w : warnings) spdlog::warn("{}", w);
  for (const Service& s : config.services) {
    if (!s.rollback || !s.rollback->http) continue;
    const HttpHook& h = *s.rollback->http;
    if (!h.bearer_token_file.empty() || !h.basic_auth_password_file.empty()) {
      ConfigSecrets::HookAuth& auth = out.hook_auth[s.name];
      if (!h.bearer_token_file.empty()) {
        read(h.bearer_token_file, s.file + ": rollback.http.bearer_token_file", &auth.bearer_token);
      }
      if (!h.basic_auth_password_file.empty()) {
        auth.basic_username = h.basic_auth_username;
        read(h.basic_auth_password_file, s.file + ": rollback.http.basic_auth.password_file",
             &auth.basic_password);
      }
    }
    if (h.secret_file.empty()) continue;
    const std::string& path = s.rollback->http->secret_file;
    if (auto key = ReadWebhookKeyFile(path, &err)) {
      WarnIfReadableByOthers(path, s.file + ": rollback.http.secret_file");
      out.hook_keys[s.name] = std::move(key);
    } else {
      errors->push_back(s.file + ": rollback.http.secret_file: " + path + ": " + err);
    }
  }
  if (!config.daemon.api_token_file.empty()) {
    read(config.daemon.api_token_file, "daemon.api_token_file", &out.api_token);
  }
  if (config.cluster && !config.cluster->password_file.empty()) {
    read(config.cluster->password_file, "cluster.password_file", &out.etcd_password);
  }
  if (errors->size() > errors_before) return std::nullopt;
  return out;
}

HookCredentials ConfigSecrets::HookCredentialsFor(const std::string& service) const {
  HookCredentials c;
  if (auto k = hook_keys.find(service); k != hook_keys.end()) {
    c.signing_key = k->second;
  }
  if (auto a = hook_auth.find(service); a != hook_auth.end()) {
    c.bearer_token = a->second.bearer_token;
    c.basic_username = a->second.basic_username;
    c.basic_password = a->second.basic_password;
  }
  return c;
}

}  // namespace rollbackd
