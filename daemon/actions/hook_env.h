// The environment a rollback hook runs with: what the decision was about, as plain variables, never
// through a shell. Documented in docs/rules.md ([rollback]).
#ifndef ROLLBACKD_ACTIONS_HOOK_ENV_H_
#define ROLLBACKD_ACTIONS_HOOK_ENV_H_

#include <string>
#include <utility>
#include <vector>

#include "daemon/engine/event.h"

namespace rollbackd {

// From a rollback.started event: ROLLBACKD_SERVICE, ROLLBACKD_TRIGGER, ROLLBACKD_EVENT_ID (the
// rollback id), ROLLBACKD_SEVERITY, ROLLBACKD_REASON, ROLLBACKD_VALUE / _THRESHOLD / _BASELINE
// (when known), ROLLBACKD_VERSION (when known) and ROLLBACKD_LABEL_<NAME> for every event label,
// NAME upper-cased. Sorted by name.
std::vector<std::pair<std::string, std::string>> HookEnvironment(const Event& started);

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_HOOK_ENV_H_
