// The daemon and clocks, as timelines on a fake clock: a Prometheus whose Date header disagrees
// with this host's clock is held as errors (never a breach, never a resolution) until the clocks
// agree; a wall clock stepped back holds rounds until it is back at the last instant used. No
// sleep: the wall clock is stepped with FakeClock::StepWall, Prometheus's with its Date header.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "tests/unit/runtime/daemon_timeline.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::Timeline;

constexpr const char* kTrigger = "above = 0.05\nfor = \"10s\"\nseverity = \"critical\"";

// The log lines of a test, kept in memory (the default logger is put back afterwards).
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  size_t Count(const std::string& text) const {
    size_t n = 0;
    for (const std::string& line : sink_->last_formatted()) n += line.find(text) != line.npos;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::string Metric(Timeline& t, const std::string& name) {
  const std::string text = t.daemon().control().MetricsText();
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "(none)";
  const size_t begin = at + name.size() + 2;
  return text.substr(begin, text.find('\n', begin) - begin);
}

std::string LastError(Timeline& t) {
  const auto doc = nlohmann::json::parse(t.daemon().control().StatusDocument());
  const auto& e = doc["services"][0]["triggers"][0]["last_error"];
  return e.is_string() ? e.get<std::string>() : "";
}

TEST(DaemonClock, APrometheusAheadOfThisHostIsAnErrorNotABreachUntilTheClocksAgree) {
  CapturedLog log;
  Timeline t(kTrigger);
  t.prometheus_over_http = true;
  Duration skew = 60s;  // Prometheus's clock minus ours
  t.date = [&](WallTime now) { return std::optional<std::string>(FormatHttpDate(now + skew)); };
  t.value = [](Duration at) -> std::optional<double> { return at >= 3s ? 0.5 : 0.01; };
  ASSERT_TRUE(t.Start());
  t.Advance(20s);
  // Breaching from 3s, with for = 10s, it would fire at 13s: every answer is an error instead,
  // and after `for` of errors the source is down.
  EXPECT_THAT(t.HookRuns(), IsEmpty());
  EXPECT_THAT(t.Decisions(), ElementsAre("11s source.down"));
  const std::string reason = t.DecisionRecords().at(0)["reason"];
  EXPECT_THAT(
      reason,
      HasSubstr("clock skew: Prometheus \"default\" is at least 60.0s ahead of this host's "
                "clock (its Date header says 2027-01-15T08:01:11.000Z; this host's clock said "
                "2027-01-15T08:00:11.000Z when asking"));
  EXPECT_THAT(reason, HasSubstr("more than max_clock_skew 5s"));
  EXPECT_THAT(LastError(t), HasSubstr("clock skew"));
  EXPECT_EQ(Metric(t, "rollbackd_source_clock_skew_seconds{source=\"default\"}"), "60");
  EXPECT_EQ(Metric(t, "rollbackd_query_errors_total{reason=\"clock\",source=\"default\"}"), "21");
  EXPECT_EQ(log.Count("source default: clock skew"), 1u) << "one warning a minute";

  // The clocks agree again (NTP): the answers count, the window starts, and it fires 10s later.
  skew = 0s;
  t.Advance(15s);
  EXPECT_THAT(t.Decisions(), ElementsAre("11s source.down", "21s source.up", "21s trigger.pending",
                                         "31s trigger.firing", "31s rollback.started",
                                         "31s rollback.succeeded", "33s rollback.not_recovered"));
  EXPECT_THAT(t.HookRuns(), ElementsAre("31s"));
  EXPECT_EQ(Metric(t, "rollbackd_source_clock_skew_seconds{source=\"default\"}"), "0");
}

TEST(DaemonClock, ABehindPrometheusWithinTheBoundIsReadAndOneBeyondItIsNot) {
  Timeline t(kTrigger);
  t.prometheus_over_http = true;
  Duration skew = -4s;  // within the default bound of 5s: read as it is
  t.date = [&](WallTime now) { return std::optional<std::string>(FormatHttpDate(now + skew)); };
  t.value = [](Duration at) -> std::optional<double> { return at >= 3s ? 0.5 : 0.01; };
  ASSERT_TRUE(t.Start());
  t.Advance(5s);
  EXPECT_THAT(t.Decisions(), ElementsAre("3s trigger.pending"));
  // Prometheus's Date has whole seconds: 4s behind reads as at least 3s.
  EXPECT_EQ(Metric(t, "rollbackd_source_clock_skew_seconds{source=\"default\"}"), "-3");
  skew = -7s;
  t.Advance(15s);
  EXPECT_THAT(t.Decisions(), ElementsAre("3s trigger.pending", "17s source.down"))
      << "held from 6s: no firing at 13s";
  EXPECT_THAT(LastError(t), HasSubstr("is at least 6.0s behind this host's clock"));
}

TEST(DaemonClock, AnswersWithoutADateHeaderAreReadAsTheyAreAndThatIsSaidOnce) {
  CapturedLog log;
  Timeline t(kTrigger);
  t.prometheus_over_http = true;
  t.date = [](WallTime) { return std::optional<std::string>(); };
  t.value = [](Duration at) -> std::optional<double> { return at >= 3s ? 0.5 : 0.01; };
  ASSERT_TRUE(t.Start());
  t.Advance(14s);
  EXPECT_THAT(t.HookRuns(), ElementsAre("13s"));
  EXPECT_EQ(log.Count("source default: no Date header: its clock is not compared"), 1u);
  EXPECT_EQ(Metric(t, "rollbackd_source_clock_skew_seconds{source=\"default\"}"), "(none)");
}

TEST(DaemonClock, AClockSteppedBackHoldsRoundsUntilItIsBackAndNothingResolvesMeanwhile) {
  CapturedLog log;
  Timeline t(kTrigger);
  // As Prometheus answers: nothing at an instant well ahead of its clock (here on this host,
  // stepped with it; a few seconds ahead still find the last scrape), and "errors" breaching until
  // 30s.
  t.inputs().query = [&t](const std::string&, Time at) {
    QueryResult r;
    if (at > std::chrono::time_point_cast<std::chrono::milliseconds>(t.clock().WallNow()) + 5s) {
      return r;
    }
    const auto since = at - Time(std::chrono::seconds(1'800'000'000));
    r.series.push_back({Labels(), since < 30s ? 0.5 : 0.01});
    return r;
  };
  ASSERT_TRUE(t.Start());
  t.Advance(20s);
  const std::vector<std::string> before = t.Decisions();
  ASSERT_THAT(before,
              ElementsAre("0s trigger.pending", "10s trigger.firing", "10s rollback.started",
                          "10s rollback.succeeded", "12s rollback.not_recovered"));
  const size_t queries = t.inputs().queries;

  t.clock().StepWall(-2min);
  t.Advance(60s);
  // Held: nothing read, nothing decided (no "disappeared" resolution from empty answers).
  EXPECT_EQ(t.Decisions(), before);
  EXPECT_EQ(t.inputs().queries, queries);
  EXPECT_THAT(LastError(t), HasSubstr("this host's clock went back"));
  EXPECT_EQ(Metric(t, "rollbackd_clock_held"), "1");
  EXPECT_EQ(log.Count("this host's clock went back"), 1u) << "said once, not once a round";

  // Back at 20s after 120s of hold: read again, and the recovery at 30s resolves at 30s.
  t.Advance(75s);
  EXPECT_GT(t.inputs().queries, queries);
  std::vector<std::string> after = before;
  after.push_back("30s trigger.resolved");
  EXPECT_EQ(t.Decisions(), after);
  EXPECT_EQ(Metric(t, "rollbackd_clock_held"), "0");
  EXPECT_EQ(log.Count("this host's clock went back"), 1u);
  EXPECT_EQ(log.Count("the wall clock is back at"), 1u);
}

}  // namespace
}  // namespace rollbackd
