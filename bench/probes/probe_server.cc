#include "bench/probes/probe_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rollbackd::bench {
namespace {

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
constexpr std::string_view kNotFound =
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n";
constexpr size_t kMaxRequest = 64 << 10;  // a header block larger than this is not a probe

using SteadyClock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  SteadyClock::time_point last_active;
  std::string in;
  std::string out;  // what a full socket buffer did not take yet
  bool close_after = false;
};

// Case-insensitive search in the header block (names and values: "Connection: close").
bool HasHeaderValue(std::string_view head, std::string_view needle) {
  if (needle.size() > head.size()) return false;
  for (size_t i = 0; i + needle.size() <= head.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() &&
           std::tolower(static_cast<unsigned char>(head[i + j])) == needle[j]) {
      ++j;
    }
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

ProbeServer::ProbeServer(std::chrono::milliseconds idle_timeout) : idle_timeout_(idle_timeout) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  // The backlog as large as the kernel allows (somaxconn): a prober that opens thousands of
  // connections in one burst must not see SYN retries because we were slow to accept.
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 65535) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("probe server cannot listen: " + err);
  }
  port_ = ntohs(a.sin_port);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
}

ProbeServer::~ProbeServer() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
  ::close(listen_fd_);
}

void ProbeServer::Run() {
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  auto close_conn = [&](int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
    open_.fetch_sub(1, std::memory_order_relaxed);
  };
  // Writes c.out; false when the connection is to be closed (error, or done with close_after).
  auto flush = [&](Conn& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.fd = c.fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
        return true;
      } else {
        return false;
      }
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    return !c.close_after;
  };
  // Answers every complete request in c.in, in order.
  auto serve = [&](Conn& c) {
    for (;;) {
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return c.in.size() <= kMaxRequest;
      const std::string_view head(c.in.data(), end);
      const size_t line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      const bool ok = line.rfind("GET /health/", 0) == 0;
      requests_.fetch_add(1, std::memory_order_relaxed);
      if (!ok) not_found_.fetch_add(1, std::memory_order_relaxed);
      c.out.append(ok ? kOk : kNotFound);
      const bool http10 = line.size() >= 8 && line.substr(line.size() - 8) == "HTTP/1.0";
      if (HasHeaderValue(head, "connection: close") ||
          (http10 && !HasHeaderValue(head, "connection: keep-alive"))) {
        c.close_after = true;
      }
      c.in.erase(0, end + 4);
      if (c.close_after) return true;
    }
  };

  auto watch_listener = [&](bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    ::epoll_ctl(epoll_fd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, &ev);
  };
  bool accept_paused = false;
  auto last_sweep = SteadyClock::now();
  std::array<epoll_event, 256> events;
  char buf[16 << 10];
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 250);
    if (n < 0 && errno != EINTR) break;
    const auto now = SteadyClock::now();
    if (now - last_sweep >= std::chrono::seconds(1)) {
      last_sweep = now;
      std::vector<int> idle;
      for (const auto& [fd, c] : conns) {
        if (now - c->last_active >= idle_timeout_) idle.push_back(fd);
      }
      for (int fd : idle) close_conn(fd);
      idle_closed_.fetch_add(idle.size(), std::memory_order_relaxed);
      if (accept_paused) {
        accept_paused = false;
        watch_listener(true);
      }
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        for (auto& [cfd, c] : conns) ::close(cfd);
        open_.store(0, std::memory_order_relaxed);
        return;
      }
      if (fd == listen_fd_) {
        for (;;) {
          const int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) {
            // Out of descriptors: the listener would stay readable and spin this loop; stop
            // watching it until the next sweep (which may free some).
            if (errno == EMFILE || errno == ENFILE) {
              accept_errors_.fetch_add(1, std::memory_order_relaxed);
              accept_paused = true;
              watch_listener(false);
            }
            break;  // EAGAIN: all taken
          }
          const int one = 1;
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Conn>();
          c->fd = cfd;
          c->last_active = now;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = cfd;
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, cfd, &ev);
          conns.emplace(cfd, std::move(c));
          accepted_.fetch_add(1, std::memory_order_relaxed);
          open_.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      c.last_active = now;
      if (events[i].events & EPOLLOUT) {
        if (!flush(c)) {
          close_conn(fd);
          continue;
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      bool keep = true;
      for (;;) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
          c.in.append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        keep = false;  // EOF or error: the prober is done with this connection
        break;
      }
      if (!c.close_after && !serve(c)) keep = false;
      if (!c.out.empty() && !flush(c)) keep = false;
      if (!keep) close_conn(fd);
    }
  }
}

}  // namespace rollbackd::bench
