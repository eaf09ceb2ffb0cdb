// Pieces every Prometheus response reader shares (instant and range): sample values as Prometheus
// writes them, and text from a response made fit for people, logs and the state file.
#ifndef ROLLBACKD_SOURCES_PROM_VALUE_H_
#define ROLLBACKD_SOURCES_PROM_VALUE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace rollbackd::prom {

// "0.25", "NaN", "+Inf", "-Inf", "1e+06" -> the number; false for anything else.
bool ParseValue(std::string_view s, double* out);

// At most `max` bytes of `s`, control characters as spaces, invalid UTF-8 as '?', "..." when cut.
std::string Printable(std::string_view s, size_t max = 200);

}  // namespace rollbackd::prom

#endif  // ROLLBACKD_SOURCES_PROM_VALUE_H_
