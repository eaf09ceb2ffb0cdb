// The daemon's own HTTP/1.1 server (status API, metrics) on the daemon's event loop, built on
// Boost.Beast. Each request is read whole and answered by one synchronous handler; the server adds
// Content-Length, `Server: rollbackd` and the keep-alive bookkeeping. Plain HTTP only: bind it to
// loopback or put it behind a proxy that terminates TLS.
//
// The server protects itself so the handler does not have to: bodies, headers and connections are
// bounded, and every read and write has a deadline, so a slow or silent client cannot hold a
// connection. No client can lock the others out: at the connection cap a new connection takes the
// place of the one idle the longest (or, failing that, of the slowest request, one that has taken
// more than slow_request so far), and one peer (remote address) holds at most
// max_connections_per_peer connections, so a leaky or hostile client evicts its own connections
// first. Requests must name this server in `Host` (an IP address, localhost, or one of
// server_names), so a web page whose name was rebound to 127.0.0.1 cannot reach the API.
// What the server answers itself (400, 413, 421, 431, 503, and 500 for a handler that threw) never
// reaches the handler.
//
// Threading: all calls, the handler and `on_error` on the io_context's thread; nothing blocks.
// Lifetime: the io_context must outlive the server. Destroying the server, even from inside the
// handler, closes every connection at once; the handler and `on_error` never run afterwards.
#ifndef ROLLBACKD_SERVER_HTTP_SERVER_H_
#define ROLLBACKD_SERVER_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"

namespace rollbackd {

struct ServerRequest {
  std::string method;  // "GET", "POST"; HEAD arrives as GET and the server drops the body
  std::string target;  // as sent: "/api/v1/status?x=1"
  std::string path;    // "/api/v1/status", not percent-decoded
  std::string query;   // "x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order sent
  std::string body;
  std::string remote;  // "127.0.0.1:53122", "[::1]:53122"

  // The first header named `lower_name` (which must be lower-case); nullptr when absent.
  const std::string* Header(std::string_view lower_name) const;
};

struct ServerResponse {
  int status = 200;  // 200..599; anything else is answered 500 and reported through on_error
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. WWW-Authenticate
  // An answer that comes later (the handler waits for etcd): when set, the rest is ignored and
  // `later` is called with the function that sends the real response, at most once, on the loop.
  // The connection's write timeout does not run meanwhile: the caller bounds the wait.
  std::function<void(std::function<void(ServerResponse)> respond)> later;
};

// Whether `host` (a Host header's value, "name[:port]") names this server: an IP address
// ("127.0.0.1:9464", "[::1]:9464"), `localhost` or a name under `.localhost` (RFC 6761: always
// loopback), or one of `server_names` (case-insensitive). An IP address cannot be rebound, so every
// one is accepted; a DNS name must be listed.
bool HostNamesThisServer(std::string_view host, const std::vector<std::string>& server_names);

struct HttpServerOptions {
  size_t max_body = 1 << 20;  // a larger request body is answered 413 and the connection closed
  // Connections served at once. At the cap a new connection takes the place of an idle or slow one
  // (see above); when every connection is busy answering, up to as many again are answered 503
  // (after their request is read, so the client sees the answer rather than a reset); beyond that
  // they are closed at once.
  size_t max_connections = 64;
  // Connections of one remote address; at the cap its own idle or slow connection makes room.
  size_t max_connections_per_peer = 32;
  // At a cap, a connection whose current request has been arriving for this long may be closed
  // to make room (a legitimate request on loopback or a LAN takes milliseconds).
  Duration slow_request{std::chrono::seconds(1)};
  // DNS names this server answers to besides IP addresses and localhost (a proxy's name).
  // Requests naming another host get 421; an HTTP/1.1 request without Host gets 400.
  std::vector<std::string> server_names;
  bool check_host = true;
  Duration idle_timeout{std::chrono::seconds(30)};   // keep-alive connection waiting for a request
  Duration read_timeout{std::chrono::seconds(10)};   // one request, from its first byte to its last
  Duration write_timeout{std::chrono::seconds(10)};  // one response
  // Problems the server dealt with that someone should hear about, as one line for a log:
  // "GET /x: handler threw: ..." (answered 500), "accept: Too many open files" (retried later).
  // Optional; must not throw.
  std::function<void(const std::string& message)> on_error;
};

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  HttpServer(boost::asio::io_context& io, Handler handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. `address` is "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464" or
  // "localhost:9464"; localhost means 127.0.0.1 only, because resolving names would block the loop.
  // Port 0 picks a free port (see port()). On failure returns false with `error` set for people:
  // "listen 127.0.0.1:9464: Address already in use". Succeeds at most once, and not after Stop().
  bool Listen(const std::string& address, std::string* error);

  uint16_t port() const;  // the bound port once Listen succeeded, 0 before

  // Replaces options.server_names, for connections accepted from now on (a reload).
  void SetServerNames(std::vector<std::string> names);

  // For draining at shutdown: stops accepting (new connections are refused) and closes idle and
  // half-read connections now; a response being produced or written is finished first, then its
  // connection closes. Final: the server does not listen again.
  void Stop();

  size_t connections() const;  // open connections, those being answered 503 included

  // What the server did to protect itself, since it was made (for metrics).
  struct Counters {
    uint64_t evicted_idle = 0;  // idle connections closed at the cap for a new one
    uint64_t evicted_slow = 0;  // connections closed at the cap amid a slow request
    uint64_t refused = 0;       // answered 503 or closed unanswered: every connection was busy
    uint64_t misdirected = 0;   // requests answered 421 (or 400 without Host)
  };
  Counters counters() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared so a session can tell, through a weak_ptr, that it is gone
};

}  // namespace rollbackd

#endif  // ROLLBACKD_SERVER_HTTP_SERVER_H_
