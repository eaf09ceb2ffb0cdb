// Durations as written in rule files: "250ms", "15s", "2m", "1h30m", "1d".
#ifndef ROLLBACKD_CONFIG_DURATION_H_
#define ROLLBACKD_CONFIG_DURATION_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rollbackd {

// Every duration and instant in rollbackd has millisecond resolution.
using Duration = std::chrono::milliseconds;

// Parses a sequence of <integer><unit> parts, units ms, s, m, h, d, w, in descending order, each at
// most once ("1h30m", not "30m1h"), as Prometheus does. "0s" is valid; signs, fractions, spaces and
// an empty string are not. Returns nullopt on any error or on overflow.
std::optional<Duration> ParseDuration(std::string_view text);

// The shortest form ParseDuration reads back to the same value: 90000ms -> "1m30s", 0 -> "0s".
std::string FormatDuration(Duration d);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_DURATION_H_
