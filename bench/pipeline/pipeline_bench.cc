// pipeline_bench: time from a fault to the start of the rollback hook, for three pipelines that
// watch the same real Prometheus and see the same fault at once (issue 6, part 1).
//   (a) rollbackd: one trigger on the error-rate expression, `for`, service interval 1 s, an argv
//       hook;
//   (b) a Prometheus alerting rule on the same expression and threshold, same `for`, group interval
//       1 s, sent to the Debian Alertmanager at its default timers (group_wait 30s), whose webhook
//       receiver starts the same hook;
//   (c) the same, tuned: rule group every 250 ms, group_wait 0s, group_interval 1s;
//   (d) the severe-fault case: a second rollbackd with a's trigger plus one escalation step,
//       `escalate = [ { above = 0.2, for = "2s" } ]`, against (c) on the base rule.
// Each repetition injects one fault (the sample service's error rate 0.1% -> 30%) at a random
// phase against the 1 s scrape and evaluation ticks, waits until all four hooks ran (bounded),
// then brings every pipeline back to a clean state, with new evaluation phases for both rollbackd
// daemons and both rule groups. Writes JSON (--out) and prints a table. README.md has the method.
//
//   pipeline_bench [--reps 10] [--for 10s] [--b-group-wait D] [--c-rule-interval 250ms]
//                  [--c-group-interval 1s] [--threshold 0.02] [--step-above 0.2] [--step-for 2s]
//                  [--seed N] [--out FILE]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <thread>

#include "bench/pipeline/pipeline_stack.h"

namespace rollbackd::bench {
namespace {

using it::json;
using namespace std::chrono_literals;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kPipelines = "abcd";
constexpr int kCount = 4;
constexpr auto kResetLimit = 60s;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

struct Options {
  int reps = 10;
  std::string out;
  uint64_t seed = std::random_device()();
  StackConfig stack;
};

std::optional<Millis> ParseDuration(const std::string& text) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(end);
  double ms = unit == "ms" ? v : unit == "s" ? v * 1000 : unit == "m" ? v * 60000 : kNaN;
  if (!std::isfinite(ms) || ms < 0 || ms != std::floor(ms)) return std::nullopt;
  return Millis(static_cast<int64_t>(ms));
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "pipeline_bench: " << flag << " needs a value\n";
      return std::nullopt;
    }
    const std::string value = argv[++i];
    auto duration = [&](Millis* into) {
      const auto d = ParseDuration(value);
      if (d) *into = *d;
      return d.has_value();
    };
    auto duration_text = [&](std::string* into) {
      const auto d = ParseDuration(value);
      if (d) *into = FormatDuration(*d);
      return d.has_value();
    };
    bool ok = true;
    if (flag == "--reps") {
      o.reps = std::atoi(value.c_str());
      ok = o.reps >= 1;
    } else if (flag == "--for") {
      ok = duration(&o.stack.for_duration);
    } else if (flag == "--b-group-wait") {
      std::string text;
      ok = duration_text(&text);
      o.stack.b_group_wait = text;
    } else if (flag == "--c-rule-interval") {
      ok = duration_text(&o.stack.c_rule_interval);
    } else if (flag == "--c-group-interval") {
      ok = duration_text(&o.stack.c_group_interval) && o.stack.c_group_interval != "0s";
    } else if (flag == "--threshold") {
      o.stack.threshold = std::strtod(value.c_str(), nullptr);
      ok = o.stack.threshold > o.stack.healthy_error_rate &&
           o.stack.threshold < o.stack.fault_error_rate;
    } else if (flag == "--step-above") {
      o.stack.step_above = std::strtod(value.c_str(), nullptr);
      ok = o.stack.step_above < o.stack.fault_error_rate;
    } else if (flag == "--step-for") {
      ok = duration(&o.stack.step_for);
    } else if (flag == "--seed") {
      o.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--out") {
      o.out = value;
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "pipeline_bench: bad flag or value: " << flag << " " << value << "\n"
                << "usage: pipeline_bench [--reps N] [--for D] [--b-group-wait D] "
                   "[--c-rule-interval D] [--c-group-interval D] [--threshold X] "
                   "[--step-above X] [--step-for D] [--seed N] [--out FILE]\n";
      return std::nullopt;
    }
  }
  // What rollbackd's loader demands of a step (a stronger bound, a shorter hold), said here
  // rather than as a daemon that does not start.
  if (o.stack.step_above <= o.stack.threshold || o.stack.step_for >= o.stack.for_duration) {
    std::cerr << "pipeline_bench: the step needs --step-above above --threshold and --step-for "
                 "shorter than --for\n";
    return std::nullopt;
  }
  return o;
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }
double Seconds(Millis d) { return static_cast<double>(d.count()) / 1e3; }

// One pipeline in one repetition; times in seconds from the fault, NaN when not observed.
struct Sample {
  double hook_s = kNaN;      // the hook started
  double detect_s = kNaN;    // the first breaching evaluation (pending since / activeAt)
  double fire_s = kNaN;      // firing (rollbackd's firing_since; for b and c the alert's startsAt)
  double notified_s = kNaN;  // b, c: the receiver had read Alertmanager's notification
  int hooks = 0;             // hook runs in this repetition (1 expected)
};

struct Repetition {
  int delay_ms = 0;
  double request_ms = 0;
  bool clean = true;       // every pipeline was verifiably reset before the fault
  Sample samples[kCount];  // a, b, c, d
};

struct Summary {
  std::vector<double> values;
  double median = kNaN, min = kNaN, max = kNaN;
};

Summary Summarize(std::vector<double> values) {
  Summary s;
  std::erase_if(values, [](double v) { return std::isnan(v); });
  s.values = values;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

json Number(double v) { return std::isnan(v) ? json(nullptr) : json(std::round(v * 1e4) / 1e4); }

json Numbers(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values) out.push_back(Number(v));
  return out;
}

// Hook runs recorded after byte `offset` of the hooks file: per pipeline, the first start time
// and the count.
void ReadHooks(const std::string& path, size_t offset, int64_t fault_ns, Repetition* rep) {
  const std::string text = it::ReadFile(path);
  std::istringstream in(offset < text.size() ? text.substr(offset) : "");
  std::string pipeline;
  int64_t ns = 0;
  for (Sample& s : rep->samples) s.hooks = 0;
  while (in >> pipeline >> ns) {
    const size_t i = std::string(kPipelines).find(pipeline);
    if (pipeline.size() != 1 || i == std::string::npos) continue;
    Sample& s = rep->samples[i];
    if (s.hooks++ == 0) s.hook_s = Seconds(ns - fault_ns);
  }
}

bool AllHooked(const Repetition& rep) {
  return std::all_of(std::begin(rep.samples), std::end(rep.samples),
                     [](const Sample& s) { return s.hooks > 0; });
}

Repetition RunRepetition(PipelineStack& stack, std::mt19937_64& rng, Millis limit) {
  Repetition rep;
  // The state every pipeline must be in; RestartAlertmanagers and the reset wait produced it.
  const double value = stack.ExpressionValue().value_or(kNaN);
  const PipelineView a = stack.Rollbackd('a');
  const PipelineView d = stack.Rollbackd('d');
  rep.clean = stack.AlertmanagerGroups('b') == 0 && stack.AlertmanagerGroups('c') == 0 &&
              a.state == "inactive" && !a.rollback_in_flight && d.state == "inactive" &&
              !d.rollback_in_flight && stack.PrometheusAlert('b').state.empty() &&
              stack.PrometheusAlert('c').state.empty() && value < stack.config().threshold;

  // A random phase against the scrape and evaluation ticks (randomisation, not synchronisation).
  rep.delay_ms = std::uniform_int_distribution<int>(0, 999)(rng);
  std::this_thread::sleep_for(Millis(rep.delay_ms));
  const size_t offset = it::ReadFile(stack.hooks_file()).size();
  const size_t seen = stack.receiver().Notifications().size();
  const int64_t before = RealtimeNs();
  const bool injected = stack.SetErrorRate(stack.config().fault_error_rate);
  const int64_t after = RealtimeNs();
  if (!injected) throw std::runtime_error("the sample service refused the fault");
  const int64_t fault_ns = before + (after - before) / 2;
  rep.request_ms = static_cast<double>(after - before) / 1e6;

  it::WaitFor(
      [&] {
        if (g_stop) return true;
        ReadHooks(stack.hooks_file(), offset, fault_ns, &rep);
        // The phases: polled only until known (each is fixed once it happened).
        for (int i : {0, 3}) {
          Sample& s = rep.samples[i];
          if (!std::isnan(s.fire_s)) continue;
          const PipelineView v = stack.Rollbackd(kPipelines[i]);
          if (v.active_ns > 0) s.detect_s = Seconds(v.active_ns - fault_ns);
          if (v.firing_ns > 0) s.fire_s = Seconds(v.firing_ns - fault_ns);
        }
        for (int i : {1, 2}) {
          if (!std::isnan(rep.samples[i].detect_s)) continue;
          const PipelineView v = stack.PrometheusAlert(kPipelines[i]);
          if (v.active_ns > 0) rep.samples[i].detect_s = Seconds(v.active_ns - fault_ns);
        }
        return AllHooked(rep);
      },
      limit, 100ms);
  ReadHooks(stack.hooks_file(), offset, fault_ns, &rep);
  const std::vector<Notification> notifications = stack.receiver().Notifications();
  for (size_t k = seen; k < notifications.size(); ++k) {
    const Notification& n = notifications[k];
    if (!n.started_hook || n.pipeline.size() != 1) continue;
    const size_t i = std::string(kPipelines).find(n.pipeline);
    if (i == std::string::npos || !std::isnan(rep.samples[i].fire_s)) continue;
    if (const auto starts = ParseRfc3339Ns(n.starts_at)) {
      rep.samples[i].fire_s = Seconds(*starts - fault_ns);
    }
    rep.samples[i].notified_s = Seconds(n.received_ns - fault_ns);
  }
  return rep;
}

// Back to the state RunRepetition checks: healthy error rate, every alert and trigger inactive,
// the Alertmanagers holding nothing. Prometheus sends the resolved alerts at the evaluation that
// resolves them; the Alertmanagers are restarted only once they have them (their alert lists are
// empty), so a late copy cannot reach a fresh instance and open a group there (and the renamed
// rule groups drop the resolved alerts Prometheus would re-send after resend-delay).
// The phases of both daemons' rounds and of both rule groups against the scrapes are drawn anew:
// fixed phases would make every repetition of a run share one lucky or unlucky offset.
bool Reset(PipelineStack& stack, std::mt19937_64& rng) {
  if (!stack.SetErrorRate(stack.config().healthy_error_rate)) return false;
  const bool inactive = it::WaitFor(
      [&] {
        if (g_stop) return true;
        const PipelineView a = stack.Rollbackd('a');
        const PipelineView d = stack.Rollbackd('d');
        return a.state == "inactive" && !a.rollback_in_flight && d.state == "inactive" &&
               !d.rollback_in_flight && stack.PrometheusAlert('b').state.empty() &&
               stack.PrometheusAlert('c').state.empty();
      },
      kResetLimit, 100ms);
  const bool delivered = it::WaitFor(
      [&] {
        return g_stop || (stack.AlertmanagerAlerts('b') == 0 && stack.AlertmanagerAlerts('c') == 0);
      },
      30s, 100ms);
  stack.RestartAlertmanagers();
  stack.ReloadRules();
  // Randomisation, not synchronisation: rollbackd's rounds run at its start + k x interval, so
  // each daemon gets its own random phase.
  for (char p : {'a', 'd'}) {
    std::this_thread::sleep_for(Millis(std::uniform_int_distribution<int>(0, 999)(rng)));
    stack.RestartRollbackd(p);
  }
  return inactive && delivered;
}

const char* Name(int i) {
  static const char* kNames[] = {"rollbackd", "prometheus+alertmanager (default timers)",
                                 "prometheus+alertmanager (tuned)",
                                 "rollbackd with an escalation step"};
  return kNames[i];
}

int Main(int argc, char** argv) {
  const auto parsed = ParseOptions(argc, argv);
  if (!parsed) return 2;
  const Options& o = *parsed;
  const StackConfig& c = o.stack;
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);

  const Millis b_wait = c.b_group_wait ? *ParseDuration(*c.b_group_wait) : Millis(30000);
  const Millis limit = c.for_duration + b_wait + Millis(30000);
  std::mt19937_64 rng(o.seed);

  json versions = {{"prometheus", PipelineStack::Version(ROLLBACKD_PROMETHEUS)},
                   {"alertmanager", PipelineStack::Version(ROLLBACKD_ALERTMANAGER)},
                   {"rollbackd", PipelineStack::Version(ROLLBACKD_BINARY)}};
  std::cout << "pipeline_bench: " << o.reps << " repetitions, for "
            << FormatDuration(c.for_duration) << ", seed " << o.seed << "\n  "
            << versions["prometheus"].get<std::string>() << "\n  "
            << versions["alertmanager"].get<std::string>() << std::endl;

  std::vector<Repetition> reps;
  int unclean_resets = 0;
  {
    PipelineStack stack(o.stack, it::BinaryPath("pipeline_hook"));
    for (int r = 0; r < o.reps && !g_stop; ++r) {
      reps.push_back(RunRepetition(stack, rng, limit));
      const Repetition& rep = reps.back();
      std::printf("  rep %2d: delay %3d ms, fault request %.1f ms%s:", r + 1, rep.delay_ms,
                  rep.request_ms, rep.clean ? "" : " (NOT CLEAN)");
      for (int i = 0; i < kCount; ++i) {
        if (rep.samples[i].hooks) {
          std::printf("  %c %.3f s", kPipelines[i], rep.samples[i].hook_s);
        } else {
          std::printf("  %c miss", kPipelines[i]);
        }
      }
      std::printf("\n");
      std::fflush(stdout);
      if (r + 1 < o.reps && !g_stop && !Reset(stack, rng)) ++unclean_resets;
    }
  }
  if (g_stop) {
    std::cerr << "pipeline_bench: interrupted\n";
    return 1;
  }

  json out;
  const double for_s = Seconds(c.for_duration);
  const double interval_s = Seconds(c.interval);
  const double scrape_s = Seconds(c.scrape);
  const double floor_s = for_s + interval_s + scrape_s;
  const double target_s = for_s + 2 * interval_s + 0.5;
  out["reps"] = o.reps;
  out["for_s"] = for_s;
  out["interval_s"] = interval_s;
  out["scrape_interval_s"] = scrape_s;
  out["floor_s"] = floor_s;
  out["target_s"] = target_s;
  double medians[kCount];
  std::printf("\n%-42s %4s %5s %8s %8s %8s | %7s %7s %7s %5s\n", "pipeline (fault -> hook start)",
              "n", "miss", "median", "min", "max", "detect", "hold", "notify", "extra");
  for (int i = 0; i < kCount; ++i) {
    std::vector<double> hook, detect, hold, notify;
    int misses = 0, extra = 0;
    for (const Repetition& rep : reps) {
      const Sample& s = rep.samples[i];
      if (s.hooks == 0) ++misses;
      extra += std::max(0, s.hooks - 1);
      hook.push_back(s.hooks ? s.hook_s : kNaN);
      detect.push_back(s.detect_s);
      hold.push_back(s.fire_s - s.detect_s);
      notify.push_back(s.hooks ? s.hook_s - s.fire_s : kNaN);
    }
    const Summary h = Summarize(hook), d = Summarize(detect), f = Summarize(hold),
                  n = Summarize(notify);
    medians[i] = h.median;
    std::printf("%c %-40s %4zu %5d %8.3f %8.3f %8.3f | %7.3f %7.3f %7.3f %5d\n", kPipelines[i],
                Name(i), h.values.size(), misses, h.median, h.min, h.max, d.median, f.median,
                n.median, extra);
    json p = {
        {"name", Name(i)},         {"samples_s", Numbers(h.values)}, {"median_s", Number(h.median)},
        {"min_s", Number(h.min)},  {"max_s", Number(h.max)},         {"misses", misses},
        {"extra_hook_runs", extra}};
    p["phases"] = {{"detect_s", Numbers(detect)},       {"hold_s", Numbers(hold)},
                   {"notify_s", Numbers(notify)},       {"detect_median_s", Number(d.median)},
                   {"hold_median_s", Number(f.median)}, {"notify_median_s", Number(n.median)}};
    if (i == 3) {
      // Which bound fired: the base cannot fire before its `for` has elapsed from its first
      // breaching evaluation, so a shorter hold was the step's. The step held exactly step_for
      // (rounds on the schedule), so its first breaching evaluation was step_for before firing.
      std::vector<double> step_detect;
      int by_step = 0;
      for (const Repetition& rep : reps) {
        const Sample& s = rep.samples[i];
        const bool step = s.fire_s - s.detect_s < for_s - 1e-3;
        by_step += step ? 1 : 0;
        step_detect.push_back(step ? s.fire_s - Seconds(c.step_for) : kNaN);
      }
      p["fired_by_step"] = by_step;
      p["phases"]["step_detect_s"] = Numbers(step_detect);
      p["phases"]["step_detect_median_s"] = Number(Summarize(step_detect).median);
    }
    if (i == 1 || i == 2) {
      std::vector<double> am;
      for (const Repetition& rep : reps) {
        am.push_back(rep.samples[i].notified_s - rep.samples[i].fire_s);
      }
      p["phases"]["alertmanager_s"] = Numbers(am);
      p["phases"]["alertmanager_median_s"] = Number(Summarize(am).median);
    }
    out["pipelines"][std::string(1, kPipelines[i])] = p;
  }
  out["ratio_a_b"] = Number(medians[0] / medians[1]);
  out["ratio_a_c"] = Number(medians[0] / medians[2]);
  out["ratio_d_c"] = Number(medians[3] / medians[2]);
  // The severe-fault case (issue: fault -> hook median <= 0.5 x the tuned pipeline on the base
  // rule, in the same run): the same fault, rollbackd with the step (d) against c.
  out["severe"] = {{"rollbackd_median_s", Number(medians[3])},
                   {"pipeline_median_s", Number(medians[2])},
                   {"ratio", Number(medians[3] / medians[2])},
                   {"goal_ratio", 0.5},
                   {"within_goal", medians[3] / medians[2] <= 0.5},
                   {"rollbackd", "d"},
                   {"pipeline", "c"}};
  out["a_median_minus_floor_s"] = Number(medians[0] - floor_s);
  out["a_median_minus_target_s"] = Number(medians[0] - target_s);
  out["a_within_target"] = medians[0] <= target_s;
  std::vector<double> request_ms, delay_ms;
  int unclean = 0;
  for (const Repetition& rep : reps) {
    request_ms.push_back(rep.request_ms);
    delay_ms.push_back(rep.delay_ms);
    unclean += rep.clean ? 0 : 1;
  }
  out["fault_request_ms_max"] = Number(Summarize(request_ms).max);
  out["fault_request_ms"] = Numbers(request_ms);
  out["fault_delay_ms"] = Numbers(delay_ms);
  out["unclean_repetitions"] = unclean;
  out["unclean_resets"] = unclean_resets;
  out["config"]["a"] = {{"interval", FormatDuration(c.interval)},
                        {"for", FormatDuration(c.for_duration)},
                        {"cooldown", "0s"},
                        {"state", "fresh daemon and state dir per repetition"},
                        {"hook", "exec argv: pipeline_hook a FILE"}};
  out["config"]["b"] = {{"rule_interval", FormatDuration(c.interval)},
                        {"for", FormatDuration(c.for_duration)},
                        {"group_wait", c.b_group_wait.value_or("30s")},
                        {"group_wait_is_default", !c.b_group_wait.has_value()},
                        {"group_interval", "5m"},
                        {"repeat_interval", "4h"},
                        {"prometheus_flags", json::array()}};
  out["config"]["d"] = {
      {"interval", FormatDuration(c.interval)},
      {"for", FormatDuration(c.for_duration)},
      {"escalate", json::array({{{"above", c.step_above}, {"for", FormatDuration(c.step_for)}}})},
      {"cooldown", "0s"},
      {"state", "fresh daemon and state dir per repetition"},
      {"hook", "exec argv: pipeline_hook d FILE"}};
  out["config"]["c"] = {{"rule_interval", c.c_rule_interval},
                        {"for", FormatDuration(c.for_duration)},
                        {"group_wait", c.c_group_wait},
                        {"group_interval", c.c_group_interval},
                        {"repeat_interval", "4h"},
                        {"prometheus_flags", json::array()}};
  out["params"] = {
      {"expression", "sum(rate(sample_http_requests_total{job=\"sample\",code=\"500\"}[" +
                         c.window + "])) / sum(rate(sample_http_requests_total{job=\"sample\"}[" +
                         c.window + "]))"},
      {"threshold", c.threshold},
      {"step_above", c.step_above},
      {"step_for_s", Seconds(c.step_for)},
      {"healthy_error_rate", c.healthy_error_rate},
      {"fault_error_rate", c.fault_error_rate},
      {"request_rate_per_s", c.request_rate},
      {"seed", o.seed},
      {"repetition_limit_s", Seconds(limit)},
      {"reset",
       "after each repetition: error rate back to 0.1%; rollbackd trigger and both Prometheus "
       "alerts inactive; Alertmanagers restarted with fresh storage once Prometheus's resolution "
       "reached them; rule groups renamed and reloaded (new evaluation phase, no carried state); "
       "both rollbackd daemons restarted with fresh state dirs, each after a random 0-999 ms (new "
       "round phases)"}};
  out["versions"] = versions;

  std::printf(
      "\nratio a/b %.3f, a/c %.3f; a median %.3f s against floor %.1f s (for + interval + "
      "scrape) and target %.1f s (for + 2 x interval + 0.5 s)\n",
      medians[0] / medians[1], medians[0] / medians[2], medians[0], floor_s, target_s);
  std::printf(
      "severe fault: d (step above %g for %s) median %.3f s, c median %.3f s, ratio d/c "
      "%.3f (goal <= 0.5)\n",
      c.step_above, FormatDuration(c.step_for).c_str(), medians[3], medians[2],
      medians[3] / medians[2]);
  std::printf("fault request max %.1f ms; unclean repetitions %d, unclean resets %d\n",
              Summarize(request_ms).max, unclean, unclean_resets);
  if (!o.out.empty()) {
    std::ofstream f(o.out, std::ios::trunc);
    f << out.dump(2) << "\n";
    if (!f) {
      std::cerr << "pipeline_bench: cannot write " << o.out << "\n";
      return 1;
    }
  }
  // Not working at all (as opposed to slow): a pipeline never ran its hook.
  const bool broken =
      std::any_of(std::begin(medians), std::end(medians), [](double m) { return std::isnan(m); });
  if (broken) std::cerr << "pipeline_bench: a pipeline never started its hook\n";
  return broken ? 1 : 0;
}

}  // namespace
}  // namespace rollbackd::bench

int main(int argc, char** argv) {
  // Caught here so that the stack's destructors stop every process even when a start fails.
  try {
    return rollbackd::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pipeline_bench: " << e.what() << "\n";
    return 1;
  }
}
