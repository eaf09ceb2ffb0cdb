#include "testing/fake_file_system.h"

namespace rollbackd::testing {

std::string_view OpName(FakeFileSystem::Op op) {
  switch (op) {
    case FakeFileSystem::Op::kRead:
      return "read";
    case FakeFileSystem::Op::kAtomicWrite:
      return "atomic write";
    case FakeFileSystem::Op::kOpen:
      return "open";
    case FakeFileSystem::Op::kAppend:
      return "append";
    case FakeFileSystem::Op::kSync:
      return "fdatasync";
    case FakeFileSystem::Op::kTruncate:
      return "ftruncate";
    case FakeFileSystem::Op::kRename:
      return "rename";
    case FakeFileSystem::Op::kMkdir:
      return "mkdir";
    case FakeFileSystem::Op::kLock:
      return "lock";
  }
  return "?";
}

class FakeFileSystem::File : public AppendFile {
 public:
  File(FakeFileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}

  bool Append(std::string_view data, std::string* error) override {
    if (auto e = fs_->Fault(Op::kAppend, path_)) return Fail(error, *e);
    fs_->files_[path_].data.append(data);
    return true;
  }
  bool Sync(std::string* error) override {
    if (auto e = fs_->Fault(Op::kSync, path_)) return Fail(error, *e);
    Node& n = fs_->files_[path_];
    if (!fs_->frozen_) n.durable = n.data;
    fs_->Durable(Op::kSync, path_);
    return true;
  }
  bool Truncate(uint64_t size, std::string* error) override {
    if (auto e = fs_->Fault(Op::kTruncate, path_)) return Fail(error, *e);
    Node& n = fs_->files_[path_];
    if (size < n.data.size()) n.data.resize(size);
    return true;
  }
  uint64_t Size() override { return fs_->files_[path_].data.size(); }

 private:
  bool Fail(std::string* error, const std::string& e) {
    *error = e;
    return false;
  }
  FakeFileSystem* fs_;
  std::string path_;
};

namespace {

class FakeLock : public FileLock {
 public:
  FakeLock(std::shared_ptr<std::set<std::string>> locks, std::string path)
      : locks_(std::move(locks)), path_(std::move(path)) {}
  ~FakeLock() override { locks_->erase(path_); }

 private:
  std::shared_ptr<std::set<std::string>> locks_;
  std::string path_;
};

}  // namespace

std::optional<std::string> FakeFileSystem::Fault(Op op, const std::string& path) {
  if (!fault_) return std::nullopt;
  return fault_(op, path);
}

void FakeFileSystem::Durable(Op op, const std::string& path) {
  if (on_durable_ && !frozen_) on_durable_(op, path);
}

FileSystem::Read FakeFileSystem::ReadFile(const std::string& path, std::string* out,
                                          std::string* error) {
  if (auto e = Fault(Op::kRead, path)) {
    *error = *e;
    return Read::kError;
  }
  auto it = files_.find(path);
  if (it == files_.end()) return Read::kNotFound;
  *out = it->second.data;
  return Read::kOk;
}

bool FakeFileSystem::WriteFileAtomically(const std::string& path, std::string_view content,
                                         std::string* error) {
  if (auto e = Fault(Op::kAtomicWrite, path)) {
    *error = *e;
    return false;
  }
  Node& n = files_[path];
  n.data.assign(content);
  if (!frozen_) n.durable = n.data;
  Durable(Op::kAtomicWrite, path);
  return true;
}

std::unique_ptr<AppendFile> FakeFileSystem::OpenForAppend(const std::string& path, int,
                                                          std::string* error) {
  if (auto e = Fault(Op::kOpen, path)) {
    *error = *e;
    return nullptr;
  }
  files_.try_emplace(path);
  return std::make_unique<File>(this, path);
}

bool FakeFileSystem::Rename(const std::string& from, const std::string& to, std::string* error,
                            bool* missing) {
  if (missing) *missing = false;
  if (auto e = Fault(Op::kRename, from)) {
    *error = *e;
    return false;
  }
  auto it = files_.find(from);
  if (it == files_.end()) {
    if (missing) *missing = true;
    if (!missing) *error = "rename " + from + ": No such file or directory";
    return false;
  }
  files_[to] = std::move(it->second);
  files_.erase(from);
  return true;
}

bool FakeFileSystem::CreateDirectories(const std::string& path, std::string* error) {
  if (auto e = Fault(Op::kMkdir, path)) {
    *error = *e;
    return false;
  }
  return true;
}

std::unique_ptr<FileLock> FakeFileSystem::Lock(const std::string& path, std::string* error) {
  if (auto e = Fault(Op::kLock, path)) {
    *error = *e;
    return nullptr;
  }
  if (!locks_->insert(path).second) {
    *error = path + ": another rollbackd holds it";
    return nullptr;
  }
  return std::make_unique<FakeLock>(locks_, path);
}

std::unique_ptr<FakeFileSystem> FakeFileSystem::Durable() const {
  auto out = std::make_unique<FakeFileSystem>();
  for (const auto& [path, node] : files_) {
    if (node.durable) out->files_[path] = Node{*node.durable, node.durable};
  }
  return out;
}

std::optional<std::string> FakeFileSystem::Contents(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.data;
}

void FakeFileSystem::Put(const std::string& path, std::string content) {
  files_[path] = Node{content, content};
}

std::vector<std::string> FakeFileSystem::Paths() const {
  std::vector<std::string> out;
  for (const auto& [path, node] : files_) out.push_back(path);
  return out;
}

}  // namespace rollbackd::testing
