// The two ways to watch a fleet (docs/rules.md, "Fleet layout"), one evaluation round each, in
// steady state (the same series every round, nothing breaching):
//   per_service: every service's 3 triggers read their own query, which returns 1 series
//                (3 x S inputs of 1 series);
//   fleet:       every service's 3 triggers read the same 3 queries, which return S series each,
//                and `match = { service = "<name>" }` keeps each trigger's own (3 inputs of S
//                series, indexed once per round by `service`).
// The engine's cost per round should be about the same for both (linear in S); without the
// per-round index the fleet layout would cost 3 x S x S label comparisons. Reports ns per trigger
// and heap allocations per round (target: 0).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "bench/evaluate_loop.h"
#include "daemon/config/loader.h"
#include "daemon/engine/engine.h"

namespace rollbackd {
namespace {

constexpr const char* kTriggers[] = {"error_rate", "latency", "saturation"};
constexpr int kTriggerCount = 3;

std::string ServiceName(int i) { return "svc-" + std::to_string(i); }

// One service's rule file. fleet: the shared query plus `match`; else a query of its own.
std::string RuleFile(int i, bool fleet) {
  const std::string name = ServiceName(i);
  std::string text = "service = \"" + name + "\"\n";
  for (const char* trigger : kTriggers) {
    text += "[[trigger]]\nname = \"" + std::string(trigger) + "\"\n";
    if (fleet) {
      text += "query = 'sum by (service) (" + std::string(trigger) + ")'\n";
      text += "match = { service = \"" + name + "\" }\n";
    } else {
      text += "query = 'sum(" + std::string(trigger) + "{service=\"" + name + "\"})'\n";
    }
    text += "above = 0.5\nfor = \"1m\"\nseverity = \"critical\"\n";
  }
  return text + "[rollback]\nexec = [\"true\"]\n";
}

std::shared_ptr<const Config> MakeConfig(int services, bool fleet) {
  auto config = std::make_shared<Config>();
  for (int i = 0; i < services; ++i) {
    Diagnostics diags;
    auto s = ParseRuleFile(RuleFile(i, fleet), ServiceName(i) + ".toml", &diags);
    if (!s) {
      for (const auto& d : diags.all()) std::fprintf(stderr, "%s\n", d.ToString().c_str());
      std::abort();
    }
    config->services.push_back(std::move(*s));
  }
  return config;
}

void Run(benchmark::State& state, bool fleet) {
  const int services = static_cast<int>(state.range(0));
  Engine engine(MakeConfig(services, fleet));
  // What Prometheus would return for each input: per service, the series sum(...) gives (no
  // labels); for the fleet, one series per service, labelled with it, in a stable order.
  std::vector<QueryResult> results(engine.inputs().size());
  for (QueryResult& r : results) {
    if (fleet) {
      r.series.reserve(static_cast<size_t>(services));
      for (int i = 0; i < services; ++i) {
        r.series.push_back({Labels({{"service", ServiceName(i)}}), 0.01});
      }
    } else {
      r.series.push_back({Labels(), 0.01});
    }
  }
  Inputs inputs;
  for (const QueryResult& r : results) inputs.push_back(&r);
  const bench::LoopResult loop = bench::EvaluateLoop(state, engine, inputs, std::chrono::seconds(15));
  const double triggers = static_cast<double>(services) * kTriggerCount;
  state.counters["inputs"] = static_cast<double>(engine.inputs().size());
  state.counters["ns/trigger"] = benchmark::Counter(
      triggers * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs/round"] =
      static_cast<double>(loop.allocations) / static_cast<double>(state.iterations());
  state.counters["events"] = static_cast<double>(loop.events);
}

void BM_FleetPerServiceQueries(benchmark::State& state) { Run(state, false); }
void BM_FleetSharedQueriesWithMatch(benchmark::State& state) { Run(state, true); }

BENCHMARK(BM_FleetPerServiceQueries)->Arg(10)->Arg(100)->Arg(1000)->Arg(5000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FleetSharedQueriesWithMatch)->Arg(10)->Arg(100)->Arg(1000)->Arg(5000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rollbackd

BENCHMARK_MAIN();
