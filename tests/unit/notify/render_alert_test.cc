#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/notify/render.h"

namespace rollbackd {
namespace {

TEST(AlertmanagerLabelNameTest, KeepsValidNamesAndMendsTheOthers) {
  EXPECT_EQ(AlertmanagerLabelName("pod"), "pod");
  EXPECT_EQ(AlertmanagerLabelName("__name__"), "__name__");
  EXPECT_EQ(AlertmanagerLabelName("service.name"), "service_name");
  EXPECT_EQ(AlertmanagerLabelName("k8s-app"), "k8s_app");
  EXPECT_EQ(AlertmanagerLabelName("9lives"), "_9lives");
  EXPECT_EQ(AlertmanagerLabelName("région"), "r__gion");  // each byte of é
  EXPECT_EQ(AlertmanagerLabelName(""), "_");
}

// Prometheus 3 returns UTF-8 label names; Alertmanager (0.25) refuses the whole POST for one of
// them, and with it every alert of the batch.
TEST(AlertmanagerLabelNameTest, AnAlertCarriesOnlyNamesAlertmanagerTakes) {
  const nlohmann::json event = {
      {"event", "trigger.firing"},
      {"service", "checkout"},
      {"trigger", "error_rate"},
      {"severity", "critical"},
      {"reason", "r"},
      {"id", "evt_1"},
      {"time", "2026-12-03T18:00:00Z"},
      {"labels", {{"service.name", "checkout"}, {"k8s-app", "web"}, {"k8s_app", "kept"}}}};
  const nlohmann::json alert = AlertFor(event, ChannelTemplates{}, "", "");
  const nlohmann::json& labels = alert.at("labels");
  EXPECT_EQ(labels.at("service_name"), "checkout");
  EXPECT_EQ(labels.at("k8s_app"), "kept");  // a valid name wins over a mended one
  EXPECT_FALSE(labels.contains("service.name"));
  EXPECT_FALSE(labels.contains("k8s-app"));
  for (const auto& [name, value] : labels.items()) {
    EXPECT_EQ(AlertmanagerLabelName(name), name) << name;
  }
  EXPECT_EQ(labels.at("alertname"), "error_rate");
}

}  // namespace
}  // namespace rollbackd
