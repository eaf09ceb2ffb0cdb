// rollbackd.toml, with one rule file after the part separator (fuzz_util.h): the daemon settings,
// sources, channels and routes as the daemon loads them. A configuration that loads whole gets
// the route advice, an engine and a notification dispatcher, as the daemon builds them.
#include <cstddef>
#include <cstdint>

#include "daemon/config/loader.h"
#include "daemon/config/route_check.h"
#include "daemon/notify/dispatcher.h"
#include "fuzz/config_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollbackd;
  const auto parts = fuzz::SplitInput(data, size, 2);
  Diagnostics diags;
  auto config = ParseDaemonConfig(parts[0], "/fuzz/rollbackd.toml", &diags);
  if (config && !parts[1].empty()) {
    if (auto service = ParseRuleFile(parts[1], "/fuzz/rules/input.toml", &diags)) {
      config->services.push_back(std::move(*service));
    }
  }
  if (config && !diags.has_errors()) {
    ValidateConfig(*config, /*check_sources=*/true, &diags);
    if (!diags.has_errors()) CheckRoutes(*config, &diags);
  }
  for (const Diagnostic& d : diags.Sorted()) (void)d.ToString();
  if (!config || diags.has_errors()) return 0;
  Dispatcher dispatcher(*config);
  (void)dispatcher.SaveState();
  fuzz::ExerciseEngine(*config);
  return 0;
}
