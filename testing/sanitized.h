// Whether this binary is the sanitizer build (scripts/test: Clang with ASan and UBSan), for the
// few tests whose situation the sanitizers' runtime cannot live in.
#ifndef ROLLBACKD_TESTING_SANITIZED_H_
#define ROLLBACKD_TESTING_SANITIZED_H_

namespace rollbackd::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// Out of file descriptors, UBSan's vptr check reports a live object as "invalid vptr": the
// sanitizer runtime tests whether memory is readable by writing it into a pipe, and no pipe can be
// opened. Seen as "member call on address ... which does not point to an object of type
// _Sp_counted_base" where a weak_ptr is made from a live shared_ptr under EMFILE, with no ASan
// report of a freed object; the same tests pass in the GCC build.
inline constexpr const char* kNoDescriptorsUnderSanitizers =
    "skipped in the sanitizer build: with no free file descriptor, UBSan's vptr check cannot open "
    "the pipe it probes memory with and reports a false \"invalid vptr\"";

}  // namespace rollbackd::testing

#endif  // ROLLBACKD_TESTING_SANITIZED_H_
