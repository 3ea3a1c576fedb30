#pragma once
// Bounded polling for tests with real threads: true as soon as `f()` holds,
// false once `limit` passed (a lost wake-up shows as a failure, not a hang).

#include <chrono>
#include <functional>
#include <thread>

namespace reactor::test {

inline bool eventually(const std::function<bool()>& f,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

}  // namespace reactor::test
