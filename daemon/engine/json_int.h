// Integers read back from the state dir's JSON (state.json, the journal, the outbox, notify.json),
// which a disk, a crash or a person may have damaged. nlohmann's get<int64_t>() converts a
// floating-point number with a plain cast, undefined behaviour out of range (found by
// fuzz/state_dir_fuzz.cc: "format": 1.8e131). The daemon writes integers only, so anything else
// is damage: thrown as nlohmann's type_error, which every reader already catches and reports.
#ifndef ROLLBACKD_ENGINE_JSON_INT_H_
#define ROLLBACKD_ENGINE_JSON_INT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace rollbackd {

template <typename Int = int64_t>
Int JsonInt(const nlohmann::json& j) {
  if (!j.is_number_integer()) {
    throw nlohmann::json::type_error::create(
        302, std::string("type must be an integer, but is ") + j.type_name(), &j);
  }
  return j.get<Int>();
}

// `j[key]` as JsonInt reads it, or `fallback` when `j` has no `key`.
template <typename Int>
Int JsonIntOr(const nlohmann::json& j, const char* key, Int fallback) {
  const auto it = j.find(key);
  return it == j.end() ? fallback : JsonInt<Int>(*it);
}

}  // namespace rollbackd

#endif  // ROLLBACKD_ENGINE_JSON_INT_H_
