#include "daemon/notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "daemon/notify/router.h"
#include "daemon/notify/signing.h"

namespace rollbackd {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kLoggedBodyBytes = 200;

// A receiver's response body is not ours: cut it short and keep it on one log line.
std::string Snippet(std::string_view body) {
  std::string out(body.substr(0, kLoggedBodyBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// 408 and 429 say "not now"; 5xx says the receiver failed. Anything else will not change.
bool Retryable(int status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view id,
                           const std::optional<std::string>& key, int64_t now_seconds,
                           Duration timeout) {
  HttpRequest r;
  r.method = "POST";
  r.url = std::move(url);
  r.timeout = timeout;
  r.headers = {{"Content-Type", "application/json"},
               {"User-Agent", "rollbackd"},
               {"webhook-id", std::string(id)},
               {"webhook-timestamp", std::to_string(now_seconds)}};
  if (key) r.headers.emplace_back("webhook-signature", SignWebhook(*key, id, now_seconds, body));
  r.body = std::move(body);
  return r;
}

struct Notifier::Impl : std::enable_shared_from_this<Impl> {
  // A channel as one configuration defines it. Deliveries hold on to it, so a reload does not
  // change where a retry goes or how it is signed.
  struct ChannelState {
    Channel config;
    std::optional<std::string> key;
  };

  struct Delivery {
    explicit Delivery(asio::io_context& io) : timer(io) {}
    std::shared_ptr<const ChannelState> channel;
    std::string event_id;
    std::string kind;
    std::string service;
    std::string body;
    int attempts = 0;
    SteadyClock::time_point sent;
    std::string last_error = "no response yet";
    asio::steady_timer timer;  // the wait before the next attempt
  };
  using Deliveries = std::map<uint64_t, std::unique_ptr<Delivery>>;

  Impl(asio::io_context& io, HttpClient& http, NotifierOptions options)
      : io(io),
        http(http),
        options(std::move(options)),
        rng(std::random_device{}()),
        drain_timer(io) {}

  ~Impl() {
    for (const auto& [key, d] : deliveries) LogLost(*d);
  }

  void Send(const Event& e) {
    const std::vector<std::string> names = router.ChannelsFor(e);
    if (names.empty()) return;
    const std::string body = EventToJson(e);
    for (const std::string& name : names) {
      // Configure made sure that every channel a route names exists.
      const std::shared_ptr<const ChannelState>& ch = channels.at(name);
      const Channel& c = ch->config;
      if (c.min_severity && e.severity < *c.min_severity) continue;
      switch (c.type) {
        case ChannelType::kWebhook:
          Start(ch, e, body);
          break;
        case ChannelType::kLog:
          spdlog::info("notification to channel {}: {}", name, body);
          Report(name, "delivered");
          break;
        case ChannelType::kSlack:
        case ChannelType::kAlertmanager:
        case ChannelType::kExec:
          if (warned_unsupported.insert(name).second) {
            spdlog::warn(
                "channel {}: {} channels are not implemented in this version; its notifications "
                "are not sent",
                name, ChannelTypeName(c.type));
          }
          Report(name, "unsupported");
          break;
      }
    }
  }

  void Start(std::shared_ptr<const ChannelState> ch, const Event& e, const std::string& body) {
    auto d = std::make_unique<Delivery>(io);
    d->channel = std::move(ch);
    d->event_id = e.id;
    d->kind = std::string(EventKindName(e.kind));
    d->service = e.service;
    d->body = body;
    d->sent = SteadyClock::now();
    const uint64_t key = next_key++;
    deliveries.emplace(key, std::move(d));
    Attempt(key);
  }

  void Attempt(uint64_t key) {
    auto it = deliveries.find(key);
    if (it == deliveries.end()) return;  // abandoned by a drain as its timer fired
    Delivery& d = *it->second;
    ++d.attempts;
    const ChannelState& ch = *d.channel;
    const int64_t now =
        std::chrono::floor<std::chrono::seconds>(options.clock()).time_since_epoch().count();
    http.Send(SignedJsonPost(ch.config.url, d.body, d.event_id, ch.key, now, ch.config.timeout),
              [weak = weak_from_this(), key](HttpResponse r) {
                if (auto self = weak.lock()) self->OnResponse(key, std::move(r));
              });
  }

  void OnResponse(uint64_t key, HttpResponse r) {
    auto it = deliveries.find(key);
    if (it == deliveries.end()) return;  // lost at the end of a drain while in flight
    Delivery& d = *it->second;
    if (r.ok()) {
      Finish(it, "delivered");
      return;
    }
    if (r.status == 0) {
      d.last_error = r.error;
    } else {
      d.last_error = "HTTP " + std::to_string(r.status);
      if (!r.body.empty()) d.last_error += ": " + Snippet(r.body);
    }
    if (r.status != 0 && !Retryable(r.status)) {
      spdlog::warn("notification to channel {} rejected, not retried: {}; {}",
                   d.channel->config.name, Describe(d), d.last_error);
      Finish(it, "dropped");
      return;
    }
    if (d.attempts >= options.max_attempts) {
      GiveUp(it, "max_attempts reached");
      return;
    }
    const Duration delay = Backoff(d.attempts);
    const auto next = SteadyClock::now() + delay;
    if (next - d.sent > options.max_age) {
      GiveUp(it, "max_age " + FormatDuration(options.max_age) + " reached");
      return;
    }
    spdlog::info("notification to channel {} failed, retrying in {}: {}; {}",
                 d.channel->config.name, FormatDuration(delay), Describe(d), d.last_error);
    Report(d.channel->config.name, "retrying");
    d.timer.expires_at(next);
    d.timer.async_wait([weak = weak_from_this(), key](boost::system::error_code ec) {
      if (ec) return;  // cancelled: the delivery was abandoned
      if (auto self = weak.lock()) self->Attempt(key);
    });
  }

  Duration Backoff(int failed_attempts) {
    Duration d = options.initial_backoff;
    for (int i = 1; i < failed_attempts && d < options.max_backoff; ++i) d *= 2;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const auto jittered =
        Duration(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng)));
    return std::min(jittered, options.max_backoff);
  }

  void GiveUp(Deliveries::iterator it, const std::string& why) {
    const Delivery& d = *it->second;
    spdlog::warn("notification to channel {} dropped after {} attempt{} ({}): {}; last error: {}",
                 d.channel->config.name, d.attempts, d.attempts == 1 ? "" : "s", why, Describe(d),
                 d.last_error);
    Finish(it, "dropped");
  }

  void Finish(Deliveries::iterator it, std::string_view result) {
    const std::string channel = it->second->channel->config.name;
    deliveries.erase(it);
    Report(channel, result);
    if (drain_done && deliveries.empty()) EndDrain();
  }

  void Drain(Duration limit, std::function<void()> done) {
    drain_done = std::move(done);
    if (deliveries.empty()) {
      EndDrain();
      return;
    }
    drain_timer.expires_after(limit);
    drain_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;  // everything was delivered before the limit
      auto self = weak.lock();
      // Also when the last delivery ended after the limit passed but before this ran.
      if (self && self->drain_done) self->OnDrainLimit();
    });
  }

  void OnDrainLimit() {
    Deliveries lost;
    lost.swap(deliveries);
    for (const auto& [key, d] : lost) {
      LogLost(*d);
      Report(d->channel->config.name, "dropped");
    }
    EndDrain();
  }

  void EndDrain() {
    drain_timer.cancel();
    asio::post(io, [weak = weak_from_this(), done = std::move(drain_done)] {
      if (weak.lock()) done();
    });
    drain_done = nullptr;
  }

  void LogLost(const Delivery& d) {
    spdlog::warn(
        "notification to channel {} lost at shutdown after {} attempt{}: {}; last error: {}",
        d.channel->config.name, d.attempts, d.attempts == 1 ? "" : "s", Describe(d), d.last_error);
  }

  static std::string Describe(const Delivery& d) {
    return d.kind + " of service " + d.service + ", event " + d.event_id;
  }

  void Report(std::string_view channel, std::string_view result) {
    if (observer) observer(channel, result);
  }

  asio::io_context& io;
  HttpClient& http;
  const NotifierOptions options;
  DeliveryObserver observer;
  std::map<std::string, std::shared_ptr<const ChannelState>> channels;
  Router router{std::vector<Route>{}};
  std::set<std::string> warned_unsupported;  // per configuration
  Deliveries deliveries;
  uint64_t next_key = 0;
  std::minstd_rand rng;
  asio::steady_timer drain_timer;
  std::function<void()> drain_done;  // set while draining
};

Notifier::Notifier(asio::io_context& io, HttpClient& http, NotifierOptions options)
    : impl_(std::make_shared<Impl>(io, http, std::move(options))) {}

Notifier::~Notifier() = default;

bool Notifier::Configure(const Config& config, std::vector<std::string>* errors) {
  const size_t errors_before = errors->size();
  std::map<std::string, std::shared_ptr<const Impl::ChannelState>> channels;
  for (const Channel& c : config.channels) {
    auto ch = std::make_shared<Impl::ChannelState>();
    ch->config = c;
    if (c.type == ChannelType::kWebhook && !c.secret_file.empty()) {
      const std::string where = "channel." + c.name + ".secret_file: " + c.secret_file + ": ";
      std::string error;
      ch->key = ReadWebhookKeyFile(c.secret_file, &error);
      if (!ch->key) errors->push_back(where + error);
    }
    channels.emplace(c.name, std::move(ch));
  }
  for (size_t i = 0; i < config.routes.size(); ++i) {
    for (const std::string& name : config.routes[i].channels) {
      if (channels.count(name) == 0) {
        errors->push_back("route[" + std::to_string(i) + "].channels: unknown channel " + name);
      }
    }
  }
  if (errors->size() != errors_before) return false;
  impl_->channels = std::move(channels);
  impl_->router = Router(config.routes);
  impl_->warned_unsupported.clear();
  return true;
}

void Notifier::Send(const Event& event) { impl_->Send(event); }

size_t Notifier::pending() const { return impl_->deliveries.size(); }

void Notifier::SetObserver(DeliveryObserver observer) { impl_->observer = std::move(observer); }

void Notifier::Drain(Duration limit, std::function<void()> done) {
  impl_->Drain(limit, std::move(done));
}

}  // namespace rollbackd
