// webhook: the event JSON (docs/events.md) POSTed as it is, signed as Standard Webhooks say, with
// the notification's id as webhook-id on every attempt and the attempt's time as its timestamp.
#include <chrono>

#include "daemon/io/signing.h"
#include "daemon/notify/channel_sender.h"

namespace rollbackd {
namespace {

class WebhookSender : public ChannelSender {
 public:
  explicit WebhookSender(HttpTransport& http) : http_(http) {}

  void Send(const ChannelSpec& channel, const SendBatch& batch,
            std::function<void(SendResult)> done) override {
    const Channel& c = channel.config;
    const OutboxEntry& e = *batch.entries.front();
    const int64_t seconds =
        std::chrono::floor<std::chrono::seconds>(batch.now).time_since_epoch().count();
    HttpRequest req = SignedJsonPost(c.url, e.payload, e.id, channel.key, seconds, c.timeout);
    req.body_limit = BodyLimit::Head(kReplyBodyBytes);
    http_.Send(std::move(req), [done = std::move(done)](HttpResponse r) { done(HttpResult(r)); });
  }

 private:
  HttpTransport& http_;
};

}  // namespace

std::unique_ptr<ChannelSender> MakeWebhookSender(HttpTransport& http) {
  return std::make_unique<WebhookSender>(http);
}

}  // namespace rollbackd
