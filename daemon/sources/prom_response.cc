#include "daemon/sources/prom_response.h"

#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "daemon/sources/prom_value.h"

namespace rollbackd {
namespace {

namespace od = simdjson::ondemand;
using prom::Malformed;
using prom::ParseValue;
using prom::Printable;

// {"metric": {...}, "value": [t, "v"]}
bool ReadVectorEntry(od::value v, Labels::Builder* labels, QueryResult* out, std::string* error) {
  od::object entry;
  if (v.get_object().get(entry) != simdjson::SUCCESS) {
    *error = "malformed response: a vector element is not an object";
    return false;
  }
  double value = 0;
  bool have_value = false;
  for (auto field : entry) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key); err) {
      *error = Malformed(err);
      return false;
    }
    if (key == "metric") {
      if (!prom::ReadMetric(field.value(), labels, error)) return false;
    } else if (key == "value") {
      double time;
      if (!prom::ReadSamplePair(field.value(), &time, &value, error)) return false;
      have_value = true;
    } else if (key == "values") {
      *error = "unsupported result: a range (matrix); use an instant query";
      return false;
    } else if (key == "histogram" || key == "histograms") {
      *error = "unsupported result: a native histogram; use histogram_quantile() or a float query";
      return false;
    }
  }
  if (!have_value) {
    *error = "malformed response: a vector element has no \"value\"";
    return false;
  }
  out->series.push_back({labels->Build(), value});
  return true;
}

// "result": a vector ([{...}, ...]) or a scalar ([t, "v"]).
bool ReadResult(od::value v, QueryResult* out, std::string* error) {
  od::json_type type;
  if (auto err = v.type().get(type); err) {
    *error = Malformed(err);
    return false;
  }
  if (type != od::json_type::array) {
    *error = "malformed response: \"result\" is not an array";
    return false;
  }
  od::array arr;
  if (auto err = v.get_array().get(arr); err) {
    *error = Malformed(err);
    return false;
  }
  size_t i = 0;
  bool scalar = false;
  Labels::Builder labels;
  double scalar_value = 0;
  for (auto element : arr) {
    od::value e;
    if (auto err = element.get(e); err) {
      *error = Malformed(err);
      return false;
    }
    od::json_type et;
    if (auto err = e.type().get(et); err) {
      *error = Malformed(err);
      return false;
    }
    if (i == 0 && et == od::json_type::number) scalar = true;
    if (scalar) {
      if (i == 1) {
        std::string_view s;
        if (e.get_string().get(s) != simdjson::SUCCESS || !ParseValue(s, &scalar_value)) {
          *error = "malformed response: the scalar's value is not a number";
          return false;
        }
      } else if (i > 1) {
        *error = "malformed response: a scalar is not [time, \"value\"]";
        return false;
      }
    } else if (!ReadVectorEntry(e, &labels, out, error)) {
      return false;
    }
    ++i;
  }
  if (scalar) {
    if (i != 2) {
      *error = "malformed response: a scalar is not [time, \"value\"]";
      return false;
    }
    out->series.push_back({Labels(), scalar_value});
  }
  return true;
}

// The fast path. Prometheus writes a vector result in one compact shape:
//   {"status":"success","data":{"resultType":"vector","result":[
//     {"metric":{"name":"value",...},"value":[<time>,"<value>"]},...]}}
// This scanner reads exactly that shape (whitespace between tokens allowed) straight into the
// result, in one pass, with no per-token dispatch. It never decides anything about a body it does
// not recognise: any other key order, an escaped string, a control character, warnings, an error
// status, a scalar, a histogram, trailing bytes... and it gives up, and the general reader below
// (simdjson on-demand) reads the body from the start and gives the answer or the reason. So the two
// paths cannot disagree on a body the scanner accepts (tests/unit/prom_response_test.cc compares
// them on mutated bodies). UTF-8 is checked for the whole body first (simdjson, SIMD).
class FastVectorScanner {
 public:
  explicit FastVectorScanner(std::string_view body)
      : p_(body.data()), end_(body.data() + body.size()) {}

  // True when the body had the shape and `out` holds its series; false: use the general reader
  // (`out` is then unspecified).
  bool Read(QueryResult* out) {
    if (!(Literal("{") && Literal("\"status\"") && Literal(":") && Literal("\"success\"") &&
          Literal(",") && Literal("\"data\"") && Literal(":") && Literal("{") &&
          Literal("\"resultType\"") && Literal(":") && Literal("\"vector\"") && Literal(",") &&
          Literal("\"result\"") && Literal(":") && Literal("["))) {
      return false;
    }
    Labels::Builder labels;
    if (!List(']', [&] { return Entry(&labels, out); })) return false;
    if (!(Literal("}") && Literal("}"))) return false;
    SkipSpace();
    return p_ == end_;
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
  void SkipSpace() {
    while (p_ < end_ && IsSpace(*p_)) ++p_;
  }

  // `token` after optional whitespace.
  bool Literal(std::string_view token) {
    SkipSpace();
    if (static_cast<size_t>(end_ - p_) < token.size() ||
        std::memcmp(p_, token.data(), token.size()) != 0) {
      return false;
    }
    p_ += token.size();
    return true;
  }

  // Elements read by `element`, separated by commas, up to and including `close`; the opening
  // bracket is already read.
  template <typename Element>
  bool List(char close, Element element) {
    SkipSpace();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    while (true) {
      if (!element()) return false;
      SkipSpace();
      if (p_ >= end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  // A string without escapes or control characters (both rare in label values: they make the
  // general reader take the body). `p_` is on the opening quote. Looks for the closing quote 8
  // bytes at a time.
  bool String(std::string_view* out) {
    SkipSpace();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (std::endian::native == std::endian::little && end_ - p_ >= 8) {
      uint64_t word;
      std::memcpy(&word, p_, 8);
      if (const uint64_t special = SpecialBytes(word); special != 0) {
        p_ += std::countr_zero(special) / 8;  // the first one is exact (see SpecialBytes)
        break;
      }
      p_ += 8;
    }
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      ++p_;
    }
    return false;
  }

  // The high bit of each byte of `w` (little-endian) that is '"', '\\' or below 0x20. Bytes above
  // the first such byte may be flagged wrongly (a borrow), never the bytes below it.
  static uint64_t SpecialBytes(uint64_t w) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    const auto zero_bytes = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    return zero_bytes(w ^ (kOnes * '"')) | zero_bytes(w ^ (kOnes * '\\')) |
           ((w - kOnes * 0x20) & ~w & kHigh);
  }

  // The sample's time as Prometheus writes it (1700000000.123): a JSON number without an exponent
  // and with at most 20 integer digits, validated by the grammar; its value is not needed. Any
  // other number goes to the general reader, which refuses one that a double cannot hold (found
  // by fuzz/prom_response_fuzz.cc: the scanner took 10000E522, the general reader did not).
  bool Number() {
    SkipSpace();
    const auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    const auto digits = [&] {
      if (!digit()) return false;
      while (digit()) ++p_;
      return true;
    };
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* integer = p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (!digits() || p_ - integer > 20) {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    return p_ >= end_ || (*p_ != 'e' && *p_ != 'E');
  }

  // {"metric":{...},"value":[t,"v"]}
  // Out of line: inlined into PromResponseReader::Read, GCC 12 makes the scan of a vector about 8%
  // more instructions (callgrind on bench/prom_parse_bench.cc).
  [[gnu::noinline]] bool Entry(Labels::Builder* labels, QueryResult* out) {
    if (!(Literal("{") && Literal("\"metric\"") && Literal(":") && Literal("{"))) return false;
    const bool metric_read = List('}', [&] {
      std::string_view name, value;
      if (!String(&name) || !Literal(":") || !String(&value)) return false;
      labels->Add(name, value);
      return true;
    });
    if (!metric_read) return false;
    std::string_view text;
    double value = 0;
    if (!(Literal(",") && Literal("\"value\"") && Literal(":") && Literal("[") && Number() &&
          Literal(",") && String(&text) && ParseValue(text, &value) && Literal("]") &&
          Literal("}"))) {
      return false;
    }
    out->series.push_back({labels->Build(), value});
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

struct PromResponseReader::Impl {
  bool fast_path = true;
  prom::EnvelopeReader envelope;
};

PromResponseReader::PromResponseReader(bool fast_path) : impl_(std::make_unique<Impl>()) {
  impl_->fast_path = fast_path;
}
PromResponseReader::~PromResponseReader() = default;

QueryResult PromResponseReader::Read(int http_status, std::string_view body) {
  if (impl_->fast_path && !body.empty() && http_status >= 200 && http_status < 300 &&
      simdjson::validate_utf8(body.data(), body.size())) {
    QueryResult fast;
    if (FastVectorScanner(body).Read(&fast)) return fast;
  }

  QueryResult out;
  bool have_result = false;
  std::string result_type;
  const auto read_result = [&](od::value result, std::string_view, std::string* error) {
    have_result = ReadResult(result, &out, error);
    return have_result;
  };
  if (auto error = impl_->envelope.Read(http_status, body, read_result, &result_type)) {
    return std::move(*error);
  }
  if (!have_result) return prom::Failure(http_status, "malformed response: no data.result");
  if (result_type != "vector" && result_type != "scalar") {
    return prom::Failure(http_status, "unsupported result type \"" + Printable(result_type) +
                                          "\"; use an instant query returning a vector or scalar");
  }
  return out;
}

}  // namespace rollbackd
