// A series' label set, sorted by name, with its hash computed once. The engine keys per-series
// state by it; the hash is computed when a source builds the sample, so lookups never rehash
// strings.
//
// Stored as one byte string (per pair: length, name, length, value; lengths as LEB128 varints), so
// that a label set costs one allocation however many labels it has, compares with one memcmp, and
// can be built straight from views into a response body (Builder). Responses of 100,000 series are
// read into 100,000 of these.
#ifndef ROLLBACKD_ENGINE_LABELS_H_
#define ROLLBACKD_ENGINE_LABELS_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/model.h"

namespace rollbackd {

class Labels {
 public:
  using Pair = std::pair<std::string, std::string>;
  using View = std::pair<std::string_view, std::string_view>;  // name, value
  using value_type = View;  // a range of Views (so generic code and matchers can walk it)

  // Walks the pairs in name order; each element is a View into the set (valid while it lives).
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = View;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = View;

    Iterator() = default;
    View operator*() const { return current_; }
    Iterator& operator++() {
      Load(next_);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.pos_ == b.pos_; }

   private:
    friend class Labels;
    Iterator(const char* pos, const char* end) : end_(end) { Load(pos); }
    void Load(const char* pos);

    const char* pos_ = nullptr;
    const char* next_ = nullptr;
    const char* end_ = nullptr;
    View current_;
  };
  using const_iterator = Iterator;

  // Builds sets from views (into a response body, say) with no owned string per label. Reused
  // across sets, it allocates only for the sets themselves.
  class Builder {
   public:
    void Add(std::string_view name, std::string_view value) { pending_.emplace_back(name, value); }
    // The set of the pairs added since the last Build (the constructor's rules: sorted, the last
    // of equal names wins).
    Labels Build();

   private:
    std::vector<View> pending_;
  };

  Labels() = default;
  // Sorts the pairs by name; a name given twice keeps its last value.
  explicit Labels(const std::vector<Pair>& pairs);
  static Labels FromMap(const LabelMap& map);

  Iterator begin() const { return Iterator(data_.data(), data_.data() + data_.size()); }
  Iterator end() const {
    const char* e = data_.data() + data_.size();
    return Iterator(e, e);
  }
  // The pairs as a range of Views: `for (auto [name, value] : labels.pairs())`.
  const Labels& pairs() const { return *this; }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  uint64_t hash() const { return hash_; }
  std::optional<std::string_view> Get(std::string_view name) const;

  // {a="x", b="y"}; "{}" when empty. Values are escaped as in PromQL.
  std::string ToString() const;

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.hash_ == b.hash_ && a.size_ == b.size_ && a.data_ == b.data_;
  }

 private:
  // Sorts `pairs` by name (stable), keeps the last of equal names, encodes and hashes.
  static Labels FromViews(std::vector<View>* pairs);

  std::string data_;
  uint32_t size_ = 0;
  uint64_t hash_ = 0;
};

struct LabelsHash {
  size_t operator()(const Labels& l) const noexcept { return static_cast<size_t>(l.hash()); }
};

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_LABELS_H_
