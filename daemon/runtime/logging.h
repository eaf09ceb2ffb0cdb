// The daemon's log: spdlog on stderr, as text for people or as JSON lines for log shippers.
// Secrets never reach a log line: nothing here sees them, and callers log names, never values.
#ifndef ROLLBACKD_RUNTIME_LOGGING_H_
#define ROLLBACKD_RUNTIME_LOGGING_H_

#include <optional>
#include <string>
#include <string_view>

namespace rollbackd {

enum class LogFormat { kText, kJson };

std::optional<LogFormat> ParseLogFormat(std::string_view s);
// "trace", "debug", "info", "warning" (or "warn"), "error"; true when `s` names a level.
bool IsLogLevel(std::string_view s);

// Replaces spdlog's default logger. Text: "2026-11-21T19:04:19.123Z info message" (without the
// time when stderr is the systemd journal, which stamps lines itself); JSON:
// {"time":"...","level":"info","msg":"..."}, one object per line, flushed at every line.
void SetUpLogging(LogFormat format, std::string_view level);

}  // namespace rollbackd

#endif  // ROLLBACKD_RUNTIME_LOGGING_H_
