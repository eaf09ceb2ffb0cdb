// The measured loop of the engine benchmarks: one Engine::Evaluate per iteration in steady state,
// with the heap allocations made inside it counted. Include it in exactly one source file of a
// benchmark binary (it brings the counting allocator).
#ifndef ROLLBACKD_BENCH_EVALUATE_LOOP_H_
#define ROLLBACKD_BENCH_EVALUATE_LOOP_H_

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "bench/counting_allocator.h"
#include "daemon/engine/engine.h"

namespace rollbackd::bench {

struct LoopResult {
  uint64_t allocations = 0;  // made inside Evaluate during the iterations
  size_t events = 0;         // of the last round
};

// Three warm-up rounds `warmup_step` apart (every series' state exists; with a step longer than
// the triggers' `for`, breaching series have fired), then one round per iteration, 15 s apart.
inline LoopResult EvaluateLoop(benchmark::State& state, Engine& engine, const Inputs& inputs,
                             std::chrono::milliseconds warmup_step) {
  std::vector<Event> events;
  events.reserve(1024);
  Time now{};
  for (int i = 0; i < 3; ++i) {
    events.clear();
    engine.Evaluate(now, inputs, &events);
    now += warmup_step;
  }
  LoopResult result;
  for (auto _ : state) {
    events.clear();
    const uint64_t before = g_allocations.load(std::memory_order_relaxed);
    engine.Evaluate(now, inputs, &events);
    result.allocations += g_allocations.load(std::memory_order_relaxed) - before;
    now += std::chrono::seconds(15);
    benchmark::DoNotOptimize(events.data());
  }
  result.events = events.size();
  return result;
}

}  // namespace rollbackd::bench

#endif  // ROLLBACKD_BENCH_EVALUATE_LOOP_H_
