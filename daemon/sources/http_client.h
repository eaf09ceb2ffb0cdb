// Asynchronous HTTP(S) on the daemon's event loop: libcurl's multi interface driven by Asio sockets
// and one Asio timer. Used for Prometheus queries, health probes and webhooks. Connections are kept
// and reused across requests to the same host (curl's connection cache).
//
// Threading: all calls and callbacks on the io_context's thread. Callbacks never run inside Send.
// Secrets in a request (bearer token, password) go to curl only; they are never part of an error.
#ifndef ROLLBACKD_SOURCES_HTTP_CLIENT_H_
#define ROLLBACKD_SOURCES_HTTP_CLIENT_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"

namespace rollbackd {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout{std::chrono::seconds(5)};  // the whole exchange, connect included
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  std::string bearer_token;
  std::string basic_username;
  std::string basic_password;
};

struct HttpResponse {
  int status = 0;     // 0: no HTTP response (see `error`)
  std::string body;   // at most HttpClient::kMaxBody bytes
  std::string error;  // transport failure: refused, timeout, TLS, too large; empty otherwise
  Duration elapsed{0};
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

class HttpClient {
 public:
  static constexpr size_t kMaxBody = 64 << 20;

  explicit HttpClient(boost::asio::io_context& io);
  ~HttpClient();  // aborts requests in flight; their callbacks are not called
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Send(HttpRequest request, std::function<void(HttpResponse)> done);
  size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_SOURCES_HTTP_CLIENT_H_
