// Cluster mode end to end: a real 3-member etcd cluster (testing/etcd_cluster.h), three rollbackd
// members sharing one Prometheus, the sample service and the webhook receiver. Each test takes
// something away the way it happens in production (a bad deploy, a member killed while its trigger
// is pending, etcd losing its quorum) and asserts what the service and the receiver saw: one hook.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "testing/etcd_cluster.h"
#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using std::chrono::steady_clock;

std::string Rule(const std::string& hold) { return ErrorRateRule({.hold = hold, .verify = "10s"}); }

// The hook is an http hook to the webhook receiver (path /hook), which records the fencing token
// header; the test plays the deploy tool and rolls the service back itself.
std::string HttpHookRule(const std::string& hold) {
  std::string rule = Rule(hold);
  rule = rule.substr(0, rule.find("[rollback]"));
  return rule + R"([rollback]
http     = { url = "${RECEIVER_URL}/hook", secret_file = "../webhook.secret" }
timeout  = "5s"
cooldown = "1s"
verify   = "10s"
)";
}

std::string ClusterTable(const EtcdCluster& etcd, const std::string& name) {
  std::string t = "[cluster]\nname = \"" + name + "\"\netcd = [";
  for (const std::string& e : etcd.endpoints()) t += "\"" + e + "\", ";
  t += "]\nprefix = \"/it\"\nlease_ttl = \"3s\"\n";
  return t;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// The Stack's daemon is member "a"; "b" and "c" run from copies of its configuration with their own
// port, state_dir and name.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = std::make_unique<EtcdCluster>(etcd_dir_.path());
    ASSERT_TRUE(etcd_->WaitHealthy(30s));
  }

  // `extra_services`: that many more services, each with one query of its own, every 5 s.
  void StartMembers(const std::string& hold, bool http_hook = false, int extra_services = 0) {
    StackOptions o(http_hook ? HttpHookRule(hold) : Rule(hold));
    o.config_extra = ClusterTable(*etcd_, "a");
    stack_ = std::make_unique<Stack>(o);
    for (int i = 0; i < extra_services; ++i) {
      WriteFile(stack_->dir() + "/rules/s" + std::to_string(i) + ".toml",
                "service = \"s" + std::to_string(i) +
                    "\"\ninterval = \"5s\"\n[[trigger]]\nname = \"t\"\nquery = 'count(up) * 0 + " +
                    std::to_string(i) + "'\nabove = 1e9\nfor = \"1m\"\n");
    }
    const std::string base = ReadFile(stack_->dir() + "/rollbackd.toml");
    const std::string listen = stack_->daemon_url().substr(7);  // 127.0.0.1:PORT
    for (const std::string name : {"b", "c"}) {
      const int port = FreePort();
      std::string config = Replace(base, "listen = \"" + listen + "\"",
                                   "listen = \"127.0.0.1:" + std::to_string(port) + "\"");
      config = Replace(config, "state_dir = \"state\"", "state_dir = \"state-" + name + "\"");
      config = Replace(config, "name = \"a\"", "name = \"" + name + "\"");
      WriteFile(stack_->dir() + "/" + name + ".toml", config);
      urls_[name] = "http://127.0.0.1:" + std::to_string(port);
      others_[name] = std::make_unique<Process>(
          std::vector<std::string>{BinaryPath("rollbackd"), "run", "--config",
                                   stack_->dir() + "/" + name + ".toml", "--log-level", "debug"},
          stack_->dir() + "/rollbackd-" + name + ".log");
    }
    urls_["a"] = stack_->daemon_url();
    ASSERT_TRUE(stack_->StartDaemon()) << stack_->daemon().log();
    for (auto& member : others_) {
      const std::string url = urls_[member.first];  // Clang 14 captures no structured binding
      ASSERT_TRUE(WaitFor([&] { return Http("GET", url + "/readyz").status == 200; }, 30s))
          << member.second->log();
    }
    // Every member sees all three, and exactly one evaluates the service.
    ASSERT_TRUE(WaitFor([&] { return EvaluatedBy().size() == 1 && Members("a") == 3; }, 20s))
        << Logs();
  }

  json Status(const std::string& member) {
    return json::parse(Http("GET", urls_[member] + "/api/v1/status").body, nullptr, false);
  }
  size_t Members(const std::string& member) {
    json st = Status(member);
    return st.is_object() ? st["cluster"]["members"].size() : 0;
  }
  // Service -> the members that say they evaluate it now.
  std::map<std::string, std::vector<std::string>> Evaluators() {
    std::map<std::string, std::vector<std::string>> out;
    for (const std::string name : {"a", "b", "c"}) {
      if (!ProcessOf(name).running()) continue;
      json st = Status(name);
      if (!st.is_object()) continue;
      for (const json& s : st["services"]) {
        std::vector<std::string>& v = out[s.value("name", "")];
        if (s.value("evaluated_here", false)) v.push_back(name);
      }
    }
    return out;
  }
  bool EachEvaluatedOnce(size_t services) {
    auto all = Evaluators();
    if (all.size() != services) return false;
    for (const auto& [service, by] : all) {
      if (by.size() != 1) return false;
    }
    return true;
  }
  // The members that say they evaluate "shop" now.
  std::vector<std::string> EvaluatedBy() {
    std::vector<std::string> out;
    for (const std::string name : {"a", "b", "c"}) {
      if (name != "a" && !others_[name]->running()) continue;
      if (name == "a" && !stack_->daemon().running()) continue;
      json st = Status(name);
      if (st.is_object() && st["services"][0].value("evaluated_here", false)) out.push_back(name);
    }
    return out;
  }
  void Kill9(const std::string& member) {
    if (member == "a") {
      stack_->Kill9Daemon();
    } else {
      others_[member]->Kill9();
    }
  }
  std::string Logs() {
    std::string all = "--- a\n" + stack_->daemon().log();
    for (auto& [name, p] : others_) all += "--- " + name + "\n" + p->log();
    return all;
  }
  int Deploys() { return stack_->SampleState().value("deploys", -1); }
  // The http hook's calls, as the receiver recorded them.
  std::vector<json> HookCalls() {
    std::vector<json> out;
    for (const json& d : stack_->Deliveries()) {
      if (d.value("path", "") == "/hook") out.push_back(d);
    }
    return out;
  }
  Process& ProcessOf(const std::string& member) {
    return member == "a" ? stack_->daemon() : *others_[member];
  }

  TempDir etcd_dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<Stack> stack_;
  std::map<std::string, std::unique_ptr<Process>> others_;
  std::map<std::string, std::string> urls_;
};

TEST_F(ClusterTest, BadDeployIsRolledBackOnceAcrossThreeMembersWithAFencingToken) {
  StartMembers("3s");
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("rollback.started", 30s)) << Logs();
  ASSERT_TRUE(stack_->WaitEvent("rollback.verified", 40s)) << Logs();
  ASSERT_TRUE(stack_->WaitRounds(3));
  EXPECT_EQ(Deploys(), 2) << "the bad deploy and exactly one rollback";
  ASSERT_EQ(stack_->Events("rollback.started").size(), 1u);
  const json started = stack_->Events("rollback.started")[0];
  ASSERT_TRUE(started["rollback"]["fencing_token"].is_number_integer()) << started.dump();
  EXPECT_GT(started["rollback"]["fencing_token"].get<int64_t>(), 0);
  EXPECT_EQ(stack_->SampleState().value("version", ""), "v1");
}

TEST_F(ClusterTest, KillingTheOwnerWhilePendingFiresOnTimeFromAnotherMember) {
  StartMembers("8s");
  const std::string owner = EvaluatedBy().at(0);
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("trigger.pending", 20s)) << Logs();
  const auto pending = steady_clock::now();
  Kill9(owner);
  ASSERT_TRUE(stack_->WaitEvent("rollback.started", 40s)) << Logs();
  const double seconds = std::chrono::duration<double>(steady_clock::now() - pending).count();
  std::printf("owner %s killed while pending; rollback.started %.1f s after pending (for 8s)\n",
              owner.c_str(), seconds);
  // first breach + for, at most + lease_ttl + 2 intervals (and a delivery's second).
  EXPECT_LE(seconds, 8 + 3 + 2 + 1.5);
  ASSERT_TRUE(WaitFor([&] { return Deploys() == 2; }, 20s)) << Logs();
  ASSERT_TRUE(stack_->WaitEvent("rollback.succeeded", 20s)) << Logs();
  EXPECT_EQ(stack_->Events("trigger.pending").size(), 1u) << "the window was carried on";
  EXPECT_EQ(stack_->Events("rollback.started").size(), 1u);
  const std::vector<std::string> now = EvaluatedBy();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], owner);
}

TEST_F(ClusterTest, AnOwnerPausedPastItsLeaseRunsNoSecondHookAndTokensIncrease) {
  StartMembers("6s", /*http_hook=*/true);
  const std::string owner = EvaluatedBy().at(0);
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("trigger.pending", 20s)) << Logs();
  ProcessOf(owner).Signal(SIGSTOP);  // a GC pause, a frozen VM
  const auto stopped = steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return HookCalls().size() == 1; }, 30s)) << Logs();
  // Paused for at least 2 x lease_ttl, and resumed after the new owner rolled back.
  ASSERT_TRUE(WaitFor([&] { return steady_clock::now() - stopped >= 6s; }, 10s));
  ProcessOf(owner).Signal(SIGCONT);
  ASSERT_TRUE(stack_->SampleDeploy("v1"));  // what the deploy tool behind the hook does
  ASSERT_TRUE(WaitFor([&] { return Members(owner) == 3; }, 20s)) << Logs();
  EXPECT_FALSE(WaitFor([&] { return HookCalls().size() > 1; }, 5s)) << Logs();
  const json first = HookCalls().at(0);
  ASSERT_TRUE(first["fencing_token"].is_string()) << first.dump();
  EXPECT_EQ(first["body"]["rollback"]["fencing_token"],
            std::stoll(first["fencing_token"].get<std::string>()));

  // The next bad deploy: its rollback's token is higher.
  ASSERT_TRUE(stack_->SampleDeploy("v3"));
  ASSERT_TRUE(WaitFor([&] { return HookCalls().size() == 2; }, 30s)) << Logs();
  const json second = HookCalls().at(1);
  EXPECT_GT(std::stoll(second["fencing_token"].get<std::string>()),
            std::stoll(first["fencing_token"].get<std::string>()));
  EXPECT_EQ(stack_->Events("rollback.started").size(), 2u);
}

TEST_F(ClusterTest, ThreeHundredServicesAreSplitAndMoveWhenAMemberDies) {
  StartMembers("3s", false, 300);
  ASSERT_TRUE(WaitFor([&] { return EachEvaluatedOnce(301); }, 30s)) << Logs();
  std::map<std::string, int> owned;
  for (const auto& [service, by] : Evaluators()) ++owned[by.at(0)];
  ASSERT_EQ(owned.size(), 3u);
  for (const auto& [member, n] : owned) {
    std::printf("member %s evaluates %d services\n", member.c_str(), n);
    EXPECT_GT(n, 60) << member;
  }
  // Each member sends only its own services' queries.
  ASSERT_TRUE(stack_->WaitRounds(6));
  const std::string b_metrics = Http("GET", urls_["b"] + "/metrics").body;
  const std::optional<double> b_owned = MetricValue(b_metrics, "rollbackd_cluster_owned_services");
  ASSERT_TRUE(b_owned.has_value());
  EXPECT_EQ(*b_owned, owned["b"]);

  const auto killed = steady_clock::now();
  Kill9("c");
  // Its services move within lease_ttl + 1 interval (5 s), and a little.
  ASSERT_TRUE(WaitFor([&] { return EachEvaluatedOnce(301); }, 15s)) << Logs();
  const double seconds = std::chrono::duration<double>(steady_clock::now() - killed).count();
  std::printf("member c killed: its %d services moved in %.1f s (lease_ttl 3s)\n", owned["c"],
              seconds);
  EXPECT_LE(seconds, 3 + 5 + 2);
  for (const auto& [service, by] : Evaluators()) EXPECT_NE(by.at(0), "c") << service;
}

TEST_F(ClusterTest, NotificationsADeadOwnerDecidedAreDeliveredByTheNewOwner) {
  StartMembers("3s");
  const std::string owner = EvaluatedBy().at(0);
  stack_->KillReceiver();
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(WaitFor([&] { return Deploys() == 2; }, 30s)) << Logs();  // rolled back
  const auto killed = steady_clock::now();
  Kill9(owner);  // with rollback.started and its outcome not delivered (the receiver is down)
  ASSERT_TRUE(stack_->RestartReceiver());
  ASSERT_TRUE(stack_->WaitEvent("rollback.started", 30s)) << Logs();
  // Its outcome: succeeded when the dead owner's outcome reached etcd before the kill, else
  // failed ("interrupted": the new owner cannot know that the hook ended well).
  ASSERT_TRUE(WaitFor(
      [&] {
        return !stack_->Events("rollback.succeeded").empty() ||
               !stack_->Events("rollback.failed").empty();
      },
      30s))
      << Logs();
  std::printf("owner %s killed with its notifications queued: delivered by another %.1f s later\n",
              owner.c_str(), std::chrono::duration<double>(steady_clock::now() - killed).count());
  const json started = stack_->Events("rollback.started").at(0);
  for (const json& d : stack_->Deliveries()) {
    if (d["body"].is_object() && d["body"].value("event", "") == "rollback.started") {
      EXPECT_EQ(d["webhook_id"], started["id"]) << "the id it was decided with";
    }
  }
  EXPECT_EQ(Deploys(), 2);
}

TEST_F(ClusterTest, PauseThroughAnyMemberReachesTheOwner) {
  StartMembers("3s");
  const std::string owner = EvaluatedBy().at(0);
  const std::string other = owner == "a" ? "b" : "a";
  HttpResult r = Http("POST", urls_[other] + "/api/v1/services/shop/pause", "",
                      {"Authorization: Bearer " + stack_->api_token()});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json::parse(r.body)["forwarded_to"], owner) << r.body;
  ASSERT_TRUE(WaitFor([&] { return Status(owner)["services"][0].value("paused", false); }, 10s))
      << Logs();
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("rollback.skipped", 30s)) << Logs();
  EXPECT_EQ(stack_->Events("rollback.skipped")[0]["rollback"]["skip_reason"], "paused");
  EXPECT_TRUE(stack_->Events("rollback.started").empty());
  EXPECT_EQ(Deploys(), 1);
}

TEST_F(ClusterTest, LosingOneEtcdMemberChangesNothing) {
  StartMembers("3s");
  etcd_->Kill(etcd_->Leader() >= 0 ? etcd_->Leader() : 0);
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("rollback.started", 30s)) << Logs();
  ASSERT_TRUE(WaitFor([&] { return Deploys() == 2; }, 20s)) << Logs();
  ASSERT_TRUE(stack_->WaitRounds(3));
  EXPECT_TRUE(stack_->Events("cluster.down").empty());
  EXPECT_EQ(stack_->Events("rollback.started").size(), 1u);
  EXPECT_EQ(Deploys(), 2);
}

TEST_F(ClusterTest, WithoutAnEtcdQuorumNoHookRunsAndDecisionsResumeAfter) {
  StartMembers("3s");
  etcd_->Kill(1);
  etcd_->Kill(2);
  ASSERT_TRUE(stack_->SampleDeploy("v2"));
  ASSERT_TRUE(stack_->WaitEvent("cluster.down", 20s)) << Logs();
  // Well past first breach + for: nobody acted alone.
  EXPECT_FALSE(WaitFor([&] { return Deploys() != 1; }, 8s)) << Logs();
  EXPECT_TRUE(stack_->Events("rollback.started").empty());
  etcd_->Restart(1);
  etcd_->Restart(2);
  ASSERT_TRUE(etcd_->WaitHealthy(30s));
  ASSERT_TRUE(stack_->WaitEvent("rollback.started", 40s)) << Logs();
  ASSERT_TRUE(WaitFor([&] { return Deploys() == 2; }, 20s)) << Logs();
  ASSERT_TRUE(stack_->WaitEvent("cluster.up", 20s)) << Logs();
  ASSERT_TRUE(stack_->WaitRounds(3));
  EXPECT_EQ(stack_->Events("rollback.started").size(), 1u);
  EXPECT_EQ(Deploys(), 2);
}

}  // namespace
}  // namespace rollbackd::it
