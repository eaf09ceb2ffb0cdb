#include "daemon/actions/hook_env.h"

#include <cctype>
#include <map>
#include <string_view>

#include "daemon/config/text.h"

namespace rollbackd {
namespace {

bool IsVariableName(std::string_view name) {
  if (name.empty() || name.size() > kHookEnvMaxLabelName) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_') || u >= 0x80) return false;
  }
  return true;
}

// For a log line: control characters escaped, at most 64 bytes.
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : Utf8Prefix(s, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 64) out += "...";
  return out;
}

constexpr size_t kMaxNotes = 10;

class Builder {
 public:
  void Note(std::string note) {
    if (env_.notes.size() < kMaxNotes) {
      env_.notes.push_back(std::move(note));
    } else {
      ++notes_dropped_;
    }
  }

  // Sets `key`, cut to the value budget (and at a NUL, which execve would cut silently).
  void Set(const std::string& key, std::string_view value) {
    std::string_view v = value.substr(0, value.find('\0'));
    if (v.size() < value.size()) Note(key + ": value holds a NUL; cut there");
    if (v.size() > kHookEnvMaxValue) {
      Note(key + ": value of " + std::to_string(v.size()) + " bytes cut to " +
           std::to_string(kHookEnvMaxValue));
      v = Utf8Prefix(v, kHookEnvMaxValue);
    }
    if (v.size() < value.size()) cut_.push_back(key);
    vars_[key] = std::string(v);
  }

  HookEnv Finish(size_t omitted) {
    if (omitted > 0) vars_["ROLLBACKD_LABELS_OMITTED"] = std::to_string(omitted);
    if (!cut_.empty()) {
      std::string names;
      for (const std::string& k : cut_) {
        if (names.size() + k.size() + 1 > kHookEnvMaxValue - 4) {
          names += ",...";
          break;
        }
        names += names.empty() ? k : "," + k;
      }
      vars_["ROLLBACKD_ENV_TRUNCATED"] = names;
    }
    if (notes_dropped_ > 0) env_.notes.push_back("and " + std::to_string(notes_dropped_) + " more");
    env_.vars.assign(vars_.begin(), vars_.end());
    return std::move(env_);
  }

 private:
  std::map<std::string, std::string> vars_;
  std::vector<std::string> cut_;
  HookEnv env_;
  size_t notes_dropped_ = 0;
};

}  // namespace

HookEnv HookEnvironment(const Event& e) {
  Builder b;
  // Which labels claim each variable name: two that upper-case alike (`pod` and `Pod`) are both
  // left out, since which of them the hook meant cannot be known.
  std::map<std::string, std::vector<const std::pair<const std::string, std::string>*>> claims;
  size_t omitted = 0;
  for (const auto& label : e.labels) {
    const std::string& name = label.first;
    if (!IsVariableName(name)) {
      ++omitted;
      b.Note("label " + Shown(name) + " left out: its name is not [A-Za-z_][A-Za-z0-9_]*");
      continue;
    }
    if (label.second.find('\0') != std::string::npos) {
      ++omitted;
      b.Note("label " + name + " left out: its value holds a NUL");
      continue;
    }
    std::string key = "ROLLBACKD_LABEL_";
    for (char c : name) key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    claims[key].push_back(&label);
  }
  size_t budget = kHookEnvMaxLabelBytes;
  for (const auto& [key, labels] : claims) {
    if (labels.size() > 1) {
      omitted += labels.size();
      std::string names;
      for (const auto* l : labels) names += (names.empty() ? "" : ", ") + l->first;
      b.Note(key + " left out: labels " + names + " collide");
      continue;
    }
    const std::string& value = labels.front()->second;
    const size_t cost = key.size() + 1 + std::min(value.size(), kHookEnvMaxValue) + 1;
    if (cost > budget) {
      ++omitted;
      b.Note(key + " left out: the labels' " + std::to_string(kHookEnvMaxLabelBytes >> 10) +
             " KiB budget is spent");
      budget = 0;  // the rest in name order are left out too, so what is exported is a prefix
      continue;
    }
    budget -= cost;
    b.Set(key, value);
  }
  // The fixed names last, so that no label can shadow them.
  b.Set("ROLLBACKD_SERVICE", e.service);
  b.Set("ROLLBACKD_TRIGGER", e.trigger);
  b.Set("ROLLBACKD_EVENT_ID", e.rollback_id.empty() ? e.id : e.rollback_id);
  b.Set("ROLLBACKD_SEVERITY", SeverityName(e.severity));
  b.Set("ROLLBACKD_REASON", e.reason);
  if (e.value) b.Set("ROLLBACKD_VALUE", ShortestNumber(*e.value));
  if (e.threshold) b.Set("ROLLBACKD_THRESHOLD", ShortestNumber(*e.threshold));
  if (e.baseline) b.Set("ROLLBACKD_BASELINE", ShortestNumber(*e.baseline));
  if (!e.version.empty()) b.Set("ROLLBACKD_VERSION", e.version);
  if (e.fencing_token) b.Set("ROLLBACKD_FENCING_TOKEN", std::to_string(*e.fencing_token));
  return b.Finish(omitted);
}

}  // namespace rollbackd
