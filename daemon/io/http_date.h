// HTTP dates (RFC 9110, section 5.6.7): the Date header a server stamps its answers with. Pure.
// Prometheus (Go's net/http) sends IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"; a recipient must
// also read the two obsolete forms, RFC 850's "Sunday, 06-Nov-94 08:49:37 GMT" and asctime's
// "Sun Nov  6 08:49:37 1994", so those are read too.
#ifndef ROLLBACKD_IO_HTTP_DATE_H_
#define ROLLBACKD_IO_HTTP_DATE_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rollbackd {

using HttpDate = std::chrono::sys_seconds;

// The instant `text` names (whole seconds, UTC), or nullopt with the reason in `error` (when
// given): a form other than the three, a field out of range (day 32, hour 24, February 30), a day
// name that is not the date's, a year before 1900 or after 9999. Names are case-sensitive and the
// spacing exact, as the grammar says; a leap second (:60) is read as the next second. RFC 850's
// two-digit year is 20YY below 70 and 19YY from 70 (POSIX's %y). Surrounding whitespace is not
// trimmed here (the HTTP client trims field values).
std::optional<HttpDate> ParseHttpDate(std::string_view text, std::string* error = nullptr);

// IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (the fraction of a second dropped, as servers do).
std::string FormatHttpDate(HttpDate t);
// The same of a system_clock instant (nanoseconds: years up to 2262).
std::string FormatHttpDate(std::chrono::system_clock::time_point t);

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_HTTP_DATE_H_
