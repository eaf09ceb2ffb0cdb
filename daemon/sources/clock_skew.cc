#include "daemon/sources/clock_skew.h"

#include <cmath>
#include <cstdio>

#include "daemon/engine/event.h"

namespace rollbackd {
namespace {

Time Ms(WallTime t) { return std::chrono::time_point_cast<std::chrono::milliseconds>(t); }

// To a tenth, rounded toward zero: the skew is a lower bound, and stays one in words.
std::string Seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", std::trunc(s * 10) / 10);
  return text;
}

}  // namespace

Duration ClockSkew(HttpDate date, WallTime sent, WallTime received) {
  // In milliseconds: a date's year may be up to 9999, past what WallTime's nanoseconds hold.
  const Duration ahead = Time(date) - Ms(received);  // > 0: Prometheus ahead at least so
  const Duration behind = Time(date) + std::chrono::seconds(1) - Ms(sent);  // < 0: behind
  if (ahead > Duration(0)) return ahead;
  if (behind < Duration(0)) return behind;
  return Duration(0);
}

SkewReading ReadClockSkew(const HttpResponse& response, WallTime sent, WallTime received,
                          const std::string& source, Duration bound) {
  SkewReading out;
  const std::string* header = response.Header("date");
  if (header == nullptr) {
    out.note = "no Date header";
    return out;
  }
  std::string why;
  const std::optional<HttpDate> date = ParseHttpDate(*header, &why);
  if (!date) {
    std::string shown = header->substr(0, 64);
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == 0x7f) c = '?';
    }
    out.note = "Date header \"" + shown + "\": " + why;
    return out;
  }
  // Our own clock stepped back while the request was out: the interval means nothing, and the
  // header is not to blame (no note).
  if (received < sent) return out;
  const Duration skew = ClockSkew(*date, sent, received);
  out.seconds = std::chrono::duration<double>(skew).count();
  if (std::abs(skew.count()) <= bound.count()) return out;
  out.error = "clock skew: Prometheus \"" + source + "\" is at least " +
              Seconds(std::abs(out.seconds)) + (skew.count() > 0 ? " ahead of" : " behind") +
              " this host's clock (its Date header says " + FormatTime(Time(*date)) +
              "; this host's clock said " + FormatTime(Ms(sent)) + " when asking and " +
              FormatTime(Ms(received)) + " when answered), more than max_clock_skew " +
              FormatDuration(bound) +
              ": its answers are for another instant than the one asked; fix the clocks (NTP)";
  return out;
}

}  // namespace rollbackd
