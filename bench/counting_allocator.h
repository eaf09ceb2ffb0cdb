// A counting operator new/delete for one benchmark binary: include it in exactly one of its source
// files. Every replaceable form is defined, so that none mixes with the default one; the pairs
// wrap malloc/free on purpose (the including file gets -Wno-mismatched-new-delete).
#ifndef ROLLBACKD_BENCH_COUNTING_ALLOCATOR_H_
#define ROLLBACKD_BENCH_COUNTING_ALLOCATOR_H_

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace rollbackd::bench {
// Heap allocations made by this process so far.
inline std::atomic<uint64_t> g_allocations{0};

inline void* CountedAlloc(std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace rollbackd::bench

void* operator new(std::size_t n) {
  if (void* p = rollbackd::bench::CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = rollbackd::bench::CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return rollbackd::bench::CountedAlloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return rollbackd::bench::CountedAlloc(n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

#endif  // ROLLBACKD_BENCH_COUNTING_ALLOCATOR_H_
