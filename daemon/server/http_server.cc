#include "daemon/server/http_server.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <unordered_set>

namespace rollbackd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Out of descriptors (EMFILE) the connection stays queued, so accepting again at once would spin.
constexpr Duration kAcceptRetry{100};
constexpr size_t kReadChunk = 4096;

// "host:port" -> endpoint; false with `problem` set otherwise.
bool ParseAddress(const std::string& address, tcp::endpoint* endpoint, std::string* problem) {
  std::string host;
  std::string_view port_text;
  if (address.starts_with('[')) {
    const size_t close = address.find("]:");
    if (close == std::string::npos) {
      *problem = "expected [IPv6 address]:port, e.g. [::1]:9464";
      return false;
    }
    host = address.substr(1, close - 1);
    port_text = std::string_view(address).substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      *problem = "expected host:port, e.g. 127.0.0.1:9464";
      return false;
    }
    host = address.substr(0, colon);
    port_text = std::string_view(address).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      *problem = "an IPv6 address needs brackets, e.g. [::1]:9464";
      return false;
    }
  }
  uint16_t port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size()) {
    *problem = "bad port `" + std::string(port_text) + "`";
    return false;
  }
  error_code bad;
  const asio::ip::address ip =
      asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, bad);
  if (bad) {
    *problem = "`" + host + "` is not an IP address or localhost";
    return false;
  }
  *endpoint = tcp::endpoint(ip, port);
  return true;
}

std::string FormatEndpoint(const tcp::endpoint& e) {
  const std::string ip = e.address().to_string();
  const std::string port = std::to_string(e.port());
  return e.address().is_v6() ? "[" + ip + "]:" + port : ip + ":" + port;
}

ServerResponse Text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Errors of the request parser, as opposed to the network's (reset, timeout).
bool IsParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool AllDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool HostNamesThisServer(std::string_view host, const std::vector<std::string>& server_names) {
  error_code bad;
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && !(rest.starts_with(':') && AllDigits(rest.substr(1)))) return false;
    asio::ip::make_address_v6(std::string(host.substr(1, close - 1)), bad);
    return !bad;
  }
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    if (!AllDigits(host.substr(colon + 1))) return false;
    host = host.substr(0, colon);
  }
  if (host.empty() || host.find(':') != std::string_view::npos) return false;
  asio::ip::make_address_v4(std::string(host), bad);
  if (!bad) return true;
  std::string name = Lower(host);
  if (name.ends_with('.')) name.pop_back();  // an absolute name, "localhost."
  if (name == "localhost" || name.ends_with(".localhost")) return true;
  return std::any_of(server_names.begin(), server_names.end(),
                     [&](const std::string& listed) { return Lower(listed) == name; });
}

const std::string* ServerRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  class Session;

  Impl(asio::io_context& io, Handler handler, HttpServerOptions options)
      : handler(std::move(handler)), options(std::move(options)), acceptor(io), accept_retry(io) {}

  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  // The connection to close so that one more of `peer` (every peer when null) can be served:
  // the longest idle, else the slowest request past slow_request; null when all are busy.
  Session* Victim(const std::string* peer) const;
  ServerResponse Answer(const ServerRequest& request);
  void Report(const std::string& message) {
    if (!destroyed && options.on_error) options.on_error(message);
  }
  void Shutdown(bool drain);

  Handler handler;
  HttpServerOptions options;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  uint16_t port = 0;
  Counters counters;
  bool stopped = false;
  bool destroyed = false;
  // Every live session is in one of these: each removes itself when it is destroyed.
  std::unordered_set<Session*> serving;
  std::unordered_set<Session*> refusing;
};

// One connection. Owned by its pending asynchronous operation, so it lives exactly as long as the
// connection has something to do; it reaches the server only through a weak_ptr.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  // What a connection is doing, for choosing which one makes room at the cap.
  enum class Phase { kWaiting, kReading, kAnswering };

  Session(tcp::socket socket, std::weak_ptr<Impl> server, const HttpServerOptions& options,
          bool refuse)
      : stream_(std::move(socket)), server_(std::move(server)), options_(options), refuse_(refuse) {
    error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      remote_ = FormatEndpoint(remote);
      peer_ = remote.address().to_string();
    }
    // A response goes out in one write, so Nagle could only delay: the answer to a pipelined
    // request would wait for the client's delayed ACK of the one before (40 ms).
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  ~Session() {
    if (auto server = server_.lock()) (refuse_ ? server->refusing : server->serving).erase(this);
  }

  // A new connection has read_timeout to send its first request; a kept-alive one idle_timeout.
  void Start() { ReadRequest(options_.read_timeout); }

  Phase phase() const { return phase_; }
  std::chrono::steady_clock::time_point since() const { return since_; }
  const std::string& peer() const { return peer_; }

  void Close() {
    closed_ = true;
    stream_.close();
  }

  void Stop() {
    if (answering_) {
      stopping_ = true;
    } else {
      Close();
    }
  }

 private:
  void Enter(Phase phase) {
    phase_ = phase;
    since_ = std::chrono::steady_clock::now();
  }

  void ReadRequest(Duration wait) {
    if (buffer_.size() > 0) return ReadMessage();  // pipelined: the next request is already here
    // Between requests a client may stay silent for `wait`; once it starts a request it has
    // read_timeout to finish it. So wait for the first byte before reading the message.
    Enter(Phase::kWaiting);
    stream_.expires_after(wait);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (self->closed_ || ec) return;
                              self->buffer_.commit(n);
                              self->ReadMessage();
                            });
  }

  void ReadMessage() {
    Enter(Phase::kReading);
    parser_.emplace();
    parser_->body_limit(options_.max_body);
    stream_.expires_after(options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(const error_code& ec) {
    if (closed_) return;  // completed before Close() could cancel it
    Enter(Phase::kAnswering);
    const unsigned version = parser_->is_header_done() ? parser_->get().version() : 11;
    if (ec == http::error::body_limit) {
      return Respond(
          version, false, false,
          Text(413, "request body larger than " + std::to_string(options_.max_body) + " bytes\n"));
    }
    if (ec == http::error::header_limit) {
      return Respond(version, false, false, Text(431, "request header too large\n"));
    }
    // The client went away, possibly mid-request: nobody to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return;
    if (IsParseError(ec)) return Respond(version, false, false, Text(400, "bad request\n"));
    if (ec) return;  // a timeout or a reset; either way the connection is gone

    // A Transfer-Encoding other than chunked leaves the body's end unknown: Beast reads it as no
    // body, and the body would then be served as the next request (request smuggling behind a
    // proxy that reads it otherwise). RFC 9112 6.3: 400, and close.
    if (parser_->get().find(http::field::transfer_encoding) != parser_->get().end() &&
        !parser_->chunked()) {
      return Respond(version, false, false,
                     Text(400, "bad request: Transfer-Encoding other than chunked\n"));
    }
    http::request<http::string_body> message = parser_->release();
    const bool head = message.method() == http::verb::head;
    const bool keep_alive = message.keep_alive();
    if (refuse_) return Respond(version, false, head, Text(503, "too many connections\n"));
    auto server = server_.lock();
    if (!server) return;
    if (options_.check_host) {
      const auto host = message.find(http::field::host);
      if (host == message.end() && version >= 11) {
        ++server->counters.misdirected;
        return Respond(version, false, head, Text(400, "bad request: no Host header\n"));
      }
      if (host != message.end() &&
          !HostNamesThisServer(std::string_view(host->value().data(), host->value().size()),
                               options_.server_names)) {
        ++server->counters.misdirected;
        return Respond(version, false, head,
                       Text(421,
                            "misdirected request: the Host header names another server; use an "
                            "IP address or localhost, or add the name to [daemon].server_names\n"));
      }
    }

    ServerRequest request;
    request.method = head ? "GET" : std::string(message.method_string());
    request.target = std::string(message.target());
    const size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    for (const auto& field : message) {
      const beast::string_view name = field.name_string();
      request.headers.emplace_back(Lower(std::string_view(name.data(), name.size())),
                                   std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote = remote_;

    answering_ = true;
    ServerResponse response = server->Answer(request);
    if (closed_) return;  // the handler destroyed the server
    if (response.later) {
      auto later = std::move(response.later);
      // The callback keeps the session: no read or write of it is pending meanwhile.
      later([self = shared_from_this(), version, keep_alive, head](ServerResponse r) {
        if (self->closed_) return;
        self->Respond(version, keep_alive && !self->stopping_, head, std::move(r));
      });
      return;
    }
    Respond(version, keep_alive && !stopping_, head, std::move(response));
  }

  void Respond(unsigned version, bool keep_alive, bool head, ServerResponse out) {
    answering_ = true;
    Enter(Phase::kAnswering);
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(out.status));
    response_.set(http::field::server, "rollbackd");
    if (!out.content_type.empty()) response_.set(http::field::content_type, out.content_type);
    for (auto& [name, value] : out.headers) response_.insert(name, value);
    // A 204 carries no body and so no Content-Length; HEAD states the length GET would send.
    if (out.status != 204) {
      response_.content_length(out.body.size());
      if (!head) response_.body() = std::move(out.body);
    }
    response_.keep_alive(keep_alive);
    stream_.expires_after(options_.write_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](error_code ec, size_t) {
                        self->answering_ = false;
                        if (self->closed_ || ec || !keep_alive || self->stopping_) return;
                        self->ReadRequest(self->options_.idle_timeout);
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::weak_ptr<Impl> server_;
  const HttpServerOptions options_;  // a copy: a closed session may outlive the server
  const bool refuse_;  // over max_connections: answer 503 whatever the request
  std::string remote_;
  std::string peer_;  // the remote address without the port
  Phase phase_ = Phase::kWaiting;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
  bool answering_ = false;  // the handler is running or the response is being written
  bool stopping_ = false;   // Stop() came while answering: close once the response is out
  bool closed_ = false;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept([weak = weak_from_this()](error_code ec, tcp::socket socket) {
    auto self = weak.lock();
    if (self && ec != asio::error::operation_aborted) self->OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (stopped) return;  // completed before Stop() could cancel it; `socket` closes here
  if (ec) {
    Report("accept: " + ec.message());
    accept_retry.expires_after(kAcceptRetry);
    accept_retry.async_wait([weak = weak_from_this()](error_code cancelled) {
      auto self = weak.lock();
      if (self && !cancelled && !self->stopped) self->Accept();
    });
    return;
  }
  const size_t limit = options.max_connections;
  error_code unknown;
  const std::string peer = socket.remote_endpoint(unknown).address().to_string();
  const bool peer_full = !unknown && static_cast<size_t>(std::count_if(
                                         serving.begin(), serving.end(), [&](Session* s) {
                                           return s->peer() == peer;
                                         })) >= options.max_connections_per_peer;
  bool refuse = false;
  if (peer_full || serving.size() >= limit) {
    Session* victim = Victim(peer_full ? &peer : nullptr);
    if (victim != nullptr) {
      ++(victim->phase() == Session::Phase::kWaiting ? counters.evicted_idle
                                                     : counters.evicted_slow);
      serving.erase(victim);
      victim->Close();
    } else {
      refuse = true;
      ++counters.refused;
    }
  }
  if (!refuse || refusing.size() < limit) {
    auto session = std::make_shared<Session>(std::move(socket), weak_from_this(), options, refuse);
    (refuse ? refusing : serving).insert(session.get());
    session->Start();
  }
  Accept();
}

HttpServer::Impl::Session* HttpServer::Impl::Victim(const std::string* peer) const {
  const auto now = std::chrono::steady_clock::now();
  Session* idle = nullptr;
  Session* slow = nullptr;
  for (Session* s : serving) {
    if (peer != nullptr && s->peer() != *peer) continue;
    if (s->phase() == Session::Phase::kWaiting) {
      if (idle == nullptr || s->since() < idle->since()) idle = s;
    } else if (s->phase() == Session::Phase::kReading && now - s->since() >= options.slow_request) {
      if (slow == nullptr || s->since() < slow->since()) slow = s;
    }
  }
  return idle != nullptr ? idle : slow;
}

ServerResponse HttpServer::Impl::Answer(const ServerRequest& request) {
  std::string problem;
  try {
    ServerResponse response = handler(request);
    if (response.status >= 200 && response.status <= 599) return response;
    problem = "handler returned status " + std::to_string(response.status);
  } catch (const std::exception& e) {
    problem = std::string("handler threw: ") + e.what();
  } catch (...) {
    problem = "handler threw a non-standard exception";
  }
  Report(request.method + " " + request.target + ": " + problem);
  return Text(500, "internal server error\n");
}

void HttpServer::Impl::Shutdown(bool drain) {
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  // Closing runs no completion handler, so no session leaves the sets while they are walked.
  for (auto* set : {&serving, &refusing}) {
    for (Session* session : *set) {
      if (drain) {
        session->Stop();
      } else {
        session->Close();
      }
    }
  }
}

HttpServer::HttpServer(asio::io_context& io, Handler handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() {
  impl_->destroyed = true;
  impl_->Shutdown(/*drain=*/false);
}

bool HttpServer::Listen(const std::string& address, std::string* error) {
  auto fail = [&](const std::string& problem) {
    *error = "listen " + address + ": " + problem;
    return false;
  };
  if (impl_->stopped) return fail("server stopped");
  if (impl_->acceptor.is_open()) return fail("already listening");
  tcp::endpoint endpoint;
  std::string problem;
  if (!ParseAddress(address, &endpoint, &problem)) return fail(problem);

  tcp::acceptor& acceptor = impl_->acceptor;
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  // A restarted daemon can bind again while its old connections linger in TIME_WAIT.
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) impl_->port = acceptor.local_endpoint(ec).port();
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return fail(ec.message());
  }
  impl_->Accept();
  return true;
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::SetServerNames(std::vector<std::string> names) {
  impl_->options.server_names = std::move(names);
}

void HttpServer::Stop() { impl_->Shutdown(/*drain=*/true); }

size_t HttpServer::connections() const { return impl_->serving.size() + impl_->refusing.size(); }

HttpServer::Counters HttpServer::counters() const { return impl_->counters; }

}  // namespace rollbackd
