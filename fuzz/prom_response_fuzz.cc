// Both Prometheus response readers (daemon/sources/prom_response.h) on any body: the fast scanner,
// which takes Prometheus' own compact vector shape, and the general simdjson reader, which takes
// everything else. Differential: the reader with the fast path must give exactly what the general
// reader alone gives (series, labels, values bit for bit, error kind and reason), for every body.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/sources/prom_response.h"
#include "fuzz/fuzz_util.h"

namespace {

using rollbackd::QueryResult;

std::string Describe(const QueryResult& r) {
  std::string s = r.is_error() ? "error " : "series ";
  s += std::to_string(static_cast<int>(r.error_kind)) + " " + r.error + " [" + r.promql_error_type +
       "] status " + std::to_string(r.http_status);
  for (const rollbackd::Sample& sample : r.series) {
    s += "\n  {";
    for (const auto& [name, value] : sample.labels) {
      s += std::string(name) + "=" + std::string(value) + ",";
    }
    uint64_t bits = 0;
    std::memcpy(&bits, &sample.value, sizeof bits);
    s += "} " + std::to_string(sample.value) + " bits " + std::to_string(bits);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* fast = new rollbackd::PromResponseReader(/*fast_path=*/true);
  static auto* general = new rollbackd::PromResponseReader(/*fast_path=*/false);
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const int status : {200, 503}) {
    const std::string a = Describe(fast->Read(status, body));
    const std::string b = Describe(general->Read(status, body));
    if (a != b) rollbackd::fuzz::Fail("the readers disagree:\nfast path: " + a + "\ngeneral: " + b);
  }
  return 0;
}
