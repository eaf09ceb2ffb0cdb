#include "daemon/io/fd_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rollbackd {

std::string ErrnoMessage(const std::string& what) { return what + ": " + std::strerror(errno); }

bool WriteAll(int fd, std::string_view data, std::string* error) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoMessage("write");
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, std::string* out, std::string* error, size_t max_bytes) {
  char buf[65536];
  const size_t start = out->size();
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoMessage("read");
      return false;
    }
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() - start > max_bytes) {
      *error = "larger than " + std::to_string(max_bytes) + " bytes";
      return false;
    }
  }
}

bool ReadableByOthers(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0;
}

std::string SecretFileWarning(const std::string& path, const std::string& key) {
  if (!ReadableByOthers(path)) return "";
  return key + ": " + path +
         " is readable by every user of this host: chmod o-r it (0640, owner root, group "
         "rollbackd, is the packaged layout)";
}

std::optional<std::string> ReadFileToString(const std::string& path, std::string* error,
                                            size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  std::string out;
  std::string reason;
  const bool ok = ReadAll(fd, &out, &reason, max_bytes);
  ::close(fd);
  if (!ok) {
    // The reason alone: "read: Is a directory" -> "Is a directory".
    *error = reason.rfind("read: ", 0) == 0 ? reason.substr(6) : reason;
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> ReadSecretFile(const std::string& path, std::string* error) {
  std::string reason;
  auto content = ReadFileToString(path, &reason, size_t(1) << 20);
  if (!content) {
    *error = "cannot read " + path + ": " + reason;
    return std::nullopt;
  }
  std::string s = std::move(*content);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.empty()) {
    *error = path + " is empty";
    return std::nullopt;
  }
  return s;
}

}  // namespace rollbackd
