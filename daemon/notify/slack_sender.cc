// slack: one incoming-webhook message (text and blocks) for the events of one group.
#include "daemon/io/signing.h"
#include "daemon/notify/channel_sender.h"

namespace rollbackd {
namespace {

class SlackSender : public ChannelSender {
 public:
  explicit SlackSender(HttpTransport& http) : http_(http) {}

  bool batches() const override { return true; }

  void Send(const ChannelSpec& channel, const SendBatch& batch,
            std::function<void(SendResult)> done) override {
    const Channel& c = channel.config;
    const std::vector<nlohmann::json> events = ParsePayloads(batch.entries);
    std::vector<const nlohmann::json*> refs;
    for (const nlohmann::json& e : events) refs.push_back(&e);
    const std::string external_url(batch.external_url);
    HttpRequest req = JsonPost(c.url, SlackBody(refs, channel.templates, external_url), c.timeout);
    req.body_limit = BodyLimit::Head(kReplyBodyBytes);
    http_.Send(std::move(req), [done = std::move(done)](HttpResponse r) { done(HttpResult(r)); });
  }

 private:
  HttpTransport& http_;
};

}  // namespace

std::unique_ptr<ChannelSender> MakeSlackSender(HttpTransport& http) {
  return std::make_unique<SlackSender>(http);
}

}  // namespace rollbackd
