#include "daemon/config/text.h"

#include <charconv>
#include <cmath>

namespace rollbackd {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string ShortestNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Plain decimals where people read them (JavaScript's rule: 1e-7 <= |v| < 1e21), so 1000000
  // is not "1e+06"; an exponent beyond. Either way the fewest digits that read back as `v`.
  const double a = std::fabs(v);
  const auto format =
      a == 0 || (a >= 1e-7 && a < 1e21) ? std::chars_format::fixed : std::chars_format::scientific;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, format);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

}  // namespace rollbackd
