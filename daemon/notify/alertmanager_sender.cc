// alertmanager: POST /api/v2/alerts with the alerts of one group, as Prometheus sends them.
#include "daemon/io/signing.h"
#include "daemon/notify/channel_sender.h"

namespace rollbackd {
namespace {

std::string AlertsUrl(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/api/v2/alerts";
}

class AlertmanagerSender : public ChannelSender {
 public:
  explicit AlertmanagerSender(HttpTransport& http) : http_(http) {}

  bool batches() const override { return true; }

  void Send(const ChannelSpec& channel, const SendBatch& batch,
            std::function<void(SendResult)> done) override {
    const std::vector<nlohmann::json> alerts = ParsePayloads(batch.entries);
    std::vector<const nlohmann::json*> refs;
    for (const nlohmann::json& a : alerts) refs.push_back(&a);
    http_.Send(AlertmanagerRequest(channel.config, refs, batch.now),
               [done = std::move(done)](HttpResponse r) { done(HttpResult(r)); });
  }

 private:
  HttpTransport& http_;
};

}  // namespace

HttpRequest AlertmanagerRequest(const Channel& c, const std::vector<const nlohmann::json*>& alerts,
                                Time now) {
  HttpRequest req = JsonPost(AlertsUrl(c.url), AlertmanagerBody(alerts, now, c.resend), c.timeout);
  req.body_limit = BodyLimit::Head(kReplyBodyBytes);
  return req;
}

std::unique_ptr<ChannelSender> MakeAlertmanagerSender(HttpTransport& http) {
  return std::make_unique<AlertmanagerSender>(http);
}

}  // namespace rollbackd
