// Logging over spdlog. The level lives in spdlog's default logger (the one
// process-wide sink the library owns); everything else is stateless.

#include <reactor/log.hh>

#include <cstdio>
#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace reactor {
namespace {

spdlog::logger& logger() {
  // Function-local static: created on first use, thread-safe, never reassigned.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_logger_mt("reactor");
    lg->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] [%n] %v");
    lg->set_level(spdlog::level::info);
    return lg;
  }();
  return *l;
}

spdlog::level::level_enum to_spd(LogLevel l) {
  switch (l) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
    case LogLevel::Off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

bool parse_log_level(std::string_view t, LogLevel& out) noexcept {
  struct N { std::string_view n; LogLevel l; };
  static constexpr N names[] = {{"trace", LogLevel::Trace}, {"debug", LogLevel::Debug},
                                {"info", LogLevel::Info},   {"warn", LogLevel::Warn},
                                {"warning", LogLevel::Warn}, {"error", LogLevel::Error},
                                {"off", LogLevel::Off}};
  for (const auto& n : names)
    if (n.n == t) { out = n.l; return true; }
  return false;
}

void set_log_level(LogLevel level) noexcept { logger().set_level(to_spd(level)); }

LogLevel log_level() noexcept {
  switch (logger().level()) {
    case spdlog::level::trace: return LogLevel::Trace;
    case spdlog::level::debug: return LogLevel::Debug;
    case spdlog::level::info: return LogLevel::Info;
    case spdlog::level::warn: return LogLevel::Warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::Error;
    default: return LogLevel::Off;
  }
}

void log_message(LogLevel level, std::string_view message) noexcept {
  try {
    logger().log(to_spd(level), message);
  } catch (...) {
  }
}

void detail_assert_fail(const char* expr, const char* file, int line) noexcept {
  std::fprintf(stderr, "reactor: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace reactor
