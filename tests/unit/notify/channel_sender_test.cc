// Each channel sender on a recording transport: the one request it makes of a batch, and the
// typed result it makes of the answer.
#include "daemon/notify/channel_sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/io/http_client.h"
#include "daemon/io/signing.h"
#include "tests/unit/loop_util.h"
#include "tests/unit/test_http_server.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

const Time kNow = Time(1'700'000'123'456ms);

class RecordingHttp : public HttpTransport {
 public:
  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override {
    requests.push_back(std::move(request));
    pending = std::move(done);
  }
  std::vector<HttpRequest> requests;
  std::function<void(HttpResponse)> pending;
};

class RecordingExec : public ProcessRunner {
 public:
  void Run(ExecRequest request, std::function<void(ExecResult)> done) override {
    requests.push_back(std::move(request));
    pending = std::move(done);
  }
  std::vector<ExecRequest> requests;
  std::function<void(ExecResult)> pending;
};

OutboxEntry Entry(std::string id, std::string payload) {
  OutboxEntry e;
  e.channel = "oncall";
  e.id = std::move(id);
  e.kind = "trigger.firing";
  e.service = "checkout";
  e.payload = std::move(payload);
  return e;
}

ChannelSpec Spec(ChannelType type, std::string url) {
  ChannelSpec s;
  s.config.name = "oncall";
  s.config.type = type;
  s.config.url = std::move(url);
  s.config.timeout = 3s;
  s.templates = ChannelTemplates::For(s.config);
  return s;
}

SendBatch Batch(const std::vector<const OutboxEntry*>& entries, int attempt = 1) {
  SendBatch b;
  b.channel = "oncall";
  b.entries = entries;
  b.attempt = attempt;
  b.now = kNow;
  return b;
}

TEST(HttpResult, TwoHundredsDeliverTransientFailuresRetryTheRestAreRejected) {
  struct Case {
    int status;
    DeliveryResult want;
  };
  for (const Case c : {Case{200, DeliveryResult::kDelivered}, Case{204, DeliveryResult::kDelivered},
                       Case{408, DeliveryResult::kRetry}, Case{429, DeliveryResult::kRetry},
                       Case{500, DeliveryResult::kRetry}, Case{503, DeliveryResult::kRetry},
                       Case{301, DeliveryResult::kRejected}, Case{400, DeliveryResult::kRejected},
                       Case{404, DeliveryResult::kRejected}}) {
    SCOPED_TRACE(c.status);
    HttpResponse r;
    r.status = c.status;
    r.body = "nope\nnot\tnow";
    const SendResult got = HttpResult(r);
    EXPECT_EQ(got.result, c.want);
    if (c.want == DeliveryResult::kDelivered) {
      EXPECT_EQ(got.error, "");
    } else {
      EXPECT_EQ(got.error, "HTTP " + std::to_string(c.status) + ": nope not now");  // one line
    }
  }
  const SendResult refused =
      HttpResult(HttpResponse::Failed(TransportError::kConnection, "Couldn't connect"));
  EXPECT_EQ(refused.result, DeliveryResult::kRetry);
  EXPECT_EQ(refused.error, "Couldn't connect");
}

TEST(HttpResult, ALongBodyIsCutShort) {
  HttpResponse r;
  r.status = 400;
  r.body = std::string(1000, 'x');
  EXPECT_EQ(HttpResult(r).error.size(), std::string("HTTP 400: ").size() + 200);
}

TEST(WebhookSender, PostsThePayloadSignedWithTheAttemptsTime) {
  RecordingHttp http;
  auto sender = MakeWebhookSender(http);
  EXPECT_FALSE(sender->batches());
  ChannelSpec spec = Spec(ChannelType::kWebhook, "https://hooks.example/h");
  spec.key = "s3cret";
  const OutboxEntry e = Entry("evt_1", R"({"kind":"trigger.firing"})");
  std::optional<SendResult> result;
  sender->Send(spec, Batch({&e}), [&](SendResult r) { result = r; });
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_FALSE(result.has_value());  // not from inside Send
  const HttpRequest& req = http.requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://hooks.example/h");
  EXPECT_EQ(req.body, e.payload);
  EXPECT_EQ(req.timeout, 3s);
  EXPECT_EQ(*req.Header("webhook-id"), "evt_1");
  EXPECT_EQ(*req.Header("webhook-timestamp"), "1700000123");
  EXPECT_EQ(*req.Header("webhook-signature"),
            SignWebhook("s3cret", "evt_1", 1700000123, e.payload));
  HttpResponse ok;
  ok.status = 200;
  http.pending(ok);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result, DeliveryResult::kDelivered);
}

TEST(SlackSender, SendsOneMessageForTheWholeBatch) {
  RecordingHttp http;
  auto sender = MakeSlackSender(http);
  EXPECT_TRUE(sender->batches());
  const ChannelSpec spec = Spec(ChannelType::kSlack, "https://hooks.slack.example/T0");
  const OutboxEntry a = Entry("evt_a", R"({"kind":"trigger.firing","service":"checkout",)"
                                       R"("trigger":"error_rate","value":0.31})");
  const OutboxEntry b = Entry("evt_b", R"({"kind":"trigger.firing","service":"checkout",)"
                                       R"("trigger":"latency_p99","value":1.7})");
  sender->Send(spec, Batch({&a, &b}), [](SendResult) {});
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].Header("webhook-signature"), nullptr);
  const auto body = nlohmann::json::parse(http.requests[0].body);
  EXPECT_THAT(body["text"].get<std::string>(), HasSubstr("(+1 more)"));
  EXPECT_THAT(body.dump(), HasSubstr("latency_p99"));
}

TEST(AlertmanagerSender, PostsTheAlertsWithEndsAtFourResendsAhead) {
  RecordingHttp http;
  auto sender = MakeAlertmanagerSender(http);
  EXPECT_TRUE(sender->batches());
  ChannelSpec spec = Spec(ChannelType::kAlertmanager, "http://am.example:9093//");
  spec.config.resend = 1min;
  const OutboxEntry firing = Entry("evt_f", R"({"labels":{"alertname":"error_rate"}})");
  const OutboxEntry resolved =
      Entry("evt_r", R"({"labels":{"alertname":"latency"},"endsAt":"2023-11-14T22:00:00Z"})");
  sender->Send(spec, Batch({&firing, &resolved}), [](SendResult) {});
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].url, "http://am.example:9093/api/v2/alerts");
  const auto alerts = nlohmann::json::parse(http.requests[0].body);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["endsAt"], Rfc3339(kNow + 4min));
  EXPECT_EQ(alerts[1]["endsAt"], "2023-11-14T22:00:00Z");  // a resolution keeps its own
}

TEST(ExecSender, RunsTheCommandWithThePayloadOnStdinAndSaysWhatFailed) {
  RecordingExec exec;
  auto sender = MakeExecSender(exec);
  EXPECT_FALSE(sender->batches());
  ChannelSpec spec = Spec(ChannelType::kExec, "");
  spec.config.command = {"/usr/local/bin/page", "--team", "payments"};
  const OutboxEntry e = Entry("evt_1", R"({"kind":"trigger.firing"})");
  std::optional<SendResult> result;
  sender->Send(spec, Batch({&e}, 3), [&](SendResult r) { result = r; });
  ASSERT_EQ(exec.requests.size(), 1u);
  const ExecRequest& req = exec.requests[0];
  EXPECT_EQ(req.argv, spec.config.command);
  EXPECT_EQ(req.input, e.payload);
  EXPECT_EQ(req.timeout, 3s);
  EXPECT_EQ(req.output_tail, 4096u);  // the command may write any amount: its tail is kept
  EXPECT_THAT(req.env, Contains(Pair("ROLLBACKD_CHANNEL", "oncall")));
  EXPECT_THAT(req.env, Contains(Pair("ROLLBACKD_NOTIFICATION_ID", "evt_1")));
  EXPECT_THAT(req.env, Contains(Pair("ROLLBACKD_EVENT", "trigger.firing")));
  EXPECT_THAT(req.env, Contains(Pair("ROLLBACKD_SERVICE", "checkout")));
  EXPECT_THAT(req.env, Contains(Pair("ROLLBACKD_ATTEMPT", "3")));

  ExecResult failed;
  failed.started = true;
  failed.exit_status = 2;
  failed.error = "exit status 2";
  failed.output = "no route\nto pager";
  exec.pending(failed);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result, DeliveryResult::kRetry);
  EXPECT_EQ(result->error, "exit status 2; output: no route to pager");

  sender->Send(spec, Batch({&e}), [&](SendResult r) { result = r; });
  ExecResult ok;
  ok.started = true;
  ok.exit_status = 0;
  exec.pending(ok);
  EXPECT_EQ(result->result, DeliveryResult::kDelivered);
}

// Issue 17, finding 6: a receiver's reply was held whole, up to 64 MiB, for a 200-byte snippet.
TEST(ChannelSenders, KeepOnlyTheStartOfAReceiversReply) {
  RecordingHttp http;
  const OutboxEntry e = Entry("evt_1", R"({"kind":"trigger.firing","service":"checkout"})");
  for (ChannelType t : {ChannelType::kWebhook, ChannelType::kSlack, ChannelType::kAlertmanager}) {
    RecordingExec exec;
    auto sender = MakeChannelSender(t, http, exec);
    sender->Send(Spec(t, "https://receiver.example/h"), Batch({&e}), [](SendResult) {});
  }
  const nlohmann::json alert = nlohmann::json::parse(e.payload);
  http.requests.push_back(AlertmanagerRequest(Spec(ChannelType::kAlertmanager, "http://am").config,
                                              {&alert}, kNow));  // the re-send of what fires
  ASSERT_EQ(http.requests.size(), 4u);
  for (const HttpRequest& req : http.requests) {
    EXPECT_EQ(req.body_limit.max_bytes, kReplyBodyBytes) << req.url;
    EXPECT_EQ(req.body_limit.past, BodyLimit::Past::kKeepHead) << req.url;
  }
  EXPECT_EQ(kReplyBodyBytes, 64u << 10);
}

// Over the cap is not an error: the reply is judged by its status, its start is the snippet.
TEST(ChannelSenders, AHugeReplyIsJudgedByItsStatus) {
  testutil::TestServer server;
  boost::asio::io_context io;
  HttpClient client(io);
  auto sender = MakeWebhookSender(client);
  const OutboxEntry e = Entry("evt_1", R"({"kind":"trigger.firing"})");
  std::vector<SendResult> results;
  for (const char* target : {"/bytes/20000000", "/bytes/20000000/500", "/bytes/20000000/400"}) {
    ChannelSpec spec = Spec(ChannelType::kWebhook, server.Url(target));
    spec.config.timeout = 60s;
    const size_t before = results.size();
    sender->Send(spec, Batch({&e}), [&results](SendResult r) { results.push_back(r); });
    ASSERT_TRUE(testutil::RunUntil(
        io, [&] { return results.size() > before; }, 60s))
        << target;
  }
  EXPECT_EQ(results[0].result, DeliveryResult::kDelivered);
  EXPECT_EQ(results[0].error, "");
  EXPECT_EQ(results[1].result, DeliveryResult::kRetry);
  EXPECT_EQ(results[1].error, std::string("HTTP 500: ").append(200, 'x'));
  EXPECT_EQ(results[2].result, DeliveryResult::kRejected);
  EXPECT_EQ(results[2].error, std::string("HTTP 400: ").append(200, 'x'));
}

TEST(MakeChannelSender, LogChannelsHaveNone) {
  RecordingHttp http;
  RecordingExec exec;
  EXPECT_EQ(MakeChannelSender(ChannelType::kLog, http, exec), nullptr);
  for (ChannelType t : {ChannelType::kWebhook, ChannelType::kSlack, ChannelType::kAlertmanager,
                        ChannelType::kExec}) {
    EXPECT_NE(MakeChannelSender(t, http, exec), nullptr);
  }
}

}  // namespace
}  // namespace rollbackd
