// What of a configured URL may be shown: in events, logs, the journal, state and the decision log.
// A URL's user info (`user:password@`), query string and fragment can carry credentials (a token
// in `?token=...`); none of them is shown anywhere. Secrets belong in files (`bearer_token_file`,
// `basic_auth.password_file`, `secret_file`), which only the request itself reads.
#ifndef ROLLBACKD_CONFIG_REDACT_H_
#define ROLLBACKD_CONFIG_REDACT_H_

#include <string>
#include <string_view>

namespace rollbackd {

// scheme://host[:port]/path; user info replaced by nothing, query and fragment by "?…" markers:
// "https://u:p@ci.example.com/hook?token=x" -> "https://ci.example.com/hook?redacted".
std::string RedactUrl(std::string_view url);

// Whether `url` has user info or a query string, i.e. whether RedactUrl hides anything.
bool UrlHasCredentials(std::string_view url);

// `s` on one line for a log: a newline as \n, other control characters as \xNN, so that text from
// Prometheus, probes or a hook (a label value, a reason) cannot forge a log line.
std::string OneLine(std::string_view s);

}  // namespace rollbackd

#endif  // ROLLBACKD_CONFIG_REDACT_H_
