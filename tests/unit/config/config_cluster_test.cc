// rollbackd.toml (ParseDaemonConfig): [cluster], the etcd-backed cluster mode. One test per
// validation rule, each asserting the exact file:line:column, key and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::daemonconfig {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ConfigClusterTest, AbsentMeansStandalone) {
  auto p = Parse("[daemon]\ninterval = \"5s\"\n");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  EXPECT_FALSE(p.config->cluster.has_value());
}

TEST(ConfigClusterTest, DefaultsAndValues) {
  auto p = Parse(R"([cluster]
name = "a"
etcd = ["http://127.0.0.1:2379/", "https://etcd-2.example:2379"]
)");
  ASSERT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config->cluster.has_value());
  const ClusterSettings& c = *p.config->cluster;
  EXPECT_EQ(c.name, "a");
  EXPECT_THAT(c.etcd, ElementsAre("http://127.0.0.1:2379", "https://etcd-2.example:2379"));
  EXPECT_EQ(c.prefix, "/rollbackd");
  EXPECT_EQ(c.lease_ttl, seconds(10));
  EXPECT_EQ(c.timeout, seconds(2));

  auto q = Parse(R"([cluster]
name = "b"
etcd = ["http://127.0.0.1:2379"]
prefix = "/prod/rollbackd/"
lease_ttl = "4s"
username = "rollbackd"
password_file = "secrets/etcd"
tls = { ca_file = "ca.pem", cert_file = "c.pem", key_file = "k.pem" }
)");
  ASSERT_THAT(Lines(q.diags), IsEmpty());
  const ClusterSettings& d = *q.config->cluster;
  EXPECT_EQ(d.prefix, "/prod/rollbackd");
  EXPECT_EQ(d.lease_ttl, seconds(4));
  EXPECT_EQ(d.timeout, seconds(1));  // at most a quarter of the lease by default
  EXPECT_EQ(d.username, "rollbackd");
  EXPECT_EQ(d.password_file, "/etc/rollbackd/secrets/etcd");
  EXPECT_EQ(d.tls.ca_file, "/etc/rollbackd/ca.pem");
  EXPECT_EQ(d.tls.key_file, "/etc/rollbackd/k.pem");
}

TEST(ConfigClusterTest, NameAndEtcdAreRequired) {
  auto p = Parse("[cluster]\nprefix = \"/r\"\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:1: cluster.name: missing required key (a string)"),
                          At("1:1: cluster.etcd: missing required key (an array of strings)")));
}

TEST(ConfigClusterTest, BadValuesNameTheirKey) {
  auto p = Parse(R"([cluster]
name = "a b"
etcd = ["127.0.0.1:2379"]
prefix = "rollbackd"
lease_ttl = "1500ms"
username = "x"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:8: cluster.name: invalid member name \"a b\""),
                          At("3:8: cluster.etcd: expected http:// or https:// URLs"),
                          At("4:10: cluster.prefix: expected a key prefix starting with '/'"),
                          At("5:13: cluster.lease_ttl: must be a whole number of seconds, at "
                             "least 2s"),
                          At("6:12: cluster.username: etcd authentication needs both username "
                             "and password_file")));
}

TEST(ConfigClusterTest, TimeoutMustLeaveRoomForRetriesWithinTheLease) {
  auto p = Parse(R"([cluster]
name = "a"
etcd = ["http://127.0.0.1:2379"]
lease_ttl = "6s"
timeout = "3s"
)");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("5:11: cluster.timeout: must be at most a third of lease_ttl (6s)")));
}

TEST(ConfigClusterTest, UnknownKeysAreErrors) {
  auto p = Parse(R"([cluster]
name = "a"
etcd = ["http://127.0.0.1:2379"]
leader = true
)");
  EXPECT_THAT(Lines(p.diags), ElementsAre(At("4:1: cluster.leader: unknown key")));
}

}  // namespace
}  // namespace rollbackd::configtest::daemonconfig
