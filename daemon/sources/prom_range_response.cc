#include "daemon/sources/prom_range_response.h"

#include <simdjson.h>

#include <cmath>
#include <string>

#include "daemon/sources/prom_value.h"

namespace rollbackd {
namespace {

namespace od = simdjson::ondemand;
using prom::ParseValue;
using prom::Printable;

std::string Malformed(simdjson::error_code e) {
  return std::string("malformed response: ") + simdjson::error_message(e);
}

// [<unix time>, "<value>"] appended to `series`.
bool ReadPoint(od::value v, RangeSeries* series, std::string* error) {
  od::array pair;
  if (v.get_array().get(pair) != simdjson::SUCCESS) {
    *error = "malformed response: a sample is not [time, \"value\"]";
    return false;
  }
  size_t i = 0;
  double ts = 0, value = 0;
  for (auto element : pair) {
    od::value e;
    if (auto err = element.get(e); err) {
      *error = Malformed(err);
      return false;
    }
    if (i == 0) {
      if (e.get_double().get(ts) != simdjson::SUCCESS || !std::isfinite(ts)) {
        *error = "malformed response: a sample's time is not a number";
        return false;
      }
    } else if (i == 1) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS || !ParseValue(s, &value)) {
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
  series->times.push_back(std::llround(ts * 1000));
  series->values.push_back(value);
  return true;
}

// {"metric": {...}, "values": [[t, "v"], ...]}
bool ReadSeries(od::value v, Labels::Builder* labels, RangeResult* out, std::string* error) {
  od::object entry;
  if (v.get_object().get(entry) != simdjson::SUCCESS) {
    *error = "malformed response: a matrix element is not an object";
    return false;
  }
  RangeSeries series;
  bool have_values = false;
  for (auto field : entry) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key); err) {
      *error = Malformed(err);
      return false;
    }
    if (key == "metric") {
      od::object metric;
      if (field.value().get_object().get(metric) != simdjson::SUCCESS) {
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
        labels->Add(name, val);  // views into the parser's string buffer, valid until Build
      }
      series.labels = labels->Build();
    } else if (key == "values") {
      od::array points;
      if (field.value().get_array().get(points) != simdjson::SUCCESS) {
        *error = "malformed response: \"values\" is not an array";
        return false;
      }
      for (auto p : points) {
        od::value pv;
        if (auto err = p.get(pv); err) {
          *error = Malformed(err);
          return false;
        }
        if (!ReadPoint(pv, &series, error)) return false;
      }
      have_values = true;
    } else if (key == "value") {
      *error = "unsupported result: an instant vector where a matrix was expected";
      return false;
    } else if (key == "histogram" || key == "histograms") {
      *error = "unsupported result: a native histogram; use histogram_quantile() or a float query";
      return false;
    }
  }
  if (!have_values) {
    *error = "malformed response: a matrix element has no \"values\"";
    return false;
  }
  out->series.push_back(std::move(series));
  return true;
}

bool ReadMatrix(od::value v, RangeResult* out, std::string* error) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    *error = "malformed response: \"result\" is not an array";
    return false;
  }
  Labels::Builder labels;
  for (auto element : arr) {
    od::value e;
    if (auto err = element.get(e); err) {
      *error = Malformed(err);
      return false;
    }
    if (!ReadSeries(e, &labels, out, error)) return false;
  }
  return true;
}

}  // namespace

struct PromRangeReader::Impl {
  od::parser parser;
  std::string buffer;  // the body plus simdjson's padding, reused
};

PromRangeReader::PromRangeReader() : impl_(std::make_unique<Impl>()) {}
PromRangeReader::~PromRangeReader() = default;

RangeResult PromRangeReader::Read(int http_status, std::string_view body) {
  const bool ok_status = http_status >= 200 && http_status < 300;
  auto fail = [&](std::string reason, InputError kind = InputError::kBadResponse) {
    if (!ok_status) {
      reason = "HTTP " + std::to_string(http_status) + ": " + reason;
      if (kind == InputError::kBadResponse) kind = InputError::kHttpStatus;
    }
    RangeResult r;
    r.error = QueryResult::Error(std::move(reason), kind);
    r.error->http_status = http_status;
    return r;
  };
  if (body.empty()) return fail("empty response");

  impl_->buffer.assign(body);
  impl_->buffer.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::padded_string_view json(impl_->buffer.data(), body.size(), impl_->buffer.size());
  od::document doc;
  if (impl_->parser.iterate(json).get(doc) != simdjson::SUCCESS) {
    return fail(ok_status ? "malformed response: not JSON" : Printable(body));
  }
  od::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return fail(ok_status ? "malformed response: not a JSON object" : Printable(body));
  }

  RangeResult out;
  std::string status, error_type, error_text, warnings, problem, result_type;
  bool have_result = false;
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
          result_type = s;
        } else if (dkey == "result") {
          // A scalar or string result is not an array of objects: named by its type below.
          if (result_type != "" && result_type != "matrix") continue;
          if (!ReadMatrix(df.value(), &out, &problem)) return fail(problem);
          have_result = true;
        }
      }
    }
  }
  // Anything left unread must still be valid JSON: a truncated body fails here.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return fail("malformed response: trailing content");
  }

  if (status == "error" || !error_text.empty()) {
    std::string reason = error_type.empty() ? "error" : error_type;
    RangeResult r =
        fail(reason + ": " + (error_text.empty() ? "no message" : error_text), InputError::kPromql);
    r.error->promql_error_type = std::move(reason);
    return r;
  }
  if (!ok_status) return fail("unexpected response status");
  if (status != "success") return fail("malformed response: status is not \"success\"");
  if (!warnings.empty()) return fail("warnings: " + warnings, InputError::kWarnings);
  if (result_type != "matrix") {
    return fail("unsupported result type \"" + Printable(result_type) +
                "\" from a range query; expected a matrix");
  }
  if (!have_result) return fail("malformed response: no data.result");
  return out;
}

}  // namespace rollbackd
