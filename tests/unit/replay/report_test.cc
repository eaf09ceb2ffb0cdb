// What replay prints: the timeline as `rollbackd test -v` prints it, the failures, the summary;
// JSON with the events as webhook payloads; the HTML plot with every outside text escaped.
#include "daemon/replay/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/replay/html_plot.h"
#include "tests/unit/replay/replay_test_util.h"

namespace rollbackd::replaytest {
namespace {

constexpr const char* kRule = R"(service  = "shop"
interval = "15s"

[[trigger]]
name     = "errors"
query    = 'max by (pod) (errors)'
above    = 0.05
for      = "1m"

[deploy]
version_query = 'max by (version) (build_info)'

[rollback]
exec     = ["/bin/false"]
cooldown = "1h"
verify   = "5m"
)";

const std::string kEvil = "<img src=x onerror=alert(1)>";

ReplayResult BadDeploy(bool record) {
  Replayer replayer(ConfigFrom({kRule}), kT0, kT0 + D("30m"), std::nullopt);
  std::vector<InputHistory> h;
  for (const RangeRequestSpec& spec : replayer.requests()) {
    if (spec.input == replayer.engine().version_input("shop")) {
      h.push_back(VersionHistory(spec, [](size_t k) { return k < 20 ? "v1" : kEvil; }));
    } else {
      h.push_back(History(
          spec, [](size_t k) { return k >= 20 && k < 40 ? 0.3 : 0.01; }, Labels({{"pod", kEvil}})));
    }
  }
  ReplayOptions options;
  options.record_series = record;
  return replayer.Run(h, options);
}

TEST(ReplayReport, SummaryCountsPerTrigger) {
  const std::vector<TriggerSummary> s = Summarize(BadDeploy(false));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].service, "shop");
  EXPECT_EQ(s[0].trigger, "errors");
  EXPECT_EQ(s[0].pending, 1);
  EXPECT_EQ(s[0].fired, 1);
  EXPECT_EQ(s[0].rolled_back, 1);
  EXPECT_EQ(s[0].longest_firing, D("4m"));
  EXPECT_FALSE(s[0].still_firing);
}

TEST(ReplayReport, TextIsTheTimelineOfRollbackdTestThenTheSummary) {
  std::ostringstream out;
  WriteTextReport(BadDeploy(false), out);
  const std::string text = out.str();
  EXPECT_NE(text.find("    2026-01-01T00:06:00.000Z trigger.firing errors {pod=\"" + kEvil +
                      "\"}: value 0.3 > 0.05"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("shop/errors: 1 time pending, fired 1 time, would have rolled back 1 time, "
                      "longest firing 4m\n"),
            std::string::npos)
      << text;
}

TEST(ReplayReport, JsonCarriesTheEventsAsWebhookPayloads) {
  const ReplayResult r = BadDeploy(false);
  std::ostringstream out;
  WriteJsonReport(r, out);
  const nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j["events"].size(), r.events.size());
  for (size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(j["events"][i], nlohmann::json::parse(EventToJson(r.events[i])));
  }
  EXPECT_EQ(j["summary"][0]["longest_firing_seconds"], 240);
  EXPECT_EQ(j["services"][0]["steps"], 121);
}

TEST(ReplayHtml, SelfContainedWithOutsideTextEscaped) {
  std::ostringstream out;
  WriteHtmlReport(BadDeploy(true), out);
  const std::string html = out.str();
  EXPECT_EQ(html.find(kEvil), std::string::npos) << "a label value reached the page unescaped";
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http:"), std::string::npos) << "no external resource of any kind";
  EXPECT_EQ(html.find("https:"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_NE(html.find("class=\"firing\""), std::string::npos);
  EXPECT_NE(html.find("class=\"pending\""), std::string::npos);
  EXPECT_NE(html.find("class=\"threshold\""), std::string::npos);
  EXPECT_NE(html.find("class=\"deploy\""), std::string::npos);
  EXPECT_NE(html.find("class=\"rollback\""), std::string::npos);
  EXPECT_NE(html.find("value 0.3 &gt; 0.05"), std::string::npos) << "the reason as a tooltip";
}

TEST(ReplayHtml, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
}

}  // namespace
}  // namespace rollbackd::replaytest
