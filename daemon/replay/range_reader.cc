#include "daemon/replay/range_reader.h"

#include <algorithm>
#include <numeric>

#include "daemon/sources/range_query.h"

namespace rollbackd {

RangeReader::RangeReader(HttpTransport& http, std::map<std::string, PrometheusEndpoint> endpoints)
    : http_(http), endpoints_(std::move(endpoints)) {}

void RangeReader::Read(std::vector<RangeRequestSpec> specs, Done done) {
  specs_ = std::move(specs);
  done_ = std::move(done);
  out_.assign(specs_.size(), InputHistory());
  series_index_.assign(specs_.size(), {});
  std::vector<std::pair<std::string, Chunk>> unknown;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const RangeRequestSpec& spec = specs_[i];
    out_[i].input = spec.input;
    out_[i].grid = spec.grid;
    for (size_t first = 0; first < spec.grid.steps; first += kMaxPointsPerRequest) {
      const Chunk chunk{i, first, std::min(first + kMaxPointsPerRequest, spec.grid.steps) - 1};
      ++outstanding_;
      if (endpoints_.contains(spec.source)) {
        queues_[spec.source].waiting.push_back(chunk);
      } else {
        unknown.emplace_back(spec.source, chunk);
      }
    }
  }
  if (outstanding_ == 0) {
    done_(std::move(out_));
    return;
  }
  for (auto& [source, chunk] : unknown) {
    RangeResult r;
    r.error = QueryResult::Error("unknown source " + source, InputError::kUnknownSource);
    Answered(source, chunk, std::move(r));
  }
  for (auto& [source, queue] : queues_) SendWaiting(source);
}

void RangeReader::SendWaiting(const std::string& source) {
  SourceQueue& queue = queues_[source];
  const PrometheusEndpoint& endpoint = endpoints_.at(source);
  while (queue.in_flight < kRangeQueriesInFlight && !queue.waiting.empty()) {
    const Chunk chunk = queue.waiting.front();
    queue.waiting.pop_front();
    ++queue.in_flight;
    ++sent_;
    max_in_flight_ = std::max(max_in_flight_, queue.in_flight);
    const RangeRequestSpec& spec = specs_[chunk.spec];
    RunRangeQuery(http_, reader_, endpoint, spec.query, spec.grid.at(chunk.first),
                  spec.grid.at(chunk.last), spec.grid.step, [this, source, chunk](RangeResult r) {
                    --queues_[source].in_flight;
                    SendWaiting(source);
                    Answered(source, chunk, std::move(r));
                  });
  }
}

void RangeReader::Answered(const std::string& /*source*/, const Chunk& chunk, RangeResult result) {
  InputHistory& h = out_[chunk.spec];
  if (result.is_error()) {
    h.failures.push_back({chunk.first, chunk.last, std::move(*result.error)});
  } else {
    const int64_t start = h.grid.start.time_since_epoch().count();
    const int64_t step = h.grid.step.count();
    auto& index = series_index_[chunk.spec];
    for (RangeSeries& rs : result.series) {
      auto [it, fresh] = index.try_emplace(rs.labels, h.series.size());
      if (fresh) h.series.push_back({std::move(rs.labels), {}, {}});
      InputHistory::Series& s = h.series[it->second];
      for (size_t j = 0; j < rs.times.size(); ++j) {
        const int64_t offset = rs.times[j] - start;
        // Prometheus answers at start + n x step exactly; anything else is not an instant of
        // the grid (and is dropped rather than moved onto one).
        if (offset < 0 || offset % step != 0) continue;
        const int64_t k = offset / step;
        if (k < static_cast<int64_t>(chunk.first) || k > static_cast<int64_t>(chunk.last)) continue;
        s.steps.push_back(static_cast<uint32_t>(k));
        s.values.push_back(rs.values[j]);
      }
    }
  }
  if (--outstanding_ != 0) return;
  // Chunks answer in any order: each series' steps ascending, failures by their first step.
  for (InputHistory& hist : out_) {
    for (InputHistory::Series& s : hist.series) {
      if (std::is_sorted(s.steps.begin(), s.steps.end())) continue;
      std::vector<size_t> order(s.steps.size());
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return s.steps[a] < s.steps[b]; });
      std::vector<uint32_t> steps(order.size());
      std::vector<double> values(order.size());
      for (size_t i = 0; i < order.size(); ++i) {
        steps[i] = s.steps[order[i]];
        values[i] = s.values[order[i]];
      }
      s.steps = std::move(steps);
      s.values = std::move(values);
    }
    std::sort(hist.failures.begin(), hist.failures.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  done_(std::move(out_));
}

}  // namespace rollbackd
