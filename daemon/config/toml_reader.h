// Reads one TOML table field by field and reports every problem to Diagnostics with the location of
// the offending key or value. Keys that were never asked for are reported by Finish() as unknown:
// a typo must never silently disable a trigger. Internal to the config layer and the rule tests.
#ifndef ROLLBACKD_CONFIG_TOML_READER_H_
#define ROLLBACKD_CONFIG_TOML_READER_H_

#include <toml++/toml.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/diagnostics.h"
#include "daemon/config/duration.h"

namespace rollbackd {

SourceLocation LocationOf(const toml::source_region& r, const std::string& file);

class TableReader {
 public:
  // `path` prefixes every key in a diagnostic ("trigger[1]"); empty at the top level.
  TableReader(const toml::table& table, std::string path, std::string file, Diagnostics* diags);

  bool Has(std::string_view key) const;
  // Marks the key as known without reading it (another reader handles it).
  void Skip(std::string_view key);

  // Each getter returns nullopt when the key is absent or has the wrong type; the wrong type, and an
  // absent key when `required`, are reported.
  std::optional<std::string> String(std::string_view key, bool required = false);
  std::optional<double> Number(std::string_view key, bool required = false);  // integer or float
  std::optional<int64_t> Integer(std::string_view key, bool required = false);
  std::optional<bool> Bool(std::string_view key);
  std::optional<Duration> DurationValue(std::string_view key, bool required = false);
  std::optional<std::vector<std::string>> StringArray(std::string_view key, bool required = false);
  std::optional<std::map<std::string, std::string>> StringTable(std::string_view key);
  // `headers = { X-Scope-OrgID = "team-a" }`: HTTP header names (RFC 9110 tokens) and values
  // without CR, LF or other control characters, so no value can add a header or end the request.
  // Authorization, Proxy-Authorization and Cookie are refused (a credential belongs in a file:
  // bearer_token_file or basic_auth), and so are the headers the HTTP client sets itself.
  std::optional<std::map<std::string, std::string>> HeaderTable(std::string_view key);
  const toml::table* Table(std::string_view key);
  const toml::array* Array(std::string_view key);  // absent or wrong type: nullptr
  // The same for an array of values; `expected` describes it in the wrong-type message.
  const toml::array* Array(std::string_view key, std::string_view expected);

  // Reports keys present in the table that no getter asked for.
  void Finish();

  std::string KeyPath(std::string_view key) const;
  SourceLocation Where() const;                     // the table itself
  SourceLocation Where(std::string_view key) const;  // the key's value, or the table if absent
  SourceLocation KeyWhere(std::string_view key) const;  // the key itself
  // The same for `sub` inside the table at `key` (a label in `labels`); falls back to Where(key).
  SourceLocation Where(std::string_view key, std::string_view sub) const;
  SourceLocation KeyWhere(std::string_view key, std::string_view sub) const;
  const std::string& file() const { return file_; }
  Diagnostics* diags() const { return diags_; }

  void Error(std::string_view key, std::string message) const;
  void Warning(std::string_view key, std::string message) const;

 private:
  const toml::node* Get(std::string_view key, bool required, std::string_view expected);

  const toml::table& table_;
  std::string path_;
  std::string file_;
  Diagnostics* diags_;
  std::set<std::string, std::less<>> used_;
};

// Parses `text` as TOML, reporting a syntax error with its position. nullopt on error.
std::optional<toml::table> ParseToml(std::string_view text, const std::string& file,
                                     Diagnostics* diags);

// Reads a whole file. A folder, or a file that cannot be read, is an error saying so.
std::optional<std::string> ReadTextFile(const std::string& path, std::string* error);

// The kinds of file rollbackd reads, guessed from their top-level keys, so that a file given in the
// wrong place gets one clear error instead of a list of unknown keys.
enum class FileKind { kUnknown, kDaemonConfig, kRuleFile, kRuleTest };
FileKind GuessFileKind(const toml::table& root);
// "a daemon config (rollbackd.toml)", "a rule file", "a rule test file".
std::string_view FileKindName(FileKind kind);

// Label names as Prometheus allows them: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_TOML_READER_H_
