// `rollbackd test` on any test file (daemon/ruletest/ruletest.h). The input is written to
// <tmp>/rules/tests/input.toml beside copies of the repository's rule files, so that the seeds'
// rule_file = "../checkout.toml" loads and the engine runs their timelines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/ruletest/ruletest.h"
#include "fuzz/fuzz_util.h"

namespace {

namespace fs = std::filesystem;
std::string* input_path = nullptr;
std::string* root = nullptr;

void RemoveRoot() {
  std::error_code ec;
  fs::remove_all(*root, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/rollbackd-fuzz-ruletest-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) rollbackd::fuzz::Fail("mkdtemp");
  root = new std::string(tmpl);
  std::atexit(RemoveRoot);
  fs::create_directories(*root + "/rules/tests");
  for (const auto& entry : fs::directory_iterator(ROLLBACKD_SOURCE_DIR "/rules")) {
    if (entry.path().extension() == ".toml") {
      fs::copy_file(entry.path(), *root + "/rules/" + entry.path().filename().string());
    }
  }
  input_path = new std::string(*root + "/rules/tests/input.toml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(*input_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::ostringstream report;
  (void)rollbackd::RunRuleTestFile(*input_path, rollbackd::RuleTestOptions{.verbose = true},
                                   report);
  return 0;
}
