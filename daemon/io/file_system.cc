#include "daemon/io/file_system.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/io/fd_io.h"

namespace rollbackd {

FileSystem::Read FileSystem::ReadRanges(const std::string& path,
                                        const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                                        std::string* out, std::string* error) {
  std::string text;
  const Read r = ReadFile(path, &text, error);
  if (r != Read::kOk) return r;
  for (const auto& [offset, size] : ranges) {
    if (offset > text.size() || size > text.size() - offset) {
      *error = path + ": shorter than expected (" + std::to_string(text.size()) + " bytes)";
      return Read::kError;
    }
    out->append(text, offset, size);
  }
  return Read::kOk;
}

namespace {

class PosixAppendFile : public AppendFile {
 public:
  PosixAppendFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixAppendFile() override { ::close(fd_); }

  bool Append(std::string_view data, std::string* error) override {
    if (!WriteAll(fd_, data, error)) {
      *error = path_ + ": " + *error;
      return false;
    }
    return true;
  }
  bool Sync(std::string* error) override {
    if (::fdatasync(fd_) == 0) return true;
    *error = ErrnoMessage("fdatasync " + path_);
    return false;
  }
  bool Truncate(uint64_t size, std::string* error) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) == 0) return true;
    *error = ErrnoMessage("ftruncate " + path_);
    return false;
  }
  uint64_t Size() override {
    struct stat st {};
    return ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }

 private:
  std::string path_;
  int fd_;
};

class PosixLock : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }

 private:
  int fd_;
};

bool SyncDir(const std::string& file, std::string* error) {
  const std::string parent = std::filesystem::path(file).parent_path().string();
  // Constructed, not assigned from a literal: GCC 12 -O3 reports a false -Wrestrict on that.
  const std::string dir = parent.empty() ? std::string(".") : parent;
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = ErrnoMessage("open " + dir);
    return false;
  }
  const bool ok = ::fsync(fd) == 0;
  if (!ok) *error = ErrnoMessage("fsync " + dir);
  ::close(fd);
  return ok;
}

class PosixFileSystem : public FileSystem {
 public:
  Read ReadFile(const std::string& path, std::string* out, std::string* error) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return Read::kNotFound;
      *error = ErrnoMessage("open " + path);
      return Read::kError;
    }
    out->clear();
    const bool ok = ReadAll(fd, out, error);
    ::close(fd);
    if (!ok) {
      *error = path + ": " + *error;
      return Read::kError;
    }
    return Read::kOk;
  }

  Read ReadRanges(const std::string& path, const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                  std::string* out, std::string* error) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return Read::kNotFound;
      *error = ErrnoMessage("open " + path);
      return Read::kError;
    }
    bool ok = true;
    for (const auto& [offset, size] : ranges) {
      const size_t start = out->size();
      out->resize(start + size);
      for (uint64_t done = 0; ok && done < size;) {
        const ssize_t n =
            ::pread(fd, out->data() + start + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          *error = ErrnoMessage("read " + path);
          ok = false;
        } else if (n == 0) {
          *error = path + ": shorter than expected";
          ok = false;
        } else {
          done += static_cast<uint64_t>(n);
        }
      }
      if (!ok) break;
    }
    ::close(fd);
    return ok ? Read::kOk : Read::kError;
  }

  bool WriteFileAtomically(const std::string& path, std::string_view content,
                           std::string* error) override {
    const std::string tmp = path + ".tmp";
    // A new file of ours, not one that is there already (a link, another user's file); a temp
    // file a crash left behind is ours to remove.
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
    int fd = ::open(tmp.c_str(), kFlags, 0600);
    if (fd < 0 && errno == EEXIST && ::unlink(tmp.c_str()) == 0)
      fd = ::open(tmp.c_str(), kFlags, 0600);
    if (fd < 0) {
      *error = ErrnoMessage("open " + tmp);
      return false;
    }
    bool ok = WriteAll(fd, content, error);
    if (!ok) *error = tmp + ": " + *error;
    if (ok && ::fsync(fd) != 0) {
      *error = ErrnoMessage("fsync " + tmp);
      ok = false;
    }
    ::close(fd);
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
      *error = ErrnoMessage("rename " + tmp);
      ok = false;
    }
    if (!ok) {
      ::unlink(tmp.c_str());
      return false;
    }
    return SyncDir(path, error);
  }

  std::unique_ptr<AppendFile> OpenForAppend(const std::string& path, int mode,
                                            std::string* error) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                          static_cast<mode_t>(mode));
    if (fd < 0) {
      *error = ErrnoMessage("open " + path);
      return nullptr;
    }
    return std::make_unique<PosixAppendFile>(path, fd);
  }

  bool Rename(const std::string& from, const std::string& to, std::string* error,
              bool* missing) override {
    if (missing) *missing = false;
    if (::rename(from.c_str(), to.c_str()) == 0) return true;
    if (errno == ENOENT && missing) {
      *missing = true;
      return false;
    }
    *error = ErrnoMessage("rename " + from + " to " + to);
    return false;
  }

  bool CreateDirectories(const std::string& path, std::string* error) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (!ec) return true;
    *error = path + ": " + ec.message();
    return false;
  }

  bool CheckPrivateDirectory(const std::string& path, std::string* error) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      *error = ErrnoMessage("stat " + path);
      return false;
    }
    if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) {  // a linked folder: its target
      *error = ErrnoMessage("stat " + path);
      return false;
    }
    if (!S_ISDIR(st.st_mode)) {
      *error = path + " is not a folder";
      return false;
    }
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      *error = path + " belongs to uid " + std::to_string(st.st_uid) +
               ", not to this daemon's user (uid " + std::to_string(::geteuid()) +
               "): chown it, or point state_dir at a folder of the daemon's own";
      return false;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
      *error = path + " is writable by every user: chmod o-w it (0700 is the packaged mode)";
      return false;
    }
    return true;
  }

  std::unique_ptr<FileLock> Lock(const std::string& path, std::string* error) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      *error = ErrnoMessage("open " + path);
      return nullptr;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      *error = errno == EWOULDBLOCK ? path + ": another rollbackd holds it"
                                    : ErrnoMessage("flock " + path);
      ::close(fd);
      return nullptr;
    }
    return std::make_unique<PosixLock>(fd);
  }
};

}  // namespace

FileSystem& RealFileSystem() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace rollbackd
