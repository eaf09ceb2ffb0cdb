// crash_bench: kill -9 at random instants of a rollback's whole lifecycle, restarting at once
// (issue 17, build item 3). Against the real stack (testing/harness.h): Debian's Prometheus
// scraping the sample service, the signed-webhook receiver, and the rollbackd binary. Each point
// is one episode: a bad deploy (v2) -> trigger.pending -> trigger.firing -> rollback.started ->
// the hook (1 s, then it deploys v1) -> rollback.succeeded -> rollback.verified ->
// trigger.resolved, with one kill -9 of the daemon (alone: its hook's supervisor lives on) at a
// uniformly random instant of it, and a start right after. Per episode it checks:
//   - hook runs: exactly 1 (the sample service counts deploys);
//   - one rollback.started id;
//   - every notification decided (decisions.jsonl) delivered at least once, each with one id;
//   - the outcome reported (succeeded, or failed and why).
//
//   crash_bench [--points 100] [--seed 1] [--span-ms 9000] [--out FILE]
// Exit status 1 when any episode broke a rule above. The smoke ctest runs 3 points.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "testing/harness.h"

namespace rollbackd::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using it::json;

struct Options {
  int points = 100;
  unsigned seed = 1;
  int span_ms = 9000;  // kill instants are uniform in [0, span) after the bad deploy
  std::string out;
};

std::vector<json> Lines(const std::string& path) { return it::ReadJsonLines(path); }

// The last decided event before the kill: which part of the lifecycle it hit.
std::string Phase(const std::vector<json>& decided, bool hook_record) {
  if (hook_record) return "hook running";
  if (decided.empty()) return "before pending";
  return "after " + decided.back().value("event", "?");
}

struct Episode {
  int kill_ms = 0;
  std::string phase;
  int hook_runs = 0;
  size_t started_ids = 0;
  size_t decided = 0;
  size_t delivered = 0;
  size_t missing = 0;     // decided, never delivered
  size_t duplicated = 0;  // delivered more than once (same id: allowed, at least once)
  std::string outcome;    // "succeeded", "failed: <reason>", "none"
  bool repaired = false;  // the driver deployed v1 itself (the rollback did not)
  bool ok = false;
  std::string problem;
};

bool HookRecordPresent(const std::string& dir) {
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir + "/state/hooks", ec)) {
    if (f.path().extension() == ".running") return true;
  }
  return false;
}

Episode RunEpisode(it::Stack& s, int kill_ms) {
  Episode e;
  e.kill_ms = kill_ms;
  const std::string decisions_path = s.dir() + "/state/decisions.jsonl";
  const size_t decisions_before = Lines(decisions_path).size();
  const size_t deliveries_before = s.Deliveries().size();
  const int deploys_before = s.SampleState().value("deploys", -1);

  const auto t0 = Clock::now();
  if (!s.SampleDeploy("v2")) {
    e.problem = "the bad deploy failed";
    return e;
  }
  it::WaitFor([&] { return Clock::now() - t0 >= std::chrono::milliseconds(kill_ms); }, 60s, 2ms);
  {
    std::vector<json> decided = Lines(decisions_path);
    decided.erase(decided.begin(),
                  decided.begin() + static_cast<long>(std::min(decisions_before, decided.size())));
    e.phase = Phase(decided, HookRecordPresent(s.dir()));
  }
  s.Kill9Daemon();
  if (!s.StartDaemon()) {
    e.problem = "the daemon did not start again: " + s.daemon().log().substr(0, 2000);
    return e;
  }
  // The episode ends when it is verified (or failed or not recovered) and the trigger resolved.
  auto episode_events = [&] {
    std::vector<json> out;
    const std::vector<json> all = s.Deliveries();
    for (size_t i = deliveries_before; i < all.size(); ++i) out.push_back(all[i]);
    return out;
  };
  auto has = [&](const std::string& kind) {
    for (const json& d : episode_events()) {
      if (d.contains("body") && d["body"].is_object() && d["body"].value("event", "") == kind)
        return true;
    }
    return false;
  };
  bool ended = it::WaitFor(
      [&] {
        return has("rollback.verified") || has("rollback.failed") || has("rollback.not_recovered");
      },
      60s, 50ms);
  // A rollback that failed leaves v2 in place: the driver mends it by hand, as an operator would,
  // so that the next episode starts from a healthy service.
  if (s.SampleState().value("version", "") != "v1") {
    e.repaired = true;
    s.SampleDeploy("v1");
  }
  ended = it::WaitFor([&] { return has("trigger.resolved"); }, 60s, 50ms) && ended;
  // Late deliveries (a retry after the restart) settle.
  it::WaitFor([&] { return false; }, 1500ms, 100ms);

  e.hook_runs = s.SampleState().value("deploys", -1) - deploys_before - 1 - (e.repaired ? 1 : 0);
  std::vector<json> decided = Lines(decisions_path);
  decided.erase(decided.begin(),
                decided.begin() + static_cast<long>(std::min(decisions_before, decided.size())));
  std::map<std::string, int> delivered;
  std::set<std::string> started;
  for (const json& d : episode_events()) {
    if (!d.value("verified", false)) continue;
    ++delivered[d.value("webhook_id", "")];
    const json& body = d["body"];
    if (body.value("event", "") == "rollback.started") started.insert(body.value("id", ""));
    if (body.value("event", "") == "rollback.succeeded") e.outcome = "succeeded";
    if (body.value("event", "") == "rollback.failed") {
      e.outcome = "failed: " + body.value("reason", "");
    }
  }
  if (e.outcome.empty()) e.outcome = "none";
  e.started_ids = started.size();
  e.decided = decided.size();
  e.delivered = delivered.size();
  for (const json& d : decided) {
    if (delivered.count(d.value("id", "")) == 0) ++e.missing;
  }
  for (const auto& [id, n] : delivered) {
    if (n > 1) ++e.duplicated;
  }
  // Exactly one hook run; or none, when the kill came after the decision and before its journal
  // intent, which the next start reports as a failure (it never runs a hook late).
  const bool not_run =
      e.hook_runs == 0 && e.outcome.find("before the hook started") != std::string::npos;
  e.ok = ended && (e.hook_runs == 1 || not_run) && e.started_ids == 1 && e.missing == 0 &&
         e.outcome != "none";
  if (!ended) e.problem = "the episode did not end within 60 s";
  return e;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--points") {
      o.points = std::atoi(value.c_str());
    } else if (flag == "--seed") {
      o.seed = static_cast<unsigned>(std::atoi(value.c_str()));
    } else if (flag == "--span-ms") {
      o.span_ms = std::atoi(value.c_str());
    } else if (flag == "--out") {
      o.out = value;
    } else {
      std::cerr << "usage: crash_bench [--points N] [--seed S] [--span-ms MS] [--out FILE]\n";
      return 2;
    }
  }
  if (argc % 2 == 0 || o.points < 1 || o.span_ms < 1) {
    std::cerr << "usage: crash_bench [--points N] [--seed S] [--span-ms MS] [--out FILE]\n";
    return 2;
  }
  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int> instant(0, o.span_ms - 1);
  // The hook takes 1 s; cooldown 0s so that every episode rolls back.
  it::Stack s(it::StackOptions{it::ErrorRateRule(
      {.hold = "2s", .verify = "4s", .hook_delay = "1", .timeout = "30s", .cooldown = "0s"})});
  if (!s.StartDaemon()) {
    std::cerr << "rollbackd did not start: " << s.daemon().log() << "\n";
    return 1;
  }
  s.WaitRounds(2);

  std::vector<Episode> episodes;
  std::map<std::string, int> phases, outcomes;
  int bad = 0;
  size_t decided = 0, delivered = 0, missing = 0, duplicated = 0;
  std::map<int, int> hook_runs;
  std::printf("%5s %8s %-28s %5s %8s %9s %7s %4s  %s\n", "point", "kill_ms", "phase", "hooks",
              "decided", "delivered", "missing", "dup", "outcome");
  for (int p = 0; p < o.points; ++p) {
    Episode e = RunEpisode(s, instant(rng));
    ++phases[e.phase];
    ++hook_runs[e.hook_runs];
    std::string kind = e.outcome.substr(0, e.outcome.find(':'));
    if (e.outcome.find("interrupted") != std::string::npos) kind += " (interrupted)";
    ++outcomes[kind];
    decided += e.decided;
    delivered += e.delivered;
    missing += e.missing;
    duplicated += e.duplicated;
    if (!e.ok) ++bad;
    std::printf("%5d %8d %-28s %5d %8zu %9zu %7zu %4zu  %s%s\n", p + 1, e.kill_ms, e.phase.c_str(),
                e.hook_runs, e.decided, e.delivered, e.missing, e.duplicated,
                e.outcome.substr(0, 90).c_str(), e.ok ? "" : ("  BROKEN " + e.problem).c_str());
    std::fflush(stdout);
    episodes.push_back(std::move(e));
  }
  json summary = {{"points", o.points},
                  {"seed", o.seed},
                  {"span_ms", o.span_ms},
                  {"broken_episodes", bad},
                  {"notifications_decided", decided},
                  {"notifications_delivered", delivered},
                  {"notifications_missing", missing},
                  {"notifications_delivered_twice", duplicated}};
  for (const auto& [n, count] : hook_runs) summary["hook_runs"][std::to_string(n)] = count;
  for (const auto& [phase, count] : phases) summary["kills_by_phase"][phase] = count;
  for (const auto& [outcome, count] : outcomes) summary["outcomes"][outcome] = count;
  std::cout << summary.dump(2) << "\n";
  if (!o.out.empty()) std::ofstream(o.out) << summary.dump(2) << "\n";
  return bad == 0 ? 0 : 1;
}

}  // namespace
}  // namespace rollbackd::bench

int main(int argc, char** argv) { return rollbackd::bench::Main(argc, argv); }
