// `rollbackd status`'s output, from the daemon's status document (GET /api/v1/status, docs/api.md):
// pure text in, text out, so that tests cover it without a daemon, a terminal or a clock.
//
// Every string taken from the document (names, versions, label values, errors: they come from rule
// files and from Prometheus) is printed literally, except control characters, which are escaped
// as \xNN: a label value must not be able to move the cursor or recolour an operator's terminal.
#ifndef ROLLBACKD_CLI_STATUS_TABLE_H_
#define ROLLBACKD_CLI_STATUS_TABLE_H_

#include <chrono>
#include <string>
#include <string_view>

namespace rollbackd {

struct StatusTableOptions {
  bool color = false;  // ANSI colours (firing red, pending yellow); the caller decides (a terminal)
  std::chrono::system_clock::time_point now;  // what SINCE's ages are measured from
};

// The table, columns SERVICE VERSION TRIGGER STATE VALUE THRESHOLD SINCE aligned on their widest
// cell, one row per series of each trigger and health check (one row with "-" for a rule without
// series yet), then compact notes: not ready, dry run, paused services, rollbacks in flight, the
// fleet brake, failing inputs, cluster ownership. SINCE is the age of a pending or firing series'
// state and its UTC instant: "4m12s (18:02:11Z)"; the date is added when it is not today's.
// false with `error` when `document` is not a status document.
bool RenderStatusTable(std::string_view document, const StatusTableOptions& options,
                       std::string* out, std::string* error);

enum class FilterResult { kOk, kUnknownService, kBadDocument };

// `document` with its `services` reduced to the one named `service`, indented for people;
// `service` "" keeps them all. kUnknownService and `error` listing the known names when absent.
FilterResult FilterStatus(std::string_view document, const std::string& service, std::string* out,
                          std::string* error);

// `s` with control characters (C0, DEL, C1) as \xNN, the rest as it is: how every text from the
// daemon reaches the terminal.
std::string CleanForTerminal(std::string_view s);

// "4m12s", "3h05m", "2d03h": an age as an operator reads it at a glance (negative: "0s").
std::string FormatAge(std::chrono::milliseconds age);

}  // namespace rollbackd

#endif  // ROLLBACKD_CLI_STATUS_TABLE_H_
