#include "daemon/ruletest/series_notation.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "daemon/config/toml_reader.h"

namespace rollbackd {
namespace {

std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view body = s;
  double sign = 1;
  if (body[0] == '+' || body[0] == '-') {
    sign = body[0] == '-' ? -1 : 1;
    body.remove_prefix(1);
  }
  if (body == "Inf" || body == "inf" || body == "+Inf") {
    return sign * std::numeric_limits<double>::infinity();
  }
  if (body == "NaN" || body == "nan") return std::numeric_limits<double>::quiet_NaN();
  // Plain decimals only: strtod would also take hex floats, "infinity" and "nan(...)".
  if (body.find_first_not_of("0123456789.eE+-") != std::string_view::npos) return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<size_t> ParseCount(std::string_view s) {
  if (s.empty() || s.size() > 7) return std::nullopt;
  size_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

}  // namespace

std::optional<std::vector<SeriesPoint>> ExpandSeries(std::string_view text, std::string* error) {
  std::vector<SeriesPoint> out;
  size_t i = 0;
  auto push = [&](SeriesPoint p, size_t n) {
    if (out.size() + n > kMaxSeriesPoints) return false;
    out.insert(out.end(), n, p);
    return true;
  };
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == text.size()) break;
    size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    std::string_view token = text.substr(i, end - i);
    i = end;
    auto bad = [&](const char* why) {
      *error = "bad value \"" + std::string(token) + "\": " + why;
      return std::nullopt;
    };
    // Split "<head>x<count>".
    std::string_view head = token;
    std::optional<size_t> count;
    size_t x = token.rfind('x');
    if (x != std::string_view::npos) {
      count = ParseCount(token.substr(x + 1));
      if (!count) return bad("expected a whole number of repetitions after 'x'");
      head = token.substr(0, x);
    }
    SeriesPoint p;
    if (head == "_" || head == "stale" || head == "err") {
      p.kind = head == "err" ? SeriesPoint::Kind::kError : SeriesPoint::Kind::kMissing;
      if (!push(p, count.value_or(1))) return bad("series too long");
      continue;
    }
    if (!count) {
      auto v = ParseNumber(head);
      if (!v) return bad("expected a number, _, stale or err");
      p.value = *v;
      if (!push(p, 1)) return bad("series too long");
      continue;
    }
    // "a+bxn" / "a-bxn" / "axn": a, then n further values.
    size_t op = std::string_view::npos;
    for (size_t k = 1; k < head.size(); ++k) {
      if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' && head[k - 1] != 'E') op = k;
    }
    std::optional<double> a, b;
    if (op == std::string_view::npos) {
      a = ParseNumber(head);
      b = 0.0;
    } else {
      a = ParseNumber(head.substr(0, op));
      b = ParseNumber(head.substr(op + 1));
      if (b && head[op] == '-') *b = -*b;
    }
    if (!a || !b) return bad("expected a+bxn, a-bxn or axn with numbers a, b");
    if (*count + 1 + out.size() > kMaxSeriesPoints) return bad("series too long");
    for (size_t k = 0; k <= *count; ++k) {
      out.push_back({SeriesPoint::Kind::kValue, *a + static_cast<double>(k) * *b});
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
