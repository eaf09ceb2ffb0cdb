// An in-memory FileSystem that knows what was made durable, for fault injection and crash tests:
//  - Fail: a rule decides, operation by operation, which one fails (with ENOSPC-like words);
//  - Durable(): what a power cut at this instant would leave: each file as of its last Sync
//    (appends) or WriteFileAtomically; files never synced are gone. Start a new daemon on it.
//  - Freeze(): from now on nothing becomes durable (the process "died" here), whatever the
//    abandoned objects still do.
#ifndef ROLLBACKD_TESTING_FAKE_FILE_SYSTEM_H_
#define ROLLBACKD_TESTING_FAKE_FILE_SYSTEM_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/io/file_system.h"

namespace rollbackd::testing {

class FakeFileSystem : public FileSystem {
 public:
  enum class Op { kRead, kAtomicWrite, kOpen, kAppend, kSync, kTruncate, kRename, kMkdir, kLock };
  // Returns the error for this operation on `path`, or nullopt to let it pass.
  using FaultRule = std::function<std::optional<std::string>(Op op, const std::string& path)>;

  FakeFileSystem() = default;

  Read ReadFile(const std::string& path, std::string* out, std::string* error) override;
  bool WriteFileAtomically(const std::string& path, std::string_view content,
                           std::string* error) override;
  std::unique_ptr<AppendFile> OpenForAppend(const std::string& path, int mode,
                                            std::string* error) override;
  bool Rename(const std::string& from, const std::string& to, std::string* error,
              bool* missing) override;
  bool CreateDirectories(const std::string& path, std::string* error) override;
  std::unique_ptr<FileLock> Lock(const std::string& path, std::string* error) override;

  void SetFault(FaultRule rule) { fault_ = std::move(rule); }
  // Called after each operation that made something durable (a Sync, an atomic write), with
  // its path: crash tests count boundaries here.
  void SetOnDurable(std::function<void(Op, const std::string&)> fn) { on_durable_ = std::move(fn); }

  // What survives a crash now, as a new file system (no locks held).
  std::unique_ptr<FakeFileSystem> Durable() const;
  void Freeze() { frozen_ = true; }
  bool frozen() const { return frozen_; }

  // The file's current (not necessarily durable) content; nullopt when missing.
  std::optional<std::string> Contents(const std::string& path) const;
  void Put(const std::string& path, std::string content);  // durable at once
  std::vector<std::string> Paths() const;

 private:
  class File;
  struct Node {
    std::string data;
    std::optional<std::string> durable;  // nullopt: would not survive a crash
  };
  std::optional<std::string> Fault(Op op, const std::string& path);
  void Durable(Op op, const std::string& path);

  std::map<std::string, Node> files_;
  std::shared_ptr<std::set<std::string>> locks_ = std::make_shared<std::set<std::string>>();
  FaultRule fault_;
  std::function<void(Op, const std::string&)> on_durable_;
  bool frozen_ = false;
};

std::string_view OpName(FakeFileSystem::Op op);

}  // namespace rollbackd::testing

#endif  // ROLLBACKD_TESTING_FAKE_FILE_SYSTEM_H_
