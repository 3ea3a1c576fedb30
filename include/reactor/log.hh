#pragma once
/// Logging: a thin layer over spdlog (stderr, "[time] [level] [reactor] msg").
/// Any OS thread may log. Hot paths log through RateLimiter so a flood of the
/// same problem costs one line per interval.

#include <atomic>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace reactor {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

/// Parses "trace|debug|info|warn|error|off"; the error lists the known levels.
bool parse_log_level(std::string_view text, LogLevel& out) noexcept;
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
void log_message(LogLevel level, std::string_view message) noexcept;

template <class... A>
void log(LogLevel level, fmt::format_string<A...> f, A&&... args) noexcept {
  if (level < log_level()) return;
  try {
    log_message(level, fmt::format(f, std::forward<A>(args)...));
  } catch (...) {
  }
}

/// Allows one event per `interval_ticks`; any OS thread. Returns how many were
/// suppressed since the last allowed one through `suppressed`.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t interval_ticks) : interval_(interval_ticks) {}
  bool allow(uint64_t now, uint64_t& suppressed) noexcept {
    uint64_t last = last_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < interval_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (!last_.compare_exchange_strong(last, now == 0 ? 1 : now)) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = dropped_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  uint64_t interval_;
  std::atomic<uint64_t> last_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace reactor

/// Logs and aborts: a broken invariant is a bug, not an expected failure.
#define REACTOR_ASSERT(cond)                                                              \
  do {                                                                                    \
    if (!(cond)) ::reactor::detail_assert_fail(#cond, __FILE__, __LINE__);                \
  } while (0)

namespace reactor {
[[noreturn]] void detail_assert_fail(const char* expr, const char* file, int line) noexcept;
}
