// The daemon's HTTP API (docs/api.md) as a thin adapter: it parses and answers requests and checks
// the bearer token; what a request reads or changes is the DaemonControl's, the way
// prometheus-cpp's handler only collects and serialises.
//   GET  /                                                  the status page (status_page.h)
//   GET  /healthz, /readyz, /metrics, /api/v1/status
//   GET  /api/v1/history?service=NAME, /api/v1/events[?service=NAME][&limit=N]
//   POST /api/v1/deploys {"service", "version"}           (bearer token)
//   POST /api/v1/services/<name>/pause | resume             (bearer token)
//   POST /api/v1/brake/release                              (bearer token)
#ifndef ROLLBACKD_RUNTIME_API_H_
#define ROLLBACKD_RUNTIME_API_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/io/clock.h"
#include "daemon/server/http_server.h"

namespace rollbackd {

// What a mutating request did.
enum class ControlResult {
  kDone,
  kUnknownService,
  kNotSaved,  // applied, but the state could not be saved: it will not survive a restart
  kNotOwner,  // cluster mode: another member owns the service (or none does right now)
};

class DaemonControl {
 public:
  virtual ~DaemonControl() = default;
  virtual bool ready() const = 0;     // the first evaluation is done
  virtual bool stopping() const = 0;  // draining
  virtual std::string MetricsText() = 0;
  virtual std::string StatusDocument() = 0;
  // GET /api/v1/history (history.h): nullopt for a service the configuration does not name.
  virtual std::optional<std::string> HistoryDocument(const std::string& /*service*/) {
    return std::nullopt;
  }
  // GET /api/v1/events (recent_events.h): the last `limit` events, of `service` ("" for all).
  virtual std::string EventsDocument(const std::string& /*service*/, size_t /*limit*/) {
    return "{\"events\":[]}\n";
  }
  virtual ControlResult RecordDeploy(const std::string& service, const std::string& version) = 0;
  virtual ControlResult SetPaused(const std::string& service, bool paused) = 0;
  // The fleet brake: lets go of every engaged group (fleet.brake_released), and returns the
  // services it held; nullopt when [daemon].brake is not configured.
  struct BrakeReleased {
    std::vector<std::string> held;
    bool saved = true;
  };
  virtual std::optional<BrakeReleased> ReleaseBrake() { return std::nullopt; }
  // Cluster mode, after kNotOwner: hands the change to the service's owner through etcd. `done`
  // (later, once) gets the owner's name, or an error when etcd did not take it.
  struct Forwarded {
    bool ok = false;
    std::string owner;  // "" when no member owns the service now (it applies once one does)
    std::string error;
  };
  virtual void Forward(const std::string& /*service*/, const std::string& /*op*/,
                       const std::string& /*version*/, std::function<void(Forwarded)> done) {
    done(Forwarded{false, "", "not a cluster member"});
  }
};

// The names the API answers to besides IP addresses and localhost (HttpServer's server_names):
// [daemon].server_names and the host of external_url.
std::vector<std::string> ApiServerNames(const DaemonSettings& daemon);

// The value of `name` in a query string ("service=a%20b&limit=5"), percent-decoded ('+' is a
// space); nullopt when absent, or when its escapes are malformed.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view name);

class Api {
 public:
  // `clock` (optional; the system's steady clock without it) paces the log of refused requests.
  explicit Api(DaemonControl& control, Clock* clock = nullptr) : control_(control), clock_(clock) {}

  // The bearer token of the mutating endpoints; empty disables them (403).
  void SetToken(std::string token) { token_ = std::move(token); }

  ServerResponse Handle(const ServerRequest& request);

  // Requests refused for want of a valid token (401), since the Api was made.
  uint64_t unauthorized() const { return unauthorized_; }

  // At most one log line per this interval tells of refused requests; it counts those not logged.
  static constexpr Duration kUnauthorizedLogInterval = std::chrono::minutes(1);

 private:
  std::optional<ServerResponse> Authorize(const ServerRequest& r);
  void LogUnauthorized(const ServerRequest& r);
  ServerResponse Page(const ServerRequest& r) const;
  ServerResponse History(const ServerRequest& r);
  ServerResponse Events(const ServerRequest& r);
  ServerResponse Deploy(const ServerRequest& r);
  ServerResponse Pause(const ServerRequest& r, const std::string& service, bool pause);
  ServerResponse ReleaseBrake(const ServerRequest& r);
  ServerResponse Forward(const ServerRequest& r, const std::string& service, const std::string& op,
                         const std::string& version);

  DaemonControl& control_;
  Clock* clock_;
  std::string token_;
  uint64_t unauthorized_ = 0;
  uint64_t unlogged_ = 0;  // refused since the last line
  std::optional<SteadyTime> last_logged_;
};

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_API_H_
