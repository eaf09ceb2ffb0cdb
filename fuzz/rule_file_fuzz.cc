// A rule file (rules/*.toml, docs/rules.md) as `rollbackd check` and the daemon read it: any text
// gives a service or diagnostics, and a service that loads runs in the engine.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/config/loader.h"
#include "fuzz/config_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollbackd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  auto service = ParseRuleFile(text, "/fuzz/rules/input.toml", &diags);
  for (const Diagnostic& d : diags.Sorted()) (void)d.ToString();
  if (!service) return 0;
  Config config;
  config.services.push_back(std::move(*service));
  ValidateConfig(config, /*check_sources=*/false, &diags);
  if (diags.has_errors()) return 0;
  fuzz::ExerciseEngine(config);
  return 0;
}
