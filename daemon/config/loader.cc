#include "daemon/config/loader.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "daemon/config/redact.h"
#include "daemon/config/route_check.h"
#include "daemon/config/template.h"
#include "daemon/config/toml_reader.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kConditionKeys[] = {"above",       "below",       "above_ratio",
                                               "below_ratio", "above_delta", "below_delta"};
constexpr ConditionKind kConditionKinds[] = {ConditionKind::kAbove,      ConditionKind::kBelow,
                                             ConditionKind::kAboveRatio, ConditionKind::kBelowRatio,
                                             ConditionKind::kAboveDelta, ConditionKind::kBelowDelta};
// A route's group_wait delays the first notification of a group; past this it is a mistake.
constexpr Duration kMaxGroupWait = std::chrono::minutes(10);
// The smallest [outbox].max_bytes: room for a few hundred notifications.
constexpr uint64_t kMinOutboxBytes = 64 << 10;
// Labels rollbackd sets on every event; a user label of the same name would be shadowed.
constexpr std::string_view kReservedLabels[] = {"service", "trigger", "severity"};

std::string Article(std::string_view word) {
  return !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos ? "an"
                                                                                            : "a";
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Where(const SourceLocation& l) {
  return l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
}

std::string DirOf(const std::string& file) {
  fs::path p = fs::path(file).parent_path();
  return p.empty() ? "." : p.string();
}

// Relative paths in a file are relative to that file's folder, so a config works wherever the
// daemon's working directory is (systemd starts it in /).
std::string Resolve(const std::string& file, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(DirOf(file)) / path).lexically_normal().string();
}

bool IsHttpUrl(std::string_view url) {
  auto rest = [&](std::string_view prefix) {
    return url.substr(0, prefix.size()) == prefix && url.size() > prefix.size();
  };
  return rest("http://") || rest("https://");
}

// Reads a positive duration (> 0). `allow_zero` admits "0s".
std::optional<Duration> PositiveDuration(TableReader& r, std::string_view key, bool required,
                                         bool allow_zero = false) {
  auto d = r.DurationValue(key, required);
  if (d && (d->count() < 0 || (!allow_zero && d->count() == 0))) {
    r.Error(key, allow_zero ? "must not be negative" : "must be longer than 0s");
    return std::nullopt;
  }
  return d;
}

// A count that must be at least `min` and fit an int.
std::optional<int64_t> ReadCount(TableReader& r, std::string_view key, int64_t min,
                                 std::string_view below_min) {
  auto n = r.Integer(key);
  if (!n) return std::nullopt;
  if (*n < min) {
    r.Error(key, std::string(below_min));
    return std::nullopt;
  }
  if (*n > std::numeric_limits<int>::max()) {
    r.Error(key, "too large (at most " + std::to_string(std::numeric_limits<int>::max()) + ")");
    return std::nullopt;
  }
  return n;
}

// A notification template (daemon/config/template.h); an invalid one is an error at its key.
std::optional<std::string> ReadTemplate(TableReader& r, std::string_view key) {
  auto text = r.String(key);
  if (!text) return std::nullopt;
  std::string error;
  if (!Template::Parse(*text, &error)) {
    r.Error(key, "invalid template: " + error);
    return std::nullopt;
  }
  return text;
}

// Sizes: an integer number of bytes, or a string of digits and a unit: B, KB, MB, GB (powers of
// 1000) or KiB, MiB, GiB (powers of 1024). nullopt on anything else or on overflow.
std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 0; i < digits; ++i) n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"B", 1},           {"KB", 1000},        {"MB", 1000000},
      {"GB", 1000000000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
      {"GiB", 1ull << 30}};
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (n > std::numeric_limits<uint64_t>::max() / factor) return std::nullopt;
    return n * factor;
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadByteSize(TableReader& r, const toml::table& table,
                                     std::string_view key) {
  r.Skip(key);
  const toml::node* n = table.get(key);
  if (n == nullptr) return std::nullopt;
  constexpr std::string_view kExpected =
      "a number of bytes or a string such as \"64MiB\" (units B, KB, MB, GB, KiB, MiB, GiB)";
  if (const auto* i = n->as_integer()) {
    if (i->get() < 0) {
      r.Error(key, "must not be negative");
      return std::nullopt;
    }
    return static_cast<uint64_t>(i->get());
  }
  if (const auto* s = n->as_string()) {
    auto size = ParseByteSize(s->get());
    if (!size) {
      r.Error(key, "invalid size " + Quote(s->get()) + "; expected " + std::string(kExpected));
    }
    return size;
  }
  std::string_view found = n->is_floating_point() ? "a float"
                           : n->is_boolean()      ? "a boolean"
                           : n->is_array()        ? "an array"
                           : n->is_table()        ? "a table"
                                                  : "a date or time";
  r.Error(key, "expected " + std::string(kExpected) + ", found " + std::string(found));
  return std::nullopt;
}

std::optional<Severity> ReadSeverity(TableReader& r, std::string_view key) {
  auto s = r.String(key);
  if (!s) return std::nullopt;
  auto sev = ParseSeverity(*s);
  if (!sev) r.Error(key, "unknown severity " + Quote(*s) + " (critical, warning or info)");
  return sev;
}

LabelMap ReadLabels(TableReader& r, std::string_view key) {
  auto labels = r.StringTable(key);
  if (!labels) return {};
  for (const auto& [name, value] : *labels) {
    std::string path = std::string(key) + "." + name;
    if (!IsValidLabelName(name)) {
      r.diags()->Error(r.KeyWhere(key, name), r.KeyPath(path),
                       "invalid label name (letters, digits and _, not starting with a digit)");
    } else if (std::find(std::begin(kReservedLabels), std::end(kReservedLabels), name) !=
               std::end(kReservedLabels)) {
      r.diags()->Error(r.KeyWhere(key, name), r.KeyPath(path),
                       "label " + Quote(name) + " is set by rollbackd on every event");
    }
  }
  return *labels;
}

// `match` of a trigger or [deploy]: label = "value", equality on the series' labels. Any label
// name may be matched, `service` included: it usually comes from the series (sum by (service)).
LabelMap ReadMatch(TableReader& r) {
  auto match = r.StringTable("match");
  if (!match) return {};
  for (const auto& [name, value] : *match) {
    if (!IsValidLabelName(name)) {
      r.diags()->Error(r.KeyWhere("match", name), r.KeyPath("match." + name),
                       "invalid label name (letters, digits and _, not starting with a digit)");
    }
  }
  return *match;
}

std::string ReadName(TableReader& r, std::string_view key) {
  auto name = r.String(key, true);
  if (!name) return "";
  if (!IsValidName(*name)) {
    r.Error(key, "invalid name " + Quote(*name) + " (letters, digits, '_', '-' and '.')");
  }
  return *name;
}

void ReadQuery(TableReader& r, std::string_view key, bool required, std::string* out) {
  auto q = r.String(key, required);
  if (!q) return;
  if (q->find_first_not_of(" \t\r\n") == std::string::npos) {
    r.Error(key, "empty query");
    return;
  }
  *out = *q;
}

std::optional<Trigger> ParseTrigger(TableReader& r, bool service_has_rollback) {
  Trigger t;
  t.where = r.Where();
  t.name_where = r.Where("name");
  t.name = ReadName(r, "name");
  ReadQuery(r, "query", true, &t.query);
  if (auto s = r.String("source")) t.source = *s;
  t.source_where = r.Where("source");

  // Exactly one condition.
  std::vector<std::string_view> present;
  for (size_t i = 0; i < std::size(kConditionKeys); ++i) {
    auto v = r.Number(kConditionKeys[i]);
    if (!r.Has(kConditionKeys[i])) continue;
    present.push_back(kConditionKeys[i]);
    if (present.size() == 1 && v) {
      t.condition = kConditionKinds[i];
      t.threshold = *v;
    }
  }
  if (present.empty()) {
    r.diags()->Error(r.Where(), r.KeyPath(""),
                     "no condition: set one of above, below, above_ratio, below_ratio, "
                     "above_delta, below_delta");
  } else if (present.size() > 1) {
    r.Error(present[1], "a trigger has exactly one condition, found `" + std::string(present[0]) +
                            "` and `" + std::string(present[1]) +
                            "` (write two triggers to watch both sides)");
  }
  // From the key, not from t.condition: a condition of the wrong type leaves t.condition unset.
  const bool relative = !present.empty() && present[0] != "above" && present[0] != "below";
  if (present.size() == 1) {
    std::string_view cond = present[0];
    if ((t.condition == ConditionKind::kAboveRatio || t.condition == ConditionKind::kBelowRatio) &&
        t.threshold <= 0) {
      r.Error(cond, "a ratio must be greater than 0");
    }
    if ((t.condition == ConditionKind::kAboveDelta || t.condition == ConditionKind::kBelowDelta) &&
        t.threshold < 0) {
      r.Error(cond, "a delta must not be negative (below_delta = 5 means current < baseline - 5)");
    }
  }

  // Baseline.
  std::string baseline_query;
  ReadQuery(r, "baseline_query", false, &baseline_query);
  auto baseline = r.String("baseline");
  if (baseline && *baseline != "snapshot") {
    r.Error("baseline", "unknown baseline " + Quote(*baseline) +
                            " (\"snapshot\"; or use baseline_query for a query)");
  }
  if (r.Has("baseline_query") && r.Has("baseline")) {
    r.Error("baseline", "set either baseline = \"snapshot\" or baseline_query, not both");
  } else if (!baseline_query.empty()) {
    t.baseline = BaselineKind::kQuery;
    t.baseline_query = baseline_query;
  } else if (baseline && *baseline == "snapshot") {
    t.baseline = BaselineKind::kSnapshot;
  }
  const bool has_baseline = r.Has("baseline_query") || r.Has("baseline");
  if (present.size() == 1 && relative && !has_baseline) {
    r.Error(present[0], "`" + std::string(present[0]) +
                            "` compares with a baseline: set baseline_query or "
                            "baseline = \"snapshot\"");
  } else if (present.size() == 1 && !relative && has_baseline) {
    std::string_view key = r.Has("baseline_query") ? "baseline_query" : "baseline";
    r.Error(key, "a baseline has no effect with `" + std::string(present[0]) +
                     "`; use " + std::string(present[0]) + "_ratio or " +
                     std::string(present[0]) + "_delta");
  }

  t.min_value = r.Number("min_value");
  if (t.min_value && present.size() == 1 && present[0] == "below") {
    r.Error("min_value", "min_value has no effect with `below` (it is a noise floor for the "
                         "current value, or for the baseline of below_ratio/below_delta)");
  }

  ReadQuery(r, "min_traffic_query", false, &t.min_traffic_query);
  auto min_traffic = r.Number("min_traffic");
  if (min_traffic) t.min_traffic = *min_traffic;
  if (r.Has("min_traffic_query") && !r.Has("min_traffic")) {
    r.Error("min_traffic_query", "min_traffic_query needs min_traffic (the floor)");
  } else if (!r.Has("min_traffic_query") && r.Has("min_traffic")) {
    r.Error("min_traffic", "min_traffic needs min_traffic_query (what to compare it with)");
  } else if (min_traffic && *min_traffic < 0) {
    r.Error("min_traffic", "must not be negative");
  }

  if (auto d = PositiveDuration(r, "for", true, /*allow_zero=*/true)) t.for_duration = *d;
  if (auto s = ReadSeverity(r, "severity")) t.severity = *s;
  if (auto nd = r.String("no_data")) {
    if (*nd == "ok") {
      t.no_data = NoDataPolicy::kOk;
    } else if (*nd == "hold") {
      t.no_data = NoDataPolicy::kHold;
    } else if (*nd == "breach") {
      t.no_data = NoDataPolicy::kBreach;
    } else {
      r.Error("no_data", "unknown no_data policy " + Quote(*nd) + " (ok, hold or breach)");
    }
  }
  t.rollback = service_has_rollback;
  if (auto rb = r.Bool("rollback")) {
    t.rollback = *rb;
    if (*rb && !service_has_rollback) {
      r.Error("rollback", "rollback = true but the service has no [rollback] section");
    }
  }
  t.labels = ReadLabels(r, "labels");
  t.match = ReadMatch(r);
  r.Finish();
  return t;
}

HealthCheck ParseHealth(TableReader& r, bool service_has_rollback) {
  HealthCheck h;
  h.where = r.Where();
  h.name_where = r.Where("name");
  h.name = ReadName(r, "name");
  if (auto url = r.String("url", true)) {
    h.url = *url;
    if (!IsHttpUrl(h.url)) r.Error("url", "expected an http:// or https:// URL");
  }
  if (auto d = PositiveDuration(r, "interval", false)) h.interval = *d;
  if (auto d = PositiveDuration(r, "timeout", false)) h.timeout = *d;
  if (r.Has("interval") && r.Has("timeout") && h.interval.count() > 0 &&
      h.timeout >= h.interval) {
    r.Warning("timeout", "a timeout of " + FormatDuration(h.timeout) +
                             " is not shorter than the interval; probes will overlap");
  }
  if (const toml::array* a = r.Array("expect_status", "an array of status codes such as [200]")) {
    h.expect_status.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const auto* n = e.as_integer();
      if (n == nullptr || n->get() < 100 || n->get() > 599) {
        r.diags()->Error(LocationOf(e.source(), r.file()),
                         r.KeyPath("expect_status[" + std::to_string(i) + "]"),
                         "expected an HTTP status code (100-599)");
        continue;
      }
      h.expect_status.push_back(static_cast<int>(n->get()));
    }
    if (a->empty()) r.Error("expect_status", "expect at least one status code");
  }
  if (auto d = PositiveDuration(r, "for", true, /*allow_zero=*/true)) h.for_duration = *d;
  if (auto s = ReadSeverity(r, "severity")) h.severity = *s;
  h.rollback = service_has_rollback;
  if (auto rb = r.Bool("rollback")) {
    h.rollback = *rb;
    if (*rb && !service_has_rollback) {
      r.Error("rollback", "rollback = true but the service has no [rollback] section");
    }
  }
  h.labels = ReadLabels(r, "labels");
  r.Finish();
  return h;
}

Deploy ParseDeploy(TableReader& r) {
  Deploy d;
  ReadQuery(r, "version_query", false, &d.version_query);
  if (auto s = r.String("source")) d.source = *s;
  d.source_where = r.Where("source");
  d.guard = PositiveDuration(r, "guard", false);
  d.match = ReadMatch(r);
  if (!d.match.empty() && d.version_query.empty() && !r.Has("version_query")) {
    r.Error("match", "match filters version_query's series; set version_query");
  }
  r.Finish();
  return d;
}

RollbackHook ParseRollback(TableReader& r) {
  RollbackHook h;
  h.where = r.Where();
  if (auto argv = r.StringArray("exec")) {
    if (argv->empty() || (*argv)[0].empty()) {
      r.Error("exec", "empty command: give the program and its arguments, "
                      "e.g. [\"kubectl\", \"rollout\", \"undo\", \"deployment/x\"]");
    } else {
      h.exec = *argv;
      // A relative program path (with a '/') is relative to the rule file, like every other path.
      if (h.exec[0].find('/') != std::string::npos) h.exec[0] = Resolve(r.file(), h.exec[0]);
    }
  }
  if (const toml::table* http = r.Table("http")) {
    TableReader hr(*http, r.KeyPath("http"), r.file(), r.diags());
    HttpHook hook;
    if (auto url = hr.String("url", true)) {
      hook.url = *url;
      if (!IsHttpUrl(hook.url)) hr.Error("url", "expected an http:// or https:// URL");
    }
    if (auto m = hr.String("method")) {
      if (*m != "POST" && *m != "PUT") {
        hr.Error("method", "unsupported method " + Quote(*m) + " (POST or PUT)");
      }
      hook.method = *m;
    }
    if (auto f = hr.String("secret_file")) hook.secret_file = Resolve(r.file(), *f);
    if (auto hd = hr.StringTable("headers")) hook.headers = *hd;
    if (auto f = hr.String("bearer_token_file")) hook.bearer_token_file = Resolve(r.file(), *f);
    if (const toml::table* t = hr.Table("basic_auth")) {
      TableReader br(*t, hr.KeyPath("basic_auth"), hr.file(), hr.diags());
      if (auto u = br.String("username", true)) hook.basic_auth_username = *u;
      if (auto f = br.String("password_file", true)) {
        hook.basic_auth_password_file = Resolve(r.file(), *f);
      }
      br.Finish();
    }
    if (hr.Has("bearer_token_file") && hr.Has("basic_auth")) {
      hr.Error("basic_auth", "set either bearer_token_file or basic_auth, not both");
    }
    if (UrlHasCredentials(hook.url)) {
      // Shown redacted everywhere, but a rule file is shared and reviewed: say where secrets go.
      hr.Warning("url", "user info or a query string in the URL: it is redacted from every event, "
                        "log and state file; put credentials in bearer_token_file or basic_auth");
    }
    hr.Finish();
    h.http = hook;
  }
  if (r.Has("exec") && r.Has("http")) {
    r.Error("http", "set either exec or http, not both");
  } else if (!r.Has("exec") && !r.Has("http")) {
    r.diags()->Error(r.Where(), r.KeyPath(""),
                     "no hook: set exec = [\"program\", \"arg\", ...] or http = { url = \"...\" }");
  }
  if (auto d = PositiveDuration(r, "timeout", false)) h.timeout = *d;
  if (auto d = PositiveDuration(r, "cooldown", false, /*allow_zero=*/true)) h.cooldown = *d;
  if (auto d = PositiveDuration(r, "verify", false)) h.verify = *d;
  r.Finish();
  return h;
}

void CheckUniqueNames(const Service& s, Diagnostics* diags) {
  std::map<std::string, const SourceLocation*> seen;
  auto check = [&](const std::string& name, const SourceLocation& where, const char* kind,
                   size_t index) {
    if (name.empty()) return;
    auto [it, inserted] = seen.emplace(name, &where);
    if (!inserted) {
      diags->Error(where, std::string(kind) + "[" + std::to_string(index) + "].name",
                   "duplicate name " + Quote(name) + " in service " + Quote(s.name) +
                       " (first at " + Where(*it->second) + ")");
    }
  };
  for (size_t i = 0; i < s.triggers.size(); ++i) {
    check(s.triggers[i].name, s.triggers[i].name_where, "trigger", i);
  }
  for (size_t i = 0; i < s.health.size(); ++i) {
    check(s.health[i].name, s.health[i].name_where, "health", i);
  }
}

std::optional<Service> ParseService(const toml::table& root, const std::string& file,
                                    Diagnostics* diags) {
  if (FileKind kind = GuessFileKind(root);
      kind == FileKind::kDaemonConfig || kind == FileKind::kRuleTest) {
    diags->Error({file, 0, 0}, "",
                 "this is " + std::string(FileKindName(kind)) + ", not a rule file" +
                     (kind == FileKind::kDaemonConfig
                          ? "; check it with `rollbackd check --config " + file + "`"
                          : "; run it with `rollbackd test " + file + "`"));
    return std::nullopt;
  }
  const int errors_before = diags->error_count();
  TableReader r(root, "", file, diags);
  Service s;
  s.file = file;
  s.where = r.Where("service");
  s.name = ReadName(r, "service");
  s.labels = ReadLabels(r, "labels");
  s.interval = PositiveDuration(r, "interval", false);
  if (auto dry = r.Bool("dry_run")) s.dry_run = *dry;

  // [rollback] first: whether it exists sets the triggers' `rollback` default.
  if (const toml::table* t = r.Table("rollback")) {
    TableReader rr(*t, "rollback", file, diags);
    s.rollback = ParseRollback(rr);
  }
  const bool has_rollback = r.Has("rollback");

  auto for_each_table = [&](std::string_view key, auto&& fn) {
    const toml::array* arr = r.Array(key);
    if (arr == nullptr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string path = std::string(key) + "[" + std::to_string(i) + "]";
      const toml::node& n = *arr->get(i);
      if (const auto* t = n.as_table()) {
        TableReader tr(*t, path, file, diags);
        fn(tr);
      } else {
        diags->Error(LocationOf(n.source(), file), path,
                     "expected a table ([[" + std::string(key) + "]])");
      }
    }
  };
  for_each_table("trigger", [&](TableReader& tr) {
    if (auto t = ParseTrigger(tr, has_rollback)) s.triggers.push_back(std::move(*t));
  });
  for_each_table("health", [&](TableReader& tr) { s.health.push_back(ParseHealth(tr, has_rollback)); });
  if (const toml::table* t = r.Table("deploy")) {
    TableReader dr(*t, "deploy", file, diags);
    s.deploy = ParseDeploy(dr);
  }
  r.Finish();

  if (s.triggers.empty() && s.health.empty() && r.Has("service")) {
    r.Warning("service", "the service has no [[trigger]] and no [[health]]; it watches nothing");
  }
  if (s.rollback) {
    bool any = std::any_of(s.triggers.begin(), s.triggers.end(),
                           [](const Trigger& t) { return t.rollback; }) ||
               std::any_of(s.health.begin(), s.health.end(),
                           [](const HealthCheck& h) { return h.rollback; });
    if (!any && (!s.triggers.empty() || !s.health.empty())) {
      diags->Warning(s.rollback->where, "rollback",
                     "every trigger has rollback = false; this hook can never run");
    }
  }
  CheckUniqueNames(s, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return s;
}

PrometheusSource ParseSource(TableReader& r, std::string name) {
  PrometheusSource p;
  p.name = std::move(name);
  p.where = r.Where();
  if (!IsValidName(p.name)) {
    r.diags()->Error(r.Where(), r.KeyPath(""), "invalid source name " + Quote(p.name));
  }
  if (auto url = r.String("url", true)) {
    p.url = *url;
    if (!IsHttpUrl(p.url)) r.Error("url", "expected an http:// or https:// URL");
    while (!p.url.empty() && p.url.back() == '/') p.url.pop_back();
  }
  if (auto d = PositiveDuration(r, "timeout", false)) p.timeout = *d;
  if (auto f = r.String("bearer_token_file")) p.bearer_token_file = Resolve(r.file(), *f);
  if (const toml::table* t = r.Table("basic_auth")) {
    TableReader br(*t, r.KeyPath("basic_auth"), r.file(), r.diags());
    if (auto u = br.String("username", true)) p.basic_auth_username = *u;
    if (auto f = br.String("password_file", true)) p.basic_auth_password_file = Resolve(r.file(), *f);
    br.Finish();
  }
  if (r.Has("bearer_token_file") && r.Has("basic_auth")) {
    r.Error("basic_auth", "set either bearer_token_file or basic_auth, not both");
  }
  if (auto h = r.StringTable("headers")) p.headers = *h;
  if (const toml::table* t = r.Table("tls")) {
    TableReader tr(*t, r.KeyPath("tls"), r.file(), r.diags());
    if (auto f = tr.String("ca_file")) p.tls.ca_file = Resolve(r.file(), *f);
    if (auto f = tr.String("cert_file")) p.tls.cert_file = Resolve(r.file(), *f);
    if (auto f = tr.String("key_file")) p.tls.key_file = Resolve(r.file(), *f);
    if (auto b = tr.Bool("insecure_skip_verify")) p.tls.insecure_skip_verify = *b;
    if (tr.Has("cert_file") != tr.Has("key_file")) {
      tr.Error(tr.Has("cert_file") ? "cert_file" : "key_file",
               "a client certificate needs both cert_file and key_file");
    }
    tr.Finish();
  }
  r.Finish();
  return p;
}

Channel ParseChannel(TableReader& r, std::string name) {
  Channel c;
  c.name = std::move(name);
  c.where = r.Where();
  if (!IsValidName(c.name)) {
    r.diags()->Error(r.Where(), r.KeyPath(""), "invalid channel name " + Quote(c.name));
  }
  auto type = r.String("type", true);
  auto url = r.String("url");
  auto command = r.StringArray("command");
  auto secret = r.String("secret_file");
  if (auto d = PositiveDuration(r, "timeout", false)) c.timeout = *d;
  c.min_severity = ReadSeverity(r, "min_severity");
  if (auto n =
          ReadCount(r, "max_retries", 0, "must not be negative (0: one attempt, never retried)")) {
    c.max_retries = static_cast<int>(*n);
  }
  c.max_age = PositiveDuration(r, "max_age", false);
  if (auto t = ReadTemplate(r, "title")) c.title = *t;
  if (auto t = ReadTemplate(r, "text")) c.text = *t;
  if (auto d = PositiveDuration(r, "resend", false)) {
    if (*d < std::chrono::seconds(1)) {
      r.Error("resend", "must be at least 1s (each resend posts every firing alert again)");
    } else {
      c.resend = *d;
    }
  }
  if (type) {
    static const std::pair<std::string_view, ChannelType> kTypes[] = {
        {"webhook", ChannelType::kWebhook},
        {"slack", ChannelType::kSlack},
        {"alertmanager", ChannelType::kAlertmanager},
        {"exec", ChannelType::kExec},
        {"log", ChannelType::kLog}};
    auto it = std::find_if(std::begin(kTypes), std::end(kTypes),
                           [&](const auto& p) { return p.first == *type; });
    if (it == std::end(kTypes)) {
      r.Error("type", "unknown channel type " + Quote(*type) +
                          " (webhook, slack, alertmanager, exec or log)");
    } else {
      c.type = it->second;
      const bool needs_url = c.type == ChannelType::kWebhook || c.type == ChannelType::kSlack ||
                             c.type == ChannelType::kAlertmanager;
      if (needs_url && !r.Has("url")) {
        r.diags()->Error(r.Where(), r.KeyPath("url"),
                         "missing required key (" + Article(*type) + " " + *type + " channel posts to a URL)");
      } else if (!needs_url && r.Has("url")) {
        r.Error("url", Article(*type) + " " + *type + " channel has no url");
      }
      if (c.type == ChannelType::kExec && !r.Has("command")) {
        r.diags()->Error(r.Where(), r.KeyPath("command"),
                         "missing required key (an exec channel runs a command)");
      } else if (c.type != ChannelType::kExec && r.Has("command")) {
        r.Error("command", "only an exec channel has a command");
      }
      if (r.Has("secret_file") && c.type != ChannelType::kWebhook) {
        r.Error("secret_file", "only a webhook channel signs its requests");
      }
      if (c.type != ChannelType::kSlack && c.type != ChannelType::kAlertmanager) {
        const std::string what = c.type == ChannelType::kWebhook ? "sends the event JSON as it is"
                                 : c.type == ChannelType::kExec  ? "gets the event JSON on stdin"
                                                                 : "writes one line per event";
        for (std::string_view key : {"title", "text"}) {
          if (!r.Has(key)) continue;
          r.Error(key, "only slack and alertmanager channels take a `" + std::string(key) +
                           "` template; " + Article(*type) + " " + *type + " channel " + what);
        }
      }
      if (r.Has("resend") && c.type != ChannelType::kAlertmanager) {
        r.Error("resend", "only an alertmanager channel re-sends firing alerts");
      }
    }
  }
  if (url) {
    c.url = *url;
    if (!IsHttpUrl(c.url)) r.Error("url", "expected an http:// or https:// URL");
  }
  if (command) {
    if (command->empty() || (*command)[0].empty()) {
      r.Error("command", "empty command: give the program and its arguments");
    }
    c.command = *command;
    if (!c.command.empty() && c.command[0].find('/') != std::string::npos) {
      c.command[0] = Resolve(r.file(), c.command[0]);
    }
  }
  if (secret) c.secret_file = Resolve(r.file(), *secret);
  r.Finish();
  return c;
}

Route ParseRoute(TableReader& r) {
  Route route;
  route.where = r.Where();
  if (auto match = r.StringTable("match")) {
    for (const auto& [label, value] : *match) {
      if (!IsValidLabelName(label)) {
        r.diags()->Error(r.KeyWhere("match", label), r.KeyPath("match." + label),
                         "invalid label name");
      }
      route.matchers.push_back({label, value, false});
    }
  }
  if (auto match = r.StringTable("match_re")) {
    for (const auto& [label, value] : *match) {
      if (!IsValidLabelName(label)) {
        r.diags()->Error(r.KeyWhere("match_re", label), r.KeyPath("match_re." + label),
                         "invalid label name");
      }
      try {
        std::regex re(value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        r.diags()->Error(r.Where("match_re", label), r.KeyPath("match_re." + label),
                         "invalid regular expression " + Quote(value) + ": " + e.what());
      }
      route.matchers.push_back({label, value, true});
    }
  }
  if (auto channels = r.StringArray("channels", true)) {
    if (channels->empty()) r.Error("channels", "a route needs at least one channel");
    route.channels = *channels;
  }
  route.repeat = PositiveDuration(r, "repeat", false);
  if (auto d = PositiveDuration(r, "group_wait", false, /*allow_zero=*/true)) {
    if (*d > kMaxGroupWait) {
      r.Error("group_wait", "a group_wait of " + FormatDuration(*d) +
                                " holds back the first notification too long (at most " +
                                FormatDuration(kMaxGroupWait) + "; usually 10s to 1m)");
    } else {
      route.group_wait = *d;
    }
  }
  if (auto b = r.Bool("send_resolved")) route.send_resolved = *b;
  if (auto c = r.Bool("continue")) route.continue_matching = *c;
  r.Finish();
  return route;
}

// Reports every problem and returns what it could read; callers decide from the error count.
Config ParseDaemonConfigTable(const toml::table& root, const std::string& file,
                              Diagnostics* diags) {
  Config c;
  c.file = file;
  const bool has_daemon_keys = root.contains("daemon") || root.contains("prometheus") ||
                               root.contains("channel") || root.contains("route") ||
                               root.contains("outbox");
  if (FileKind kind = GuessFileKind(root);
      !has_daemon_keys && (kind == FileKind::kRuleFile || kind == FileKind::kRuleTest)) {
    diags->Error({file, 0, 0}, "",
                 "this is " + std::string(FileKindName(kind)) + ", not a daemon config" +
                     (kind == FileKind::kRuleFile
                          ? "; check it with `rollbackd check " + file +
                                "`, or name it in [daemon].rules"
                          : "; run it with `rollbackd test " + file + "`"));
    return c;
  }
  TableReader r(root, "", file, diags);
  if (const toml::table* t = r.Table("daemon")) {
    TableReader dr(*t, "daemon", file, diags);
    if (auto v = dr.String("listen")) {
      if (v->rfind(':') == std::string::npos) {
        dr.Error("listen", "expected host:port, e.g. \"127.0.0.1:9464\"");
      }
      c.daemon.listen = *v;
    }
    if (auto v = dr.String("state_dir")) c.daemon.state_dir = Resolve(file, *v);
    if (auto v = dr.StringArray("rules")) c.daemon.rules = *v;
    if (auto d = PositiveDuration(dr, "interval", false)) c.daemon.interval = *d;
    if (auto b = dr.Bool("dry_run")) c.daemon.dry_run = *b;
    if (auto v = dr.String("api_token_file")) c.daemon.api_token_file = Resolve(file, *v);
    if (auto v = dr.String("external_url")) {
      std::string url = *v;
      while (url.size() > 1 && url.back() == '/' && IsHttpUrl(url.substr(0, url.size() - 1))) {
        url.pop_back();
      }
      // A host must follow the scheme: "https:///x" is a typo, not a link.
      const size_t host = url.find("://") + 3;
      if (!IsHttpUrl(url) || url[host] == '/') {
        dr.Error("external_url",
                 "expected an http:// or https:// URL, e.g. \"https://rollbackd.example.com\"");
      } else {
        c.daemon.external_url = url;
      }
    }
    dr.Finish();
  }
  if (const toml::table* t = r.Table("outbox")) {
    TableReader orr(*t, "outbox", file, diags);
    if (auto n = ReadCount(orr, "max_entries", 1, "must be at least 1")) {
      c.outbox.max_entries = static_cast<size_t>(*n);
    }
    if (auto b = ReadByteSize(orr, *t, "max_bytes")) {
      if (*b < kMinOutboxBytes) {
        orr.Error("max_bytes", "must be at least 64KiB (65536 bytes)");
      } else {
        c.outbox.max_bytes = *b;
      }
    }
    if (auto d = PositiveDuration(orr, "max_age", false)) c.outbox.max_age = *d;
    orr.Finish();
  }
  if (const toml::table* t = r.Table("prometheus")) {
    for (auto&& [name, node] : *t) {
      std::string path = "prometheus." + std::string(name.str());
      if (const auto* st = node.as_table()) {
        TableReader sr(*st, path, file, diags);
        c.sources.push_back(ParseSource(sr, std::string(name.str())));
      } else {
        diags->Error(LocationOf(node.source(), file), path,
                     "expected a table ([prometheus." + std::string(name.str()) + "])");
      }
    }
  }
  if (const toml::table* t = r.Table("channel")) {
    for (auto&& [name, node] : *t) {
      std::string path = "channel." + std::string(name.str());
      if (const auto* ct = node.as_table()) {
        TableReader cr(*ct, path, file, diags);
        c.channels.push_back(ParseChannel(cr, std::string(name.str())));
      } else {
        diags->Error(LocationOf(node.source(), file), path,
                     "expected a table ([channel." + std::string(name.str()) + "])");
      }
    }
  }
  if (const toml::array* routes = r.Array("route")) {
    for (size_t i = 0; i < routes->size(); ++i) {
      std::string path = "route[" + std::to_string(i) + "]";
      const toml::node& n = *routes->get(i);
      if (const auto* rt = n.as_table()) {
        TableReader rr(*rt, path, file, diags);
        c.routes.push_back(ParseRoute(rr));
        // Routes name channels of this same file ([channel.*] is read above). A non-empty
        // route.channels means `channels` is an array of strings, one per name.
        const Route& route = c.routes.back();
        const toml::array* names = (*rt)["channels"].as_array();
        for (size_t j = 0; j < route.channels.size(); ++j) {
          if (c.FindChannel(route.channels[j]) == nullptr) {
            diags->Error(LocationOf(names->get(j)->source(), file),
                         path + ".channels[" + std::to_string(j) + "]",
                         "unknown channel " + Quote(route.channels[j]));
          }
        }
      } else {
        diags->Error(LocationOf(n.source(), file), path, "expected a table ([[route]])");
      }
    }
  }
  r.Finish();
  return c;
}

std::optional<Service> LoadRuleFile(const std::string& path, Diagnostics* diags) {
  std::string error;
  auto text = ReadTextFile(path, &error);
  if (!text) {
    diags->Error({path, 0, 0}, "", error);
    return std::nullopt;
  }
  return ParseRuleFile(*text, path, diags);
}

bool HasGlobMeta(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

std::optional<Service> ParseRuleFile(std::string_view text, const std::string& file,
                                     Diagnostics* diags) {
  auto root = ParseToml(text, file, diags);
  if (!root) return std::nullopt;
  return ParseService(*root, file, diags);
}

std::optional<Config> ParseDaemonConfig(std::string_view text, const std::string& file,
                                        Diagnostics* diags) {
  const int errors_before = diags->error_count();
  auto root = ParseToml(text, file, diags);
  if (!root) return std::nullopt;
  Config c = ParseDaemonConfigTable(*root, file, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return c;
}

void ValidateConfig(const Config& config, bool check_sources, Diagnostics* diags) {
  std::map<std::string, const Service*> names;
  for (const Service& s : config.services) {
    auto [it, inserted] = names.emplace(s.name, &s);
    if (!inserted) {
      diags->Error(s.where, "service",
                   "duplicate service " + Quote(s.name) + " (also in " + Where(it->second->where) +
                       ")");
    }
    if (!check_sources) continue;
    std::string defined = config.sources.empty()
                              ? std::string(" (") + config.file + " defines no [prometheus.*])"
                              : "";
    for (size_t i = 0; i < s.triggers.size(); ++i) {
      const Trigger& t = s.triggers[i];
      if (config.FindSource(t.source) == nullptr) {
        diags->Error(t.source_where, "trigger[" + std::to_string(i) + "].source",
                     "unknown source " + Quote(t.source) + defined);
      }
    }
    if (s.deploy && !s.deploy->version_query.empty() &&
        config.FindSource(s.deploy->source) == nullptr) {
      diags->Error(s.deploy->source_where, "deploy.source", "unknown source " + Quote(s.deploy->source) + defined);
    }
  }
}

std::optional<Config> LoadRuleFiles(const std::vector<std::string>& paths, Diagnostics* diags) {
  Config c;
  const int errors_before = diags->error_count();
  std::set<std::string> seen;  // a file named twice (rules/*.toml rules/a.toml) is read once
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(p, ec);
    if (!seen.insert(ec ? p : canonical.string()).second) continue;
    if (auto s = LoadRuleFile(p, diags)) c.services.push_back(std::move(*s));
  }
  ValidateConfig(c, /*check_sources=*/false, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return c;
}

std::optional<Config> LoadConfig(const std::string& path, Diagnostics* diags) {
  std::string error;
  auto text = ReadTextFile(path, &error);
  if (!text) {
    diags->Error({path, 0, 0}, "", error);
    return std::nullopt;
  }
  const int errors_before = diags->error_count();
  auto root = ParseToml(*text, path, diags);
  if (!root) return std::nullopt;
  Config config = ParseDaemonConfigTable(*root, path, diags);
  // Rule files are read even when rollbackd.toml has errors, so that one run reports every problem;
  // sources are then not checked, as one may be missing only because of such an error.
  const bool daemon_ok = diags->error_count() == errors_before;

  // Expand the rule globs; a file named twice is read once.
  std::set<std::string> seen;
  const toml::array* globs = (*root)["daemon"]["rules"].as_array();
  for (size_t i = 0; i < config.daemon.rules.size(); ++i) {
    const std::string pattern = Resolve(path, config.daemon.rules[i]);
    SourceLocation where = LocationOf(globs->get(i)->source(), path);
    std::string key = "daemon.rules[" + std::to_string(i) + "]";
    glob_t g{};
    // A folder that does not exist ("rules.d/*.toml" before rules.d is made) is a pattern that
    // matches nothing, not a read error; any other error (permissions) stops the expansion.
    auto on_error = [](const char*, int err) { return err == ENOENT || err == ENOTDIR ? 0 : 1; };
    int rc = glob(pattern.c_str(), 0, on_error, &g);
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    if (rc == GLOB_NOMATCH || (rc == 0 && matches.empty())) {
      if (HasGlobMeta(pattern)) {
        diags->Warning(where, key, "no rule file matches " + Quote(pattern));
      } else {
        diags->Error(where, key, "no such rule file " + Quote(pattern));
      }
      continue;
    }
    if (rc != 0) {
      diags->Error(where, key, "cannot read " + Quote(pattern));
      continue;
    }
    for (const std::string& m : matches) {
      if (!seen.insert(fs::weakly_canonical(m).string()).second) continue;
      if (auto s = LoadRuleFile(m, diags)) config.services.push_back(std::move(*s));
    }
  }
  ValidateConfig(config, /*check_sources=*/daemon_ok, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  // Advice about routes needs the whole, valid configuration (services included); `check` and
  // the daemon both load through here, so both report it.
  CheckRoutes(config, diags);
  return config;
}

// ---- model.h helpers ----

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "unknown";
}

std::optional<Severity> ParseSeverity(std::string_view s) {
  if (s == "info") return Severity::kInfo;
  if (s == "warning") return Severity::kWarning;
  if (s == "critical") return Severity::kCritical;
  return std::nullopt;
}

std::string_view NoDataName(NoDataPolicy p) {
  switch (p) {
    case NoDataPolicy::kOk: return "ok";
    case NoDataPolicy::kHold: return "hold";
    case NoDataPolicy::kBreach: return "breach";
  }
  return "unknown";
}

std::string_view ConditionKeyName(ConditionKind k) {
  return kConditionKeys[static_cast<size_t>(k)];
}

std::string_view ChannelTypeName(ChannelType t) {
  switch (t) {
    case ChannelType::kWebhook: return "webhook";
    case ChannelType::kSlack: return "slack";
    case ChannelType::kAlertmanager: return "alertmanager";
    case ChannelType::kExec: return "exec";
    case ChannelType::kLog: return "log";
  }
  return "unknown";
}

const PrometheusSource* Config::FindSource(std::string_view name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const Channel* Config::FindChannel(std::string_view name) const {
  for (const auto& c : channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace rollbackd
