// Logging over spdlog. State (the stderr logger, the format, the per-format-
// string throttle) lives in one function-local static, created on first use:
// the library's one process-wide sink. Lines go out through spdlog's
// thread-safe stderr sink; the throttle is behind a mutex (a rate-limited
// line costs a hash lookup under it, a logged line a format and a write).
//
// Rate limiting: LogThrottle keyed by the format string, so "cannot accept a
// connection on P: Too many open files" repeated every 100 ms is one key no
// matter the errno text. The suppressed count is reported by the first line
// of that key after its window closed, or by log_flush_suppressed().

#include <reactor/log.hh>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace reactor {

LogThrottle::Verdict LogThrottle::admit(std::string_view key, uint64_t now_ns) {
  if (limit_.burst == 0) return {true, 0};
  const auto interval = static_cast<uint64_t>(limit_.interval.count());
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys) {
      std::erase_if(entries_, [&](const auto& kv) {
        return kv.second.suppressed == 0 && now_ns - kv.second.window_start >= interval;
      });
      if (entries_.size() >= kMaxKeys) return {true, 0};
    }
    entries_.emplace(std::string(key), Entry{now_ns, 1, 0});
    return {true, 0};
  }
  Entry& e = it->second;
  if (now_ns - e.window_start >= interval) {
    const uint64_t dropped = e.suppressed;
    e = Entry{now_ns, 1, 0};
    return {true, dropped};
  }
  if (e.emitted < limit_.burst) {
    ++e.emitted;
    return {true, 0};
  }
  ++e.suppressed;
  return {false, 0};
}

std::vector<std::pair<std::string, uint64_t>> LogThrottle::take_suppressed() {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (auto& [key, e] : entries_) {
    if (e.suppressed == 0) continue;
    out.emplace_back(key, e.suppressed);
    e = Entry{};  // the next line of this key opens a new window
  }
  return out;
}

namespace {

constexpr const char* kTextPattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] [%n] %v";
// %v carries "msg" (and the suppression fields), already JSON-escaped.
constexpr const char* kJsonPattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n",%v})";

// stderr is read by journald when $JOURNAL_STREAM ("dev:inode") names it.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (js == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

struct LogState {
  std::shared_ptr<spdlog::logger> logger;
  std::atomic<LogFormat> format{LogFormat::Text};
  std::mutex mu;  // throttle
  LogThrottle throttle{LogRateLimit{}};

  LogState() {
    logger = spdlog::stderr_logger_mt("reactor");
    logger->set_level(spdlog::level::info);
    apply(stderr_is_journal() ? LogFormat::Journal : LogFormat::Text);
  }
  void apply(LogFormat f) {
    format.store(f, std::memory_order_relaxed);
    switch (f) {
      case LogFormat::Text: logger->set_pattern(kTextPattern); break;
      case LogFormat::Json: logger->set_pattern(kJsonPattern, spdlog::pattern_time_type::utc); break;
      case LogFormat::Journal: logger->set_pattern("%v"); break;  // journald stamps time itself
    }
  }
};

LogState& state() {
  static LogState s;
  return s;
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

// syslog(3) priorities, which journald reads from a "<N>" prefix.
int journal_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
    case LogLevel::Debug: return 7;
    case LogLevel::Info: return 6;
    case LogLevel::Warn: return 4;
    case LogLevel::Error:
    case LogLevel::Off: return 3;
  }
  return 6;
}

void json_escape(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04x}", c);
        else out += ch;
    }
  }
}

void emit(LogState& st, LogLevel level, std::string_view message, std::string_view like, uint64_t suppressed) {
  std::string line;
  switch (st.format.load(std::memory_order_relaxed)) {
    case LogFormat::Json:
      line = "\"msg\":\"";
      if (suppressed != 0) json_escape(line, fmt::format("suppressed {} similar messages", suppressed));
      else json_escape(line, message);
      line += '"';
      if (suppressed != 0) {
        line += fmt::format(",\"suppressed\":{},\"like\":\"", suppressed);
        json_escape(line, like);
        line += '"';
      }
      break;
    case LogFormat::Journal:
      line = fmt::format("<{}>", journal_priority(level));
      [[fallthrough]];
    case LogFormat::Text:
      if (suppressed != 0) line += fmt::format("suppressed {} similar messages like '{}'", suppressed, like);
      else line += message;
      break;
  }
  st.logger->log(to_spd(level), line);
}

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
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

bool parse_log_format(std::string_view t, LogFormat& out) noexcept {
  if (t == "text") out = LogFormat::Text;
  else if (t == "json") out = LogFormat::Json;
  else if (t == "journal") out = LogFormat::Journal;
  else return false;
  return true;
}

void set_log_format(LogFormat format) noexcept {
  try {
    state().apply(format);
  } catch (...) {
  }
}

LogFormat log_format() noexcept { return state().format.load(std::memory_order_relaxed); }

void set_log_rate_limit(LogRateLimit limit) noexcept {
  LogState& st = state();
  std::lock_guard lk(st.mu);
  st.throttle = LogThrottle(limit);
}

void log_flush_suppressed() noexcept {
  try {
    LogState& st = state();
    std::vector<std::pair<std::string, uint64_t>> pending;
    {
      std::lock_guard lk(st.mu);
      pending = st.throttle.take_suppressed();
    }
    // The level is lost with the lines; Warn: a flood worth suppressing is one.
    for (const auto& [like, n] : pending) emit(st, LogLevel::Warn, {}, like, n);
  } catch (...) {
  }
}

void set_log_level(LogLevel level) noexcept { state().logger->set_level(to_spd(level)); }

LogLevel log_level() noexcept {
  switch (state().logger->level()) {
    case spdlog::level::trace: return LogLevel::Trace;
    case spdlog::level::debug: return LogLevel::Debug;
    case spdlog::level::info: return LogLevel::Info;
    case spdlog::level::warn: return LogLevel::Warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::Error;
    default: return LogLevel::Off;
  }
}

void log_message(LogLevel level, std::string_view message) noexcept { log_message(level, message, message); }

void log_message(LogLevel level, std::string_view like, std::string_view message) noexcept {
  try {
    LogState& st = state();
    if (to_spd(level) < st.logger->level()) return;
    LogThrottle::Verdict v;
    {
      std::lock_guard lk(st.mu);
      v = st.throttle.admit(like, now_ns());
    }
    if (!v.emit) return;
    if (v.suppressed != 0) emit(st, level, {}, like, v.suppressed);
    emit(st, level, message, like, 0);
  } catch (...) {
  }
}

void detail_assert_fail(const char* expr, const char* file, int line) noexcept {
  std::fprintf(stderr, "reactor: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace reactor
