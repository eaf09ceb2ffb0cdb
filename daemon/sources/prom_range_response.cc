#include "daemon/sources/prom_range_response.h"

#include <simdjson.h>

#include <cmath>
#include <string>

#include "daemon/sources/prom_value.h"

namespace rollbackd {
namespace {

namespace od = simdjson::ondemand;
using prom::Malformed;
using prom::ParseValue;
using prom::Printable;

// [<unix time>, "<value>"] appended to `series`.
bool ReadPoint(od::value v, RangeSeries* series, std::string* error) {
  double ts = 0, value = 0;
  if (!prom::ReadSamplePair(v, &ts, &value, error)) return false;
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
      if (!prom::ReadMetric(field.value(), labels, error)) return false;
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
  prom::EnvelopeReader envelope;
};

PromRangeReader::PromRangeReader() : impl_(std::make_unique<Impl>()) {}
PromRangeReader::~PromRangeReader() = default;

RangeResult PromRangeReader::Read(int http_status, std::string_view body) {
  RangeResult out;
  bool have_result = false;
  std::string result_type;
  const auto read_result = [&](od::value result, std::string_view type, std::string* error) {
    // A scalar or string result is not an array of objects: named by its type below.
    if (type != "" && type != "matrix") return true;
    have_result = ReadMatrix(result, &out, error);
    return have_result;
  };
  const auto fail = [](QueryResult error) {
    RangeResult r;
    r.error = std::move(error);
    return r;
  };
  if (auto error = impl_->envelope.Read(http_status, body, read_result, &result_type)) {
    return fail(std::move(*error));
  }
  if (result_type != "matrix") {
    return fail(prom::Failure(http_status, "unsupported result type \"" + Printable(result_type) +
                                               "\" from a range query; expected a matrix"));
  }
  if (!have_result) return fail(prom::Failure(http_status, "malformed response: no data.result"));
  return out;
}

}  // namespace rollbackd
