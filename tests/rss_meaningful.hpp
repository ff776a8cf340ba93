// Whether a process's resident set size says anything about its allocations: not under
// AddressSanitizer, whose allocator maps and poisons memory of its own. Tests that judge RSS skip
// (or say so) when kRssMeaningful is false.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif
