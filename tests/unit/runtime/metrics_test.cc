#include "daemon/runtime/metrics.h"

#include <gtest/gtest.h>

#include "daemon/sources/probe.h"
#include "daemon/sources/prom_response.h"

namespace rollbackd {
namespace {

TEST(MetricsTest, QueryErrorsFallIntoAFixedSetOfReasons) {
  // The categories come from the result's type, never from its text.
  auto category = [](const QueryResult& r) { return InputErrorCategory(r.error_kind); };
  PromResponseReader reader;
  EXPECT_EQ(category(TransportFailure(HttpResponse::Failed(TransportError::kTimeout, "x"))),
            "timeout");
  EXPECT_EQ(category(TransportFailure(HttpResponse::Failed(TransportError::kConnection, "x"))),
            "connection");
  EXPECT_EQ(category(TransportFailure(HttpResponse::Failed(TransportError::kTls, "x"))),
            "connection");
  EXPECT_EQ(category(TransportFailure(HttpResponse::Failed(TransportError::kTooLarge, "x"))),
            "bad_response");
  EXPECT_EQ(category(TransportFailure(HttpResponse::Failed(TransportError::kLocal, "x"))), "local");
  EXPECT_EQ(category(reader.Read(503, "Service Unavailable")), "http_status");
  const QueryResult promql =
      reader.Read(422, R"({"status":"error","errorType":"execution","error":"query timed out"})");
  EXPECT_EQ(category(promql), "prometheus_error");
  EXPECT_EQ(promql.promql_error_type, "execution");
  EXPECT_EQ(promql.http_status, 422);
  EXPECT_EQ(category(reader.Read(
                200, R"({"status":"success","warnings":["store down"],"data":{"resultType":)"
                     R"("vector","result":[]}})")),
            "warnings");
  EXPECT_EQ(category(reader.Read(200, "not json")), "bad_response");
  EXPECT_EQ(category(reader.Read(
                200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})")),
            "bad_response");
  EXPECT_EQ(category(QueryResult::Error("unknown source x", InputError::kUnknownSource)),
            "bad_response");
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

TEST(MetricsTest, ServicesCountsTheRunningConfiguration) {
  Metrics m("test");
  m.SetServices(3);
  EXPECT_NE(m.Serialize().find("\nrollbackd_services 3\n"), std::string::npos) << m.Serialize();
  m.SetServices(0);  // a reload into a configuration that watches nothing
  EXPECT_NE(m.Serialize().find("\nrollbackd_services 0\n"), std::string::npos);
}

}  // namespace
}  // namespace rollbackd
