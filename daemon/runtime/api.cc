#include "daemon/runtime/api.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "daemon/config/redact.h"
#include "daemon/config/text.h"
#include "daemon/runtime/recent_events.h"
#include "daemon/runtime/secrets.h"
#include "daemon/runtime/status_page.h"

namespace rollbackd {
namespace {

using nlohmann::json;

ServerResponse JsonResponse(int status, const json& body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

ServerResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

ServerResponse MethodNotAllowed(const std::string& allow) {
  ServerResponse res = ErrorResponse(405, "method not allowed; use " + allow);
  res.headers.emplace_back("Allow", allow);
  return res;
}

ServerResponse Text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}, {}};
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::vector<std::string> ApiServerNames(const DaemonSettings& d) {
  std::vector<std::string> names = d.server_names;
  if (const size_t scheme = d.external_url.find("://"); scheme != std::string::npos) {
    std::string host = d.external_url.substr(scheme + 3);
    host = host.substr(0, host.find_first_of("/?#"));
    host = host.substr(host.rfind('@') + 1);  // npos + 1 is 0
    if (!host.starts_with('[')) host = host.substr(0, host.find(':'));
    if (!host.empty()) names.push_back(host);
  }
  return names;
}

std::optional<std::string> QueryParameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] != '%') {
        value += raw[i];
      } else {
        const int hi = i + 2 < raw.size() ? HexDigit(raw[i + 1]) : -1;
        const int lo = hi >= 0 ? HexDigit(raw[i + 2]) : -1;
        if (lo < 0) return std::nullopt;
        value += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    }
    return value;
  }
  return std::nullopt;
}

ServerResponse Api::Handle(const ServerRequest& r) {
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (r.path == "/" || r.path == "/index.html") {
    if (!get) return MethodNotAllowed("GET");
    return Page(r);
  }
  if (r.path == "/healthz" && get) return Text(200, "ok\n");
  if (r.path == "/readyz" && get) {
    if (control_.ready() && !control_.stopping()) return Text(200, "ready\n");
    return Text(503, control_.stopping() ? "stopping\n" : "not ready: first evaluation not done\n");
  }
  if (r.path == "/metrics" && get) {
    return {200, "text/plain; version=0.0.4; charset=utf-8", control_.MetricsText(), {}, {}};
  }
  if (r.path == "/api/v1/status" && get) {
    return {200, "application/json", control_.StatusDocument(), {}, {}};
  }
  if (r.path == "/api/v1/history" && get) return History(r);
  if (r.path == "/api/v1/events" && get) return Events(r);
  if (r.path == "/api/v1/deploys") {
    if (r.method != "POST") return MethodNotAllowed("POST");
    if (auto denied = Authorize(r)) return *denied;
    return Deploy(r);
  }
  if (r.path == "/api/v1/brake/release") {
    if (r.method != "POST") return MethodNotAllowed("POST");
    if (auto denied = Authorize(r)) return *denied;
    return ReleaseBrake(r);
  }
  const std::string prefix = "/api/v1/services/";
  if (r.path.rfind(prefix, 0) == 0) {
    const std::string rest = r.path.substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string name = rest.substr(0, slash);
    const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (action == "pause" || action == "resume") {
      if (r.method != "POST") return MethodNotAllowed("POST");
      if (auto denied = Authorize(r)) return *denied;
      return Pause(r, name, action == "pause");
    }
  }
  return ErrorResponse(404, "not found: " + r.path);
}

ServerResponse Api::Page(const ServerRequest& /*r*/) const {
  const StatusPage& page = GetStatusPage();
  ServerResponse res{200, "text/html; charset=utf-8", std::string(page.html), {}, {}};
  res.headers = {{"Content-Security-Policy", page.csp},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Cache-Control", "no-store"},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"}};
  return res;
}

ServerResponse Api::History(const ServerRequest& r) {
  const std::optional<std::string> service = QueryParameter(r.query, "service");
  if (!service || service->empty()) {
    return ErrorResponse(
        400, "the query parameter \"service\" is required: /api/v1/history?service=NAME");
  }
  std::optional<std::string> doc = control_.HistoryDocument(*service);
  if (!doc) return ErrorResponse(404, "unknown service " + *service);
  return {200, "application/json", std::move(*doc), {}, {}};
}

ServerResponse Api::Events(const ServerRequest& r) {
  size_t limit = kRecentEvents;
  if (std::optional<std::string> text = QueryParameter(r.query, "limit")) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || (*text)[0] == '-' || n == 0) {
      return ErrorResponse(400, "\"limit\" must be a whole number of at least 1");
    }
    limit = std::min<size_t>(n, kRecentEvents);
  }
  const std::string service = QueryParameter(r.query, "service").value_or("");
  return {200, "application/json", control_.EventsDocument(service, limit), {}, {}};
}

// A flood of bad tokens (10,000 in 0.4 s) must not fill the journal and hide real lines behind
// journald's rate limit: one line a minute at most, which counts the ones not logged.
void Api::LogUnauthorized(const ServerRequest& r) {
  ++unauthorized_;
  const SteadyTime now = clock_ != nullptr ? clock_->SteadyNow() : std::chrono::steady_clock::now();
  if (last_logged_ && now - *last_logged_ < kUnauthorizedLogInterval) {
    ++unlogged_;
    return;
  }
  if (unlogged_ == 0) {
    spdlog::warn("API {} {} from {}: unauthorized", r.method, OneLine(r.path), r.remote);
  } else {
    spdlog::warn(
        "API {} {} from {}: unauthorized; and {} more unauthorized requests not logged since the "
        "last such line (rollbackd_api_unauthorized_total counts them all)",
        r.method, OneLine(r.path), r.remote, unlogged_);
  }
  unlogged_ = 0;
  last_logged_ = now;
}

std::optional<ServerResponse> Api::Authorize(const ServerRequest& r) {
  if (token_.empty()) {
    return ErrorResponse(403, "the mutating API is disabled: set daemon.api_token_file");
  }
  const std::string* auth = r.Header("authorization");
  // The scheme is case-insensitive (RFC 9110); the token is not.
  const bool bearer =
      auth != nullptr && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0;
  if (!bearer || !ConstantTimeEqual(std::string_view(*auth).substr(7), token_)) {
    ServerResponse res = ErrorResponse(401, "a valid bearer token is required");
    res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rollbackd\"");
    LogUnauthorized(r);
    return res;
  }
  return std::nullopt;
}

// Cluster mode: another member owns the service. The change goes to it through etcd; the answer
// (202) comes once etcd has it, and says which member applies it.
ServerResponse Api::Forward(const ServerRequest& r, const std::string& service,
                            const std::string& op, const std::string& version) {
  ServerResponse later;
  later.later = [this, service, op, version,
                 remote = r.remote](std::function<void(ServerResponse)> respond) {
    control_.Forward(service, op, version, [=](DaemonControl::Forwarded f) {
      if (!f.ok) {
        respond(ErrorResponse(503, "not applied: etcd did not take the request for the owner of " +
                                       service + " (" + f.error + "); try again"));
        return;
      }
      spdlog::warn("{} of service {} through the API ({}): forwarded to {}", op, service, remote,
                   f.owner.empty() ? "its next owner" : f.owner);
      json body = {{"service", service},
                   {"forwarded_to", f.owner.empty() ? json(nullptr) : json(f.owner)}};
      if (op == "deploy") {
        body["version"] = version;
      } else {
        body["paused"] = op == "pause";
      }
      respond(JsonResponse(202, body));
    });
  };
  return later;
}

ServerResponse Api::Pause(const ServerRequest& r, const std::string& name, bool pause) {
  switch (control_.SetPaused(name, pause)) {
    case ControlResult::kUnknownService:
      return ErrorResponse(404, "unknown service " + name);
    case ControlResult::kNotSaved:
      return ErrorResponse(500,
                           "applied, but the state could not be saved: it will not "
                           "survive a restart (see the log)");
    case ControlResult::kNotOwner:
      return Forward(r, name, pause ? "pause" : "resume", "");
    case ControlResult::kDone:
      break;
  }
  spdlog::warn("service {} {} through the API ({})", name, pause ? "paused" : "resumed", r.remote);
  return JsonResponse(200, {{"service", name}, {"paused", pause}});
}

ServerResponse Api::ReleaseBrake(const ServerRequest& r) {
  std::optional<DaemonControl::BrakeReleased> released = control_.ReleaseBrake();
  if (!released) return ErrorResponse(404, "no fleet brake: [daemon].brake is not configured");
  if (!released->saved) {
    return ErrorResponse(500,
                         "released, but the state could not be saved: a restart would engage it "
                         "again (see the log)");
  }
  spdlog::warn(
      "fleet brake released through the API ({}); held: {}", r.remote,
      released->held.empty() ? std::string("none") : Join(released->held));
  return JsonResponse(200, {{"released", true}, {"held", released->held}});
}

ServerResponse Api::Deploy(const ServerRequest& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return ErrorResponse(400,
                         "the body must be a JSON object {\"service\": ..., \"version\": ...}");
  }
  if (!body.contains("service") || !body["service"].is_string() || !body.contains("version") ||
      !body["version"].is_string() || body["version"].get<std::string>().empty()) {
    return ErrorResponse(400, "\"service\" and \"version\" must be non-empty strings");
  }
  const std::string service = body["service"].get<std::string>();
  const std::string version = body["version"].get<std::string>();
  // A version is shown in logs, events, hook variables and the status page: one line of text.
  if (version.size() > kMaxVersionBytes || std::any_of(version.begin(), version.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
      })) {
    return ErrorResponse(400,
                         "\"version\" must be one line of text (no control characters), at "
                         "most " +
                             std::to_string(kMaxVersionBytes) + " bytes");
  }
  switch (control_.RecordDeploy(service, version)) {
    case ControlResult::kUnknownService:
      return ErrorResponse(404, "unknown service " + service);
    case ControlResult::kNotSaved:
      return ErrorResponse(500,
                           "recorded, but the state could not be saved: it will not "
                           "survive a restart (see the log)");
    case ControlResult::kNotOwner:
      return Forward(r, service, "deploy", version);
    case ControlResult::kDone:
      break;
  }
  spdlog::info("deploy of {} version {} recorded through the API ({})", OneLine(service),
               OneLine(version), r.remote);
  return JsonResponse(202, {{"service", service}, {"version", version}});
}

}  // namespace rollbackd
