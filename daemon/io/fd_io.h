// Small POSIX helpers under the real file system and the process runner.
#ifndef ROLLBACKD_IO_FD_IO_H_
#define ROLLBACKD_IO_FD_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollbackd {

// "<what>: <strerror(errno)>".
std::string ErrnoMessage(const std::string& what);

// Writes all of `data` to `fd`, retrying short writes and EINTR. False and `error` on failure.
bool WriteAll(int fd, std::string_view data, std::string* error);
// Reads `fd` to its end into `out` (appending), retrying EINTR. Past `max_bytes` read it stops
// with an error ("larger than N bytes").
bool ReadAll(int fd, std::string* out, std::string* error, size_t max_bytes = SIZE_MAX);

// The whole file at `path`: the one "read a small file" of the edges (secret files, keys). nullopt
// and `error` (the reason alone, "No such file or directory", for the caller to put beside the
// path) on failure; a file above `max_bytes` is refused, without reading past the limit.
// A secret file any user of the host can read (mode o+r): the daemon still loads it, and warns.
// Group-readable is fine (root:rollbackd 0640 is the packaged layout).
bool ReadableByOthers(const std::string& path);
// The warning for such a file, `key` naming the setting: "" when it is not readable by others.
std::string SecretFileWarning(const std::string& path, const std::string& key);

std::optional<std::string> ReadFileToString(const std::string& path, std::string* error,
                                            size_t max_bytes = size_t(64) << 20);

// A secret file's content (a token, a password) without its trailing newline (and \r). nullopt and
// `error` (naming the file, never the content) when unreadable or empty; at most 1 MiB.
std::optional<std::string> ReadSecretFile(const std::string& path, std::string* error);

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_FD_IO_H_
