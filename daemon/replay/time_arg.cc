#include "daemon/replay/time_arg.h"

#include <chrono>

#include "daemon/config/duration.h"

namespace rollbackd {
namespace {

// `n` decimal digits at `*pos` of `s`, advancing; false when there are not.
bool Digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, std::string_view any_of) {
  if (*pos >= s.size() || any_of.find(s[*pos]) == std::string_view::npos) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<Time> ParseRfc3339(std::string_view s) {
  using namespace std::chrono;
  size_t p = 0;
  int y, mo, d, h, mi, sec;
  if (!(Digits(s, &p, 4, &y) && Expect(s, &p, "-") && Digits(s, &p, 2, &mo) && Expect(s, &p, "-") &&
        Digits(s, &p, 2, &d) && Expect(s, &p, "Tt ") && Digits(s, &p, 2, &h) &&
        Expect(s, &p, ":") && Digits(s, &p, 2, &mi) && Expect(s, &p, ":") &&
        Digits(s, &p, 2, &sec))) {
    return std::nullopt;
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  // 60 is a leap second: RFC 3339 allows it; it is read as the next second's start.
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  int millis = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (Expect(s, &p, "Zz")) {
    // UTC
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!(Digits(s, &p, 2, &oh) && Expect(s, &p, ":") && Digits(s, &p, 2, &om)) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  const sys_days days{date};
  return time_point_cast<milliseconds>(days) + hours(h) + minutes(mi) + seconds(sec) +
         milliseconds(millis) - minutes(offset_minutes);
}

std::optional<Time> ParseTimeArg(std::string_view text, Time now, std::string* error) {
  if (text == "now") return now;
  if (!text.empty() && text.front() == '-') {
    if (auto d = ParseDuration(text.substr(1))) return now - *d;
    *error = "\"" + std::string(text) +
             "\" is not a relative time: expected a minus sign and a duration such as -7d, -90m "
             "or -1h30m";
    return std::nullopt;
  }
  if (auto t = ParseRfc3339(text)) return t;
  *error = "\"" + std::string(text) +
           "\" is not a time: expected RFC 3339 (2026-03-01T12:00:00Z, with a Z or an offset "
           "such as +01:00), now, or a time relative to now such as -7d or -90m";
  return std::nullopt;
}

}  // namespace rollbackd
