// promtool's expanding notation for input series, plus `err` for a query error:
//   "1 2 3"      three values          "1+2x3"  -> 1 3 5 7   (a, then n more, adding b)
//   "5x3"        -> 5 5 5 5            "10-1x2" -> 10 9 8
//   "_"          no sample             "_x3"    -> three missing samples (n, not n+1)
//   "err"        the query fails       "errx3"  -> three failures
//   "NaN", "Inf", "-Inf" (any case) and "stale" (as "_") are read as promtool reads them; like
//   promtool, "stalex3" and "NaNx3" are errors, and a+bxn adds b n times (v += b), bit for bit.
#ifndef ROLLBACKD_RULETEST_SERIES_NOTATION_H_
#define ROLLBACKD_RULETEST_SERIES_NOTATION_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/labels.h"

namespace rollbackd {

struct SeriesPoint {
  enum class Kind { kValue, kMissing, kError };
  Kind kind = Kind::kValue;
  double value = 0;
};

// At most kMaxSeriesPoints points; nullopt and `error` set on a malformed token.
inline constexpr size_t kMaxSeriesPoints = 100'000;
std::optional<std::vector<SeriesPoint>> ExpandSeries(std::string_view text, std::string* error);

// `name` or `name{label="value", ...}` as in a PromQL selector. nullopt and `error` when malformed.
struct SeriesKey {
  std::string name;
  Labels labels;
};
std::optional<SeriesKey> ParseSeriesKey(std::string_view text, std::string* error);

}  // namespace rollbackd

#endif  // ROLLBACKD_RULETEST_SERIES_NOTATION_H_
