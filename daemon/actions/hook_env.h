// The environment a rollback hook runs with: what the decision was about, as plain variables, never
// through a shell. Documented in docs/rules.md ([rollback], "The hook's environment").
//
// Labels come from scraped series, which any target can shape, so the environment is bounded and
// its names sanitised: a hostile label can neither stop the hook from starting (E2BIG from execve)
// nor override another variable.
#ifndef ROLLBACKD_ACTIONS_HOOK_ENV_H_
#define ROLLBACKD_ACTIONS_HOOK_ENV_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "daemon/engine/event.h"

namespace rollbackd {

// Limits (docs/rules.md). Linux refuses a single variable over 128 KiB and the whole of argv and
// environment past a quarter of the stack limit; these stay far below both.
inline constexpr size_t kHookEnvMaxValue = 4096;          // bytes of one value, cut beyond
inline constexpr size_t kHookEnvMaxLabelBytes = 64 << 10;  // all ROLLBACKD_LABEL_* together
inline constexpr size_t kHookEnvMaxLabelName = 128;        // bytes of a label name

struct HookEnv {
  std::vector<std::pair<std::string, std::string>> vars;  // sorted by name
  // What was not exported as it came, one line each, for the log (names and values escaped to one
  // line and cut short): a cut value, an invalid or colliding label name, a NUL, the budget.
  std::vector<std::string> notes;
};

// From a rollback.started event: ROLLBACKD_SERVICE, ROLLBACKD_TRIGGER, ROLLBACKD_EVENT_ID (the
// rollback id), ROLLBACKD_SEVERITY, ROLLBACKD_REASON, ROLLBACKD_VALUE / _THRESHOLD / _BASELINE
// (when known), ROLLBACKD_VERSION (when known) and ROLLBACKD_LABEL_<NAME> for every label whose name
// is [A-Za-z_][A-Za-z0-9_]* (NAME upper-cased). Labels whose names collide once upper-cased, hold a
// NUL or do not fit the budget (taken in name order) are left out; values longer than
// kHookEnvMaxValue are cut at a UTF-8 boundary. When anything was cut or left out,
// ROLLBACKD_ENV_TRUNCATED names the cut variables (comma-separated, itself bounded) and
// ROLLBACKD_LABELS_OMITTED counts the labels left out.
HookEnv HookEnvironment(const Event& started);

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_HOOK_ENV_H_
