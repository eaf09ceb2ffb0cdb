// Bounds a TOML text must keep before it is handed to toml++, whose parser recurses once per
// dotted-key part and per nesting level: a rule file with a 50,000-part dotted key overflowed the
// stack, so `check` died with SIGSEGV and a SIGHUP killed the running daemon. The scan is one
// pass without recursion; anything past the bounds is a located error, never a crash.
#ifndef ROLLBACKD_CONFIG_TOML_LIMITS_H_
#define ROLLBACKD_CONFIG_TOML_LIMITS_H_

#include <cstddef>
#include <string_view>

#include "daemon/config/diagnostics.h"

namespace rollbackd {

inline constexpr size_t kMaxConfigFileBytes = 4 << 20;  // a rule file is a few KiB
inline constexpr size_t kMaxTomlKeyParts = 64;          // a.b.c is 3 parts
inline constexpr size_t kMaxTomlNesting = 64;           // arrays and inline tables inside others

// False, with one error at the offending line and column, when `text` has a key of more than
// kMaxTomlKeyParts parts or values nested deeper than kMaxTomlNesting. Says nothing of syntax:
// toml++ reports that.
bool CheckTomlBounds(std::string_view text, const std::string& file, Diagnostics* diags);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_TOML_LIMITS_H_
