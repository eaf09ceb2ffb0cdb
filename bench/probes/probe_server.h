// The probed side of bench/probes: one loopback HTTP/1.1 server for thousands of health endpoints
// (GET /health/<anything> -> 200 "ok"), keep-alive, on one epoll thread of the driver's process.
// It counts what it serves, so the driver can see the rate each prober achieved and how many TCP
// connections it needed for it (keep-alive reuse) without asking the prober.
//
// Deliberately minimal: requests without a body, no pipelining guarantees beyond answering every
// complete request in a buffer in order, no TLS. Its CPU is not what the benchmark measures.
#ifndef ROLLBACKD_BENCH_PROBES_PROBE_SERVER_H_
#define ROLLBACKD_BENCH_PROBES_PROBE_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace rollbackd::bench {

class ProbeServer {
 public:
  // Listens on 127.0.0.1:0 and starts serving. A connection idle for `idle_timeout` is closed, as
  // any real server does: a prober that never closes its connections (or opens one per probe and
  // leaves it to a garbage collector) must not exhaust our file descriptors. Throws
  // std::runtime_error when it cannot listen.
  explicit ProbeServer(std::chrono::milliseconds idle_timeout);
  ~ProbeServer();  // stops the thread, closes every connection
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  int port() const { return port_; }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t not_found() const { return not_found_.load(std::memory_order_relaxed); }
  uint64_t connections_accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t connections_open() const { return open_.load(std::memory_order_relaxed); }
  uint64_t connections_idle_closed() const { return idle_closed_.load(std::memory_order_relaxed); }
  // accept() failures for want of descriptors (EMFILE/ENFILE): accepting pauses for a second.
  uint64_t accept_errors() const { return accept_errors_.load(std::memory_order_relaxed); }

 private:
  void Run();

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the destructor's "stop"
  int port_ = 0;
  std::chrono::milliseconds idle_timeout_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> not_found_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> open_{0};
  std::atomic<uint64_t> idle_closed_{0};
  std::atomic<uint64_t> accept_errors_{0};
  std::thread thread_;
};

}  // namespace rollbackd::bench

#endif  // ROLLBACKD_BENCH_PROBES_PROBE_SERVER_H_
