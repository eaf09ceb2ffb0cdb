// The webhook receiver of pipelines (b) and (c) in pipeline_bench: what an SRE would run behind
// Alertmanager to start the rollback script. It listens on 127.0.0.1 (a port the kernel picks),
// takes Alertmanager's webhook POSTs at /hook/<pipeline>, and for every notification whose status
// is "firing" and which carries an alert labelled pipeline=<pipeline>, starts the hook
//   <hook_binary> <pipeline> <hooks_file>
// (posix_spawn, argv, no shell) before it answers 200, so nothing of ours sits between
// Alertmanager's request and the hook but reading the request. Every request is answered 200 and
// recorded (Notifications()).
//
// One thread of its own serves one connection at a time (Alertmanager sends one notification per
// group at a time); every read has a 2 s timeout and the loop checks for shutdown every 100 ms.
// Thread-safe: Notifications() may be called from any thread.
#ifndef ROLLBACKD_BENCH_PIPELINE_HOOK_RECEIVER_H_
#define ROLLBACKD_BENCH_PIPELINE_HOOK_RECEIVER_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rollbackd::bench {

int64_t RealtimeNs();  // CLOCK_REALTIME in ns since the Unix epoch, the clock the hook reads

struct Notification {
  std::string pipeline;     // from the path, /hook/<pipeline>; "" for any other path
  int64_t received_ns = 0;  // CLOCK_REALTIME when the whole request had been read
  std::string status;       // the notification's "status": "firing" or "resolved"
  std::string starts_at;    // startsAt of the first alert labelled with the pipeline ("" if none)
  bool started_hook = false;
};

class HookReceiver {
 public:
  // Throws std::runtime_error when it cannot listen.
  HookReceiver(std::string hook_binary, std::string hooks_file);
  ~HookReceiver();  // stops the thread, then waits for (at most 5 s, then kills) its hooks
  HookReceiver(const HookReceiver&) = delete;
  HookReceiver& operator=(const HookReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& pipeline) const;  // http://127.0.0.1:PORT/hook/<pipeline>
  std::vector<Notification> Notifications() const;

 private:
  void Serve();
  void HandleConnection(int fd);
  void StartHook(const std::string& pipeline);
  void ReapHooks(bool wait);

  const std::string hook_binary_;
  const std::string hooks_file_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Notification> notifications_;  // guarded by mu_
  std::vector<pid_t> hooks_;  // only the serving thread (and the destructor after it)
  std::thread thread_;
};

}  // namespace rollbackd::bench

#endif  // ROLLBACKD_BENCH_PIPELINE_HOOK_RECEIVER_H_
