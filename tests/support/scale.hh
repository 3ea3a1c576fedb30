#pragma once
// Test sizes scale down under sanitizers (2 vCPUs, instrumented code).

#include <cstdint>

namespace reactor::test {

constexpr uint64_t sanitizer_divisor() {
#if defined(REACTOR_TSAN)
  return 20;
#elif defined(__SANITIZE_ADDRESS__)
  return 4;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 4;
#else
  return 1;
#endif
#else
  return 1;
#endif
}

constexpr uint64_t scaled(uint64_t n) { return n / sanitizer_divisor() > 0 ? n / sanitizer_divisor() : 1; }

}  // namespace reactor::test
