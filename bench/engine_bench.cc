// One evaluation of one fan-out trigger over N series, in steady state (the same series every
// round, no transitions): the live daemon's common case. Reports series/s and heap allocations per
// evaluation (target: 5M series/s per core, zero allocations).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/evaluate_loop.h"
#include "daemon/config/loader.h"
#include "daemon/engine/engine.h"

namespace rollbackd {
namespace {

std::shared_ptr<const Config> MakeConfig(const std::string& condition) {
  Diagnostics diags;
  auto service = ParseRuleFile(R"(
service = "fleet"
[[trigger]]
name  = "error_rate"
query = 'sum by (instance, pod, namespace) (rate(errors_total[1m]))'
)" + condition + R"(
for   = "1m"
severity = "critical"
)",
                               "bench.toml", &diags);
  if (!service) {
    for (const auto& d : diags.all()) std::fprintf(stderr, "%s\n", d.ToString().c_str());
    std::abort();
  }
  auto config = std::make_shared<Config>();
  config->services.push_back(std::move(*service));
  return config;
}

QueryResult MakeSeries(int n, double value) {
  QueryResult r;
  r.series.reserve(n);
  for (int i = 0; i < n; ++i) {
    r.series.push_back({Labels({{"instance", "10.0." + std::to_string(i / 250) + "." +
                                                  std::to_string(i % 250) + ":9090"},
                                {"namespace", "prod"},
                                {"pod", "api-" + std::to_string(i)}}),
                        value});
  }
  return r;
}

void Run(benchmark::State& state, const std::string& condition, double value, bool baseline) {
  const int n = static_cast<int>(state.range(0));
  Engine engine(MakeConfig(condition));
  QueryResult main = MakeSeries(n, value);
  QueryResult base = MakeSeries(n, 0.01);
  Inputs inputs(engine.inputs().size(), nullptr);
  inputs[0] = &main;
  if (baseline) inputs[1] = &base;
  const bench::LoopResult loop = bench::EvaluateLoop(state, engine, inputs, std::chrono::minutes(1));
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["series/s"] = benchmark::Counter(static_cast<double>(state.iterations() * n),
                                                  benchmark::Counter::kIsRate);
  state.counters["allocs/eval"] =
      static_cast<double>(loop.allocations) / static_cast<double>(state.iterations());
  state.counters["events"] = static_cast<double>(loop.events);
}

// All series below the threshold: inactive, steady.
void BM_EvaluateAboveQuiet(benchmark::State& state) { Run(state, "above = 0.5", 0.01, false); }
// All series breaching for longer than `for`: firing, steady.
void BM_EvaluateAboveFiring(benchmark::State& state) { Run(state, "above = 0.5", 0.9, false); }
// A ratio against a fan-out baseline query: every series matched by labels.
void BM_EvaluateRatioBaseline(benchmark::State& state) {
  Run(state, "baseline_query = 'sum by (instance, pod, namespace) (rate(errors_total[1m] offset 1d))'\nabove_ratio = 2",
      0.015, true);
}

BENCHMARK(BM_EvaluateAboveQuiet)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateAboveFiring)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EvaluateRatioBaseline)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rollbackd

BENCHMARK_MAIN();
