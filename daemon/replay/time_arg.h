// `replay`'s TIME arguments: an RFC 3339 instant ("2026-03-01T12:00:00Z",
// "2026-03-01T13:00:00.250+01:00") or an instant relative to now ("now", "-7d", "-90m", "-1h30m").
// Pure: `now` is passed in.
#ifndef ROLLBACKD_REPLAY_TIME_ARG_H_
#define ROLLBACKD_REPLAY_TIME_ARG_H_

#include <optional>
#include <string>
#include <string_view>

#include "daemon/engine/samples.h"

namespace rollbackd {

// nullopt and `error` (what was expected, without the flag's name: the caller adds it) when `text`
// is neither form. Relative times take ParseDuration's syntax after the minus sign.
std::optional<Time> ParseTimeArg(std::string_view text, Time now, std::string* error);

// RFC 3339 alone, with a time zone (Z or +hh:mm / -hh:mm) and up to milliseconds of fraction
// (further digits are cut, not rounded).
std::optional<Time> ParseRfc3339(std::string_view text);

}  // namespace rollbackd

#endif  // ROLLBACKD_REPLAY_TIME_ARG_H_
