#include "daemon/engine/labels.h"

#include <algorithm>
#include <cstring>

#include "daemon/engine/hash.h"

namespace rollbackd {
namespace {

// Lengths as LEB128: one byte below 128, which is nearly every label name and value.
char* PutLength(char* out, size_t n) {
  while (n >= 0x80) {
    *out++ = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  *out++ = static_cast<char>(n);
  return out;
}

size_t LengthSize(size_t n) {
  size_t bytes = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++bytes;
  }
  return bytes;
}

const char* GetLength(const char* p, size_t* n) {
  size_t value = 0;
  for (int shift = 0;; shift += 7) {
    const unsigned char b = static_cast<unsigned char>(*p++);
    value |= static_cast<size_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  *n = value;
  return p;
}

// The hash of the encoded pairs, 8 bytes at a time (the encoding is unambiguous: lengths come
// first, so {a="bc"} and {ab="c"} differ), then a final mix (splitmix64's) so that the low bits
// that bucket selection uses are well spread. About 0.6 cycles per byte where FNV-1a over the names
// and values took 5: label sets are hashed once per series read, 100,000 times for a 20 MB
// response. It only has to be stable within one process: nothing stores it.
uint64_t HashBytes(std::string_view data) {
  // The empty set hashes like a default-constructed Labels, so that Labels() and Labels({}) (what
  // RestoreState builds for an unlabeled series) are one key.
  if (data.empty()) return 0;
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t h = internal::kHashSeed ^ (data.size() * kMul);
  const auto mix = [&](uint64_t w) {
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  };
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    mix(w);
  }
  if (i < data.size()) {
    uint64_t w = 0;
    std::memcpy(&w, data.data() + i, data.size() - i);
    mix(w);
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

void Labels::Iterator::Load(const char* pos) {
  pos_ = pos;
  if (pos == end_) return;
  size_t n;
  pos = GetLength(pos, &n);
  current_.first = std::string_view(pos, n);
  pos = GetLength(pos + n, &n);
  current_.second = std::string_view(pos, n);
  next_ = pos + n;
}

Labels Labels::FromViews(std::vector<View>* pairs) {
  auto& v = *pairs;
  // Sources nearly always send labels sorted with unique names (Prometheus does): one pass checks
  // it, and only otherwise are they sorted and the last of equal names kept.
  bool canonical = true;
  for (size_t i = 1; i < v.size() && canonical; ++i) canonical = v[i - 1].first < v[i].first;
  if (!canonical) {
    std::stable_sort(v.begin(), v.end(),
                     [](const View& a, const View& b) { return a.first < b.first; });
    auto out = v.begin();
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto next = std::next(it);
      if (next != v.end() && next->first == it->first) continue;
      *out++ = *it;
    }
    v.erase(out, v.end());
  }

  Labels l;
  size_t bytes = 0;
  for (const auto& [name, value] : v) {
    bytes += LengthSize(name.size()) + name.size() + LengthSize(value.size()) + value.size();
  }
  l.data_.resize(bytes);
  char* p = l.data_.data();
  for (const auto& [name, value] : v) {
    p = PutLength(p, name.size());
    std::memcpy(p, name.data(), name.size());
    p = PutLength(p + name.size(), value.size());
    std::memcpy(p, value.data(), value.size());
    p += value.size();
  }
  l.size_ = static_cast<uint32_t>(v.size());
  l.hash_ = HashBytes(l.data_);
  return l;
}

Labels::Labels(const std::vector<Pair>& pairs) {
  std::vector<View> views(pairs.begin(), pairs.end());
  *this = FromViews(&views);
}

Labels Labels::Builder::Build() {
  Labels l = FromViews(&pending_);
  pending_.clear();
  return l;
}

Labels Labels::FromMap(const LabelMap& map) {
  std::vector<View> views(map.begin(), map.end());
  return FromViews(&views);
}

std::optional<std::string_view> Labels::Get(std::string_view name) const {
  for (const auto& [n, v] : *this) {
    if (n == name) return v;
    if (n > name) break;  // sorted by name
  }
  return std::nullopt;
}

std::string Labels::ToString() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : *this) {
    if (!first) out += ", ";
    first = false;
    out += name;
    out += "=\"";
    for (char c : value) {
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
