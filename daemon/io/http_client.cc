#include "daemon/io/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>

namespace rollbackd {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  std::function<void(HttpResponse)> done;
  std::string body;
  HttpResponse head;  // the header fields, as they come (OnHeader)
  uint64_t received = 0;  // body bytes, kept or not
  bool too_large = false;
  bool aborted = false;  // on_data said stop
  char error[CURL_ERROR_SIZE] = {};
  SteadyClock::time_point start;
  // What this transfer's socket() calls said (OnOpenSocket): curl reports a socket it could not
  // create as CURLE_COULDNT_CONNECT, without an errno, in the words of a refused connection.
  int socket_errno = 0;
  bool socket_opened = false;
};

// The errno values that say the daemon's own side is short of something, whoever the peer:
// descriptors (EMFILE, ENFILE), memory (ENOMEM, ENOBUFS), a local address or port to connect from
// (EADDRNOTAVAIL: the ephemeral ports are used up). nullptr for any other value: ECONNREFUSED,
// ENETUNREACH and the like may be the peer's network as well as ours.
static const char* LocalErrnoName(long e) {
  switch (e) {
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case ENOMEM:
      return "ENOMEM";
    case ENOBUFS:
      return "ENOBUFS";
    case EADDRNOTAVAIL:
      return "EADDRNOTAVAIL";
    default:
      return nullptr;
  }
}

// "Too many open files (EMFILE)"; strerror is not thread-safe, curl's resolver threads run beside.
static std::string ErrnoText(long e) {
  return std::error_code(static_cast<int>(e), std::generic_category()).message() + " (" +
         LocalErrnoName(e) + ")";
}

// Why a failed transfer is the daemon's own fault, in words; "" when it may be the peer's. Only
// what curl or our own socket() call says for certain: anything else stays the peer's failure.
static std::string LocalFault(CURLcode code, const Transfer& t, CURL* easy) {
  if (code == CURLE_OUT_OF_MEMORY) return "out of memory";
  // No socket at all for any address: nothing reached the network.
  if (code == CURLE_COULDNT_CONNECT && !t.socket_opened && LocalErrnoName(t.socket_errno)) {
    return "cannot open a socket: " + ErrnoText(t.socket_errno);
  }
  // connect() itself, on the last address tried (a fresh handle per request: never a stale one).
  long os_errno = 0;
  if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
      LocalErrnoName(os_errno) != nullptr) {
    return "cannot connect: " + ErrnoText(os_errno);
  }
  // curl's threaded resolver needs a socketpair and a thread for each lookup; when it cannot have
  // them it says so in these words (lib/asyn-thread.c), never for a name that does not exist. A
  // resolver that cannot be reached is not told apart: curl says "Could not resolve host" for it
  // and for a name that does not exist alike, and that stays the service's failure.
  if (code == CURLE_COULDNT_RESOLVE_HOST &&
      std::string_view(t.error).starts_with("getaddrinfo() thread failed to start")) {
    return "cannot start a name lookup (getaddrinfo() thread failed to start: out of descriptors, "
           "threads or memory)";
  }
  return "";
}

static TransportError Classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return TransportError::kConnection;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return TransportError::kTls;
    default:
      return TransportError::kOther;
  }
}

struct HttpClient::Impl {
  struct Socket {
    explicit Socket(asio::io_context& io, int fd) : desc(io, fd) {}
    asio::posix::stream_descriptor desc;
    int want = 0;  // CURL_POLL_IN / OUT / INOUT
    bool reading = false;
    bool writing = false;
  };

  explicit Impl(asio::io_context& io) : io(io), timer(io) {}

  asio::io_context& io;
  asio::steady_timer timer;
  CURLM* multi = nullptr;
  std::map<curl_socket_t, std::shared_ptr<Socket>> sockets;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  static int OnSocket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      self->Forget(s);
      return 0;
    }
    auto it = self->sockets.find(s);
    if (it == self->sockets.end()) {
      it = self->sockets.emplace(s, std::make_shared<Socket>(self->io, s)).first;
    }
    it->second->want = what;
    self->Arm(s, it->second);
    return 0;
  }

  // Stops watching `s` without closing it: curl owns and closes its sockets.
  void Forget(curl_socket_t s) {
    auto it = sockets.find(s);
    if (it == sockets.end()) return;
    boost::system::error_code ignored;
    it->second->desc.cancel(ignored);
    it->second->desc.release();
    sockets.erase(it);
  }

  // socket(2) as curl would call it, keeping its errno for LocalFault.
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype, curl_sockaddr* address) {
    auto* t = static_cast<Transfer*>(clientp);
    // Close-on-exec: a hook or an exec channel started while it is open must not inherit it.
    const int s = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (s < 0) {
      t->socket_errno = errno;
      return CURL_SOCKET_BAD;
    }
    t->socket_opened = true;
    return s;
  }

  static int OnCloseSocket(void* clientp, curl_socket_t s) {
    static_cast<Impl*>(clientp)->Forget(s);
    return ::close(s);
  }

  void Arm(curl_socket_t s, const std::shared_ptr<Socket>& sock) {
    std::weak_ptr<bool> alive_ref = alive;
    if ((sock->want & CURL_POLL_IN) && !sock->reading) {
      sock->reading = true;
      sock->desc.async_wait(asio::posix::stream_descriptor::wait_read,
                            [this, s, sock, alive_ref](boost::system::error_code ec) {
                              if (alive_ref.expired()) return;
                              sock->reading = false;
                              OnReady(s, sock, ec, CURL_CSELECT_IN);
                            });
    }
    if ((sock->want & CURL_POLL_OUT) && !sock->writing) {
      sock->writing = true;
      sock->desc.async_wait(asio::posix::stream_descriptor::wait_write,
                            [this, s, sock, alive_ref](boost::system::error_code ec) {
                              if (alive_ref.expired()) return;
                              sock->writing = false;
                              OnReady(s, sock, ec, CURL_CSELECT_OUT);
                            });
    }
  }

  void OnReady(curl_socket_t s, const std::shared_ptr<Socket>& sock, boost::system::error_code ec,
               int direction) {
    if (ec == asio::error::operation_aborted) return;
    int running = 0;
    curl_multi_socket_action(multi, s, ec ? CURL_CSELECT_ERR : direction, &running);
    Collect();
    // Still wanted (the same socket, not removed meanwhile): wait again.
    auto it = sockets.find(s);
    if (it != sockets.end() && it->second == sock) Arm(s, sock);
  }

  static int OnTimer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    self->timer.cancel();
    if (timeout_ms < 0) return 0;
    self->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<bool> alive_ref = self->alive;
    self->timer.async_wait([self, alive_ref](boost::system::error_code ec) {
      if (ec || alive_ref.expired()) return;
      int running = 0;
      curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      self->Collect();
    });
    return 0;
  }

  static size_t OnWrite(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    const size_t bytes = size * n;
    if (t->request.on_data) {
      if (t->request.on_data(std::string_view(data, bytes))) return bytes;
      t->aborted = true;
      return 0;
    }
    t->received += bytes;
    const BodyLimit& limit = t->request.body_limit;
    switch (limit.past) {
      case BodyLimit::Past::kFail:
        if (t->body.size() + bytes > limit.max_bytes) {
          t->too_large = true;
          return 0;  // aborts the transfer
        }
        t->body.append(data, bytes);
        break;
      case BodyLimit::Past::kKeepHead:
        if (t->body.size() < limit.max_bytes) {
          t->body.append(data, std::min(bytes, limit.max_bytes - t->body.size()));
        }
        break;
      case BodyLimit::Past::kKeepTail:
        if (bytes >= limit.max_bytes) {
          t->body.assign(data + (bytes - limit.max_bytes), limit.max_bytes);
        } else {
          t->body.append(data, bytes);
          if (t->body.size() > limit.max_bytes) t->body.erase(0, t->body.size() - limit.max_bytes);
        }
        break;
    }
    return bytes;
  }

  // One header line at a time, the status line and the blank line that ends them included. A
  // status line starts another response (after a 100 Continue): only the last one's fields stay.
  static size_t OnHeader(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    const size_t bytes = size * n;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      t->head.headers.clear();
      return bytes;
    }
    // The blank line, and obsolete line folding (a continuation starts with whitespace): skipped.
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t') {
      return bytes;
    }
    t->head.AddHeader(line.substr(0, colon), line.substr(colon + 1));
    return bytes;
  }

  void Collect() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      auto it = transfers.find(easy);
      if (it == transfers.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      transfers.erase(it);
      HttpResponse r;
      r.elapsed = std::chrono::duration_cast<Duration>(SteadyClock::now() - t->start);
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      if (code == CURLE_OK) {
        r.status = static_cast<int>(status);
        r.body = std::move(t->body);
        r.headers = std::move(t->head.headers);
        r.body_bytes = t->received;
      } else if (t->aborted) {
        r.transport = TransportError::kOther;
        r.error = "aborted";
      } else if (t->too_large) {
        r.transport = TransportError::kTooLarge;
        r.error = std::string("response body larger than ")
                      .append(std::to_string(t->request.body_limit.max_bytes))
                      .append(" bytes");
      } else if (code == CURLE_OPERATION_TIMEDOUT) {
        r.transport = TransportError::kTimeout;
        r.error = "timeout after " + FormatDuration(t->request.timeout);
      } else if (std::string local = LocalFault(code, *t, easy); !local.empty()) {
        r.transport = TransportError::kLocal;
        r.error = "local fault: " + local;
      } else {
        r.transport = Classify(code);
        r.error = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
      }
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      curl_slist_free_all(t->headers);
      Post(std::move(t->done), std::move(r));
    }
  }

  // Posted, so never run inside Send; dropped if the client is destroyed before it runs (the
  // header promises no callback after destruction).
  void Post(std::function<void(HttpResponse)> done, HttpResponse r) {
    asio::post(io, [alive = std::weak_ptr<bool>(alive), done = std::move(done),
                    r = std::move(r)]() mutable {
      if (alive.lock()) done(std::move(r));
    });
  }
};

HttpClient::HttpClient(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {
  GlobalInit();
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETDATA, impl_.get());
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERDATA, impl_.get());
}

HttpClient::~HttpClient() {
  *impl_->alive = false;
  impl_->alive.reset();
  impl_->timer.cancel();
  for (auto& [easy, t] : impl_->transfers) {
    curl_multi_remove_handle(impl_->multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(t->headers);
  }
  impl_->transfers.clear();
  curl_multi_cleanup(impl_->multi);  // closes cached connections through OnCloseSocket
  for (auto& [s, sock] : impl_->sockets) {
    boost::system::error_code ignored;
    sock->desc.cancel(ignored);
    sock->desc.release();
  }
}

size_t HttpClient::in_flight() const { return impl_->transfers.size(); }

void HttpClient::Send(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto t = std::make_unique<Transfer>();
  t->easy = curl_easy_init();
  if (t->easy == nullptr) {  // only out of memory; the caller still hears back, as promised
    impl_->Post(std::move(done),
                HttpResponse::Failed(TransportError::kLocal, "local fault: out of memory"));
    return;
  }
  t->request = std::move(request);
  t->done = std::move(done);
  t->start = SteadyClock::now();
  const HttpRequest& q = t->request;
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, q.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(q.timeout.count()));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::OnCloseSocket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, impl_.get());
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip if the server offers it
  if (q.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q.method.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(q.body.size()));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q.body.c_str());
  }
  for (const auto& [k, v] : q.headers)
    t->headers = curl_slist_append(t->headers, (k + ": " + v).c_str());
  if (!q.bearer_token.empty()) {
    t->headers = curl_slist_append(t->headers, ("Authorization: Bearer " + q.bearer_token).c_str());
  }
  if (t->headers != nullptr) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (!q.basic_username.empty()) {
    curl_easy_setopt(e, CURLOPT_USERNAME, q.basic_username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, q.basic_password.c_str());
  }
  if (!q.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, q.ca_file.c_str());
  if (!q.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, q.cert_file.c_str());
  if (!q.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, q.key_file.c_str());
  if (q.insecure_skip_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  CURL* easy = t->easy;
  impl_->transfers.emplace(easy, std::move(t));
  // The timer callback schedules the first step. A handle the multi cannot take (out of memory)
  // would otherwise never call back.
  const CURLMcode added = curl_multi_add_handle(impl_->multi, easy);
  if (added != CURLM_OK) {
    auto node = impl_->transfers.extract(easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(node.mapped()->headers);
    impl_->Post(std::move(node.mapped()->done),
                added == CURLM_OUT_OF_MEMORY
                    ? HttpResponse::Failed(TransportError::kLocal, "local fault: out of memory")
                    : HttpResponse::Failed(TransportError::kOther, curl_multi_strerror(added)));
  }
}

}  // namespace rollbackd
