// Asynchronous HTTP(S) on the daemon's event loop: libcurl's multi interface driven by Asio sockets
// and one Asio timer. Used for Prometheus queries, health probes and webhooks. Connections are kept
// and reused across requests to the same host (curl's connection cache). What is kept of a response
// body is each request's body_limit (transport.h); a body is never held beyond it.
//
// Threading: all calls and callbacks on the io_context's thread. Callbacks never run inside Send.
// Secrets in a request (bearer token, password) go to curl only; they are never part of an error.
#ifndef ROLLBACKD_IO_HTTP_CLIENT_H_
#define ROLLBACKD_IO_HTTP_CLIENT_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/io/transport.h"

namespace rollbackd {

class HttpClient : public HttpTransport {
 public:
  explicit HttpClient(boost::asio::io_context& io);
  ~HttpClient() override;  // aborts requests in flight; their callbacks are not called
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override;
  size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_HTTP_CLIENT_H_
