// Rule files: the service, its [[trigger]]s and [[health]] checks, [deploy] and [rollback] hook.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/loader.h"
#include "daemon/config/loader_internal.h"
#include "daemon/config/redact.h"
#include "daemon/config/toml_reader.h"

namespace rollbackd::config_internal {
namespace {

// Labels rollbackd sets on every event; a user label of the same name would be shadowed.
constexpr std::string_view kReservedLabels[] = {"service", "trigger", "severity"};

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
  const bool compared = r.Has("compare");
  if (compared) {
    t.compare = ParseCompare(r);
    if (!present.empty()) {
      r.Error(present[0],
              "a trigger with `compare` has no condition: the test decides a breach "
              "(min_effect sets the size that matters)");
    }
  } else if (present.empty()) {
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
  if (compared && !r.Has("baseline_query")) {
    r.Error(r.Has("baseline") ? "baseline" : "compare",
            "`compare` compares the query's samples with baseline_query's (the stable version's): "
            "set baseline_query");
  } else if (compared) {
    // Nothing more: both queries are sampled at every evaluation.
  } else if (present.size() == 1 && relative && !has_baseline) {
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
  if (t.min_value && compared) {
    r.Error("min_value", "min_value has no effect with `compare` (min_effect sets what matters)");
  }
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
  if (compared && r.Has("escalate")) {
    r.Error("escalate",
            "escalation steps strengthen a condition; a trigger with `compare` has "
            "none");
    r.Skip("escalate");
  } else {
    t.escalate = ParseEscalate(r, t, present.size() == 1 ? present[0] : std::string_view());
  }
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
  if (compared && t.no_data == NoDataPolicy::kBreach) {
    r.Warning("no_data", "with `compare`, too few samples is no data: no_data = \"breach\" fires "
                         "during the first window after every start, before any test ran");
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
    if (auto hd = hr.HeaderTable("headers")) hook.headers = *hd;
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

}  // namespace

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
  // A comparison needs min_samples per side within its window, at the service's interval (the
  // daemon's interval, when the file sets none, is checked by the engine's samples at run time).
  for (size_t i = 0; i < s.triggers.size(); ++i) {
    const Trigger& t = s.triggers[i];
    if (!t.compare || !s.interval || s.interval->count() <= 0) continue;
    const int64_t samples = t.compare->window / *s.interval;
    const std::string path = "trigger[" + std::to_string(i) + "].compare";
    if (samples < t.compare->min_samples) {
      diags->Error(t.compare->where, path,
                   "window " + FormatDuration(t.compare->window) + " at interval " +
                       FormatDuration(*s.interval) + " holds " + std::to_string(samples) +
                       " samples, fewer than min_samples " +
                       std::to_string(t.compare->min_samples) + ": it could never decide");
    } else if (samples > kMaxCompareSamples) {
      diags->Error(t.compare->where, path,
                   "window " + FormatDuration(t.compare->window) + " at interval " +
                       FormatDuration(*s.interval) + " holds " + std::to_string(samples) +
                       " samples; at most " + std::to_string(kMaxCompareSamples) +
                       " are kept per side: shorten the window");
    }
  }
  CheckUniqueNames(s, diags);
  if (diags->error_count() > errors_before) return std::nullopt;
  return s;
}

}  // namespace rollbackd::config_internal
