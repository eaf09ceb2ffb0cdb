// Which series a rule sees. A trigger's (or a version query's) `match` keeps the series with the
// given label values, through per-round LabelIndexes shared by every rule reading the same input;
// SeriesIndex pairs a baseline or traffic series with a main series by label set. Steady state
// allocates nothing: the indexes and the picked positions are reused across rounds.
#include <algorithm>

#include "daemon/engine/engine_internal.h"
#include "daemon/engine/hash.h"

namespace rollbackd::internal {

namespace {

uint64_t HashValue(std::string_view value) {
  return internal::HashField(internal::kHashSeed, value);
}

// An absent label has the value "", as in PromQL's {label=""}.
bool HasValue(const Labels& labels, const std::string& name, std::string_view value) {
  const auto v = labels.Get(name);
  return v ? *v == value : value.empty();
}

// The LabelIndex slot of (input, label), added when new.
int IndexSlot(std::vector<LabelIndex>* indexes, int input, const std::string& label) {
  for (size_t i = 0; i < indexes->size(); ++i) {
    if ((*indexes)[i].input == input && (*indexes)[i].label == label) return static_cast<int>(i);
  }
  LabelIndex index;
  index.input = input;
  index.label = label;
  indexes->push_back(std::move(index));
  return static_cast<int>(indexes->size() - 1);
}

void BuildLabelIndex(LabelIndex& index, const QueryResult& result, uint64_t round) {
  index.entries.clear();
  const auto& series = result.series;
  for (uint32_t i = 0; i < series.size(); ++i) {
    const auto v = series[i].labels.Get(index.label);
    index.entries.emplace_back(HashValue(v.value_or(std::string_view())), i);
  }
  std::sort(index.entries.begin(), index.entries.end());
  index.built = round;
}

}  // namespace

MatchFilter MakeFilter(const LabelMap& match) {
  MatchFilter f;
  for (const auto& [name, value] : match) {
    f.labels.emplace_back(name, value);
    f.hashes.push_back(HashValue(value));
  }
  return f;
}

MatchSlots SlotsFor(std::vector<LabelIndex>* indexes, int input, const MatchFilter& f) {
  MatchSlots slots;
  if (input < 0) return slots;
  for (const auto& [name, value] : f.labels) slots.push_back({IndexSlot(indexes, input, name)});
  return slots;
}

// Fills `out` with the positions of the series of `result` that `f` keeps, in the result's order.
// Small results are scanned; larger ones go through the round's LabelIndex of each filter label,
// and the series under the rarest of the filter's value hashes are checked against every label.
void Pick(const MatchFilter& f, MatchSlots& slots, std::vector<LabelIndex>& indexes,
          uint64_t round, const QueryResult& result, std::vector<uint32_t>* out) {
  constexpr size_t kScan = 8;
  out->clear();
  const auto& series = result.series;
  auto keeps = [&](uint32_t i) {
    for (const auto& [name, value] : f.labels) {
      if (!HasValue(series[i].labels, name, value)) return false;
    }
    return true;
  };
  if (series.size() <= kScan) {
    for (uint32_t i = 0; i < series.size(); ++i) {
      if (keeps(i)) out->push_back(i);
    }
    return;
  }
  using It = std::vector<std::pair<uint64_t, uint32_t>>::const_iterator;
  It best_lo;
  It best_hi;
  for (size_t k = 0; k < f.labels.size(); ++k) {
    LabelIndex& index = indexes[static_cast<size_t>(slots[k].index)];
    if (index.built != round) BuildLabelIndex(index, result, round);
    const auto& entries = index.entries;
    const uint64_t hash = f.hashes[k];
    const uint32_t hint = slots[k].hint;
    It lo;
    if (hint < entries.size() && entries[hint].first == hash &&
        (hint == 0 || entries[hint - 1].first != hash)) {
      lo = entries.cbegin() + hint;
    } else {
      lo = std::lower_bound(entries.cbegin(), entries.cend(), std::make_pair(hash, uint32_t{0}));
      slots[k].hint = static_cast<uint32_t>(lo - entries.cbegin());
    }
    It hi = lo;
    while (hi != index.entries.cend() && hi->first == hash) ++hi;
    if (lo == hi) return;  // no series has this value
    if (k == 0 || hi - lo < best_hi - best_lo) {
      best_lo = lo;
      best_hi = hi;
    }
  }
  // Sorted by (hash, position): the result's order.
  for (It it = best_lo; it != best_hi; ++it) {
    if (keeps(it->second)) out->push_back(it->second);
  }
}

// What a rule sees of `result`: every series, or those `f` keeps (in `picked`).
SeriesView Evaluator::View(const MatchFilter& f, MatchSlots& slots, const QueryResult& result,
                           std::vector<uint32_t>* picked) {
  if (f.empty()) return SeriesView(result, nullptr);
  Pick(f, slots, *indexes_, round_, result, picked);
  return SeriesView(result, picked);
}

double SeriesIndex::Find(const Labels& labels) {
  const SeriesView& series = series_;
  // Two queries over the same series usually list them in the same order: try the entry after
  // the last match before anything else, and build the sorted index only on a miss.
  if (cursor_ < series.size() && series[cursor_].labels == labels) {
    return series[cursor_++].value;
  }
  if (series.size() > kLinearScan) {
    if (!indexed_) BuildIndex();
    auto it = std::lower_bound(scratch_->begin(), scratch_->end(),
                               std::make_pair(labels.hash(), uint32_t{0}));
    for (; it != scratch_->end() && it->first == labels.hash(); ++it) {
      if (series[it->second].labels == labels) {
        cursor_ = it->second + 1;
        return series[it->second].value;
      }
    }
  } else {
    for (size_t i = 0; i < series.size(); ++i) {
      if (series[i].labels == labels) {
        cursor_ = i + 1;
        return series[i].value;
      }
    }
  }
  if (series.size() == 1 && (series[0].labels.empty() || main_single_)) return series[0].value;
  return kNaN;
}

void SeriesIndex::BuildIndex() {
  scratch_->clear();
  for (uint32_t i = 0; i < series_.size(); ++i) {
    scratch_->emplace_back(series_[i].labels.hash(), i);
  }
  std::sort(scratch_->begin(), scratch_->end());
  indexed_ = true;
}

}  // namespace rollbackd::internal
