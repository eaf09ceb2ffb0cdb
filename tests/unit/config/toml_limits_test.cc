// Hostile or broken files never crash the parser: toml++ recurses per dotted-key part and nesting
// level, so these reached it as a stack overflow (SIGSEGV in `check`, a dead daemon on SIGHUP).
#include "daemon/config/toml_limits.h"

#include <gtest/gtest.h>

#include <string>

#include "daemon/config/loader.h"
#include "tests/unit/temp_dir.h"

namespace rollbackd {
namespace {

std::string DottedKey(size_t parts) {
  std::string key = "a";
  for (size_t i = 1; i < parts; ++i) key += ".a";
  return key;
}

std::string Errors(const Diagnostics& d) {
  std::string out;
  for (const Diagnostic& x : d.all()) out += x.ToString() + "\n";
  return out;
}

TEST(TomlLimitsTest, AcceptsOrdinaryFiles) {
  Diagnostics d;
  EXPECT_TRUE(CheckTomlBounds(
      "service = \"x\" # a.b.c.d\n[rollback.http]\nurl = \"http://a.b.c/d.e?f=g.h\"\n"
      "v = [1.5, 2.5, { a.b = 1 }, [[1], [2]]]\ns = '''a.b.\n[[[[c'''\n"
      "t = \"\"\"x\\\"\"\"\"\"\n[[trigger]]\nname = \"e.r\"\n",
      "f.toml", &d))
      << Errors(d);
  EXPECT_TRUE(CheckTomlBounds(DottedKey(kMaxTomlKeyParts) + " = 1\n", "f.toml", &d));
}

TEST(TomlLimitsTest, RejectsLongDottedKeysWherever) {
  for (const std::string& text :
       {DottedKey(50000) + " = 1\n", std::string("[").append(DottedKey(50000)) + "]\n",
        "x = 1\n[[t]]\nv = { " + DottedKey(50000) + " = 1 }\n",
        "\"q\"." + DottedKey(50000) + " = 1\n", "1.2." + DottedKey(50000) + " = 1\n"}) {
    Diagnostics d;
    EXPECT_FALSE(CheckTomlBounds(text, "f.toml", &d)) << text.substr(0, 40);
    EXPECT_NE(Errors(d).find("dotted parts"), std::string::npos) << Errors(d);
  }
}

TEST(TomlLimitsTest, RejectsDeepNestingWithItsPosition) {
  Diagnostics d;
  EXPECT_FALSE(CheckTomlBounds("x = 1\nv = " + std::string(10000, '[') + std::string(10000, ']'),
                               "f.toml", &d));
  EXPECT_NE(Errors(d).find("f.toml:2:"), std::string::npos) << Errors(d);
  EXPECT_NE(Errors(d).find("nested more than"), std::string::npos) << Errors(d);
  Diagnostics d2;
  EXPECT_FALSE(CheckTomlBounds(std::string(10000, '[') + "\n", "f.toml", &d2));
  Diagnostics d3;
  EXPECT_FALSE(CheckTomlBounds("v = " + std::string(10000, '{'), "f.toml", &d3));
}

// The loaders `check` and a reload use: a clear error, never a crash.
TEST(TomlLimitsTest, LoadersReportHostileFiles) {
  testutil::TempDir dir;
  const std::string deep = dir.Write("deep.toml", "service = \"x\"\nv = " + std::string(10000, '['));
  const std::string dotted = dir.Write("dotted.toml", DottedKey(50000) + " = 1\n");
  const std::string big = dir.Write("big.toml", "service = \"x\"\n" + std::string(100 << 20, '#'));
  for (const std::string& path : {deep, dotted, big}) {
    Diagnostics d;
    EXPECT_FALSE(LoadRuleFiles({path}, &d).has_value()) << path;
    EXPECT_TRUE(d.has_errors());
    EXPECT_NE(Errors(d).find(path), std::string::npos) << Errors(d);
  }
  Diagnostics d;
  EXPECT_FALSE(LoadConfig(big, &d).has_value());
  EXPECT_NE(Errors(d).find("limited to 4 MiB"), std::string::npos) << Errors(d);
}

}  // namespace
}  // namespace rollbackd
