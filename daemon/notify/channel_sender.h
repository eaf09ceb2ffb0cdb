// How each channel type turns a batch of outbox entries into one request, and the request's
// response into a DeliveryResult. One sender per type (webhook, slack, alertmanager, exec); log
// channels are written by the Notifier at once and have none. Internal to the notify layer: the
// Notifier owns the senders, queues and retries; a sender only sends.
//
// Senders keep no state of their own beyond the transport they were given, so a completion that
// comes after the Notifier is gone touches nothing but the `done` it was handed.
//
// Threading: on the transports' loop; `done` runs later, never from inside Send.
#ifndef ROLLBACKD_NOTIFY_CHANNEL_SENDER_H_
#define ROLLBACKD_NOTIFY_CHANNEL_SENDER_H_

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/samples.h"
#include "daemon/io/transport.h"
#include "daemon/notify/delivery.h"
#include "daemon/notify/outbox.h"
#include "daemon/notify/render.h"

namespace rollbackd {

// A configured channel with what Configure read and parsed for it.
struct ChannelSpec {
  Channel config;
  std::optional<std::string> key;  // webhook: the signing key from secret_file
  ChannelTemplates templates;
};

// The channels of `config`, by name, each webhook's secret_file read. A secret that cannot be
// read or is invalid adds one message to `errors`, naming the channel and file, never the secret.
std::map<std::string, std::shared_ptr<const ChannelSpec>> LoadChannelSpecs(
    const Config& config, std::vector<std::string>* errors);

// One attempt.
struct SendBatch {
  std::string_view channel;                 // the channel's name
  std::vector<const OutboxEntry*> entries;  // in queue order; one unless the sender batches
  int attempt = 1;                          // of the first entry, this one included
  Time now{};                               // the wall clock at this attempt
  std::string_view external_url;            // [daemon] external_url, for links
};

class ChannelSender {
 public:
  virtual ~ChannelSender() = default;
  // True when several entries of one group may go in one request (slack, alertmanager).
  virtual bool batches() const { return false; }
  // Sends `batch` to `channel` as one request; `done` gets the typed result later.
  virtual void Send(const ChannelSpec& channel, const SendBatch& batch,
                    std::function<void(SendResult)> done) = 0;
};

// The sender of `type`; nullptr for log channels. The transports must outlive the sender.
std::unique_ptr<ChannelSender> MakeChannelSender(ChannelType type, HttpTransport& http,
                                                 ProcessRunner& exec);

// webhook: the event JSON POSTed, signed as Standard Webhooks say (webhook_sender.cc).
std::unique_ptr<ChannelSender> MakeWebhookSender(HttpTransport& http);
// slack: one incoming-webhook message for the batch (slack_sender.cc).
std::unique_ptr<ChannelSender> MakeSlackSender(HttpTransport& http);
// alertmanager: POST /api/v2/alerts with the batch's alerts (alertmanager_sender.cc).
std::unique_ptr<ChannelSender> MakeAlertmanagerSender(HttpTransport& http);
// exec: the command with the event JSON on stdin; exit 0 is delivered (exec_sender.cc).
std::unique_ptr<ChannelSender> MakeExecSender(ProcessRunner& exec);

// Alertmanager's POST of `alerts` (each given endsAt now + 4 x resend unless it has one): the
// senders' request, and the Notifier's re-send of what still fires. Keeps kReplyBodyBytes of the
// reply.
HttpRequest AlertmanagerRequest(const Channel& channel,
                                const std::vector<const nlohmann::json*>& alerts, Time now);

// ---- for the senders ----

// What is kept of a receiver's reply (webhook, slack, alertmanager): its first 64 KiB. The reply
// is judged by its status; the body only gives the error's snippet. A longer reply is read to its
// end and cut, never an error: a 2xx with a huge body is still delivered.
inline constexpr size_t kReplyBodyBytes = 64 << 10;

// An HTTP response as a result: 2xx delivered; no response, 5xx, 408, 429 retry; else rejected.
// The error is the transport's, or "HTTP <status>: <start of the body>".
SendResult HttpResult(const HttpResponse& response);
// A receiver's response body (or a command's output) is not ours: cut short, on one line.
std::string Snippet(std::string_view body);
// The entries' payloads parsed as JSON, in order (one that does not parse is a discarded value).
std::vector<nlohmann::json> ParsePayloads(const std::vector<const OutboxEntry*>& entries);

}  // namespace rollbackd

#endif  // ROLLBACKD_NOTIFY_CHANNEL_SENDER_H_
