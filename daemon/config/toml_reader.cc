#include "daemon/config/toml_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/config/toml_limits.h"

namespace rollbackd {
namespace {

std::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool IsSecretKey(std::string_view key) {
  static constexpr std::string_view kSecrets[] = {"secret", "token", "bearer_token", "password",
                                                  "api_token", "basic_auth_password", "hmac_key"};
  return std::find(std::begin(kSecrets), std::end(kSecrets), key) != std::end(kSecrets);
}

}  // namespace

SourceLocation LocationOf(const toml::source_region& r, const std::string& file) {
  return {file, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

TableReader::TableReader(const toml::table& table, std::string path, std::string file,
                         Diagnostics* diags)
    : table_(table), path_(std::move(path)), file_(std::move(file)), diags_(diags) {}

bool TableReader::Has(std::string_view key) const { return table_.contains(key); }

void TableReader::Skip(std::string_view key) { used_.emplace(key); }

std::string TableReader::KeyPath(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

SourceLocation TableReader::Where() const { return LocationOf(table_.source(), file_); }

SourceLocation TableReader::Where(std::string_view key) const {
  if (const toml::node* n = table_.get(key)) return LocationOf(n->source(), file_);
  return Where();
}

SourceLocation TableReader::KeyWhere(std::string_view key) const {
  auto it = table_.find(key);
  if (it != table_.end()) return LocationOf(it->first.source(), file_);
  return Where();
}

SourceLocation TableReader::Where(std::string_view key, std::string_view sub) const {
  if (const toml::table* t = table_[key].as_table()) {
    if (const toml::node* n = t->get(sub)) return LocationOf(n->source(), file_);
  }
  return Where(key);
}

SourceLocation TableReader::KeyWhere(std::string_view key, std::string_view sub) const {
  if (const toml::table* t = table_[key].as_table()) {
    auto it = t->find(sub);
    if (it != t->end()) return LocationOf(it->first.source(), file_);
  }
  return Where(key);
}

void TableReader::Error(std::string_view key, std::string message) const {
  diags_->Error(Where(key), KeyPath(key), std::move(message));
}

void TableReader::Warning(std::string_view key, std::string message) const {
  diags_->Warning(Where(key), KeyPath(key), std::move(message));
}

const toml::node* TableReader::Get(std::string_view key, bool required,
                                   std::string_view expected) {
  used_.emplace(key);
  const toml::node* n = table_.get(key);
  if (n == nullptr && required) {
    diags_->Error(Where(), KeyPath(key), "missing required key (" + std::string(expected) + ")");
  }
  return n;
}

std::optional<std::string> TableReader::String(std::string_view key, bool required) {
  const toml::node* n = Get(key, required, "a string");
  if (n == nullptr) return std::nullopt;
  if (const auto* s = n->as_string()) return s->get();
  Error(key, "expected a string, found " + std::string(TypeName(*n)));
  return std::nullopt;
}

std::optional<double> TableReader::Number(std::string_view key, bool required) {
  const toml::node* n = Get(key, required, "a number");
  if (n == nullptr) return std::nullopt;
  double v;
  if (const auto* i = n->as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = n->as_floating_point()) {
    v = f->get();
  } else {
    Error(key, "expected a number, found " + std::string(TypeName(*n)));
    return std::nullopt;
  }
  if (!std::isfinite(v)) {
    Error(key, "expected a finite number");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> TableReader::Integer(std::string_view key, bool required) {
  const toml::node* n = Get(key, required, "an integer");
  if (n == nullptr) return std::nullopt;
  if (const auto* i = n->as_integer()) return i->get();
  Error(key, "expected an integer, found " + std::string(TypeName(*n)));
  return std::nullopt;
}

std::optional<bool> TableReader::Bool(std::string_view key) {
  const toml::node* n = Get(key, false, "a boolean");
  if (n == nullptr) return std::nullopt;
  if (const auto* b = n->as_boolean()) return b->get();
  Error(key, "expected true or false, found " + std::string(TypeName(*n)));
  return std::nullopt;
}

std::optional<Duration> TableReader::DurationValue(std::string_view key, bool required) {
  const toml::node* n = Get(key, required, "a duration such as \"30s\"");
  if (n == nullptr) return std::nullopt;
  const auto* s = n->as_string();
  if (s == nullptr) {
    Error(key, "expected a duration string such as \"30s\" or \"1m30s\", found " +
                   std::string(TypeName(*n)));
    return std::nullopt;
  }
  auto d = ParseDuration(s->get());
  if (!d) {
    Error(key, "invalid duration \"" + s->get() +
                   "\" (use whole numbers with units ms, s, m, h, d, w, largest first: \"1m30s\")");
  }
  return d;
}

std::optional<std::vector<std::string>> TableReader::StringArray(std::string_view key,
                                                                 bool required) {
  const toml::node* n = Get(key, required, "an array of strings");
  if (n == nullptr) return std::nullopt;
  const auto* a = n->as_array();
  if (a == nullptr) {
    Error(key, "expected an array of strings, found " + std::string(TypeName(*n)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::node& e = *a->get(i);
    if (const auto* s = e.as_string()) {
      out.push_back(s->get());
    } else {
      diags_->Error(LocationOf(e.source(), file_), KeyPath(key) + "[" + std::to_string(i) + "]",
                    "expected a string, found " + std::string(TypeName(e)));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> TableReader::StringTable(std::string_view key) {
  const toml::node* n = Get(key, false, "a table of strings");
  if (n == nullptr) return std::nullopt;
  const auto* t = n->as_table();
  if (t == nullptr) {
    Error(key, "expected a table such as { name = \"value\" }, found " + std::string(TypeName(*n)));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (auto&& [k, v] : *t) {
    if (const auto* s = v.as_string()) {
      out.emplace(std::string(k.str()), s->get());
    } else {
      diags_->Error(LocationOf(v.source(), file_), KeyPath(key) + "." + std::string(k.str()),
                    "expected a string, found " + std::string(TypeName(v)));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> TableReader::HeaderTable(std::string_view key) {
  auto headers = StringTable(key);
  if (!headers) return std::nullopt;
  const auto* t = table_.get(key)->as_table();
  bool ok = true;
  for (const auto& [name, value] : *headers) {
    const SourceLocation at = LocationOf(t->get(name)->source(), file_);
    const std::string path = KeyPath(key) + "." + name;
    auto lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    const bool clean = std::none_of(value.begin(), value.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\t') || u == 0x7f;
    });
    std::string why;
    if (!token) {
      why = "not a valid HTTP header name";
    } else if (!clean) {
      why = "the value holds a line break or another control character";
    } else if (lower == "authorization" || lower == "proxy-authorization" || lower == "cookie") {
      why =
          "a credential does not belong in a config file: use bearer_token_file or basic_auth, "
          "which read it from a file";
    } else if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" ||
               lower == "connection" || lower == "content-type") {
      why = "set by rollbackd itself";
    }
    if (!why.empty()) {
      diags_->Error(at, path, why);
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return headers;
}

const toml::table* TableReader::Table(std::string_view key) {
  const toml::node* n = Get(key, false, "a table");
  if (n == nullptr) return nullptr;
  if (const auto* t = n->as_table()) return t;
  Error(key, "expected a table, found " + std::string(TypeName(*n)));
  return nullptr;
}

const toml::array* TableReader::Array(std::string_view key) {
  return Array(key, "an array of tables ([[" + std::string(key) + "]])");
}

const toml::array* TableReader::Array(std::string_view key, std::string_view expected) {
  const toml::node* n = Get(key, false, "an array");
  if (n == nullptr) return nullptr;
  if (const auto* a = n->as_array()) return a;
  Error(key, "expected " + std::string(expected) + ", found " + std::string(TypeName(*n)));
  return nullptr;
}

void TableReader::Finish() {
  std::vector<std::string_view> known(used_.begin(), used_.end());
  for (auto&& [k, v] : table_) {
    std::string_view key = k.str();
    if (used_.contains(key)) continue;
    std::string message;
    if (IsSecretKey(key)) {
      message = "secrets are never read from configuration files; put it in a file and use `" +
                std::string(key) + "_file`";
    } else {
      message = "unknown key";
      std::string_view best;
      size_t best_distance = 3;  // suggest only close matches
      for (std::string_view candidate : known) {
        size_t d = EditDistance(key, candidate);
        if (d < best_distance) {
          best_distance = d;
          best = candidate;
        }
      }
      if (!best.empty()) message += " (did you mean `" + std::string(best) + "`?)";
    }
    diags_->Error(LocationOf(k.source(), file_), KeyPath(key), message);
  }
}

std::optional<toml::table> ParseToml(std::string_view text, const std::string& file,
                                     Diagnostics* diags) {
  if (text.size() > kMaxConfigFileBytes) {
    diags->Error({file, 0, 0}, "",
                 "file of " + std::to_string(text.size()) + " bytes; configuration files are limited to " +
                     std::to_string(kMaxConfigFileBytes >> 20) + " MiB");
    return std::nullopt;
  }
  if (!CheckTomlBounds(text, file, diags)) return std::nullopt;
  try {
    return toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& e) {
    diags->Error(LocationOf(e.source(), file), "", std::string(e.description()));
    return std::nullopt;
  }
}

std::optional<std::string> ReadTextFile(const std::string& path, std::string* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = "is a folder; give files (e.g. rules/*.toml)";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::string("cannot read file: ") + std::strerror(errno);
    return std::nullopt;
  }
  // Read at most one byte past the limit, so that a huge file (or a FIFO) is refused, not loaded.
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    *error = "cannot read file";
    return std::nullopt;
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    const auto size = std::filesystem::file_size(path, ec);
    *error = (ec ? std::string("more than ") : std::string()) +
             std::to_string(ec ? kMaxConfigFileBytes : size) +
             " bytes; configuration files are limited to " +
             std::to_string(kMaxConfigFileBytes >> 20) + " MiB";
    return std::nullopt;
  }
  return text;
}

FileKind GuessFileKind(const toml::table& root) {
  if (root.contains("rule_file") || root.contains("rule_files") || root.contains("test")) return FileKind::kRuleTest;
  if (root.contains("service") || root.contains("trigger") || root.contains("health")) {
    return FileKind::kRuleFile;
  }
  if (root.contains("daemon") || root.contains("prometheus") || root.contains("channel") ||
      root.contains("route") || root.contains("outbox")) {
    return FileKind::kDaemonConfig;
  }
  return FileKind::kUnknown;
}

std::string_view FileKindName(FileKind kind) {
  switch (kind) {
    case FileKind::kDaemonConfig: return "a daemon config (rollbackd.toml)";
    case FileKind::kRuleFile: return "a rule file";
    case FileKind::kRuleTest: return "a rule test file";
    case FileKind::kUnknown: break;
  }
  return "an unknown file";
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace rollbackd
