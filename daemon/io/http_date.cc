#include "daemon/io/http_date.h"

#include <array>
#include <cstdio>

namespace rollbackd {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A left-to-right reader of one date; the first failure is kept.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool Lit(std::string_view lit) {
    if (!s_.starts_with(lit)) return Fail("expected \"" + std::string(lit) + "\"");
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly `n` digits.
  bool Digits(size_t n, int* out) {
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i >= s_.size() || s_[i] < '0' || s_[i] > '9') {
        return Fail("expected " + std::to_string(n) + " digits");
      }
      v = v * 10 + (s_[i] - '0');
    }
    s_.remove_prefix(n);
    *out = v;
    return true;
  }
  // One of `names`; its index in `*out`.
  template <size_t N>
  bool Name(const std::array<std::string_view, N>& names, const char* what, int* out) {
    for (size_t i = 0; i < N; ++i) {
      if (s_.starts_with(names[i])) {
        s_.remove_prefix(names[i].size());
        *out = static_cast<int>(i);
        return true;
      }
    }
    return Fail(std::string("expected a ") + what);
  }
  bool End() { return s_.empty() || Fail("unexpected text after the date"); }
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  std::string_view s_;
  std::string error_;
};

struct Fields {
  int weekday = -1;  // 0 = Sunday
  int day = 0;
  int month = 0;  // 0 = January
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

bool TimeOfDay(Cursor& c, Fields* f) {
  return c.Digits(2, &f->hour) && c.Lit(":") && c.Digits(2, &f->minute) && c.Lit(":") &&
         c.Digits(2, &f->second);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool ImfFixdate(std::string_view text, Fields* f, std::string* error) {
  Cursor c(text);
  const bool ok = c.Name(kDays, "day name", &f->weekday) && c.Lit(", ") && c.Digits(2, &f->day) &&
                  c.Lit(" ") && c.Name(kMonths, "month name", &f->month) && c.Lit(" ") &&
                  c.Digits(4, &f->year) && c.Lit(" ") && TimeOfDay(c, f) && c.Lit(" GMT") &&
                  c.End();
  *error = c.error();
  return ok;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
bool Rfc850(std::string_view text, Fields* f, std::string* error) {
  Cursor c(text);
  int yy = 0;
  const bool ok = c.Name(kLongDays, "day name", &f->weekday) && c.Lit(", ") &&
                  c.Digits(2, &f->day) && c.Lit("-") && c.Name(kMonths, "month name", &f->month) &&
                  c.Lit("-") && c.Digits(2, &yy) && c.Lit(" ") && TimeOfDay(c, f) &&
                  c.Lit(" GMT") && c.End();
  f->year = yy < 70 ? 2000 + yy : 1900 + yy;
  *error = c.error();
  return ok;
}

// "Sun Nov  6 08:49:37 1994": the day of the month is two characters, a space before one digit.
bool Asctime(std::string_view text, Fields* f, std::string* error) {
  Cursor c(text);
  bool ok = c.Name(kDays, "day name", &f->weekday) && c.Lit(" ") &&
            c.Name(kMonths, "month name", &f->month) && c.Lit(" ");
  if (ok) {
    if (text.size() > 8 && text[8] == ' ') {
      ok = c.Lit(" ") && c.Digits(1, &f->day);
    } else {
      ok = c.Digits(2, &f->day);
    }
  }
  ok = ok && c.Lit(" ") && TimeOfDay(c, f) && c.Lit(" ") && c.Digits(4, &f->year) && c.End();
  *error = c.error();
  return ok;
}

}  // namespace

std::optional<HttpDate> ParseHttpDate(std::string_view text, std::string* error) {
  auto fail = [error](std::string why) -> std::optional<HttpDate> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  // The form shows at the fourth character: "Sun," (IMF-fixdate), "Sun " (asctime), else a long
  // day name (RFC 850).
  Fields f;
  std::string why;
  bool ok = false;
  if (text.size() > 3 && text[3] == ',') {
    ok = ImfFixdate(text, &f, &why);
  } else if (text.size() > 3 && text[3] == ' ') {
    ok = Asctime(text, &f, &why);
  } else {
    ok = Rfc850(text, &f, &why);
  }
  if (!ok) return fail("not an HTTP date (" + why + ")");
  if (f.year < 1900 || f.year > 9999)
    return fail("year " + std::to_string(f.year) + " out of range");
  const year_month_day ymd{year(f.year), month(static_cast<unsigned>(f.month + 1)),
                           day(static_cast<unsigned>(f.day))};
  if (!ymd.ok())
    return fail("no such day: " + std::to_string(f.day) + " " +
                std::string(kMonths[static_cast<size_t>(f.month)]) + " " + std::to_string(f.year));
  if (f.hour > 23 || f.minute > 59 || f.second > 60) return fail("time of day out of range");
  const sys_days days{ymd};
  if (weekday(days).c_encoding() != static_cast<unsigned>(f.weekday)) {
    return fail("the day name is not that date's (" +
                std::string(kDays[weekday(days).c_encoding()]) + ")");
  }
  return HttpDate(days) + hours(f.hour) + minutes(f.minute) + seconds(f.second);
}

std::string FormatHttpDate(system_clock::time_point t) { return FormatHttpDate(floor<seconds>(t)); }

std::string FormatHttpDate(HttpDate secs) {
  const sys_days days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                kDays[weekday(days).c_encoding()].data(), static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1].data(),
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return out;
}

}  // namespace rollbackd
