// A folder under /tmp for one test, removed with everything in it when the test ends.
#ifndef ROLLBACKD_TESTS_UNIT_TEMP_DIR_H_
#define ROLLBACKD_TESTS_UNIT_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace rollbackd::testutil {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rollbackd_test.XXXXXX";
    const char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `relative` under the folder, as a full path.
  std::string Path(const std::string& relative) const {
    return (std::filesystem::path(path_) / relative).string();
  }
  // Writes `text` to `relative` (creating folders) and returns the file's full path.
  std::string Write(const std::string& relative, std::string_view text) const {
    const std::filesystem::path p = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_TEMP_DIR_H_
