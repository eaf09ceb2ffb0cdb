// Prometheus as users secure it (issue 17): a real Prometheus started with --web.config.file,
// requiring TLS and basic auth (a certificate made by `openssl` here, a bcrypt password hash made
// by libcrypt), scraping the sample service. rollbackd's queries go through; a wrong CA, a wrong
// password and an expired certificate each give source.down naming the reason, and never a
// breach; once the fault is mended the source is up again and a bad deploy fires through it.
#include <arpa/inet.h>
#include <crypt.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "testing/harness.h"

namespace rollbackd::it {
namespace {

// The sample service's error rate through the secure source; a bad deploy (v2: 30 % errors) fires.
constexpr const char kRule[] = R"(service  = "shop"
interval = "1s"

[[trigger]]
name     = "error_rate"
source   = "secure"
query    = 'sum(rate(sample_http_requests_total{code="500"}[4s])) / sum(rate(sample_http_requests_total[4s]))'
above    = 0.05
for      = "2s"
severity = "critical"
rollback = false
)";

// Runs a short command to its end (openssl); false with the log when it fails.
bool Run(const std::vector<std::string>& argv, const std::string& log) {
  Process p(argv, log);
  const std::optional<int> status = p.WaitExit(60s);
  EXPECT_EQ(status, std::optional<int>(0)) << argv[1] << ": " << ReadFile(log);
  return status == std::optional<int>(0);
}

// A CA, and server certificates for 127.0.0.1 signed by it: `name`.pem valid for a day, and
// `name`-expired.pem whose validity ended yesterday.
bool MakeCertificates(const std::string& d, const std::string& ca, const std::string& name) {
  const std::string log = d + "/openssl.log";
  WriteFile(d + "/san.ext", "subjectAltName=IP:127.0.0.1\n");
  return Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
              d + "/" + ca + ".key", "-out", d + "/" + ca + ".pem", "-days", "2", "-subj",
              "/CN=" + ca},
             log) &&
         Run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/" + name + ".key",
              "-out", d + "/" + name + ".csr", "-subj", "/CN=127.0.0.1"},
             log) &&
         Run({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA",
              d + "/" + ca + ".pem", "-CAkey", d + "/" + ca + ".key", "-CAcreateserial", "-out",
              d + "/" + name + ".pem", "-days", "1", "-extfile", d + "/san.ext"},
             log) &&
         Run({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA",
              d + "/" + ca + ".pem", "-CAkey", d + "/" + ca + ".key", "-CAcreateserial", "-out",
              d + "/" + name + "-expired.pem", "-days", "-1", "-extfile", d + "/san.ext"},
             log);
}

// Prometheus's basic_auth_users take bcrypt hashes only.
std::string Bcrypt(const std::string& password) {
  const char* setting = crypt_gensalt("$2b$", 10, nullptr, 0);
  if (setting == nullptr) return "";
  const char* hash = crypt(password.c_str(), setting);
  return hash == nullptr || hash[0] == '*' ? "" : hash;
}

bool Listening(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class SecurePrometheus {
 public:
  SecurePrometheus(std::string dir, int port, int sample_port)
      : dir_(std::move(dir)), port_(port), sample_port_(sample_port) {
    std::filesystem::create_directories(dir_ + "/secure");
    WriteFile(dir_ + "/secure/prometheus.yml",
              "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "scrape_configs:\n  - job_name: sample\n    static_configs:\n"
              "      - targets: ['127.0.0.1:" +
                  std::to_string(sample_port_) + "']\n");
  }

  // Serves with the certificate `cert` (.pem and its .key) and the password hash.
  bool Start(const std::string& cert, const std::string& key, const std::string& hash) {
    process_.reset();
    WriteFile(dir_ + "/secure/web.yml", "tls_server_config:\n  cert_file: " + cert +
                                            "\n  key_file: " + key +
                                            "\nbasic_auth_users:\n  rollbackd: '" + hash + "'\n");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            ROLLBACKD_PROMETHEUS, "--config.file=" + dir_ + "/secure/prometheus.yml",
            "--web.config.file=" + dir_ + "/secure/web.yml",
            "--storage.tsdb.path=" + dir_ + "/secure/data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        dir_ + "/secure-prometheus.log");
    // Up once its port takes connections.
    return WaitFor([&] { return !process_->running() || Listening(port_); }, 30s) &&
           process_->running();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  std::string dir_;
  int port_;
  int sample_port_;
  std::unique_ptr<Process> process_;
};

std::string Reason(const json& event) { return event.value("reason", ""); }

TEST(PrometheusTls, QueriesWorkAndEveryTlsOrAuthFaultIsSourceDownWithItsReason) {
  const int port = FreePort();
  StackOptions options{kRule};
  options.config_extra = "[prometheus.secure]\nurl = \"https://127.0.0.1:" + std::to_string(port) +
                         "\"\ntimeout = \"2s\"\n"
                         "basic_auth = { username = \"rollbackd\", password_file = "
                         "\"${DIR}/prom.password\" }\n"
                         "tls = { ca_file = \"${DIR}/ca.pem\" }\n";
  Stack s(options);
  const std::string d = s.dir();
  ASSERT_TRUE(MakeCertificates(d, "ca", "server"));
  ASSERT_TRUE(MakeCertificates(d, "otherca", "other"));  // a CA rollbackd does not trust
  const std::string hash = Bcrypt("right horse battery");
  ASSERT_FALSE(hash.empty()) << "libcrypt made no bcrypt hash";
  WriteFile(d + "/prom.password", "right horse battery\n");
  const std::string url = s.sample_url();
  SecurePrometheus prom(d, port, std::stoi(url.substr(url.rfind(':') + 1)));
  ASSERT_TRUE(prom.Start(d + "/server.pem", d + "/server.key", hash)) << prom.log();

  // Queries work: answered through TLS and basic auth, none failed.
  ASSERT_TRUE(s.StartDaemon()) << s.daemon().log();
  ASSERT_TRUE(s.WaitRounds(3)) << s.daemon().log();
  EXPECT_GE(s.DaemonMetric("rollbackd_query_duration_seconds_count{source=\"secure\"}").value_or(0),
            3);
  const std::string metrics = Http("GET", s.daemon_url() + "/metrics").body;
  EXPECT_EQ(metrics.find("rollbackd_query_errors_total{"), std::string::npos) << metrics;
  EXPECT_TRUE(s.Events("source.down").empty());

  const std::string config_path = d + "/rollbackd.toml";
  const std::string config = ReadFile(config_path);
  auto reload = [&](const std::string& text) {
    WriteFile(config_path, text);
    s.daemon().Signal(SIGHUP);
  };
  size_t downs = 0;
  auto expect_down_then_up = [&](const std::string& what, const std::string& reason_part,
                                 const std::function<void()>& mend) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(s.WaitEvent("source.down", 30s, downs + 1)) << s.daemon().log();
    const std::vector<json> down = s.Events("source.down");
    EXPECT_NE(Reason(down.back()).find("secure"), std::string::npos) << Reason(down.back());
    EXPECT_NE(Reason(down.back()).find(reason_part), std::string::npos) << Reason(down.back());
    mend();
    ASSERT_TRUE(s.WaitEvent("source.up", 30s, downs + 1)) << s.daemon().log();
    ++downs;
  };

  // A CA that did not sign Prometheus's certificate.
  std::string wrong_ca = config;
  wrong_ca.replace(wrong_ca.find(d + "/ca.pem"), (d + "/ca.pem").size(), d + "/otherca.pem");
  reload(wrong_ca);
  expect_down_then_up("wrong CA", "certificate", [&] { reload(config); });

  // A wrong password (Prometheus answers 401).
  WriteFile(d + "/prom.password", "wrong horse\n");
  reload(config);
  expect_down_then_up("wrong password", "401", [&] {
    WriteFile(d + "/prom.password", "right horse battery\n");
    reload(config);
  });

  // An expired certificate.
  ASSERT_TRUE(prom.Start(d + "/server-expired.pem", d + "/server.key", hash)) << prom.log();
  expect_down_then_up("expired certificate", "expired", [&] {
    ASSERT_TRUE(prom.Start(d + "/server.pem", d + "/server.key", hash)) << prom.log();
  });

  // None of it was a breach; and the mended source carries a bad deploy to a firing trigger.
  EXPECT_TRUE(s.Events("trigger.pending").empty());
  EXPECT_TRUE(s.Events("trigger.firing").empty());
  ASSERT_TRUE(s.SampleDeploy("v2"));
  ASSERT_TRUE(s.WaitEvent("trigger.firing", 40s)) << s.daemon().log();
  const std::string log = s.daemon().log();
  EXPECT_EQ(log.find("right horse battery"), std::string::npos) << "no password in the log";
}

}  // namespace
}  // namespace rollbackd::it
