#include "daemon/runtime/metrics.h"

#include <gtest/gtest.h>

namespace rollbackd {
namespace {

TEST(MetricsTest, QueryErrorsFallIntoAFixedSetOfReasons) {
  // The shapes HttpClient and PromResponseReader produce; the label never carries free text.
  EXPECT_EQ(Metrics::ErrorCategory("timeout after 5s"), "timeout");
  EXPECT_EQ(Metrics::ErrorCategory("Failed to connect to 127.0.0.1 port 9090 after 0 ms: "
                                   "Couldn't connect to server"),
            "connection");
  EXPECT_EQ(Metrics::ErrorCategory("HTTP 503: unexpected response status"), "http_status");
  EXPECT_EQ(Metrics::ErrorCategory("HTTP 422: execution: query timed out"), "prometheus_error");
  EXPECT_EQ(Metrics::ErrorCategory("bad_data: parse error at char 5"), "prometheus_error");
  EXPECT_EQ(Metrics::ErrorCategory("warnings: store unavailable"), "warnings");
  EXPECT_EQ(Metrics::ErrorCategory("malformed response: not JSON"), "bad_response");
  EXPECT_EQ(Metrics::ErrorCategory("unsupported result type \"matrix\""), "bad_response");
  EXPECT_EQ(Metrics::ErrorCategory("response larger than 64 MiB"), "bad_response");
}

TEST(MetricsTest, TriggerGaugesFollowTheStatusAndForgetRemovedTriggers) {
  Metrics m("1.2.3");
  ServiceStatus s;
  s.name = "web";
  SeriesStatus a;
  a.trigger = "errors";
  a.state = "firing";
  a.value = 1;
  s.series = {a, a};
  m.UpdateStatus({s});
  std::string text = m.Serialize();
  EXPECT_NE(
      text.find("rollbackd_trigger_series{service=\"web\",state=\"firing\",trigger=\"errors\"} 2"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("rollbackd_build_info{version=\"1.2.3\"} 1"), std::string::npos);
  s.series.clear();
  m.UpdateStatus({s});
  text = m.Serialize();
  EXPECT_EQ(text.find("trigger=\"errors\""), std::string::npos) << text;
  EXPECT_NE(text.find("rollbackd_service_paused{service=\"web\"} 0"), std::string::npos);
  // A gauge kept from the last round is set again, not added twice; a service gone loses its own.
  s.series = {a};
  m.UpdateStatus({s});
  text = m.Serialize();
  EXPECT_NE(
      text.find("rollbackd_trigger_series{service=\"web\",state=\"firing\",trigger=\"errors\"} 1"),
      std::string::npos)
      << text;
  m.UpdateStatus({});
  text = m.Serialize();
  EXPECT_EQ(text.find("service=\"web\""), std::string::npos) << text;
}

TEST(MetricsTest, OutboxGaugesFollowTheChannelsWithNotificationsWaiting) {
  Metrics m("1.2.3");
  m.Outbox({{"oncall", 3}, {"chat", 1}}, 900);
  std::string text = m.Serialize();
  EXPECT_NE(text.find("rollbackd_outbox_notifications{channel=\"oncall\"} 3"), std::string::npos)
      << text;
  EXPECT_NE(text.find("rollbackd_outbox_bytes 900"), std::string::npos) << text;
  m.Outbox({{"oncall", 0}}, 0);
  text = m.Serialize();
  EXPECT_NE(text.find("rollbackd_outbox_notifications{channel=\"oncall\"} 0"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("channel=\"chat\""), std::string::npos) << text;
}

}  // namespace
}  // namespace rollbackd
