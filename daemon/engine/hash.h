// The one string hash of the engine (FNV-1a), for label sets, event ids and rule fingerprints.
#ifndef ROLLBACKD_ENGINE_HASH_H_
#define ROLLBACKD_ENGINE_HASH_H_

#include <cstdint>
#include <string_view>

namespace rollbackd::internal {

inline constexpr uint64_t kHashSeed = 1469598103934665603ULL;

// Adds one field, then a separator byte, so that the fields ("ab", "c") and ("a", "bc") differ.
inline uint64_t HashField(uint64_t h, std::string_view field) {
  constexpr uint64_t kPrime = 1099511628211ULL;
  for (unsigned char c : field) {
    h ^= c;
    h *= kPrime;
  }
  h ^= 0xff;
  h *= kPrime;
  return h;
}

}  // namespace rollbackd::internal

#endif  // ROLLBACKD_ENGINE_HASH_H_
