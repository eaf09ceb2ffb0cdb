// A series' label set, sorted by name, with its hash computed once. The engine keys per-series
// state by it; the hash is computed when a source builds the sample, so lookups never rehash
// strings.
#ifndef ROLLBACKD_ENGINE_LABELS_H_
#define ROLLBACKD_ENGINE_LABELS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/model.h"

namespace rollbackd {

class Labels {
 public:
  using Pair = std::pair<std::string, std::string>;

  Labels() = default;
  // Sorts the pairs by name; a name given twice keeps its last value.
  explicit Labels(std::vector<Pair> pairs);
  static Labels FromMap(const LabelMap& map);

  const std::vector<Pair>& pairs() const { return pairs_; }
  bool empty() const { return pairs_.empty(); }
  size_t size() const { return pairs_.size(); }
  uint64_t hash() const { return hash_; }
  const std::string* Get(std::string_view name) const;

  // {a="x", b="y"}; "{}" when empty. Values are escaped as in PromQL.
  std::string ToString() const;

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.hash_ == b.hash_ && a.pairs_ == b.pairs_;
  }

 private:
  std::vector<Pair> pairs_;
  uint64_t hash_ = 0;
};

struct LabelsHash {
  size_t operator()(const Labels& l) const noexcept { return static_cast<size_t>(l.hash()); }
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_LABELS_H_
