#pragma once
/// Logging: a thin layer over spdlog on stderr. Any OS thread may log.
///
/// Every line is rate-limited by its format string (messages "similar" to each
/// other share one): at most LogRateLimit::burst lines per interval, then
/// nothing until the interval has passed, when one line
/// "suppressed K similar messages like '<format>'" reports what was dropped
/// (log_flush_suppressed() reports pending counts at once, e.g. at exit).
///
/// Formats (LogFormat): Text "[time] [level] [reactor] msg"; Json one object
/// per line {"time","level","logger","msg"} (+ "suppressed", "like" on the
/// suppression line); Journal "<priority>msg" for a stderr that journald reads
/// (chosen by default when $JOURNAL_STREAM names our stderr, as systemd sets it).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace reactor {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Off };

/// Parses "trace|debug|info|warn|error|off"; the error lists the known levels.
bool parse_log_level(std::string_view text, LogLevel& out) noexcept;
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
/// Logs one line, rate-limited by the message text itself.
void log_message(LogLevel level, std::string_view message) noexcept;
/// Logs one line, rate-limited by `like` (the format string the message came from).
void log_message(LogLevel level, std::string_view like, std::string_view message) noexcept;

template <class... A>
void log(LogLevel level, fmt::format_string<A...> f, A&&... args) noexcept {
  if (level < log_level()) return;
  try {
    const fmt::string_view fs = f;
    const std::string_view like(fs.data(), fs.size());
    log_message(level, like, fmt::format(f, std::forward<A>(args)...));
  } catch (...) {
  }
}

enum class LogFormat { Text, Json, Journal };

/// Parses "text|json|journal".
bool parse_log_format(std::string_view text, LogFormat& out) noexcept;
/// Any OS thread; takes effect for the next line.
void set_log_format(LogFormat format) noexcept;
LogFormat log_format() noexcept;

/// The per-format-string limit. burst 0 turns rate limiting off.
struct LogRateLimit {
  /// 5 lines then silence: enough to see a problem's first occurrences and its
  /// pace, while a failure that repeats every 100 ms (accept() out of fds)
  /// costs at most one line a second on average.
  uint32_t burst = 5;
  std::chrono::nanoseconds interval = std::chrono::seconds(5);
};
/// Any OS thread; resets the counters.
void set_log_rate_limit(LogRateLimit limit) noexcept;
/// Logs one "suppressed K similar messages" line for every format string that
/// has suppressed lines pending, and resets their windows. Any OS thread.
void log_flush_suppressed() noexcept;

/// The rate limiter behind log(), usable on its own (tests drive `now`):
/// per key, at most `burst` events per `interval`; the first event after the
/// window closed returns how many were dropped meanwhile. Not thread-safe.
class LogThrottle {
 public:
  explicit LogThrottle(LogRateLimit limit) : limit_(limit) {}
  struct Verdict {
    bool emit = false;        ///< log this one
    uint64_t suppressed = 0;  ///< dropped since the window opened: report them first
  };
  Verdict admit(std::string_view key, uint64_t now_ns);
  /// Every key with dropped events, with their counts; resets them.
  std::vector<std::pair<std::string, uint64_t>> take_suppressed();
  size_t keys() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    uint64_t window_start = 0;
    uint32_t emitted = 0;
    uint64_t suppressed = 0;
  };
  /// Bounded: messages with no format string (log_message(level, text)) could
  /// otherwise grow it without end. Past the bound, expired keys are dropped;
  /// if none are, new keys are not limited.
  static constexpr size_t kMaxKeys = 4096;
  LogRateLimit limit_;
  std::unordered_map<std::string, Entry> entries_;
};

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
