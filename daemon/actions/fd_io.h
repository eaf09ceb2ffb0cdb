// Small POSIX file helpers shared by the journal and the decision log.
#ifndef ROLLBACKD_ACTIONS_FD_IO_H_
#define ROLLBACKD_ACTIONS_FD_IO_H_

#include <string>

namespace rollbackd {

// "<what>: <strerror(errno)>".
std::string ErrnoMessage(const std::string& what);

// Writes all of `data` to `fd`, retrying short writes and EINTR. False and `error` on failure.
bool WriteAll(int fd, const std::string& data, std::string* error);

}  // namespace rollbackd

#endif  // ROLLBACKD_ACTIONS_FD_IO_H_
