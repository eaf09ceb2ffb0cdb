// How the operator commands reach a running daemon's API (docs/api.md): which address and token,
// and one request at a time, waited for.
//
// The request goes through the daemon's own HttpClient (libcurl's multi interface on Asio), run
// on an io_context of the command's own until the answer comes: the same transport, timeouts and
// error classes as the daemon's, and no second curl wrapper to keep in step. The token goes to
// curl only; it is never part of an error or any output.
#ifndef ROLLBACKD_CLI_API_CLIENT_H_
#define ROLLBACKD_CLI_API_CLIENT_H_

#include <optional>
#include <string>
#include <string_view>

#include "daemon/config/duration.h"

namespace rollbackd {

inline constexpr const char kDefaultConfigPath[] = "/etc/rollbackd/rollbackd.toml";
inline constexpr const char kDefaultListen[] = "127.0.0.1:9464";

struct TargetFlags {
  std::string url;         // --url
  std::string config;      // --config
  std::string token_file;  // --token-file
};

struct ApiTarget {
  std::string base_url;    // "http://127.0.0.1:9464", without a trailing '/'
  std::string token_file;  // "" when there is none: requests then go without a token
  std::string config;      // the config read, "" when none was
};

// The address: --url, else --config's [daemon].listen, else `default_config`'s when that file
// exists, else kDefaultListen. A wildcard listen address (0.0.0.0, [::]) is reached on loopback.
// The token file: --token-file, else the api_token_file of the config read (with --url alone,
// no config is read: a token is only sent where the operator pointed it). Only rollbackd.toml
// itself is read, not its rule files: status must work while a rule file is being fixed.
// nullopt with `error` (naming the flag or the file, and every problem in it).
std::optional<ApiTarget> ResolveTarget(const TargetFlags& flags, const std::string& default_config,
                                       std::string* error);

// "http://127.0.0.1:9464" for a listen address ("0.0.0.0:9464", "[::]:1", "localhost:9464").
std::string UrlForListen(std::string_view listen);

struct ApiAnswer {
  int status = 0;        // 0: no HTTP answer
  bool refused = false;  // nothing listens there (connection refused, unresolvable)
  std::string error;     // why there was no answer, in words
  std::string body;
  std::string message;  // an error answer's "error" field (or its body's start), for people
};

// One request: `body` as JSON when non-empty, "Authorization: Bearer <token>" when `token` is.
ApiAnswer CallApi(const std::string& method, const std::string& url, const std::string& body,
                  const std::string& token, Duration timeout = std::chrono::seconds(15));

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_API_CLIENT_H_
