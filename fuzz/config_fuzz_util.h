// What the config fuzz targets do with a configuration that loaded: build an engine on it and run
// it for a few rounds, so that a rule the loader accepts can never crash the engine, and check that
// the engine's saved state reads back.
#ifndef ROLLBACKD_FUZZ_CONFIG_FUZZ_UTIL_H_
#define ROLLBACKD_FUZZ_CONFIG_FUZZ_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/model.h"
#include "daemon/engine/engine.h"
#include "fuzz/fuzz_util.h"

namespace rollbackd::fuzz {

inline void ExerciseEngine(const Config& loaded) {
  auto config = std::make_shared<const Config>(loaded);
  Engine engine(config);
  // Every input answers one series: some values breach, some do not, one is missing.
  QueryResult value;
  value.series.push_back({Labels(), 1.0});
  QueryResult empty;
  QueryResult error = QueryResult::Error("fuzz");
  const std::vector<const QueryResult*> answers = {&value, &empty, &error};
  Time now{std::chrono::hours(24 * 365 * 50)};
  std::vector<Event> events;
  for (int round = 0; round < 4; ++round) {
    Inputs inputs(engine.inputs().size());
    for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = answers[(i + round) % answers.size()];
    engine.Evaluate(now, inputs, &events);
    now += std::chrono::seconds(30);
  }
  for (const Service& s : config->services) engine.RecordDeploy(s.name, "v2", now);
  const std::string saved = engine.SaveState();
  Engine again(config);
  std::string error_text;
  if (!again.RestoreState(saved, &error_text)) Fail("saved state does not restore: " + error_text);
}

}  // namespace rollbackd::fuzz

#endif  // ROLLBACKD_FUZZ_CONFIG_FUZZ_UTIL_H_
