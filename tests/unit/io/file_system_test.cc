#include "daemon/io/file_system.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>

#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

// A link in the state folder would point the daemon's writes (as its user, often root) at any file.
TEST(PosixFileSystemTest, NeverFollowsALinkToReadWriteAppendOrLock) {
  testutil::TempDir dir;
  FileSystem& fs = RealFileSystem();
  const std::string target = dir.Write("elsewhere", "precious\n");
  for (const char* name : {"state.json", "state.json.tmp", "journal.jsonl", "lock"}) {
    ASSERT_EQ(::symlink(target.c_str(), dir.Path(name).c_str()), 0) << name;
  }
  std::string out, error;
  EXPECT_EQ(fs.ReadFile(dir.Path("state.json"), &out, &error), FileSystem::Read::kError);
  EXPECT_EQ(fs.OpenForAppend(dir.Path("journal.jsonl"), 0600, &error), nullptr);
  EXPECT_EQ(fs.Lock(dir.Path("lock"), &error), nullptr);

  // The atomic write replaces the link itself (rename), after writing a temp file of its own:
  // the leftover state.json.tmp link is removed, not written through.
  ASSERT_TRUE(fs.WriteFileAtomically(dir.Path("state.json"), "{}\n", &error)) << error;
  std::string content;
  ASSERT_EQ(fs.ReadFile(target, &content, &error), FileSystem::Read::kOk);
  EXPECT_EQ(content, "precious\n");
  ASSERT_EQ(fs.ReadFile(dir.Path("state.json"), &content, &error), FileSystem::Read::kOk) << error;
  EXPECT_EQ(content, "{}\n");
}

TEST(PosixFileSystemTest, ALeftoverTempFileDoesNotStopTheNextWrite) {
  testutil::TempDir dir;
  FileSystem& fs = RealFileSystem();
  dir.Write("state.json.tmp", "torn");
  std::string error, content;
  ASSERT_TRUE(fs.WriteFileAtomically(dir.Path("state.json"), "new", &error)) << error;
  ASSERT_EQ(fs.ReadFile(dir.Path("state.json"), &content, &error), FileSystem::Read::kOk);
  EXPECT_EQ(content, "new");
}

TEST(PosixFileSystemTest, AStateFolderEveryUserCanWriteIsRefused) {
  testutil::TempDir dir;
  FileSystem& fs = RealFileSystem();
  std::string error;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_TRUE(fs.CheckPrivateDirectory(dir.path(), &error)) << error;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  EXPECT_FALSE(fs.CheckPrivateDirectory(dir.path(), &error));
  EXPECT_NE(error.find("writable by every user"), std::string::npos) << error;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  const std::string file = dir.Write("file", "x");
  EXPECT_FALSE(fs.CheckPrivateDirectory(file, &error));
  EXPECT_NE(error.find("is not a folder"), std::string::npos) << error;
  if (::geteuid() == 0) {
    // Another user's folder (as root, chown can make one).
    const std::string other = dir.Path("other");
    ASSERT_TRUE(fs.CreateDirectories(other, &error));
    ASSERT_EQ(::chown(other.c_str(), 4242, 4242), 0);
    EXPECT_FALSE(fs.CheckPrivateDirectory(other, &error));
    EXPECT_NE(error.find("belongs to uid 4242"), std::string::npos) << error;
  }
}

// The real ReadRanges (pread) and the default one fakes inherit (the whole file) agree.
TEST(PosixFileSystemTest, ReadRangesReadsTheRangesInTheirOrderAndRefusesOnePastTheEnd) {
  testutil::TempDir dir;
  const std::string path = dir.Write("outbox.jsonl", "0123456789abcdef");
  class WholeFile : public FileSystem {  // only ReadFile of its own: ReadRanges is the default
   public:
    Read ReadFile(const std::string& p, std::string* out, std::string* error) override {
      return RealFileSystem().ReadFile(p, out, error);
    }
    bool WriteFileAtomically(const std::string&, std::string_view, std::string*) override {
      return false;
    }
    std::unique_ptr<AppendFile> OpenForAppend(const std::string&, int, std::string*) override {
      return nullptr;
    }
    bool Rename(const std::string&, const std::string&, std::string*, bool*) override {
      return false;
    }
    bool CreateDirectories(const std::string&, std::string*) override { return false; }
    std::unique_ptr<FileLock> Lock(const std::string&, std::string*) override { return nullptr; }
  } whole;
  for (FileSystem* fs : {&RealFileSystem(), static_cast<FileSystem*>(&whole)}) {
    std::string out = ">", error;
    ASSERT_EQ(fs->ReadRanges(path, {{10, 3}, {0, 2}, {15, 1}, {4, 0}}, &out, &error),
              FileSystem::Read::kOk)
        << error;
    EXPECT_EQ(out, ">abc01f");
    EXPECT_EQ(fs->ReadRanges(path, {{14, 3}}, &out, &error), FileSystem::Read::kError);
    EXPECT_NE(error.find("shorter than expected"), std::string::npos) << error;
    EXPECT_EQ(fs->ReadRanges(dir.Path("missing"), {{0, 1}}, &out, &error),
              FileSystem::Read::kNotFound);
  }
}

}  // namespace
}  // namespace rollbackd
