#include "daemon/actions/fd_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rollbackd {

std::string ErrnoMessage(const std::string& what) { return what + ": " + std::strerror(errno); }

bool WriteAll(int fd, const std::string& data, std::string* error) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoMessage("write");
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace rollbackd
