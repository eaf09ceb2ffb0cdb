// The round runner's reading of health probes: a local fault is an error of its probe; a round
// whose every probe failed the same way without an HTTP answer, across at least kHeldProbeHosts
// distinct hosts, is held as errors (the daemon's host lost its network, not the fleet its
// services); anything less stays what the probes said. A fake clock and a fake reader: no network,
// no sleep.
#include "daemon/runtime/round_runner.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/loader.h"
#include "testing/fake_clock.h"
#include "testing/fakes.h"

namespace rollbackd {
namespace {

using namespace std::chrono_literals;

class NoObserver : public ReadObserver {
 public:
  void QueryRead(const std::string&, double, const QueryResult&) override {}
  void ProbeRead(const std::string&, const std::string&, double, const ProbeOutcome&) override {}
};

// One service per URL ("s0", "s1", ...), each with one health check probing it every 10s: input
// id i is the probe of urls[i].
std::shared_ptr<const Config> Probes(const std::vector<std::string>& urls) {
  auto c = std::make_shared<Config>();
  for (size_t i = 0; i < urls.size(); ++i) {
    Diagnostics d;
    auto s = ParseRuleFile("service = \"s" + std::to_string(i) +
                               "\"\ninterval = \"10s\"\n[[health]]\nname = \"hc\"\nurl = \"" +
                               urls[i] + "\"\nfor = \"30s\"\n",
                           "s" + std::to_string(i) + ".toml", &d);
    EXPECT_FALSE(d.has_errors()) << urls[i];
    if (s) c->services.push_back(std::move(*s));
  }
  return c;
}

ProbeOutcome Passed() {
  ProbeOutcome o;
  o.passed = true;
  o.status = 200;
  return o;
}
ProbeOutcome Status(int status) {
  ProbeOutcome o;
  o.status = status;
  o.detail = "status " + std::to_string(status) + ", expected 200";
  return o;
}
ProbeOutcome Failed(TransportError t, std::string detail) {
  ProbeOutcome o;
  o.transport = t;
  o.detail = std::move(detail);
  return o;
}
ProbeOutcome Refused() { return Failed(TransportError::kConnection, "Couldn't connect"); }
ProbeOutcome TimedOut() { return Failed(TransportError::kTimeout, "timeout after 1s"); }
ProbeOutcome Emfile() {
  return Failed(TransportError::kLocal,
                "local fault: cannot open a socket: Too many open files (EMFILE)");
}

// A runner over one probe per URL; `outcome` answers each probe by its URL.
class Rounds {
 public:
  Rounds(const std::vector<std::string>& urls,
         std::function<ProbeOutcome(const std::string& url)> outcome)
      : engine_(Probes(urls)) {
    reader_.probe = [outcome = std::move(outcome)](const HealthCheck& h) { return outcome(h.url); };
    runner_.Configure(engine_, {});
  }

  // The next round's results, by input id (20 s of fake time at most).
  std::vector<QueryResult> Next() {
    got_.reset();
    runner_.ScheduleNext();
    for (int i = 0; i < 200 && !got_; ++i) clock_.Advance(100ms);
    EXPECT_TRUE(got_.has_value()) << "no round within 20s";
    return got_.value_or(std::vector<QueryResult>());
  }

 private:
  boost::asio::io_context io_;
  testing::FakeClock clock_{&io_};
  testing::FakeInputReader reader_{io_};
  NoObserver observer_;
  Engine engine_;
  std::optional<std::vector<QueryResult>> got_;
  RoundRunner runner_{clock_, reader_, observer_, [this](const RoundRunner::Round& r) {
                        std::vector<QueryResult> out;
                        for (const QueryResult* q : *r.inputs) {
                          out.push_back(q != nullptr ? *q : QueryResult::Error("not read"));
                        }
                        got_ = std::move(out);
                      }};
};

bool Breach(const QueryResult& r) {
  return !r.is_error() && r.series.size() == 1 && r.series[0].value == 0;
}
bool Pass(const QueryResult& r) {
  return !r.is_error() && r.series.size() == 1 && r.series[0].value == 1;
}

const std::vector<std::string> kThreeHosts = {"http://10.0.0.1:8080/ready", "http://10.0.0.2/ready",
                                              "https://api.example.com/healthz"};

TEST(RoundRunnerProbeTest, TwoHostsBothRefusedStayBreaches) {
  Rounds rounds({"http://10.0.0.1/ready", "http://10.0.0.2/ready"},
                [](const std::string&) { return Refused(); });
  for (const QueryResult& r : rounds.Next()) EXPECT_TRUE(Breach(r)) << r.error;
}

TEST(RoundRunnerProbeTest, ThreeHostsAllRefusedAreHeldAsErrors) {
  Rounds rounds(kThreeHosts, [](const std::string&) { return Refused(); });
  for (const QueryResult& r : rounds.Next()) {
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error_kind, InputError::kConnection);
    EXPECT_EQ(r.error,
              "every probe of the round (3) failed with a connection error, across 3 hosts: taken "
              "as this host's network, not the services; this probe: Couldn't connect");
  }
}

TEST(RoundRunnerProbeTest, ThreeHostsAllTimingOutAreHeldAsTimeouts) {
  Rounds rounds(kThreeHosts, [](const std::string&) { return TimedOut(); });
  for (const QueryResult& r : rounds.Next()) {
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error_kind, InputError::kTimeout);
    EXPECT_NE(r.error.find("failed with a timeout error, across 3 hosts"), std::string::npos)
        << r.error;
  }
}

TEST(RoundRunnerProbeTest, OnePassingProbeKeepsTheFailuresBreaches) {
  Rounds rounds(kThreeHosts, [](const std::string& url) {
    return url == kThreeHosts[1] ? Passed() : Refused();
  });
  const auto r = rounds.Next();
  EXPECT_TRUE(Breach(r[0]));
  EXPECT_TRUE(Pass(r[1]));
  EXPECT_TRUE(Breach(r[2]));
}

TEST(RoundRunnerProbeTest, OneHttpAnswerOfAnyStatusKeepsTheFailuresBreaches) {
  // A 503 is an answer: the network works, the services are failing.
  Rounds rounds(kThreeHosts, [](const std::string& url) {
    return url == kThreeHosts[2] ? Status(503) : Refused();
  });
  for (const QueryResult& r : rounds.Next()) EXPECT_TRUE(Breach(r)) << r.error;
}

TEST(RoundRunnerProbeTest, MixedClassesStayBreaches) {
  Rounds rounds(kThreeHosts, [](const std::string& url) {
    return url == kThreeHosts[0] ? TimedOut() : Refused();
  });
  for (const QueryResult& r : rounds.Next()) EXPECT_TRUE(Breach(r)) << r.error;
}

TEST(RoundRunnerProbeTest, PortsUserInfoAndCaseOfOneHostAreOneHost) {
  // Three ports of one machine down together: that machine, not this host's network.
  const std::vector<std::string> urls = {"http://app.internal:8080/a", "http://APP.internal:9090/b",
                                         "http://probe@app.internal/c"};
  Rounds one_host(urls, [](const std::string&) { return Refused(); });
  for (const QueryResult& r : one_host.Next()) EXPECT_TRUE(Breach(r)) << r.error;

  Rounds three_hosts({"http://[::1]:8080/a", "http://[fd00::2]:8080/a", "http://10.0.0.3:8080/a"},
                     [](const std::string&) { return Refused(); });
  for (const QueryResult& r : three_hosts.Next()) EXPECT_TRUE(r.is_error());
}

TEST(RoundRunnerProbeTest, ALocalFaultIsAnErrorOfItsProbeAlone) {
  // One host, one probe: no round rule needed. A local fault beside a refused probe is another
  // class: the refused one stays a breach.
  Rounds alone({"http://127.0.0.1:8080/ready"}, [](const std::string&) { return Emfile(); });
  const QueryResult r = alone.Next().at(0);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error_kind, InputError::kLocal);
  EXPECT_EQ(r.error,
            "local fault: cannot open a socket: Too many open files (EMFILE); not the service's "
            "failure");

  Rounds mixed(kThreeHosts,
               [](const std::string& url) { return url == kThreeHosts[0] ? Emfile() : Refused(); });
  const auto m = mixed.Next();
  EXPECT_EQ(m[0].error_kind, InputError::kLocal);
  EXPECT_TRUE(Breach(m[1]));
  EXPECT_TRUE(Breach(m[2]));
}

TEST(RoundRunnerProbeTest, TheRuleIsPerRoundAndItsWarningIsRateLimited) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  bool network = false;  // this host's network, round by round
  Rounds rounds(kThreeHosts, [&](const std::string&) { return network ? Passed() : Refused(); });
  // Rounds every 10s: the first held round warns, the next five within the minute do not, the
  // one after says how many were not logged.
  for (int i = 0; i < 7; ++i) {
    for (const QueryResult& r : rounds.Next()) EXPECT_TRUE(r.is_error()) << "round " << i;
  }
  network = true;
  for (const QueryResult& r : rounds.Next()) EXPECT_TRUE(Pass(r));
  spdlog::set_default_logger(previous);

  const std::vector<std::string> lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("[warning] probes: every probe of the round (3) failed with a "
                          "connection error, across 3 hosts"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("held as errors, not breaches (http://10.0.0.1:8080/ready: Couldn't "
                          "connect)"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("(5 more rounds like this since the last such warning)"),
            std::string::npos)
      << lines[1];
}

}  // namespace
}  // namespace rollbackd
