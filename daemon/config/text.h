// Small text helpers every layer's messages share.
#ifndef ROLLBACKD_CONFIG_TEXT_H_
#define ROLLBACKD_CONFIG_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

namespace rollbackd {

// "a, b, c" with `sep` ", ".
std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ");

// The shortest text that reads back as the same double: 0.1, not 0.10000000000000001; 1000000.4,
// not 1e+06. "NaN", "+Inf" and "-Inf" as Prometheus writes them.
std::string ShortestNumber(double v);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_TEXT_H_
