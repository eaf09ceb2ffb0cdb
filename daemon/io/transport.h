// The two transports every edge uses, as interfaces (ninja's CommandRunner is the model): the real
// ones (HttpClient, ExecRunner) are built once, in RunDaemon, and passed in; tests pass fakes
// (testing/fake_transport.h) and script what each request gets back.
//
// Threading: calls and callbacks on the owner's event loop; a callback never runs inside the call.
#ifndef ROLLBACKD_IO_TRANSPORT_H_
#define ROLLBACKD_IO_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/duration.h"
#include "daemon/io/exec_request.h"

namespace rollbackd {

// What a response body may cost in memory. Each caller says what it needs from the body: a
// Prometheus answer is data and is kept whole up to a large cap; a probe needs only the status; a
// receiver's reply only a snippet for the log. Counted after content decoding (gzip), so a small
// compressed body cannot expand past the cap.
struct BodyLimit {
  static constexpr size_t kDefaultMax = 64 << 20;  // 64 MiB: Prometheus, etcd, the CLI's API calls

  enum class Past {
    // The transfer is aborted at the first byte past `max_bytes`: TransportError::kTooLarge,
    // "response body larger than N bytes". For bodies that are useless unless whole.
    kFail,
    // The first `max_bytes` are kept; the rest is read to its end, counted and dropped. The
    // exchange ends as it would have (status, timeout, connection kept for reuse).
    kKeepHead,
    // The same, keeping the last `max_bytes` (a hook's reply, like a command's output tail).
    kKeepTail,
  };

  size_t max_bytes = kDefaultMax;
  Past past = Past::kFail;

  static BodyLimit Fail(size_t n) { return {n, Past::kFail}; }
  static BodyLimit Head(size_t n) { return {n, Past::kKeepHead}; }
  static BodyLimit Tail(size_t n) { return {n, Past::kKeepTail}; }
  static BodyLimit Discard() { return {0, Past::kKeepHead}; }  // read to the end, nothing kept
};

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
  BodyLimit body_limit;  // ignored with on_data
  // A streamed response (etcd's watch): when set, the body is not kept; each piece is handed to
  // `on_data` as it arrives, inside the transport's loop. It must not call into the transport;
  // false aborts the exchange (`done` then reports kOther, "aborted"). `timeout` still bounds it.
  std::function<bool(std::string_view piece)> on_data;

  const std::string* Header(std::string_view name) const;  // case-insensitive; nullptr if absent
};

// Why no HTTP response came: a closed set, so that metrics and retries never parse `error`.
enum class TransportError {
  kNone,
  kTimeout,     // the request's timeout passed
  kConnection,  // refused, reset, DNS, nothing received
  kTls,         // handshake, certificate
  kTooLarge,    // the body passed a BodyLimit::kFail limit
  // The daemon's own side failed, not the peer: out of descriptors (EMFILE, ENFILE), memory, local
  // ports, the resolver thread could not start. Says nothing about the service asked.
  kLocal,
  kOther,
};
std::string_view TransportErrorName(TransportError e);  // "timeout", "connection", "local", ...

struct HttpResponse {
  int status = 0;    // 0: no HTTP response (see `error`)
  std::string body;  // what the request's body_limit kept of the body
  // Every body byte of the response received (decoded), kept or not; 0 without a response.
  // body_bytes > body.size(): the body was cut.
  uint64_t body_bytes = 0;
  // The final response's header fields in the order they came (an interim 100 Continue's are not
  // kept): names lower-cased, values without surrounding whitespace. At most kMaxHeaders fields of
  // at most kMaxHeaderBytes in all; the rest are dropped, the response stands.
  std::vector<std::pair<std::string, std::string>> headers;
  static constexpr size_t kMaxHeaders = 100;
  static constexpr size_t kMaxHeaderBytes = 64 << 10;
  TransportError transport = TransportError::kNone;
  std::string error;  // transport failure, in words; empty when an HTTP response came
  Duration elapsed{0};
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
  const std::string* Header(std::string_view name) const;  // case-insensitive; nullptr if absent
  // Adds a field as the client does: `name` lower-cased, `value` trimmed; false (nothing added)
  // past kMaxHeaders or kMaxHeaderBytes.
  bool AddHeader(std::string_view name, std::string_view value);

  static HttpResponse Failed(TransportError kind, std::string error) {
    HttpResponse r;
    r.transport = kind;
    r.error = std::move(error);
    return r;
  }
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // `done` runs later on the loop, never from inside Send, and not after the transport is gone.
  virtual void Send(HttpRequest request, std::function<void(HttpResponse)> done) = 0;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs `request` (argv, no shell); `done` runs later on the loop, never from inside Run.
  virtual void Run(ExecRequest request, std::function<void(ExecResult)> done) = 0;
  // After a restart: waits for the command an earlier process started with `record` (if it still
  // runs) and says what became of it. `done` runs once, later, on the loop (this default, for a
  // runner that keeps no records, calls it at once with kUnknown).
  virtual void Resume(const std::string& record, std::function<void(ResumedRun)> done) {
    (void)record;
    done(ResumedRun{ResumedRun::State::kUnknown, {}, "commands are not supervised here"});
  }
  // The record is no longer needed (its outcome is in the journal).
  virtual void Forget(const std::string& record) { (void)record; }
};

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_TRANSPORT_H_
