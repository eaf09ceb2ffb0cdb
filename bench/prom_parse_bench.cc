// Reading a Prometheus /api/v1/query vector response: our simdjson reader (bytes -> QueryResult
// with labels and values) against nlohmann::json on the same bytes, parse only and parse + the
// same extraction. Reports MB/s. Values are quoted strings as Prometheus sends them, 1% "NaN".
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/sources/prom_response.h"

namespace rollbackd {
namespace {

// A vector response of about `bytes` bytes.
std::string MakeResponse(size_t bytes) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; out.size() < bytes; ++i) {
    if (i > 0) out += ',';
    out += R"({"metric":{"__name__":"http_requests:rate1m","instance":"10.0.)" +
           std::to_string(i / 250) + "." + std::to_string(i % 250) +
           R"(:9090","job":"api","namespace":"prod","pod":"api-)" + std::to_string(i) +
           R"("},"value":[1700000000.123,")" +
           (i % 100 == 7 ? std::string("NaN") : std::to_string(0.001 * (i % 997))) + R"("]})";
  }
  out += "]}}";
  return out;
}

void BM_SimdjsonReader(benchmark::State& state) {
  const std::string body = MakeResponse(static_cast<size_t>(state.range(0)) << 20);
  PromResponseReader reader;
  size_t series = 0;
  for (auto _ : state) {
    QueryResult r = reader.Read(200, body);
    if (r.is_error()) state.SkipWithError(r.error.c_str());
    series = r.series.size();
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["series"] = static_cast<double>(series);
}

// The general reader alone (simdjson on-demand), which takes every body the fast path declines.
void BM_SimdjsonGeneralReader(benchmark::State& state) {
  const std::string body = MakeResponse(static_cast<size_t>(state.range(0)) << 20);
  PromResponseReader reader(/*fast_path=*/false);
  for (auto _ : state) {
    QueryResult r = reader.Read(200, body);
    if (r.is_error()) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_NlohmannParseOnly(benchmark::State& state) {
  const std::string body = MakeResponse(static_cast<size_t>(state.range(0)) << 20);
  for (auto _ : state) {
    auto j = nlohmann::json::parse(body);
    benchmark::DoNotOptimize(j);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_NlohmannToQueryResult(benchmark::State& state) {
  const std::string body = MakeResponse(static_cast<size_t>(state.range(0)) << 20);
  for (auto _ : state) {
    auto j = nlohmann::json::parse(body);
    QueryResult r;
    for (const auto& e : j["data"]["result"]) {
      std::vector<Labels::Pair> labels;
      for (const auto& [k, v] : e["metric"].items()) labels.emplace_back(k, v.get<std::string>());
      r.series.push_back({Labels(std::move(labels)), std::stod(e["value"][1].get<std::string>())});
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

BENCHMARK(BM_SimdjsonReader)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimdjsonGeneralReader)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannParseOnly)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NlohmannToQueryResult)->Arg(1)->Arg(20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rollbackd

BENCHMARK_MAIN();
