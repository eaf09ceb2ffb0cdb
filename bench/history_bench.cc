// The status page's history (daemon/runtime/history.h) at fleet size: what one round's Record
// costs once every series exists (time, heap allocations: the goal is none), and what the rings
// hold after an hour, measured by the heap (mallinfo2) against the history's own estimate.
//
//   history_bench --benchmark_filter=/1000$     # 1,000 services x 3 triggers, 15 s interval
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "bench/counting_allocator.h"
#include "daemon/runtime/history.h"

namespace rollbackd::bench {
namespace {

using namespace std::chrono_literals;

struct Fleet {
  Config config;
  std::vector<ServiceStatus> status;
};

// N services, three triggers each, one series per trigger labelled with its service (the fan-out
// layout's series), as Engine::Status() lists them.
Fleet MakeFleet(int n) {
  Fleet f;
  f.config.daemon.interval = 15s;
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "svc-%04d", i);
    Service s;
    s.name = name;
    f.config.services.push_back(s);
    ServiceStatus st;
    st.name = name;
    for (const char* trigger : {"error_rate", "p99_latency", "orders"}) {
      SeriesStatus x;
      x.trigger = trigger;
      x.labels = Labels({{"service", name}});
      x.state = "inactive";
      x.value = 0.01 * i;
      x.threshold = 0.05;
      st.series.push_back(x);
    }
    f.status.push_back(st);
  }
  return f;
}

Time At(int round) {
  return Time(std::chrono::milliseconds(int64_t{1'800'000'000'000} + round * 15'000));
}

void BM_HistoryRecord(benchmark::State& state) {
  Fleet fleet = MakeFleet(static_cast<int>(state.range(0)));
  History h;
  int round = 0;
  for (; round < 300; ++round) h.Record(fleet.config, fleet.status, At(round));  // past an hour
  const uint64_t allocations = g_allocations.load();
  int64_t rounds = 0;
  for (auto _ : state) {
    h.Record(fleet.config, fleet.status, At(round++));
    ++rounds;
  }
  state.counters["allocs_per_round"] =
      static_cast<double>(g_allocations.load() - allocations) / static_cast<double>(rounds);
  state.counters["series"] = static_cast<double>(h.series());
}
BENCHMARK(BM_HistoryRecord)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

// An hour of rounds into an empty history: the heap it holds then (rings full, every series).
void BM_HistoryMemory(benchmark::State& state) {
  Fleet fleet = MakeFleet(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    malloc_trim(0);
    const size_t before = mallinfo2().uordblks;
    History h;
    for (int round = 0; round < 250; ++round) h.Record(fleet.config, fleet.status, At(round));
    const size_t after = mallinfo2().uordblks;
    state.counters["heap_mib"] = static_cast<double>(after - before) / (1 << 20);
    state.counters["estimate_mib"] = static_cast<double>(h.bytes()) / (1 << 20);
    state.counters["heap_bytes_per_series"] =
        static_cast<double>(after - before) / static_cast<double>(h.series());
  }
}
BENCHMARK(BM_HistoryMemory)->Arg(10)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rollbackd::bench

BENCHMARK_MAIN();
