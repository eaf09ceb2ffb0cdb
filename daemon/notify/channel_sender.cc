#include "daemon/notify/channel_sender.h"

#include <spdlog/spdlog.h>

#include "daemon/io/fd_io.h"
#include "daemon/io/signing.h"

namespace rollbackd {
namespace {

constexpr size_t kLoggedBodyBytes = 200;

// 408 and 429 say "not now"; 5xx says the receiver failed. Anything else will not change.
bool Retryable(int status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

std::map<std::string, std::shared_ptr<const ChannelSpec>> LoadChannelSpecs(
    const Config& config, std::vector<std::string>* errors) {
  std::map<std::string, std::shared_ptr<const ChannelSpec>> channels;
  for (const Channel& c : config.channels) {
    auto ch = std::make_shared<ChannelSpec>();
    ch->config = c;
    ch->templates = ChannelTemplates::For(c);
    if (c.type == ChannelType::kWebhook && !c.secret_file.empty()) {
      const std::string where = "channel." + c.name + ".secret_file: " + c.secret_file + ": ";
      std::string error;
      ch->key = ReadWebhookKeyFile(c.secret_file, &error);
      if (!ch->key) errors->push_back(where + error);
      if (ch->key && ReadableByOthers(c.secret_file)) {
        spdlog::warn(
            "channel.{}.secret_file: {} is readable by every user of this host: chmod o-r "
            "it (0640, owner root, group rollbackd, is the packaged layout)",
            c.name, c.secret_file);
      }
    }
    channels.emplace(c.name, std::move(ch));
  }
  return channels;
}

std::unique_ptr<ChannelSender> MakeChannelSender(ChannelType type, HttpTransport& http,
                                                 ProcessRunner& exec) {
  switch (type) {
    case ChannelType::kWebhook:
      return MakeWebhookSender(http);
    case ChannelType::kSlack:
      return MakeSlackSender(http);
    case ChannelType::kAlertmanager:
      return MakeAlertmanagerSender(http);
    case ChannelType::kExec:
      return MakeExecSender(exec);
    case ChannelType::kLog:
      break;
  }
  return nullptr;
}

SendResult HttpResult(const HttpResponse& r) {
  if (r.ok()) return SendResult{DeliveryResult::kDelivered, ""};
  if (r.status == 0) return SendResult{DeliveryResult::kRetry, r.error};
  std::string error = "HTTP " + std::to_string(r.status);
  if (!r.body.empty()) error += ": " + Snippet(r.body);
  return SendResult{Retryable(r.status) ? DeliveryResult::kRetry : DeliveryResult::kRejected,
                    std::move(error)};
}

std::string Snippet(std::string_view body) {
  std::string out(body.substr(0, kLoggedBodyBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::vector<nlohmann::json> ParsePayloads(const std::vector<const OutboxEntry*>& entries) {
  std::vector<nlohmann::json> out;
  out.reserve(entries.size());
  for (const OutboxEntry* e : entries)
    out.push_back(nlohmann::json::parse(e->payload, nullptr, false));
  return out;
}

}  // namespace rollbackd
