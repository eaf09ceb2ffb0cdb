// rollbackd.toml (ParseDaemonConfig): the RULES.md example, defaults and relative paths,
// [daemon], [prometheus.*] and [outbox]; one test per validation rule, each asserting the exact
// file:line:column, key and message. Channels and routes are in config_daemon_channels_test.cc,
// what spans files and loading from disk in config_load_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/loader.h"
#include "tests/unit/config/config_test_util.h"

namespace rollbackd::configtest::daemonconfig {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// ---- the example from RULES.md ----

constexpr char kRulesMdExample[] = R"toml([daemon]
listen    = "127.0.0.1:9464"        # /metrics, /healthz, /readyz, /api/v1/*
state_dir = "/var/lib/rollbackd"    # journal, outbox, trigger state
rules     = ["/etc/rollbackd/rules.d/*.toml"]   # globs, relative to this file
interval  = "15s"                   # default evaluation interval
dry_run   = false                   # evaluate and notify, never run a rollback hook
api_token_file = "/etc/rollbackd/api.token"     # required for mutating API calls

[prometheus.default]                # named sources; triggers pick one with `source`
url      = "http://127.0.0.1:9090"
timeout  = "5s"
bearer_token_file = "/etc/rollbackd/prom.token" # optional; also basic auth, TLS CA/cert options
headers  = { "X-Scope-OrgID" = "team-a" }        # optional (Thanos/Cortex/Mimir tenants)

[channel.oncall]                    # alert channels, by name
type = "webhook"                    # webhook | slack | alertmanager | exec | log
url  = "https://hooks.example.com/rollbackd"
secret_file = "/etc/rollbackd/oncall.secret"     # HMAC-SHA256 signing (Standard Webhooks)
timeout = "5s"

[channel.am]
type = "alertmanager"
url  = "http://127.0.0.1:9093"

[channel.chat]
type = "slack"
url  = "https://hooks.slack.com/services/..."

[[route]]                           # first match wins unless `continue = true`
match    = { severity = "critical" }  # equality on event labels; `match_re` for regexes;
                                      # an empty or absent `match` matches every event
channels = ["oncall", "am"]
repeat   = "30m"                    # re-notify a still-firing trigger this often
continue = true
[[route]]
match    = { severity = "warning" }
channels = ["chat"]
)toml";

TEST(ConfigDaemonTest, RulesMdExampleParsesIntoTheModel) {
  auto p = Parse(kRulesMdExample);
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const Config& c = *p.config;
  EXPECT_EQ(c.file, kFile);
  EXPECT_EQ(c.daemon.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/rollbackd");
  EXPECT_EQ(c.daemon.rules, std::vector<std::string>{"/etc/rollbackd/rules.d/*.toml"});
  EXPECT_EQ(c.daemon.interval, seconds(15));
  EXPECT_FALSE(c.daemon.dry_run);
  EXPECT_EQ(c.daemon.api_token_file, "/etc/rollbackd/api.token");
  EXPECT_TRUE(c.services.empty()) << "ParseDaemonConfig does not expand the globs";

  ASSERT_EQ(c.sources.size(), 1u);
  const PrometheusSource* prom = c.FindSource("default");
  ASSERT_NE(prom, nullptr);
  EXPECT_EQ(prom->url, "http://127.0.0.1:9090");
  EXPECT_EQ(prom->timeout, seconds(5));
  EXPECT_EQ(prom->bearer_token_file, "/etc/rollbackd/prom.token");
  EXPECT_EQ(prom->headers, (std::map<std::string, std::string>{{"X-Scope-OrgID", "team-a"}}));
  EXPECT_EQ(prom->where.line, 9);
  EXPECT_EQ(c.FindSource("other"), nullptr);

  ASSERT_EQ(c.channels.size(), 3u);
  const Channel* oncall = c.FindChannel("oncall");
  ASSERT_NE(oncall, nullptr);
  EXPECT_EQ(oncall->type, ChannelType::kWebhook);
  EXPECT_EQ(oncall->url, "https://hooks.example.com/rollbackd");
  EXPECT_EQ(oncall->secret_file, "/etc/rollbackd/oncall.secret");
  EXPECT_EQ(oncall->timeout, seconds(5));
  EXPECT_FALSE(oncall->min_severity.has_value());
  ASSERT_NE(c.FindChannel("am"), nullptr);
  EXPECT_EQ(c.FindChannel("am")->type, ChannelType::kAlertmanager);
  EXPECT_EQ(c.FindChannel("am")->url, "http://127.0.0.1:9093");
  ASSERT_NE(c.FindChannel("chat"), nullptr);
  EXPECT_EQ(c.FindChannel("chat")->type, ChannelType::kSlack);
  EXPECT_EQ(ChannelTypeName(ChannelType::kSlack), "slack");

  ASSERT_EQ(c.routes.size(), 2u);
  const Route& first = c.routes[0];
  ASSERT_EQ(first.matchers.size(), 1u);
  EXPECT_EQ(first.matchers[0].label, "severity");
  EXPECT_EQ(first.matchers[0].value, "critical");
  EXPECT_FALSE(first.matchers[0].regex);
  EXPECT_EQ(first.channels, (std::vector<std::string>{"oncall", "am"}));
  EXPECT_EQ(first.repeat, minutes(30));
  EXPECT_TRUE(first.continue_matching);
  EXPECT_EQ(first.where.line, 29);
  const Route& second = c.routes[1];
  EXPECT_EQ(second.matchers[0].value, "warning");
  EXPECT_EQ(second.channels, std::vector<std::string>{"chat"});
  EXPECT_FALSE(second.repeat.has_value());
  EXPECT_FALSE(second.continue_matching);
}

TEST(ConfigDaemonTest, AnEmptyFileIsAllDefaults) {
  auto p = Parse("");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  EXPECT_EQ(p.config->daemon.listen, "127.0.0.1:9464");
  EXPECT_EQ(p.config->daemon.state_dir, "/var/lib/rollbackd");
  EXPECT_EQ(p.config->daemon.interval, seconds(15));
  EXPECT_TRUE(p.config->daemon.rules.empty());
  EXPECT_TRUE(p.config->sources.empty());
  EXPECT_TRUE(p.config->channels.empty());
  EXPECT_TRUE(p.config->routes.empty());
}

TEST(ConfigDaemonTest, RelativePathsResolveAgainstTheConfigFolder) {
  auto p = Parse(R"([daemon]
state_dir = "state"
api_token_file = "../secrets/api.token"
rules = ["rules.d/*.toml"]
[prometheus.default]
url = "https://prom.example.com/"
bearer_token_file = "prom.token"
[prometheus.tenant]
url = "https://mimir.example.com"
basic_auth = { username = "rollbackd", password_file = "./mimir.pass" }
tls = { ca_file = "ca.pem", cert_file = "/pki/client.pem", key_file = "pki/client.key" }
[channel.hook]
type = "webhook"
url = "https://hooks.example.com"
secret_file = "hook.secret"
[channel.script]
type = "exec"
command = ["./notify.sh", "./not-a-path-arg"]
[channel.pager]
type = "exec"
command = ["pager-cli", "send"]
)");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  const Config& c = *p.config;
  EXPECT_EQ(c.daemon.state_dir, "/etc/rollbackd/state");
  EXPECT_EQ(c.daemon.api_token_file, "/etc/secrets/api.token");
  EXPECT_EQ(c.daemon.rules, std::vector<std::string>{"rules.d/*.toml"}) << "kept as written";
  EXPECT_EQ(c.FindSource("default")->bearer_token_file, "/etc/rollbackd/prom.token");
  EXPECT_EQ(c.FindSource("default")->url, "https://prom.example.com") << "trailing / removed";
  const PrometheusSource* tenant = c.FindSource("tenant");
  EXPECT_EQ(tenant->basic_auth_username, "rollbackd");
  EXPECT_EQ(tenant->basic_auth_password_file, "/etc/rollbackd/mimir.pass");
  EXPECT_EQ(tenant->tls.ca_file, "/etc/rollbackd/ca.pem");
  EXPECT_EQ(tenant->tls.cert_file, "/pki/client.pem");
  EXPECT_EQ(tenant->tls.key_file, "/etc/rollbackd/pki/client.key");
  EXPECT_FALSE(tenant->tls.insecure_skip_verify);
  EXPECT_EQ(c.FindChannel("hook")->secret_file, "/etc/rollbackd/hook.secret");
  EXPECT_EQ(c.FindChannel("script")->command,
            (std::vector<std::string>{"/etc/rollbackd/notify.sh", "./not-a-path-arg"}));
  EXPECT_EQ(c.FindChannel("pager")->command, (std::vector<std::string>{"pager-cli", "send"}));
}

// ---- [daemon] ----

TEST(ConfigDaemonTest, DaemonSectionFields) {
  auto p = Parse(R"([daemon]
listen = "9464"
interval = "0s"
dry_run = "no"
rules = "rules.d/*.toml"
api_token = "s3cret"
state_dri = "/var/lib/x"
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:10: daemon.listen: expected host:port, e.g. \"127.0.0.1:9464\""),
                  At("3:12: daemon.interval: must be longer than 0s"),
                  At("4:11: daemon.dry_run: expected true or false, found a string"),
                  At("5:9: daemon.rules: expected an array of strings, found a string"),
                  At("6:1: daemon.api_token: secrets are never read from configuration files; "
                     "put it in a file and use `api_token_file`"),
                  At("7:1: daemon.state_dri: unknown key (did you mean `state_dir`?)")));
}

TEST(ConfigDaemonTest, RuleGlobsMustBeStrings) {
  auto p = Parse("[daemon]\nrules = [\"a/*.toml\", 3]\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:22: daemon.rules[1]: expected a string, found an integer")));
}

TEST(ConfigDaemonTest, UnknownTopLevelSection) {
  auto p =
      Parse("[daemon]\n[channels.x]\ntype = \"log\"\n[promethus.default]\nurl = \"http://p\"\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:2: channels: unknown key (did you mean `channel`?)"),
                          At("4:2: promethus: unknown key (did you mean `prometheus`?)")));
}

// ---- [prometheus.*] ----

TEST(ConfigDaemonTest, PrometheusSourceChecks) {
  auto p = Parse(R"([prometheus.default]
timeout = "0s"
bearer_token = "abc"
[prometheus."eu west"]
url = "prom:9090"
[prometheus.auth]
url = "http://prom"
bearer_token_file = "t"
basic_auth = { username = "u", password = "p" }
tls = { cert_file = "c.pem", insecure_skip_verify = "yes" }
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(
          At("1:1: prometheus.default.url: missing required key (a string)"),
          At("2:11: prometheus.default.timeout: must be longer than 0s"),
          At("3:1: prometheus.default.bearer_token: secrets are never read from configuration "
             "files; put it in a file and use `bearer_token_file`"),
          At("4:1: prometheus.eu west: invalid source name \"eu west\""),
          At("5:7: prometheus.eu west.url: expected an http:// or https:// URL"),
          At("9:14: prometheus.auth.basic_auth.password_file: missing required key (a string)"),
          At("9:14: prometheus.auth.basic_auth: set either bearer_token_file or basic_auth, "
             "not both"),
          At("9:32: prometheus.auth.basic_auth.password: secrets are never read from "
             "configuration files; put it in a file and use `password_file`"),
          At("10:21: prometheus.auth.tls.cert_file: a client certificate needs both cert_file "
             "and key_file"),
          At("10:53: prometheus.auth.tls.insecure_skip_verify: expected true or false")));
}

// max_clock_skew: 5s unless set; at least a second (a Date header has whole seconds), and a
// duration.
TEST(ConfigDaemonTest, PrometheusMaxClockSkew) {
  auto p = Parse(
      "[prometheus.default]\nurl = \"http://p\"\n[prometheus.lax]\nurl = "
      "\"http://q\"\nmax_clock_skew = \"1m\"\n");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  EXPECT_EQ(p.config->FindSource("default")->max_clock_skew, seconds(5));
  EXPECT_EQ(p.config->FindSource("lax")->max_clock_skew, seconds(60));

  auto bad = Parse(R"([prometheus.a]
url = "http://p"
max_clock_skew = "500ms"
[prometheus.b]
url = "http://p"
max_clock_skew = "0s"
[prometheus.c]
url = "http://p"
max_clock_skew = 5
[prometheus.d]
url = "http://p"
max_clock_skwe = "5s"
)");
  EXPECT_FALSE(bad.config.has_value());
  EXPECT_THAT(
      Lines(bad.diags),
      ElementsAre(At("3:18: prometheus.a.max_clock_skew: must be at least 1s (a Date header has "
                     "whole seconds); usually 5s to 30s"),
                  At("6:18: prometheus.b.max_clock_skew: must be longer than 0s"),
                  At("9:18: prometheus.c.max_clock_skew: "),
                  At("12:1: prometheus.d.max_clock_skwe: unknown key (did you mean "
                     "`max_clock_skew`?)")));
}

// A header value with CR/LF would add a header (or end the request); a credential in `headers`
// would sit in a config file that is shared and reviewed.
TEST(ConfigDaemonTest, HeadersAreCheckedNameAndValue) {
  auto p = Parse(R"([prometheus.default]
url = "http://prom"
headers = { Authorization = "Bearer abc", "X-A" = "a\r\nX-Injected: 1", "bad name" = "x", Host = "h", "X-Tenant" = "t" }
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("3:29: prometheus.default.headers.Authorization: a credential does "
                             "not belong in a config file: use bearer_token_file or basic_auth, "
                             "which read it from a file"),
                          At("3:51: prometheus.default.headers.X-A: the value holds a line break "
                             "or another control character"),
                          At("3:86: prometheus.default.headers.bad name: not a valid HTTP header "
                             "name"),
                          At("3:98: prometheus.default.headers.Host: set by rollbackd itself")));
}

TEST(ConfigDaemonTest, SkippingCertificateVerificationWarns) {
  auto p = Parse(R"([prometheus.default]
url = "https://prom"
tls = { insecure_skip_verify = true }
)");
  ASSERT_TRUE(p.config.has_value());
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("3:32: warning: prometheus.default.tls.insecure_skip_verify: the "
                             "server's certificate is not verified: anyone on the path can answer "
                             "in its name, and feed rollbackd numbers that roll a healthy service "
                             "back")));
}

TEST(ConfigDaemonTest, PrometheusEntryThatIsNotATable) {
  auto p = Parse("prometheus = { default = \"http://127.0.0.1:9090\" }\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("1:26: prometheus.default: expected a table ([prometheus.default])")));
}

// ---- [daemon].external_url ----

TEST(ConfigDaemonTest, ExternalUrlLosesItsTrailingSlash) {
  auto p = Parse("[daemon]\nexternal_url = \"https://rollbackd.example.com/\"\n");
  ASSERT_TRUE(p.config.has_value()) << ::testing::PrintToString(Lines(p.diags));
  EXPECT_EQ(p.config->daemon.external_url, "https://rollbackd.example.com");
  auto path = Parse("[daemon]\nexternal_url = \"http://10.0.0.1:9464/rollbackd//\"\n");
  ASSERT_TRUE(path.config.has_value());
  EXPECT_EQ(path.config->daemon.external_url, "http://10.0.0.1:9464/rollbackd");
  EXPECT_EQ(Parse("").config->daemon.external_url, "") << "default: no links";
}

TEST(ConfigDaemonTest, ExternalUrlMustBeHttpWithAHost) {
  for (const char* url : {"rollbackd.example.com", "ftp://x.example", "https://", "https:///x"}) {
    auto p = Parse("[daemon]\nexternal_url = \"" + std::string(url) + "\"\n");
    EXPECT_FALSE(p.config.has_value()) << url;
    EXPECT_THAT(Lines(p.diags),
                ElementsAre(At("2:16: daemon.external_url: expected an http:// or "
                               "https:// URL, e.g. \"https://rollbackd.example.com\"")))
        << url;
  }
  auto p = Parse("[daemon]\nexternal_url = 8080\n");
  EXPECT_THAT(Lines(p.diags),
              ElementsAre(At("2:16: daemon.external_url: expected a string, found an integer")));
}

// ---- [daemon].server_names ----

TEST(ConfigDaemonTest, ServerNamesAreHostNames) {
  auto p = Parse("[daemon]\nserver_names = [\"rollbackd.example.com\", \"rb-1\"]\n");
  ASSERT_TRUE(p.config.has_value()) << ::testing::PrintToString(Lines(p.diags));
  EXPECT_THAT(p.config->daemon.server_names, ElementsAre("rollbackd.example.com", "rb-1"));
  EXPECT_TRUE(Parse("").config->daemon.server_names.empty());
  for (const char* bad : {"", "rollbackd.example.com:443", "http://x", "a b", "x\\u001b"}) {
    auto b = Parse("[daemon]\nserver_names = [\"" + std::string(bad) + "\"]\n");
    EXPECT_FALSE(b.config.has_value()) << bad;
    ASSERT_EQ(Lines(b.diags).size(), 1u) << bad;
    EXPECT_NE(Lines(b.diags)[0].find("daemon.server_names: `"), std::string::npos)
        << Lines(b.diags)[0];
    EXPECT_NE(Lines(b.diags)[0].find("` is not a host name (letters, digits, '.' and '-', no "
                                     "port), e.g. \"rollbackd.example.com\""),
              std::string::npos)
        << Lines(b.diags)[0];
  }
}

// ---- [outbox] ----

TEST(ConfigDaemonTest, OutboxDefaultsAndValues) {
  auto defaults = Parse("");
  ASSERT_TRUE(defaults.config.has_value());
  EXPECT_EQ(defaults.config->outbox.max_entries, 10000u);
  EXPECT_EQ(defaults.config->outbox.max_bytes, 64ull << 20);
  EXPECT_EQ(defaults.config->outbox.max_age, std::chrono::hours(12));

  auto p = Parse("[outbox]\nmax_entries = 500\nmax_bytes = \"512KiB\"\nmax_age = \"1d\"\n");
  EXPECT_THAT(Lines(p.diags), IsEmpty());
  ASSERT_TRUE(p.config.has_value());
  EXPECT_EQ(p.config->outbox.max_entries, 500u);
  EXPECT_EQ(p.config->outbox.max_bytes, 512u << 10);
  EXPECT_EQ(p.config->outbox.max_age, std::chrono::hours(24));
}

TEST(ConfigDaemonTest, OutboxMaxBytesTakesBytesOrAUnit) {
  const std::pair<std::string, uint64_t> kCases[] = {
      {"\"64MiB\"", 64ull << 20},
      {"\"512KiB\"", 512ull << 10},
      {"\"1GiB\"", 1ull << 30},
      {"\"10MB\"", 10000000},
      {"\"500KB\"", 500000},
      {"\"1GB\"", 1000000000},
      {"\"100000B\"", 100000},
      {"65536", 65536},
      {"\"64KiB\"", 65536},
      {"\"1048576\"", 0}};  // digits alone in a string: no unit, invalid
  for (const auto& [value, bytes] : kCases) {
    auto p = Parse("[outbox]\nmax_bytes = " + value + "\n");
    if (bytes == 0) {
      EXPECT_FALSE(p.config.has_value()) << value;
      continue;
    }
    ASSERT_TRUE(p.config.has_value()) << value << ": " << ::testing::PrintToString(Lines(p.diags));
    EXPECT_EQ(p.config->outbox.max_bytes, bytes) << value;
  }
}

TEST(ConfigDaemonTest, OutboxErrors) {
  auto p = Parse(R"([outbox]
max_entries = 0
max_bytes = "64 MiB"
max_age = "0s"
max_entrys = 5
)");
  EXPECT_FALSE(p.config.has_value());
  EXPECT_THAT(
      Lines(p.diags),
      ElementsAre(At("2:15: outbox.max_entries: must be at least 1"),
                  At("3:13: outbox.max_bytes: invalid size \"64 MiB\"; expected a number of "
                     "bytes or a string such as \"64MiB\" (units B, KB, MB, GB, KiB, MiB, GiB)"),
                  At("4:11: outbox.max_age: must be longer than 0s"),
                  At("5:1: outbox.max_entrys: unknown key (did you mean `max_entries`?)")));

  const std::pair<std::string, std::string> kBad[] = {
      {"\"100B\"", "must be at least 64KiB (65536 bytes)"},
      {"1000", "must be at least 64KiB (65536 bytes)"},
      {"-1", "must not be negative"},
      {"1.5",
       "expected a number of bytes or a string such as \"64MiB\" (units B, KB, MB, GB, "
       "KiB, MiB, GiB), found a float"},
      {"\"1TiB\"", "invalid size \"1TiB\""},
      {"\"64mib\"", "invalid size \"64mib\""},
      {"\"MiB\"", "invalid size \"MiB\""},
      {"\"20000000000GiB\"", "invalid size \"20000000000GiB\""},  // overflows 64 bits
      {"\"99999999999999999999B\"", "invalid size"},
  };
  for (const auto& [value, message] : kBad) {
    auto bad = Parse("[outbox]\nmax_bytes = " + value + "\n");
    EXPECT_THAT(Lines(bad.diags), ElementsAre(At("2:13: outbox.max_bytes: " + message))) << value;
  }
  auto big = Parse("[outbox]\nmax_entries = 3000000000\n");
  EXPECT_THAT(Lines(big.diags),
              ElementsAre(At("2:15: outbox.max_entries: too large (at most 2147483647)")));
  auto table = Parse("outbox = 5\n");
  EXPECT_THAT(Lines(table.diags),
              ElementsAre(At("1:10: outbox: expected a table, found an integer")));
}

TEST(ConfigFileKindTest, AnOutboxSectionMarksADaemonConfig) {
  Diagnostics d;
  EXPECT_FALSE(ParseDaemonConfig("service = \"x\"\n[outbox]\nmax_entries = 5\n", "d.toml", &d));
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].ToString(), "d.toml:1:1: service: unknown key");
  Diagnostics alone;
  EXPECT_TRUE(ParseDaemonConfig("[outbox]\nmax_entries = 5\n", "d.toml", &alone));
  EXPECT_TRUE(alone.all().empty());
}

}  // namespace
}  // namespace rollbackd::configtest::daemonconfig
