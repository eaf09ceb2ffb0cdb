#include "daemon/ruletest/series_notation.h"

#include <strings.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "daemon/config/toml_reader.h"

namespace rollbackd {
namespace {

// A number as promtool's series lexer takes it: decimals (with exponent), "Inf" and "NaN" in any
// case, an optional sign. Subnormals such as 1e-310 are numbers; a value beyond a double's range
// (1e400) is an error, as in promtool.
enum class NumberError { kNone, kSyntax, kRange };
std::optional<double> ParseNumber(std::string_view s, NumberError* why) {
  *why = NumberError::kSyntax;
  if (s.empty()) return std::nullopt;
  std::string_view body = s;
  double sign = 1;
  if (body[0] == '+' || body[0] == '-') {
    sign = body[0] == '-' ? -1 : 1;
    body.remove_prefix(1);
  }
  auto is = [&](std::string_view word) {
    return body.size() == word.size() && strncasecmp(body.data(), word.data(), word.size()) == 0;
  };
  if (is("inf")) return sign * std::numeric_limits<double>::infinity();
  if (is("nan")) return std::numeric_limits<double>::quiet_NaN();
  // Plain decimals only: strtod would also take hex floats, "infinity" and "nan(...)".
  if (body.empty() || body.find_first_not_of("0123456789.eE+-") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  // ERANGE is also set on underflow (1e-310 reads as a subnormal, 1e-400 as 0): both are numbers.
  if (errno == ERANGE && std::isinf(v)) {
    *why = NumberError::kRange;
    return std::nullopt;
  }
  *why = NumberError::kNone;
  return v;
}

// The repetition count after 'x': digits only. Any count is well formed; one that makes the series
// longer than kMaxSeriesPoints is refused as "series too long", not as a malformed number.
std::optional<uint64_t> ParseCount(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    n = n > (std::numeric_limits<uint64_t>::max() - digit) / 10
            ? std::numeric_limits<uint64_t>::max()
            : n * 10 + digit;
  }
  return n;
}

// "stale", or a number spelt as a word ("NaN", "-Inf"): promtool's lexer takes "NaNx3" as one word.
bool IsWord(std::string_view s) {
  if (s == "stale") return true;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return s.size() == 3 &&
         (strncasecmp(s.data(), "inf", 3) == 0 || strncasecmp(s.data(), "nan", 3) == 0);
}

}  // namespace

std::optional<std::vector<SeriesPoint>> ExpandSeries(std::string_view text, std::string* error) {
  std::vector<SeriesPoint> out;
  size_t i = 0;
  const std::string too_long =
      "series too long: at most " + std::to_string(kMaxSeriesPoints) + " points";
  // n more points fit (n may be huge: 1x1000000000 is well formed, only too long).
  auto fits = [&](uint64_t n) { return n <= kMaxSeriesPoints - out.size(); };
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == text.size()) break;
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string_view token = text.substr(i, end - i);
    i = end;
    auto bad = [&](const std::string& why) {
      *error = "bad value \"" + std::string(token) + "\": " + why;
      return std::nullopt;
    };
    // Split "<head>x<count>".
    std::string_view head = token;
    std::optional<uint64_t> count;
    size_t x = token.rfind('x');
    if (x != std::string_view::npos) {
      count = ParseCount(token.substr(x + 1));
      if (!count) return bad("expected a whole number of repetitions after 'x'");
      head = token.substr(0, x);
    }
    SeriesPoint p;
    if (head == "_" || head == "err") {
      // As promtool's "_xn": n points, not n + 1.
      p.kind = head == "err" ? SeriesPoint::Kind::kError : SeriesPoint::Kind::kMissing;
      const uint64_t n = count.value_or(1);
      if (!fits(n)) return bad(too_long);
      out.insert(out.end(), static_cast<size_t>(n), p);
      continue;
    }
    if (count && IsWord(head)) {
      // promtool reads "stalex3", "NaNx3" and "Infx3" as one unknown word; so do we, rather than
      // giving them a count of our own.
      return bad(
          "a repetition needs a number or _ before 'x' (promtool reads this as one word); "
          "write _x" +
          std::to_string(*count) + " for missing samples or " + std::string(head) + "+0x" +
          std::to_string(*count));
    }
    NumberError why = NumberError::kNone;
    if (!count) {
      if (head == "stale") {
        p.kind = SeriesPoint::Kind::kMissing;
        if (!fits(1)) return bad(too_long);
        out.push_back(p);
        continue;
      }
      auto v = ParseNumber(head, &why);
      if (!v) {
        return bad(why == NumberError::kRange ? "number out of range"
                                              : "expected a number, _, stale or err");
      }
      p.value = *v;
      if (!fits(1)) return bad(too_long);
      out.push_back(p);
      continue;
    }
    // "a+bxn" / "a-bxn" / "axn": a, then n further values.
    size_t op = std::string_view::npos;
    for (size_t k = 1; k < head.size(); ++k) {
      if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' && head[k - 1] != 'E') op = k;
    }
    std::optional<double> a, b;
    NumberError why_b = NumberError::kNone;
    if (op == std::string_view::npos) {
      a = ParseNumber(head, &why);
      b = 0.0;
    } else {
      a = ParseNumber(head.substr(0, op), &why);
      b = ParseNumber(head.substr(op + 1), &why_b);
      if (b && head[op] == '-') *b = -*b;
    }
    if (!a || !b) {
      if (why == NumberError::kRange || why_b == NumberError::kRange) {
        return bad("number out of range");
      }
      return bad("expected a+bxn, a-bxn or axn with numbers a, b");
    }
    if (*count == std::numeric_limits<uint64_t>::max() || !fits(*count + 1)) return bad(too_long);
    // promtool adds b once per step (v += b), so a ramp lands on the same doubles as there:
    // 10.37-0.2x4 ends at 9.570000000000002, not at 10.37 + 4 * -0.2 = 9.57.
    double v = *a;
    for (uint64_t k = 0; k <= *count; ++k) {
      out.push_back({SeriesPoint::Kind::kValue, v});
      v += *b;
    }
  }
  return out;
}

std::optional<SeriesKey> ParseSeriesKey(std::string_view text, std::string* error) {
  SeriesKey key;
  size_t brace = text.find('{');
  key.name = std::string(text.substr(0, brace));
  if (key.name.empty()) {
    *error = "missing name before '{'";
    return std::nullopt;
  }
  if (brace == std::string_view::npos) return key;
  if (text.back() != '}') {
    *error = "expected '}' at the end";
    return std::nullopt;
  }
  std::string_view body = text.substr(brace + 1, text.size() - brace - 2);
  std::vector<Labels::Pair> pairs;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  };
  while (true) {
    skip_space();
    if (i == body.size()) break;
    size_t start = i;
    while (i < body.size() && body[i] != '=' && body[i] != ' ') ++i;
    std::string name(body.substr(start, i - start));
    if (!IsValidLabelName(name)) {
      *error = "invalid label name \"" + name + "\"";
      return std::nullopt;
    }
    skip_space();
    if (i >= body.size() || body[i] != '=') {
      *error = "expected = after label " + name;
      return std::nullopt;
    }
    ++i;
    skip_space();
    if (i >= body.size() || body[i] != '"') {
      *error = "expected a double-quoted value for label " + name;
      return std::nullopt;
    }
    ++i;
    std::string value;
    bool closed = false;
    while (i < body.size()) {
      char c = body[i++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && i < body.size()) {
        char n = body[i++];
        value.push_back(n == 'n' ? '\n' : n);
        continue;
      }
      value.push_back(c);
    }
    if (!closed) {
      *error = "unterminated value for label " + name;
      return std::nullopt;
    }
    pairs.emplace_back(std::move(name), std::move(value));
    skip_space();
    if (i < body.size()) {
      if (body[i] != ',') {
        *error = "expected ',' between labels";
        return std::nullopt;
      }
      ++i;
    }
  }
  key.labels = Labels(std::move(pairs));
  return key;
}

}  // namespace rollbackd
