#include "testing/etcd_cluster.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

namespace rollbackd::it {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

// The inodes of the sockets `pid` holds open (its /proc/<pid>/fd links "socket:[INODE]").
std::set<std::string> SocketInodes(pid_t pid) {
  std::set<std::string> out;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(fd_dir, ec)) {
    const std::string target = fs::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0 && target.back() == ']') {
      out.insert(target.substr(8, target.size() - 9));
    }
  }
  return out;
}

// Whether `pid` itself listens on 127.0.0.1:`port`. A connect() alone would also succeed when
// another process took the port that FreePort() handed out, the race this exists to catch.
bool ListensOn(pid_t pid, int port) {
  const std::set<std::string> inodes = SocketInodes(pid);
  if (inodes.empty()) return false;
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::istringstream in(ReadFile("/proc/net/tcp"));
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    std::istringstream fields(line);
    std::array<std::string, 10> f;
    for (std::string& x : f) fields >> x;
    if (f[1] == local && f[3] == "0A" && inodes.contains(f[9])) return true;  // 0A: LISTEN
  }
  return false;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (const int shift : {18, 12, 6, 0}) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned v = 0;
  int bits = 0;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=') {
      if (i + 2 < text.size()) return std::nullopt;  // '=' only in the last two places
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // nothing after a '='
    const size_t d = kBase64Alphabet.find(text[i]);
    if (d == std::string_view::npos) return std::nullopt;
    v = (v << 6 | static_cast<unsigned>(d)) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xFF));
    }
  }
  return out;
}

EtcdCluster::EtcdCluster(const std::string& dir, int members) : dir_(dir) {
  if (members < 1) throw std::runtime_error("EtcdCluster: members must be at least 1");
  fs::create_directories(dir_);
  members_.resize(static_cast<size_t>(members));
  for (int i = 0; i < members; ++i) {
    Member& m = members_[static_cast<size_t>(i)];
    m.name = "member" + std::to_string(i);
    m.data_dir = dir_ + "/" + m.name;
    m.log = dir_ + "/" + m.name + ".log";
  }
  std::string logs;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (StartAll()) return;
    for (Member& m : members_) {
      if (m.process) m.process->Kill9();
      logs += "--- " + m.log + "\n" + ReadFile(m.log);
    }
  }
  throw std::runtime_error("the etcd cluster did not start:\n" + logs);
}

EtcdCluster::~EtcdCluster() {
  for (Member& m : members_) {
    if (m.process) m.process->Kill9();
  }
}

bool EtcdCluster::StartAll() {
  initial_cluster_.clear();
  for (Member& m : members_) {
    m.client_port = FreePort();
    m.peer_port = FreePort();
    initial_cluster_ += (initial_cluster_.empty() ? "" : ",") + m.name + "=" + Url(m.peer_port);
    std::error_code ec;
    fs::remove_all(m.data_dir, ec);  // a new cluster: nothing left from a failed attempt
  }
  // Distinct per cluster, so a member of another test's cluster that reaches ours by a reused port
  // is rejected rather than joined.
  token_ = "rollbackd-it-" + std::to_string(::getpid()) + "-" +
           std::to_string(members_[0].client_port) + "-" + std::to_string(members_[0].peer_port);
  for (Member& m : members_) Start(m, "new");
  bool all = true;
  for (Member& m : members_) all = WaitBound(m) && all;
  return all;
}

void EtcdCluster::Start(Member& m, const std::string& state) {
  m.process.reset();  // the previous instance, if any, has gone before the new one binds
  m.process = std::make_unique<Process>(
      std::vector<std::string>{
          ROLLBACKD_ETCD, "--name", m.name, "--data-dir", m.data_dir, "--listen-client-urls",
          Url(m.client_port), "--advertise-client-urls", Url(m.client_port), "--listen-peer-urls",
          Url(m.peer_port), "--initial-advertise-peer-urls", Url(m.peer_port), "--initial-cluster",
          initial_cluster_, "--initial-cluster-state", state, "--initial-cluster-token", token_,
          // Short raft timers, fit for loopback only (defaults 100 and 1000 ms): a new leader is
          // elected within about a second of the old one's death, so failover tests stay short.
          "--heartbeat-interval", "50", "--election-timeout", "500",
          // Warnings and errors only, as JSON lines in the member's log.
          "--logger", "zap", "--log-level", "warn"},
      m.log);
}

bool EtcdCluster::WaitBound(Member& m) {
  return WaitFor(
             [&] {
               if (!m.process->running()) return true;
               return ListensOn(m.process->pid(), m.peer_port) &&
                      ListensOn(m.process->pid(), m.client_port);
             },
             10s, 20ms) &&
         m.process->running();
}

bool EtcdCluster::WaitHealthy(std::chrono::milliseconds limit) {
  // A put proposed while there is no leader is not retried by etcd: it is held until the request
  // timeout (6 s). So short attempts first, each member's doubling after each of its failures (a
  // loaded disk's fsync can take a while), and never longer than `limit`.
  std::vector<std::chrono::milliseconds> attempt(members_.size(), 250ms);
  std::vector<bool> done(members_.size(), false);
  bool exited = false;
  const bool all = WaitFor(
      [&] {
        bool all_done = true;
        for (size_t i = 0; i < members_.size(); ++i) {
          Member& m = members_[i];
          if (!m.wanted || done[i]) continue;
          if (!m.process || !m.process->running()) {
            exited = true;
            return true;
          }
          done[i] =
              Put(static_cast<int>(i), "rollbackd-it/health", m.name, std::min(attempt[i], limit));
          attempt[i] = std::min<std::chrono::milliseconds>(attempt[i] * 2, 2s);
          all_done = all_done && done[i];
        }
        return all_done;
      },
      limit, 50ms);
  return all && !exited;
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(Url(m.client_port));
  return out;
}

std::string EtcdCluster::endpoint(int i) const { return Url(members_.at(i).client_port); }

void EtcdCluster::Kill(int i) {
  Member& m = members_.at(i);
  m.wanted = false;
  if (m.process) m.process->Kill9();
}

void EtcdCluster::Restart(int i) {
  Member& m = members_.at(i);
  Kill(i);
  m.wanted = true;
  Start(m, "existing");
  WaitBound(m);
}

bool EtcdCluster::running(int i) {
  Member& m = members_.at(i);
  return m.process && m.process->running();
}

int EtcdCluster::Leader() {
  // Raft member ids are uint64s, strings in the gateway's JSON.
  std::vector<std::string> ids(members_.size());
  std::set<std::string> leaders;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!running(static_cast<int>(i))) continue;
    const HttpResult r = Http("POST", endpoint(static_cast<int>(i)) + "/v3/maintenance/status",
                              "{}", {"Content-Type: application/json"}, 1s);
    const json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j.contains("header")) continue;
    ids[i] = j["header"].value("member_id", "");
    leaders.insert(j.value("leader", ""));
  }
  if (leaders.size() != 1 || leaders.begin()->empty()) return -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].empty() && ids[i] == *leaders.begin()) return static_cast<int>(i);
  }
  return -1;
}

bool EtcdCluster::Put(int i, const std::string& key, const std::string& value,
                      std::chrono::milliseconds timeout) {
  const json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  const HttpResult r = Http("POST", endpoint(i) + "/v3/kv/put", body.dump(),
                            {"Content-Type: application/json"}, timeout);
  if (r.status != 200) return false;
  const json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("header") && j["header"].contains("revision");
}

}  // namespace rollbackd::it
