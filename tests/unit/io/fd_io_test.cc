#include "daemon/io/fd_io.h"

#include <gtest/gtest.h>

#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

TEST(ReadFileToStringTest, ReadsAWholeFileAndRefusesOneTooLargeOrMissing) {
  testutil::TempDir dir;
  const std::string path = dir.Write("key", "0123456789");
  std::string error;
  EXPECT_EQ(ReadFileToString(path, &error).value_or("?"), "0123456789");
  EXPECT_FALSE(ReadFileToString(path, &error, 9).has_value());
  EXPECT_EQ(error, "larger than 9 bytes");
  EXPECT_FALSE(ReadFileToString(dir.path() + "/missing", &error).has_value());
  EXPECT_EQ(error, "No such file or directory");
  EXPECT_FALSE(ReadFileToString(dir.path(), &error).has_value());
  EXPECT_EQ(error, "Is a directory");
}

}  // namespace
}  // namespace rollbackd
