#include "daemon/engine/labels.h"

#include <algorithm>

#include "daemon/engine/hash.h"

namespace rollbackd {
namespace {

// FNV-1a (hash.h) over names and values, so {a="bc"} and {ab="c"} differ; then a final mix
// (splitmix64) so that the low bits that bucket selection uses are well spread.
uint64_t HashPairs(const std::vector<Labels::Pair>& pairs) {
  // The empty set hashes like a default-constructed Labels, so that Labels() and Labels({}) (what
  // RestoreState builds for an unlabeled series) are one key.
  if (pairs.empty()) return 0;
  uint64_t h = internal::kHashSeed;
  for (const auto& [name, value] : pairs) {
    h = internal::HashField(h, name);
    h = internal::HashField(h, value);
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

Labels::Labels(std::vector<Pair> pairs) : pairs_(std::move(pairs)) {
  std::stable_sort(pairs_.begin(), pairs_.end(),
                   [](const Pair& a, const Pair& b) { return a.first < b.first; });
  // Keep the last of equal names.
  auto out = pairs_.begin();
  for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
    auto next = std::next(it);
    if (next != pairs_.end() && next->first == it->first) continue;
    if (out != it) *out = std::move(*it);
    ++out;
  }
  pairs_.erase(out, pairs_.end());
  hash_ = HashPairs(pairs_);
}

Labels Labels::FromMap(const LabelMap& map) {
  return Labels(std::vector<Pair>(map.begin(), map.end()));
}

const std::string* Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const Pair& p, std::string_view n) { return p.first < n; });
  if (it == pairs_.end() || it->first != name) return nullptr;
  return &it->second;
}

std::string Labels::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < pairs_.size(); ++i) {
    if (i > 0) out += ", ";
    out += pairs_[i].first;
    out += "=\"";
    for (char c : pairs_[i].second) {
      if (c == '"' || c == '\\') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    out += "\"";
  }
  out += "}";
  return out;
}

}  // namespace rollbackd
