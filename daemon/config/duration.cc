#include "daemon/config/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace rollbackd {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};
// Descending; "ms" sits before "m" so that the longest suffix matches first when parsing.
constexpr std::array<Unit, 6> kUnits{{{"w", 7 * 86'400'000LL},
                                      {"d", 86'400'000LL},
                                      {"h", 3'600'000LL},
                                      {"m", 60'000LL},
                                      {"s", 1'000LL},
                                      {"ms", 1LL}}};

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the previous part; enforces descending order
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    size_t unit = kUnits.size();
    if (text.substr(i, 2) == "ms") {
      unit = 5;
    } else if (i < text.size()) {
      for (size_t u = 0; u < 5; ++u) {
        if (text[i] == kUnits[u].suffix[0]) unit = u;
      }
    }
    if (unit == kUnits.size()) return std::nullopt;
    if (unit + 1 <= last_unit) return std::nullopt;  // repeated or ascending unit
    last_unit = unit + 1;
    i += kUnits[unit].suffix.size();
    if (n > std::numeric_limits<int64_t>::max() / kUnits[unit].ms) return std::nullopt;
    int64_t part = n * kUnits[unit].ms;
    if (total > std::numeric_limits<int64_t>::max() - part) return std::nullopt;
    total += part;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out.push_back('-');
    ms = -ms;
  }
  // Weeks are left out on purpose: "14d" reads better than "2w" in an event reason.
  for (size_t u = 1; u < kUnits.size(); ++u) {
    int64_t n = ms / kUnits[u].ms;
    if (n == 0) continue;
    out += std::to_string(n);
    out += kUnits[u].suffix;
    ms -= n * kUnits[u].ms;
  }
  return out;
}

}  // namespace rollbackd
