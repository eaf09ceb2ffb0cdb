// The harness's real etcd cluster (Debian's etcd 3.4, three members on loopback), checked on its
// own before rollbackd's cluster mode is tested against it: it elects a leader, a key put through
// one member's v3 JSON gateway reads back through another's; with the leader killed a put still
// commits through a survivor, with a second member killed none does, and with both restarted puts
// commit again through every member.
#include "testing/etcd_cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// POST to the v3 JSON gateway of `endpoint`; the answer parsed (discarded when not JSON).
json Gateway(const std::string& endpoint, const std::string& path, const json& body,
             HttpResult* raw = nullptr, std::chrono::milliseconds timeout = 5s) {
  HttpResult r =
      Http("POST", endpoint + path, body.dump(), {"Content-Type: application/json"}, timeout);
  json j = json::parse(r.body, nullptr, false);
  if (raw != nullptr) *raw = std::move(r);
  return j;
}

// The value at `key` through member i (a linearizable range: it needs a quorum); nullopt when
// the key is absent or the member does not answer 200.
std::optional<std::string> Get(const EtcdCluster& etcd, int i, const std::string& key) {
  HttpResult r;
  const json j = Gateway(etcd.endpoint(i), "/v3/kv/range", {{"key", Base64Encode(key)}}, &r, 2s);
  if (r.status != 200 || !j.is_object() || !j.contains("kvs") || j["kvs"].empty()) {
    return std::nullopt;
  }
  return Base64Decode(j["kvs"][0].value("value", ""));
}

// Member i's logs, for the failure message.
std::string Logs(const EtcdCluster& etcd) {
  std::string out;
  for (int i = 0; i < etcd.size(); ++i) out += "--- " + etcd.log_path(i) + "\n" + etcd.log(i);
  return out;
}

TEST(EtcdBase64, EncodesAndDecodesAsTheGatewayWants) {
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("bar"), "YmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode(""), "");
  const std::string binary("\x00\xff\x10rollbackd\x80", 13);
  EXPECT_EQ(Base64Decode(Base64Encode(binary)), binary);
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9"), std::nullopt);   // not a multiple of 4
  EXPECT_EQ(Base64Decode("Zm=v"), std::nullopt);  // padding in the middle
  EXPECT_EQ(Base64Decode("Zm9*"), std::nullopt);  // not in the alphabet
}

TEST(EtcdCluster, ElectsALeaderAndAKeyPutThroughOneMemberReadsBackThroughAnother) {
  TempDir dir;
  const Clock::time_point start = Clock::now();
  EtcdCluster etcd(dir.path());
  ASSERT_TRUE(etcd.WaitHealthy(30s)) << Logs(etcd);
  std::printf("[ timing ] 3 members started and healthy in %.2f s\n", SecondsSince(start));

  const std::vector<std::string> endpoints = etcd.endpoints();
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(std::set<std::string>(endpoints.begin(), endpoints.end()).size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(endpoints[i], etcd.endpoint(i));
    EXPECT_EQ(endpoints[i].rfind("http://127.0.0.1:", 0), 0u) << endpoints[i];
    EXPECT_TRUE(etcd.running(i));
  }

  HttpResult r;
  const json put =
      Gateway(etcd.endpoint(0), "/v3/kv/put",
              {{"key", Base64Encode("rollbackd/leader")}, {"value", Base64Encode("node-a")}}, &r);
  ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
  // int64s are JSON strings in the gateway's answers.
  ASSERT_TRUE(put["header"]["revision"].is_string()) << r.body;
  const std::string revision = put["header"]["revision"].get<std::string>();
  EXPECT_GT(std::stoll(revision), 1) << r.body;  // the health put came first

  const json range =
      Gateway(etcd.endpoint(2), "/v3/kv/range", {{"key", Base64Encode("rollbackd/leader")}}, &r);
  ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
  EXPECT_EQ(range.value("count", ""), "1") << r.body;
  ASSERT_EQ(range["kvs"].size(), 1u) << r.body;
  EXPECT_EQ(Base64Decode(range["kvs"][0].value("key", "")), "rollbackd/leader");
  EXPECT_EQ(Base64Decode(range["kvs"][0].value("value", "")), "node-a");
  EXPECT_EQ(range["kvs"][0].value("mod_revision", ""), revision);

  // A key never written: 200 and no kvs (the gateway leaves out empty fields).
  const json missing =
      Gateway(etcd.endpoint(1), "/v3/kv/range", {{"key", Base64Encode("rollbackd/none")}}, &r);
  ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
  EXPECT_TRUE(missing.value("kvs", json::array()).empty()) << r.body;
}

TEST(EtcdCluster, KeepsAQuorumThroughTheLeadersDeathLosesItAtTwoAndRegainsItWhenBothReturn) {
  TempDir dir;
  EtcdCluster etcd(dir.path());
  ASSERT_TRUE(etcd.WaitHealthy(30s)) << Logs(etcd);
  int leader = -1;
  ASSERT_TRUE(WaitFor([&] { return (leader = etcd.Leader()) >= 0; }, 5s)) << Logs(etcd);
  const int second = (leader + 1) % 3;  // killed next
  const int last = (leader + 2) % 3;    // the survivor

  // The leader gone: the other two still make a quorum once they have elected one of them. A put
  // proposed before that is held by etcd (not retried), so each attempt is short.
  etcd.Kill(leader);
  EXPECT_FALSE(etcd.running(leader));
  const HttpResult refused = Http("POST", etcd.endpoint(leader) + "/v3/kv/put", "{}", {}, 1s);
  EXPECT_EQ(refused.status, 0) << refused.body;
  Clock::time_point t = Clock::now();
  int attempts = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        ++attempts;
        return etcd.Put(second, "rollbackd/epoch", "one-down", 500ms);
      },
      15s, 50ms))
      << Logs(etcd);
  std::printf("[ timing ] put after the leader's SIGKILL: %.2f s, %d attempt(s)\n", SecondsSince(t),
              attempts);
  // The two survivors agree on which of them leads.
  EXPECT_TRUE(WaitFor([&] { return etcd.Leader() >= 0; }, 5s)) << Logs(etcd);

  // Two of three gone: no put can commit. etcd would answer 503 "request timed out" after its
  // request timeout (6 s with these timers); the client gives up first.
  etcd.Kill(second);
  EXPECT_FALSE(etcd.running(second));
  ASSERT_TRUE(etcd.running(last));
  for (int i = 0; i < 2; ++i) {
    t = Clock::now();
    EXPECT_FALSE(etcd.Put(last, "rollbackd/epoch", "no-quorum", 2s));
    const double held = SecondsSince(t);
    std::printf("[ timing ] put without quorum failed after %.2f s\n", held);
    EXPECT_GE(held, 1.5) << "the put failed at once: it should be held, then time out";
  }
  // And the survivor says so itself.
  t = Clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        const HttpResult h = Http("GET", etcd.endpoint(last) + "/health", "", {}, 3s);
        return h.body.find("\"health\":\"false\"") != std::string::npos;
      },
      10s, 100ms))
      << Logs(etcd);
  std::printf("[ timing ] survivor's /health false after %.2f s\n", SecondsSince(t));

  // Both back, on their ports and data dirs: a quorum again, and the restarted members caught up
  // with what was committed while they were away.
  t = Clock::now();
  etcd.Restart(leader);
  etcd.Restart(second);
  ASSERT_TRUE(etcd.running(leader)) << etcd.log(leader);
  ASSERT_TRUE(etcd.running(second)) << etcd.log(second);
  ASSERT_TRUE(etcd.WaitHealthy(30s)) << Logs(etcd);
  std::printf("[ timing ] both restarted, every member took a put after %.2f s\n", SecondsSince(t));
  // A put that timed out has an unknown outcome, not a failed one: when the survivor was the
  // leader it had the entry in its log, and a leader elected from that log commits it.
  const std::optional<std::string> epoch = Get(etcd, leader, "rollbackd/epoch");
  EXPECT_TRUE(epoch == "one-down" || epoch == "no-quorum") << epoch.value_or("(none)");
  std::printf("[ info ] after the restarts rollbackd/epoch is \"%s\"\n",
              epoch.value_or("(none)").c_str());
  EXPECT_TRUE(etcd.Put(leader, "rollbackd/epoch", "all-back", 2s));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Get(etcd, i, "rollbackd/epoch"), "all-back") << "member " << i;
  }
}

}  // namespace
}  // namespace rollbackd::it
