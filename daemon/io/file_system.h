// All disk access of the daemon's state behind one interface, as leveldb's Env: state.json, the
// journal, the outbox, notify.json, the decision log and the state_dir lock go through it. The real
// one is RealFileSystem(); tests wrap it or replace it (testing/fake_file_system.h) to make any
// write fail, or to keep only what was made durable and "crash".
//
// Durability is explicit: an AppendFile's bytes are durable once Sync returned true;
// WriteFileAtomically's content is durable (and replaces the old one whole) once it returned true.
// Nothing else is promised to survive a crash.
//
// Errors are in words and name the path: "fdatasync /var/lib/rollbackd/journal.jsonl: No space
// left on device".
#ifndef ROLLBACKD_IO_FILE_SYSTEM_H_
#define ROLLBACKD_IO_FILE_SYSTEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollbackd {

// A file opened for appending (created when missing).
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Appends all of `data`; not durable until Sync. On failure the file may hold part of it.
  virtual bool Append(std::string_view data, std::string* error) = 0;
  // fdatasync: what was appended so far is durable.
  virtual bool Sync(std::string* error) = 0;
  // Cuts the file to `size` bytes (a partial append, a torn last record).
  virtual bool Truncate(uint64_t size, std::string* error) = 0;
  // The file's size now (what was appended included).
  virtual uint64_t Size() = 0;
};

// Held while the object lives.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  enum class Read { kOk, kNotFound, kError };

  virtual ~FileSystem() = default;

  // Files are never opened through a symbolic link (O_NOFOLLOW): in a state folder another user
  // could write, a link would point the daemon's writes at any file it can write.
  // The whole file into `out`. kNotFound when it does not exist; kError (and `error`) otherwise.
  virtual Read ReadFile(const std::string& path, std::string* out, std::string* error) = 0;
  // Appends to `out` the bytes of `path` in each range {offset, size}, in the order given (the
  // live records of a file being compacted, without reading the rest). kError when a range runs
  // past the file's end. This default reads the whole file; the real one reads only the ranges.
  virtual Read ReadRanges(const std::string& path,
                          const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                          std::string* out, std::string* error);
  // Replaces `path` with `content` atomically (temp file, fsync, rename, fsync of the folder):
  // a reader, or a restart after a crash, sees the old file or the new one, never a torn one.
  virtual bool WriteFileAtomically(const std::string& path, std::string_view content,
                                   std::string* error) = 0;
  // Opens `path` for appending, creating it (with `mode`) when missing.
  virtual std::unique_ptr<AppendFile> OpenForAppend(const std::string& path, int mode,
                                                    std::string* error) = 0;
  // rename(2). `missing` (optional) is set when `from` does not exist (then false, no error).
  virtual bool Rename(const std::string& from, const std::string& to, std::string* error,
                      bool* missing = nullptr) = 0;
  virtual bool CreateDirectories(const std::string& path, std::string* error) = 0;
  // Whether `path`, a folder only this daemon should write, is safe to keep state in: owned by
  // this process's user (or root) and not writable by every user. Fakes accept any folder.
  virtual bool CheckPrivateDirectory(const std::string& path, std::string* error) {
    (void)path;
    (void)error;
    return true;
  }
  // An exclusive lock on `path` (created when missing), not waiting: nullptr and `error` when
  // another process holds it.
  virtual std::unique_ptr<FileLock> Lock(const std::string& path, std::string* error) = 0;
};

// The process's one real file system (POSIX).
FileSystem& RealFileSystem();

}  // namespace rollbackd

#endif  // ROLLBACKD_IO_FILE_SYSTEM_H_
