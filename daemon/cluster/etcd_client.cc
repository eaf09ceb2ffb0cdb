#include "daemon/cluster/etcd_client.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "daemon/io/signing.h"

namespace rollbackd {
namespace {

using nlohmann::json;
namespace dom = simdjson::dom;

std::string B64(std::string_view s) { return Base64Encode(s); }

// etcd's int64s are JSON strings; absent means 0.
int64_t Int(dom::element parent, std::string_view field) {
  std::string_view text;
  if (parent[field].get_string().get(text) == simdjson::SUCCESS) {
    try {
      return std::stoll(std::string(text));
    } catch (...) {
      return 0;
    }
  }
  int64_t n = 0;
  if (parent[field].get_int64().get(n) == simdjson::SUCCESS) return n;
  return 0;
}

std::string Bytes(dom::element parent, std::string_view field) {
  std::string_view text;
  if (parent[field].get_string().get(text) != simdjson::SUCCESS) return "";
  return Base64Decode(text).value_or("");
}

EtcdKv KvFrom(dom::element kv) {
  EtcdKv out;
  out.key = Bytes(kv, "key");
  out.value = Bytes(kv, "value");
  out.create_revision = Int(kv, "create_revision");
  out.mod_revision = Int(kv, "mod_revision");
  out.lease = Int(kv, "lease");
  return out;
}

std::vector<EtcdKv> KvsFrom(dom::element parent) {
  std::vector<EtcdKv> out;
  dom::array kvs;
  if (parent["kvs"].get_array().get(kvs) != simdjson::SUCCESS) return out;
  for (dom::element kv : kvs) out.push_back(KvFrom(kv));
  return out;
}

// etcd's own words for "try again, maybe elsewhere".
bool Retryable(std::string_view message) {
  for (std::string_view s : {"no leader", "timed out", "leader changed", "not capable",
                             "unhealthy cluster", "too many requests", "stopped"}) {
    if (message.find(s) != std::string_view::npos) return true;
  }
  return false;
}

json OpJson(const EtcdOp& op) {
  switch (op.kind) {
    case EtcdOp::Kind::kPut: {
      json put = {{"key", B64(op.key)}, {"value", B64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      return {{"request_put", put}};
    }
    case EtcdOp::Kind::kDelete: {
      json del = {{"key", B64(op.key)}};
      if (!op.range_end.empty()) del["range_end"] = B64(op.range_end);
      return {{"request_delete_range", del}};
    }
    case EtcdOp::Kind::kRange: {
      json range = {{"key", B64(op.key)}};
      if (!op.range_end.empty()) range["range_end"] = B64(op.range_end);
      return {{"request_range", range}};
    }
  }
  return json::object();
}

json CompareJson(const EtcdCompare& c) {
  json j = {{"key", B64(c.key)}, {"result", "EQUAL"}};
  switch (c.target) {
    case EtcdCompare::Target::kCreateRevision:
      j["target"] = "CREATE";
      j["create_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kModRevision:
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kValue:
      j["target"] = "VALUE";
      j["value"] = B64(c.value);
      break;
    case EtcdCompare::Target::kLease:
      j["target"] = "LEASE";
      j["lease"] = std::to_string(c.number);
      break;
  }
  return j;
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

struct EtcdClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& i, HttpTransport& h, EtcdClientOptions o, EtcdObserver obs)
      : io(i), http(h), options(std::move(o)), observer(std::move(obs)) {}

  boost::asio::io_context& io;
  HttpTransport& http;
  EtcdClientOptions options;
  EtcdObserver observer;
  size_t current = 0;
  std::string token;       // auth
  std::string auth_error;  // the last authentication failure, logged once
  bool authenticating = false;
  std::vector<std::function<void()>> waiting_for_token;

  const std::string& endpoint() const { return options.endpoints[current]; }
  void MoveOn() { current = (current + 1) % options.endpoints.size(); }

  HttpRequest Request(std::string_view path, std::string body) const {
    HttpRequest r;
    r.method = "POST";
    r.url = endpoint() + std::string(path);
    r.body = std::move(body);
    r.timeout = options.timeout;
    r.headers.emplace_back("Content-Type", "application/json");
    if (!token.empty()) r.headers.emplace_back("Authorization", token);
    r.ca_file = options.tls.ca_file;
    r.cert_file = options.tls.cert_file;
    r.key_file = options.tls.key_file;
    r.insecure_skip_verify = options.tls.insecure_skip_verify;
    return r;
  }

  // Sends `body` to `path`; `done` gets the status and, when ok, the parsed document (valid
  // during the call only).
  void Call(std::string op, std::string path, std::string body,
            std::function<void(EtcdStatus, dom::element)> done) {
    if (!options.username.empty() && token.empty()) {
      waiting_for_token.push_back([self = shared_from_this(), op = std::move(op),
                                   path = std::move(path), body = std::move(body),
                                   done = std::move(done)]() mutable {
        self->Send(std::move(op), std::move(path), std::move(body), std::move(done));
      });
      Authenticate();
      return;
    }
    Send(std::move(op), std::move(path), std::move(body), std::move(done));
  }

  void Send(std::string op, std::string path, std::string body,
            std::function<void(EtcdStatus, dom::element)> done) {
    HttpRequest request = Request(path, std::move(body));
    http.Send(std::move(request), [weak = weak_from_this(), op = std::move(op),
                                   done = std::move(done)](HttpResponse r) {
      auto self = weak.lock();
      if (!self) return;
      EtcdStatus status;
      dom::parser parser;
      dom::element doc;
      if (!r.error.empty()) {
        status = {EtcdStatus::Code::kUnavailable, self->endpoint() + ": " + r.error};
      } else if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) {
        status = {EtcdStatus::Code::kUnavailable,
                  self->endpoint() + ": HTTP " + std::to_string(r.status) + ", not JSON"};
      } else if (std::string_view message;
                 doc["error"].get_string().get(message) == simdjson::SUCCESS || r.status < 200 ||
                 r.status >= 300) {
        if (message.empty()) message = "HTTP error";
        const int64_t code = Int(doc, "code");
        const bool auth = message.find("auth token") != std::string_view::npos || code == 16;
        if (auth) self->token.clear();  // authenticate again next time
        status = {Retryable(message) || code == 14 || code == 4 || auth
                      ? EtcdStatus::Code::kUnavailable
                      : EtcdStatus::Code::kRejected,
                  self->endpoint() + ": " + std::string(message)};
      }
      if (status.code == EtcdStatus::Code::kUnavailable) self->MoveOn();
      if (self->observer) {
        self->observer(op, std::chrono::duration<double>(r.elapsed).count(), !status.ok());
      }
      done(status, doc);
    });
  }

  void Authenticate() {
    if (authenticating) return;
    authenticating = true;
    const json body = {{"name", options.username}, {"password", options.password}};
    Send("auth", "/v3/auth/authenticate", body.dump(),
         [weak = weak_from_this()](EtcdStatus status, dom::element doc) {
           auto self = weak.lock();
           if (!self) return;
           self->authenticating = false;
           std::string_view t;
           if (status.ok() && doc["token"].get_string().get(t) == simdjson::SUCCESS) {
             self->token = std::string(t);
             if (!self->auth_error.empty()) spdlog::info("etcd: authenticated again");
             self->auth_error.clear();
           } else {
             // Once per distinct error: a wrong password would otherwise fail every request
             // in silence. The password never reaches the log.
             const std::string why = status.ok() ? "no token in the answer" : status.error;
             if (why != self->auth_error) {
               spdlog::warn("etcd: authentication as {} failed: {}", self->options.username, why);
             }
             self->auth_error = why;
           }
           std::vector<std::function<void()>> waiting;
           waiting.swap(self->waiting_for_token);
           // Without a token they go out all the same and fail; callers retry on their schedule.
           for (auto& w : waiting) w();
         });
  }
};

EtcdClient::EtcdClient(boost::asio::io_context& io, HttpTransport& http, EtcdClientOptions options,
                       EtcdObserver observer)
    : impl_(std::make_shared<Impl>(io, http, std::move(options), std::move(observer))) {
  if (impl_->options.endpoints.empty()) impl_->options.endpoints.push_back("http://127.0.0.1:2379");
}
EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::endpoint() const { return impl_->endpoint(); }

void EtcdClient::Grant(int64_t ttl_seconds, std::function<void(EtcdLeaseResult)> done) {
  const json body = {{"TTL", std::to_string(ttl_seconds)}};
  impl_->Call("lease_grant", "/v3/lease/grant", body.dump(),
              [done = std::move(done)](EtcdStatus status, dom::element doc) {
                EtcdLeaseResult r;
                r.status = status;
                if (status.ok()) {
                  r.id = Int(doc, "ID");
                  r.ttl = Int(doc, "TTL");
                  if (r.id == 0) r.status = {EtcdStatus::Code::kRejected, "no lease granted"};
                }
                done(r);
              });
}

void EtcdClient::KeepAlive(int64_t lease, std::function<void(EtcdLeaseResult)> done) {
  // A stream in gRPC; over the gateway one message in, one result out.
  const json body = {{"ID", std::to_string(lease)}};
  impl_->Call("lease_keepalive", "/v3/lease/keepalive", body.dump(),
              [done = std::move(done), lease](EtcdStatus status, dom::element doc) {
                EtcdLeaseResult r;
                r.status = status;
                r.id = lease;
                if (status.ok()) {
                  dom::element result;
                  if (doc["result"].get(result) == simdjson::SUCCESS) {
                    r.ttl = Int(result, "TTL");  // absent: the lease is gone
                  } else {
                    r.status = {EtcdStatus::Code::kUnavailable, "keepalive: no result"};
                  }
                }
                done(r);
              });
}

void EtcdClient::Revoke(int64_t lease, std::function<void(EtcdStatus)> done) {
  const json body = {{"ID", std::to_string(lease)}};
  impl_->Call("lease_revoke", "/v3/lease/revoke", body.dump(),
              [done = std::move(done)](EtcdStatus status, dom::element) { done(status); });
}

void EtcdClient::Range(std::string key, std::string range_end,
                       std::function<void(EtcdRangeResult)> done) {
  json body = {{"key", B64(key)}};
  if (!range_end.empty()) body["range_end"] = B64(range_end);
  impl_->Call("range", "/v3/kv/range", body.dump(),
              [done = std::move(done)](EtcdStatus status, dom::element doc) {
                EtcdRangeResult r;
                r.status = status;
                if (status.ok()) {
                  r.revision = Int(doc["header"], "revision");
                  r.kvs = KvsFrom(doc);
                }
                done(std::move(r));
              });
}

void EtcdClient::Txn(EtcdTxn txn, std::function<void(EtcdTxnResult)> done) {
  json compare = json::array();
  for (const EtcdCompare& c : txn.compare) compare.push_back(CompareJson(c));
  json success = json::array();
  for (const EtcdOp& op : txn.success) success.push_back(OpJson(op));
  json failure = json::array();
  for (const EtcdOp& op : txn.failure) failure.push_back(OpJson(op));
  const json body = {{"compare", compare}, {"success", success}, {"failure", failure}};
  impl_->Call("txn", "/v3/kv/txn", body.dump(),
              [done = std::move(done)](EtcdStatus status, dom::element doc) {
                EtcdTxnResult r;
                r.status = status;
                if (status.ok()) {
                  bool succeeded = false;
                  if (doc["succeeded"].get_bool().get(succeeded) == simdjson::SUCCESS) {
                    r.succeeded = succeeded;
                  }
                  r.revision = Int(doc["header"], "revision");
                  dom::array responses;
                  if (doc["responses"].get_array().get(responses) == simdjson::SUCCESS) {
                    for (dom::element one : responses) {
                      dom::element range;
                      if (one["response_range"].get(range) == simdjson::SUCCESS) {
                        r.ranges.push_back(KvsFrom(range));
                      }
                    }
                  }
                }
                done(std::move(r));
              });
}

namespace {

// A watch stream: newline-separated JSON messages, {"result": {...}} or {"error": {...}}.
struct WatchStream : Etcd::Watch {
  struct Shared {
    boost::asio::io_context* io = nullptr;
    bool stopped = false;
    std::string partial;
    std::function<void(int64_t, std::vector<EtcdWatchEvent>)> events;
    std::function<void(EtcdStatus)> ended;
    EtcdStatus stream_error;
    std::weak_ptr<Shared> self;
  };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  ~WatchStream() override { shared->stopped = true; }
};

// One message of the stream; false when it ends the stream (a cancel or an error).
bool WatchMessage(WatchStream::Shared& s, std::string_view line) {
  dom::parser parser;
  dom::element doc;
  if (parser.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) {
    s.stream_error = {EtcdStatus::Code::kUnavailable, "watch: not JSON"};
    return false;
  }
  dom::element result;
  if (doc["result"].get(result) != simdjson::SUCCESS) {
    std::string_view message = "watch failed";
    if (doc["error"]["message"].get_string().get(message) != simdjson::SUCCESS &&
        doc["error"].get_string().get(message) != simdjson::SUCCESS) {
      message = "watch failed";
    }
    s.stream_error = {EtcdStatus::Code::kUnavailable, std::string(message)};
    return false;
  }
  bool canceled = false;
  if (result["canceled"].get_bool().get(canceled) == simdjson::SUCCESS && canceled) {
    s.stream_error = {EtcdStatus::Code::kUnavailable, Int(result, "compact_revision") != 0
                                                          ? "watch: revision compacted"
                                                          : "watch canceled by etcd"};
    return false;
  }
  const int64_t revision = Int(result["header"], "revision");
  std::vector<EtcdWatchEvent> events;
  dom::array list;
  if (result["events"].get_array().get(list) == simdjson::SUCCESS) {
    for (dom::element e : list) {
      EtcdWatchEvent ev;
      std::string_view type;
      ev.deleted = e["type"].get_string().get(type) == simdjson::SUCCESS && type == "DELETE";
      dom::element kv;
      if (e["kv"].get(kv) == simdjson::SUCCESS) ev.kv = KvFrom(kv);
      events.push_back(std::move(ev));
    }
  }
  // Handed over on the loop, not inside the transport's callback (the receiver sends requests).
  boost::asio::post(*s.io,
                    [shared = s.self.lock(), revision, events = std::move(events)]() mutable {
                      if (shared && !shared->stopped) shared->events(revision, std::move(events));
                    });
  return true;
}

}  // namespace

std::unique_ptr<Etcd::Watch> EtcdClient::StartWatch(
    std::string key, std::string range_end, int64_t start_revision,
    std::function<void(int64_t, std::vector<EtcdWatchEvent>)> events,
    std::function<void(EtcdStatus)> ended) {
  auto watch = std::make_unique<WatchStream>();
  std::shared_ptr<WatchStream::Shared> shared = watch->shared;
  shared->io = &impl_->io;
  shared->self = shared;
  shared->events = std::move(events);
  shared->ended = std::move(ended);
  json create = {{"key", B64(key)}};
  if (!range_end.empty()) create["range_end"] = B64(range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  const json body = {{"create_request", create}};
  HttpRequest request = impl_->Request("/v3/watch", body.dump());
  request.timeout = impl_->options.watch_timeout;
  // Pieces come inside the transport's loop: lines are cut and parsed here, their events posted,
  // and the stream stops when the handle is gone.
  request.on_data = [shared](std::string_view piece) {
    if (shared->stopped) return false;
    shared->partial.append(piece);
    size_t start = 0;
    for (size_t nl; (nl = shared->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(shared->partial.data() + start, nl - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      if (!WatchMessage(*shared, line)) return false;
      if (shared->stopped) return false;
    }
    shared->partial.erase(0, start);
    return shared->partial.size() < (size_t(4) << 20);  // a runaway line ends the stream
  };
  impl_->http.Send(std::move(request), [weak = std::weak_ptr<Impl>(impl_), shared](HttpResponse r) {
    if (shared->stopped) return;
    EtcdStatus status = shared->stream_error;
    if (status.ok()) {
      status = r.error.empty() ? EtcdStatus{EtcdStatus::Code::kUnavailable, "watch stream ended"}
                               : EtcdStatus{EtcdStatus::Code::kUnavailable, r.error};
    }
    if (auto self = weak.lock();
        self && r.transport != TransportError::kTimeout && r.transport != TransportError::kNone) {
      self->MoveOn();
    }
    shared->ended(status);
  });
  return watch;
}

}  // namespace rollbackd
