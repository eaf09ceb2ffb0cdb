// Helpers the fuzz targets share. A target whose input is several files (a state dir, a template
// and the event it renders) reads them from one input cut at kPartSeparator, a line that no real
// file holds; the dictionaries name it so that the fuzzer learns to add and move parts.
#ifndef ROLLBACKD_FUZZ_FUZZ_UTIL_H_
#define ROLLBACKD_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace rollbackd::fuzz {

inline constexpr std::string_view kPartSeparator = "\n--8<--\n";

// Exactly `n` parts: the input's first n-1 separators cut it, the last part keeps the rest; parts
// past the end of the input are empty.
inline std::vector<std::string_view> SplitInput(const uint8_t* data, size_t size, size_t n) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    const size_t at = rest.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(rest);
  parts.resize(n);
  return parts;
}

// The service "web" of the state-dir targets (state_dir, state_files), whose corpus holds its
// engine state, journal and outbox: one trigger "errors" and an exec rollback, the [rollback]
// table last so that a target may append keys to it.
inline constexpr const char* kWebRule = R"(
service = "web"
[[trigger]]
name = "errors"
query = "errors"
above = 0.5
for = "10s"
[rollback]
exec = ["/bin/rollback"]
)";

// A broken invariant: say which, then abort so that libFuzzer keeps the input as a crash.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace rollbackd::fuzz

#endif  // ROLLBACKD_FUZZ_FUZZ_UTIL_H_
