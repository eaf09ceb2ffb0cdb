// Per-trigger series state, keyed by label set: a dense vector plus an open-addressing index.
// Prometheus returns a query's series in the same order every round, so Find() first tries the
// entry after the previous hit; in steady state a round is a sequential scan with no hashing and no
// allocation. Internal to the engine.
//
// Label values come from Prometheus, i.e. from whoever can write a label: a fixed slot hash with
// linear probing would let crafted label sets pile into one run of slots and make every lookup a
// scan. The slot is therefore the label set's (fixed, persisted in event ids) hash mixed with a
// secret seed drawn once per process; the seed changes only the index's layout, never an output.
#ifndef ROLLBACKD_ENGINE_SERIES_TABLE_H_
#define ROLLBACKD_ENGINE_SERIES_TABLE_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "daemon/engine/labels.h"

namespace rollbackd::internal {

// The process's slot seed (std::random_device, drawn at first use).
inline uint64_t SlotSeed() {
  static const uint64_t seed = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }();
  return seed;
}

// splitmix64's finaliser over hash ^ seed: every bit of both reaches the low bits a mask keeps.
inline uint64_t SlotHash(uint64_t hash) {
  uint64_t z = hash ^ SlotSeed();
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <typename State>
class SeriesTable {
 public:
  using Entry = std::pair<Labels, State>;

  // Call before each round's lookups: the next Find tries the first entry.
  void Rewind() { cursor_ = 0; }

  // The state of `labels`, inserted (default) when absent. References stay valid until the next
  // insertion or EraseIf.
  State& FindOrInsert(const Labels& labels) {
    if (cursor_ < entries_.size() && entries_[cursor_].first == labels) {
      return entries_[cursor_++].second;
    }
    if (!slots_.empty()) {
      const size_t mask = slots_.size() - 1;
      for (size_t i = SlotHash(labels.hash()) & mask; slots_[i] != 0; i = (i + 1) & mask) {
        const uint32_t index = slots_[i] - 1;
        if (entries_[index].first == labels) {
          cursor_ = index + 1;
          return entries_[index].second;
        }
      }
    }
    return Insert(labels, State{});
  }

  State& Insert(Labels labels, State state) {
    if ((entries_.size() + 1) * 2 > slots_.size()) Rehash(std::max<size_t>(16, slots_.size() * 2));
    entries_.emplace_back(std::move(labels), std::move(state));
    Place(static_cast<uint32_t>(entries_.size() - 1));
    cursor_ = entries_.size();
    return entries_.back().second;
  }

  // Removes the entries for which pred(entry) holds, keeping the order of the others.
  template <typename Pred>
  void EraseIf(Pred pred) {
    size_t out = 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (pred(entries_[i])) continue;
      if (out != i) entries_[out] = std::move(entries_[i]);
      ++out;
    }
    if (out == entries_.size()) return;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(out), entries_.end());
    Rehash(slots_.size());
    cursor_ = 0;
  }

  void clear() {
    entries_.clear();
    slots_.clear();
    cursor_ = 0;
  }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() { return entries_.begin(); }
  auto end() { return entries_.end(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  void Place(uint32_t index) {
    const size_t mask = slots_.size() - 1;
    size_t i = SlotHash(entries_[index].first.hash()) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = index + 1;
  }
  // Rebuilds the index with `capacity` slots (a power of two), reusing its memory when it can.
  void Rehash(size_t capacity) {
    slots_.assign(capacity, 0);
    for (uint32_t i = 0; i < entries_.size(); ++i) Place(i);
  }

  std::vector<Entry> entries_;
  std::vector<uint32_t> slots_;  // entry index + 1; 0 is empty
  size_t cursor_ = 0;
};

}  // namespace rollbackd::internal

#endif  // ROLLBACKD_ENGINE_SERIES_TABLE_H_
