#include "daemon/ruletest/ruletest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "daemon/config/loader.h"
#include "daemon/config/loader_internal.h"
#include "daemon/config/toml_reader.h"
#include "daemon/engine/engine.h"
#include "daemon/ruletest/series_notation.h"

namespace rollbackd {
namespace {

namespace fs = std::filesystem;

struct InputSeries {
  std::string key;  // the query's name: "error_rate", "p99.baseline", "deploy.version"
  int input = -1;
  Labels labels;
  std::vector<SeriesPoint> points;
};

struct Expectation {
  Duration at{0};
  EventKind kind = EventKind::kTriggerFiring;
  std::optional<std::string> service;
  std::optional<std::string> trigger;
  std::optional<LabelMap> labels;
  std::optional<std::string> reason;
  std::optional<std::string> skip_reason;
  SourceLocation where;
};

struct DeployInput {
  Duration at{0};
  std::string version;
  std::string service;  // empty: the only service
  SourceLocation where;
};

struct TestCase {
  std::string name;
  bool dry_run = false;
  bool hook_success = true;
  std::set<EventKind> ignore;
  std::vector<InputSeries> inputs;
  std::vector<DeployInput> deploys;
  std::vector<Expectation> expect;
  SourceLocation where;
};

struct TestFile {
  std::string rule_file;
  std::optional<Duration> interval;
  std::vector<TestCase> tests;
};

// Names the test file may give values for, mapped to engine input ids: "errors",
// "p99.baseline", "deploy.version", each also as "<service>/errors"; with several services only
// the prefixed names.
std::map<std::string, int> InputNames(const Engine& engine) {
  std::map<std::string, int> names;
  const bool single = engine.config().services.size() == 1;
  for (const Service& s : engine.config().services) {
    auto add = [&](const std::string& name, int id) {
      names[s.name + "/" + name] = id;
      if (single) names[name] = id;
    };
    for (const Trigger& t : s.triggers) {
      auto ids = engine.trigger_inputs(s.name, t.name);
      add(t.name, ids->query);
      if (ids->baseline >= 0) add(t.name + ".baseline", ids->baseline);
      if (ids->traffic >= 0) add(t.name + ".traffic", ids->traffic);
    }
    for (const HealthCheck& h : s.health) add(h.name, engine.trigger_inputs(s.name, h.name)->query);
    if (int v = engine.version_input(s.name); v >= 0) add("deploy.version", v);
  }
  return names;
}

std::optional<Duration> ReadAt(TableReader& r) {
  auto at = r.DurationValue("at", true);
  if (!at) return std::nullopt;
  if (at->count() < 0) {
    r.Error("at", "must not be negative");
    return std::nullopt;
  }
  return at;
}

TestCase ParseTest(TableReader& r, Duration interval) {
  TestCase t;
  t.where = r.Where();
  if (auto n = r.String("name", true)) t.name = *n;
  if (auto d = r.Bool("dry_run")) t.dry_run = *d;
  if (auto h = r.String("hook")) {
    if (*h == "failure") {
      t.hook_success = false;
    } else if (*h != "success") {
      r.Error("hook", "expected \"success\" or \"failure\" (what the rollback hook reports)");
    }
  }
  if (auto kinds = r.StringArray("ignore")) {
    for (const std::string& k : *kinds) {
      if (auto kind = ParseEventKind(k)) {
        t.ignore.insert(*kind);
      } else {
        r.Error("ignore", "unknown event kind \"" + k + "\"");
      }
    }
  }
  if (const toml::table* inputs = r.Table("inputs")) {
    for (auto&& [key, node] : *inputs) {
      std::string path = r.KeyPath("inputs." + std::string(key.str()));
      SourceLocation where = LocationOf(node.source(), r.file());
      std::string error;
      auto sk = ParseSeriesKey(key.str(), &error);
      if (!sk) {
        r.diags()->Error(LocationOf(key.source(), r.file()), path, error);
        continue;
      }
      const auto* text = node.as_string();
      if (text == nullptr) {
        r.diags()->Error(where, path, "expected a string of values such as \"0.01x10 0.2x5\"");
        continue;
      }
      auto points = ExpandSeries(text->get(), &error);
      if (!points) {
        r.diags()->Error(where, path, error);
        continue;
      }
      t.inputs.push_back({sk->name, -1, std::move(sk->labels), std::move(*points)});
    }
  }
  if (const toml::array* deploys = r.Array("deploy")) {
    for (size_t i = 0; i < deploys->size(); ++i) {
      const auto* dt = deploys->get(i)->as_table();
      if (dt == nullptr) continue;
      TableReader dr(*dt, r.KeyPath("deploy[" + std::to_string(i) + "]"), r.file(), r.diags());
      DeployInput d;
      if (auto at = ReadAt(dr)) d.at = *at;
      if (auto v = dr.String("version", true)) d.version = *v;
      if (auto v = dr.String("service")) d.service = *v;
      d.where = dr.Where();
      dr.Finish();
      t.deploys.push_back(std::move(d));
    }
  }
  if (const toml::array* expect = r.Array("expect")) {
    for (size_t i = 0; i < expect->size(); ++i) {
      const auto* et = expect->get(i)->as_table();
      if (et == nullptr) continue;
      TableReader er(*et, r.KeyPath("expect[" + std::to_string(i) + "]"), r.file(), r.diags());
      Expectation e;
      e.where = er.Where();
      if (auto at = ReadAt(er)) {
        e.at = *at;
        if (at->count() % interval.count() != 0) {
          er.Error("at", FormatDuration(*at) + " is not an evaluation time (every " +
                             FormatDuration(interval) + " from 0s)");
        }
      }
      if (auto k = er.String("event", true)) {
        if (auto kind = ParseEventKind(*k)) {
          e.kind = *kind;
        } else {
          er.Error("event", "unknown event kind \"" + *k + "\"");
        }
      }
      e.service = er.String("service");
      e.trigger = er.String("trigger");
      e.labels = er.StringTable("labels");
      e.reason = er.String("reason");
      e.skip_reason = er.String("skip_reason");
      er.Finish();
      t.expect.push_back(std::move(e));
    }
  }
  r.Finish();
  return t;
}

std::string Describe(const Event& e, Time origin, bool services) {
  return FormatDuration(e.time - origin) + " " + DescribeEvent(e, services);
}

std::string Describe(const Expectation& x) {
  std::string out = FormatDuration(x.at) + " " + std::string(EventKindName(x.kind));
  if (x.service) out += " " + *x.service + (x.trigger ? "/" : "");
  if (x.trigger) out += (x.service ? "" : " ") + *x.trigger;
  if (x.labels) {
    std::vector<Labels::Pair> pairs(x.labels->begin(), x.labels->end());
    out += " " + Labels(std::move(pairs)).ToString();
  }
  if (x.skip_reason) out += " [" + *x.skip_reason + "]";
  if (x.reason) out += " (reason contains \"" + *x.reason + "\")";
  out += "  (" + x.where.file + ":" + std::to_string(x.where.line) + ")";
  return out;
}

bool Matches(const Expectation& x, const Event& e, Time origin) {
  if (e.time - origin != x.at || e.kind != x.kind) return false;
  if (x.service && *x.service != e.service) return false;
  if (x.trigger && *x.trigger != e.trigger) return false;
  if (x.skip_reason && *x.skip_reason != e.skip_reason) return false;
  if (x.reason && e.reason.find(*x.reason) == std::string::npos) return false;
  if (x.labels) {
    for (const auto& [k, v] : *x.labels) {
      auto it = e.labels.find(k);
      if (it == e.labels.end() || it->second != v) return false;
    }
  }
  return true;
}

// Runs one test; returns the failure report, empty when it passed.
std::string RunTest(const TestCase& test, const Config& base, Duration interval,
                    std::string* timeline) {
  auto config = std::make_shared<Config>(base);
  config->daemon.dry_run = test.dry_run;
  Engine engine(config);
  const bool several = config->services.size() > 1;
  const std::map<std::string, int> names = InputNames(engine);
  std::string files;
  for (const Service& s : config->services) files += (files.empty() ? "" : ", ") + s.file;

  std::ostringstream problems;
  std::vector<InputSeries> inputs = test.inputs;
  std::map<int, std::string> given_by;  // input id -> the name that gave it
  size_t steps = 1;
  for (InputSeries& in : inputs) {
    auto it = names.find(in.key);
    if (it == names.end()) {
      std::string known;
      for (const auto& [n, id] : names) {
        // One service: its names without the prefix are enough.
        if (!several && n.find('/') != std::string::npos) continue;
        known += (known.empty() ? "" : ", ") + n;
      }
      problems << "  inputs: no query named \"" << in.key << "\" in " << files
               << " (known: " << known << ")\n";
      continue;
    }
    in.input = it->second;
    auto [g, fresh] = given_by.emplace(in.input, in.key);
    if (!fresh && g->second != in.key) {
      problems << "  inputs: \"" << in.key << "\" and \"" << g->second
               << "\" are the same query; give its values once\n";
    }
    steps = std::max(steps, in.points.size());
  }
  for (const Expectation& x : test.expect) {
    steps = std::max(steps, static_cast<size_t>(x.at / interval) + 1);
  }
  for (const DeployInput& d : test.deploys) {
    steps = std::max(steps, static_cast<size_t>(d.at / interval) + 1);
    const bool known = std::any_of(config->services.begin(), config->services.end(),
                                   [&](const Service& s) { return s.name == d.service; });
    if (d.service.empty() && several) {
      problems << "  deploy at " << FormatDuration(d.at)
               << ": several services are tested; name one with service = \"...\"\n";
    } else if (!d.service.empty() && !known) {
      problems << "  deploy at " << FormatDuration(d.at) << ": no service \"" << d.service
               << "\" in " << files << "\n";
    }
  }
  if (!problems.str().empty()) return problems.str();

  std::vector<DeployInput> deploys = test.deploys;
  std::stable_sort(deploys.begin(), deploys.end(),
                   [](const DeployInput& a, const DeployInput& b) { return a.at < b.at; });
  size_t next_deploy = 0;
  const Time origin{};
  std::vector<QueryResult> results(engine.inputs().size());
  Inputs ptrs(engine.inputs().size());
  std::vector<Event> events;
  for (size_t k = 0; k < steps; ++k) {
    const Time now = origin + interval * static_cast<int64_t>(k);
    while (next_deploy < deploys.size() && origin + deploys[next_deploy].at <= now) {
      const std::string& name = deploys[next_deploy].service.empty()
                                    ? config->services.front().name
                                    : deploys[next_deploy].service;
      engine.RecordDeploy(name, deploys[next_deploy].version, origin + deploys[next_deploy].at);
      ++next_deploy;
    }
    for (size_t id = 0; id < results.size(); ++id) {
      results[id] = QueryResult{};
      ptrs[id] = &results[id];
      if (engine.inputs()[id].kind == InputSpec::Kind::kProbe) results[id].detail = "test input 0";
    }
    for (const InputSeries& in : inputs) {
      QueryResult& r = results[in.input];
      if (k >= in.points.size() || r.is_error()) continue;
      const SeriesPoint& p = in.points[k];
      if (p.kind == SeriesPoint::Kind::kError) {
        r = QueryResult::Error("test input \"err\"", InputError::kInput);
      } else if (p.kind == SeriesPoint::Kind::kValue) {
        r.series.push_back({in.labels, p.value});
      }
    }
    const size_t first = events.size();
    engine.Evaluate(now, ptrs, &events);
    for (size_t i = first; i < events.size(); ++i) {
      if (events[i].kind != EventKind::kRollbackStarted) continue;
      RollbackOutcome outcome;
      outcome.success = test.hook_success;
      outcome.exit_code = test.hook_success ? 0 : 1;
      if (!test.hook_success) outcome.error = "exit status 1 (test hook = \"failure\")";
      std::string id = events[i].id;
      engine.RollbackFinished(id, outcome, now, &events);
    }
  }

  std::vector<bool> used(events.size(), false);
  for (size_t i = 0; i < events.size(); ++i) {
    if (test.ignore.contains(events[i].kind)) used[i] = true;
  }
  for (const Expectation& x : test.expect) {
    bool found = false;
    for (size_t i = 0; i < events.size() && !found; ++i) {
      if (!used[i] && Matches(x, events[i], origin)) {
        used[i] = true;
        found = true;
      }
    }
    if (!found) problems << "  missing:    " << Describe(x) << "\n";
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (!used[i]) problems << "  unexpected: " << Describe(events[i], origin, several) << "\n";
  }
  std::ostringstream tl;
  for (const Event& e : events) tl << "    " << Describe(e, origin, several) << "\n";
  if (events.empty()) tl << "    (no events)\n";
  *timeline = tl.str();
  return problems.str();
}

}  // namespace

RuleTestSummary RunRuleTestFile(const std::string& path, const RuleTestOptions& options,
                                std::ostream& out) {
  RuleTestSummary summary;
  Diagnostics diags;
  auto fail_file = [&] {
    for (const Diagnostic& d : diags.Sorted()) out << d.ToString() << "\n";
    out << "FAIL " << path << ": the test file cannot be run\n";
    summary.failed += 1;
    return summary;
  };
  std::string error;
  auto text = ReadTextFile(path, &error);
  if (!text) {
    diags.Error({path, 0, 0}, "", error);
    return fail_file();
  }
  auto root = ParseToml(*text, path, &diags);
  if (!root) return fail_file();
  if (FileKind kind = GuessFileKind(*root);
      kind == FileKind::kRuleFile || kind == FileKind::kDaemonConfig) {
    diags.Error({path, 0, 0}, "",
                "this is " + std::string(FileKindName(kind)) +
                    ", not a rule test file (rule_file = ..., [[test]]; see docs/rules.md)");
    return fail_file();
  }

  TableReader r(*root, "", path, &diags);
  // One rule file (rule_file), or several (rule_files): a fleet, for the brake.
  std::vector<std::string> rule_files;
  if (r.Has("rule_files")) {
    if (auto v = r.StringArray("rule_files", true)) rule_files = *v;
    if (r.Has("rule_file")) r.Error("rule_files", "set either rule_file or rule_files, not both");
    r.Skip("rule_file");
    if (rule_files.empty() && r.Has("rule_files")) r.Error("rule_files", "name at least one");
  } else if (auto v = r.String("rule_file", true)) {
    rule_files.push_back(*v);
  }
  auto file_interval = r.DurationValue("interval");
  // [daemon].brake's syntax: a test can assert the fleet brake (one service rolled back again
  // and again, cooldown = "0s", counts as a fleet of one).
  std::optional<BrakeSettings> brake = config_internal::ParseBrake(r, "brake");
  if (file_interval && file_interval->count() <= 0) r.Error("interval", "must be longer than 0s");
  std::optional<Config> config;
  if (!rule_files.empty()) {
    std::vector<std::string> paths;
    for (const std::string& f : rule_files) {
      fs::path p = fs::path(f);
      if (p.is_relative()) p = fs::path(path).parent_path() / p;
      paths.push_back(p.lexically_normal().string());
    }
    config = LoadRuleFiles(paths, &diags);
  }
  if (config) config->daemon.brake = brake;
  Duration interval = std::chrono::seconds(15);
  if (config && config->services.front().interval) interval = *config->services.front().interval;
  if (file_interval && file_interval->count() > 0) interval = *file_interval;

  std::vector<TestCase> tests;
  if (const toml::array* arr = r.Array("test")) {
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* t = arr->get(i)->as_table();
      if (t == nullptr) {
        diags.Error(LocationOf(arr->get(i)->source(), path), "test[" + std::to_string(i) + "]",
                    "expected a table ([[test]])");
        continue;
      }
      TableReader tr(*t, "test[" + std::to_string(i) + "]", path, &diags);
      tests.push_back(ParseTest(tr, interval));
    }
  }
  if (!r.Has("test")) r.Error("test", "no [[test]] in the file");
  r.Finish();
  if (diags.has_errors() || !config) return fail_file();

  for (const TestCase& test : tests) {
    std::string timeline;
    std::string problems = RunTest(test, *config, interval, &timeline);
    if (problems.empty()) {
      ++summary.passed;
      out << "PASS " << path << ":" << test.where.line << ": " << test.name << "\n";
      if (options.verbose) out << timeline;
    } else {
      ++summary.failed;
      out << "FAIL " << path << ":" << test.where.line << ": " << test.name << "\n"
          << problems << "  events:\n"
          << timeline;
    }
  }
  return summary;
}

}  // namespace rollbackd
