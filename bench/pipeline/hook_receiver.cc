#include "bench/pipeline/hook_receiver.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace rollbackd::bench {
namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;  // Alertmanager's notifications are a few KiB

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Reads one HTTP/1.1 request (headers, then Content-Length bytes of body) from `fd`, whose reads
// time out. False when the peer closes early, a read fails or times out, or it is too large.
bool ReadRequest(int fd, std::string* head, std::string* body) {
  std::string data;
  char buf[16384];
  size_t header_end = std::string::npos;
  size_t length = 0;
  while (true) {
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        *head = data.substr(0, header_end);
        const std::string lower = Lower(*head);
        const size_t at = lower.find("\r\ncontent-length:");
        if (at != std::string::npos) {
          length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
        }
        if (length > kMaxRequestBytes) return false;
      }
    }
    if (header_end != std::string::npos && data.size() >= header_end + 4 + length) {
      *body = data.substr(header_end + 4, length);
      return true;
    }
    if (data.size() > kMaxRequestBytes) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
  }
}

void SendAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

HookReceiver::HookReceiver(std::string hook_binary, std::string hooks_file)
    : hook_binary_(std::move(hook_binary)), hooks_file_(std::move(hooks_file)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string error = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("hook receiver cannot listen on 127.0.0.1: " + error);
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

HookReceiver::~HookReceiver() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ReapHooks(true);
}

std::string HookReceiver::url(const std::string& pipeline) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/hook/" + pipeline;
}

std::vector<Notification> HookReceiver::Notifications() const {
  std::lock_guard<std::mutex> lock(mu_);
  return notifications_;
}

void HookReceiver::Serve() {
  while (!stop_) {
    ReapHooks(false);
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    HandleConnection(fd);
    ::close(fd);
  }
}

// One request per connection: the answer says "Connection: close", so Alertmanager's client opens
// a new connection for the next notification (a loopback connect is tens of microseconds).
void HookReceiver::HandleConnection(int fd) {
  std::string head;
  std::string body;
  if (!ReadRequest(fd, &head, &body)) return;
  Notification n;
  n.received_ns = RealtimeNs();
  // "POST /hook/b HTTP/1.1"
  const size_t sp1 = head.find(' ');
  const size_t sp2 = head.find(' ', sp1 + 1);
  const std::string path = sp1 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
  constexpr std::string_view kPrefix = "/hook/";
  if (path.rfind(kPrefix, 0) == 0) n.pipeline = path.substr(kPrefix.size());
  // Alertmanager's webhook body: {"status": "firing", "alerts": [{"labels": {...}, "startsAt"}]}.
  // Anything else (or a field of another type) is recorded and answered, never a hook.
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  auto text = [](const nlohmann::json& o, const char* key) {
    return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>()
                                                                  : std::string();
  };
  n.status = text(j, "status");
  if (j.is_object() && j.contains("alerts") && j["alerts"].is_array() && !n.pipeline.empty()) {
    for (const nlohmann::json& alert : j["alerts"]) {
      if (!alert.is_object() || !alert.contains("labels")) continue;
      if (text(alert["labels"], "pipeline") == n.pipeline) {
        n.starts_at = text(alert, "startsAt");
        break;
      }
    }
  }
  // The hook first: what is measured is how long until it starts, not until we answered.
  if (n.status == "firing" && !n.starts_at.empty()) {
    StartHook(n.pipeline);
    n.started_hook = true;
  }
  SendAll(fd,
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
          "Connection: close\r\n\r\nok\n");
  std::lock_guard<std::mutex> lock(mu_);
  notifications_.push_back(std::move(n));
}

void HookReceiver::StartHook(const std::string& pipeline) {
  std::vector<std::string> argv = {hook_binary_, pipeline, hooks_file_};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  char* env[] = {nullptr};  // like rollbackd's hooks: nothing inherited
  pid_t pid = -1;
  if (::posix_spawn(&pid, hook_binary_.c_str(), nullptr, nullptr, args.data(), env) == 0) {
    hooks_.push_back(pid);
  }
}

void HookReceiver::ReapHooks(bool wait) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!hooks_.empty()) {
    std::erase_if(hooks_, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
    if (!wait || hooks_.empty()) return;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (pid_t pid : hooks_) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      hooks_.clear();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace rollbackd::bench
