// What a configuration needs besides its model: the secrets its files name (Prometheus tokens and
// passwords, http hook keys, the API token). Read whole when a configuration is loaded, so a
// missing file rejects the configuration (or the reload) instead of breaking a query later.
// Errors name the key and the file, never the content.
#ifndef ROLLBACKD_RUNTIME_SECRETS_H_
#define ROLLBACKD_RUNTIME_SECRETS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/actions/hook_runner.h"
#include "daemon/config/model.h"
#include "daemon/io/fd_io.h"  // ReadSecretFile
#include "daemon/sources/probe.h"

namespace rollbackd {

struct ConfigSecrets {
  std::map<std::string, PrometheusEndpoint> endpoints;          // by source name
  std::map<std::string, std::optional<std::string>> hook_keys;  // service -> http hook HMAC key
  struct HookAuth {
    std::string bearer_token;
    std::string basic_username;
    std::string basic_password;
  };
  std::map<std::string, HookAuth> hook_auth;  // service -> http hook credentials, when configured
  std::string api_token;                      // empty: mutating API disabled
  std::string etcd_password;                  // [cluster].password_file

  // What `service`'s http hook is sent with (empty for an exec hook).
  HookCredentials HookCredentialsFor(const std::string& service) const;
};

// nullopt with one message per unreadable or invalid file in `errors`.
std::optional<ConfigSecrets> LoadSecrets(const Config& config, std::vector<std::string>* errors);

// Compares without leaking, through timing, how much of `given` matched.
bool ConstantTimeEqual(std::string_view given, std::string_view expected);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_SECRETS_H_
