// exec: the channel's command (argv, no shell) with the event JSON on stdin and what it is about in
// its environment; exit 0 is delivered, anything else (a timeout included) is tried again.
#include "daemon/notify/channel_sender.h"

namespace rollbackd {
namespace {

class ExecSender : public ChannelSender {
 public:
  explicit ExecSender(ProcessRunner& exec) : exec_(exec) {}

  void Send(const ChannelSpec& channel, const SendBatch& batch,
            std::function<void(SendResult)> done) override {
    const Channel& c = channel.config;
    const OutboxEntry& e = *batch.entries.front();
    ExecRequest req;
    req.argv = c.command;
    req.timeout = c.timeout;
    req.kill_grace = std::chrono::seconds(2);
    req.input = e.payload;
    req.env = {{"ROLLBACKD_CHANNEL", std::string(batch.channel)},
               {"ROLLBACKD_NOTIFICATION_ID", e.id},
               {"ROLLBACKD_EVENT", e.kind},
               {"ROLLBACKD_SERVICE", e.service},
               {"ROLLBACKD_ATTEMPT", std::to_string(batch.attempt)}};
    exec_.Run(std::move(req), [done = std::move(done)](ExecResult r) {
      if (r.success()) {
        done(SendResult{DeliveryResult::kDelivered, ""});
        return;
      }
      std::string error = r.error;
      if (!r.output.empty()) error += "; output: " + Snippet(r.output);
      done(SendResult{DeliveryResult::kRetry, std::move(error)});
    });
  }

 private:
  ProcessRunner& exec_;
};

}  // namespace

std::unique_ptr<ChannelSender> MakeExecSender(ProcessRunner& exec) {
  return std::make_unique<ExecSender>(exec);
}

}  // namespace rollbackd
