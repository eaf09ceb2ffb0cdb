#include "daemon/sources/prom_value.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace rollbackd::prom {
namespace {

namespace od = simdjson::ondemand;

// The length of the valid UTF-8 sequence at the start of `s`, 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || n > s.size() || (n == 2 && c < 0xc2)) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

// Reasons are shown to people, written to logs and kept in the state file (JSON): short,
// printable and valid UTF-8 whatever a proxy sent (a Latin-1 error page, a cut character).
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    const size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) {
      out.push_back('?');
      ++i;
    } else if (n == 1) {
      const char c = s[i++];
      out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

// Prometheus sends sample values as strings: "0.25", "NaN", "+Inf", "-Inf", "1e+06".
bool ParseValue(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s.empty() || s.front() == '+') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string Malformed(simdjson::error_code e) {
  return std::string("malformed response: ") + simdjson::error_message(e);
}

QueryResult Failure(int http_status, std::string reason, InputError kind) {
  if (http_status < 200 || http_status >= 300) {
    reason = "HTTP " + std::to_string(http_status) + ": " + reason;
    if (kind == InputError::kBadResponse) kind = InputError::kHttpStatus;
  }
  QueryResult r = QueryResult::Error(std::move(reason), kind);
  r.http_status = http_status;
  return r;
}

bool ReadSamplePair(od::value v, double* time, double* value, std::string* error) {
  od::array pair;
  if (v.get_array().get(pair) != simdjson::SUCCESS) {
    *error = "malformed response: a sample is not [time, \"value\"]";
    return false;
  }
  size_t i = 0;
  for (auto element : pair) {
    od::value e;
    if (auto err = element.get(e); err) {
      *error = Malformed(err);
      return false;
    }
    if (i == 0) {
      if (e.get_double().get(*time) != simdjson::SUCCESS || !std::isfinite(*time)) {
        *error = "malformed response: a sample's time is not a number";
        return false;
      }
    } else if (i == 1) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS || !ParseValue(s, value)) {
        *error = "malformed response: a sample's value is not a number";
        return false;
      }
    }
    ++i;
  }
  if (i != 2) {
    *error = "malformed response: a sample is not [time, \"value\"]";
    return false;
  }
  return true;
}

bool ReadMetric(od::value v, Labels::Builder* labels, std::string* error) {
  od::object metric;
  if (v.get_object().get(metric) != simdjson::SUCCESS) {
    *error = "malformed response: \"metric\" is not an object";
    return false;
  }
  for (auto label : metric) {
    std::string_view name, val;
    if (label.unescaped_key().get(name) != simdjson::SUCCESS ||
        label.value().get_string().get(val) != simdjson::SUCCESS) {
      *error = "malformed response: a label value is not a string";
      return false;
    }
    labels->Add(name, val);
  }
  return true;
}

std::optional<QueryResult> EnvelopeReader::Read(int http_status, std::string_view body,
                                                const ResultReader& read_result,
                                                std::string* result_type) {
  const bool ok_status = http_status >= 200 && http_status < 300;
  auto fail = [&](std::string reason, InputError kind = InputError::kBadResponse) {
    return std::optional<QueryResult>(Failure(http_status, std::move(reason), kind));
  };
  if (body.empty()) return fail("empty response");

  buffer_.assign(body);
  buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::padded_string_view json(buffer_.data(), body.size(), buffer_.size());
  od::document doc;
  if (parser_.iterate(json).get(doc) != simdjson::SUCCESS) {
    return fail(ok_status ? "malformed response: not JSON" : Printable(body));
  }
  od::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return fail(ok_status ? "malformed response: not a JSON object" : Printable(body));
  }

  result_type->clear();
  std::string status, error_type, error_text, warnings, problem;
  for (auto field : root) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key); err) return fail(Malformed(err));
    std::string_view s;
    if (key == "status") {
      if (field.value().get_string().get(s) != simdjson::SUCCESS) {
        return fail("malformed response: \"status\" is not a string");
      }
      status = s;
    } else if (key == "errorType" || key == "error") {
      if (field.value().get_string().get(s) == simdjson::SUCCESS) {
        (key == "error" ? error_text : error_type) = Printable(s);
      }
    } else if (key == "warnings") {
      od::array arr;
      if (field.value().get_array().get(arr) != simdjson::SUCCESS) continue;
      for (auto w : arr) {
        std::string_view text;
        if (w.get_string().get(text) != simdjson::SUCCESS) continue;
        if (!warnings.empty()) warnings += "; ";
        warnings += Printable(text);
      }
    } else if (key == "data") {
      od::object data;
      if (field.value().get_object().get(data) != simdjson::SUCCESS) {
        return fail("malformed response: \"data\" is not an object");
      }
      for (auto df : data) {
        std::string_view dkey;
        if (auto err = df.unescaped_key().get(dkey); err) return fail(Malformed(err));
        if (dkey == "resultType") {
          if (df.value().get_string().get(s) != simdjson::SUCCESS) {
            return fail("malformed response: \"resultType\" is not a string");
          }
          *result_type = s;
        } else if (dkey == "result") {
          if (!read_result(df.value(), *result_type, &problem)) return fail(problem);
        }
      }
    }
  }
  // Anything left unread must still be valid JSON: a truncated body fails here.
  // (current_location() answers OUT_OF_BOUNDS once the whole document has been consumed.)
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return fail("malformed response: trailing content");
  }

  if (status == "error" || !error_text.empty()) {
    std::string reason = error_type.empty() ? "error" : error_type;
    auto r =
        fail(reason + ": " + (error_text.empty() ? "no message" : error_text), InputError::kPromql);
    r->promql_error_type = std::move(reason);
    return r;
  }
  if (!ok_status) return fail("unexpected response status");
  if (status != "success") return fail("malformed response: status is not \"success\"");
  if (!warnings.empty()) return fail("warnings: " + warnings, InputError::kWarnings);
  return std::nullopt;
}

}  // namespace rollbackd::prom
