// Logging: the per-format-string rate limit (LogThrottle on a manual clock and
// the real log() path into a real stderr file), the JSON and journald formats.

#include <reactor/log.hh>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using reactor::LogFormat;
using reactor::LogLevel;
using reactor::LogRateLimit;
using reactor::LogThrottle;

constexpr uint64_t kSec = 1'000'000'000;

TEST(LogThrottle, BurstThenSilenceThenOneSuppressedCount) {
  LogThrottle t(LogRateLimit{5, std::chrono::seconds(1)});
  int emitted = 0;
  for (int i = 0; i < 10'000; ++i) {
    auto v = t.admit("disk {} failed", static_cast<uint64_t>(i) * 1000);  // all inside 10 ms
    emitted += v.emit;
    EXPECT_EQ(v.suppressed, 0U);
  }
  EXPECT_EQ(emitted, 5);
  auto v = t.admit("disk {} failed", kSec + 1);  // the window closed
  EXPECT_TRUE(v.emit);
  EXPECT_EQ(v.suppressed, 9'995U);
  v = t.admit("disk {} failed", kSec + 2);
  EXPECT_TRUE(v.emit);
  EXPECT_EQ(v.suppressed, 0U);  // reported once
}

TEST(LogThrottle, KeysAreIndependent) {
  LogThrottle t(LogRateLimit{1, std::chrono::seconds(1)});
  EXPECT_TRUE(t.admit("a", 10).emit);
  EXPECT_FALSE(t.admit("a", 11).emit);
  EXPECT_TRUE(t.admit("b", 12).emit);
  auto s = t.take_suppressed();
  ASSERT_EQ(s.size(), 1U);
  EXPECT_EQ(s[0].first, "a");
  EXPECT_EQ(s[0].second, 1U);
  EXPECT_TRUE(t.take_suppressed().empty());
  EXPECT_TRUE(t.admit("a", 13).emit);  // take_suppressed reopened the window
}

TEST(LogThrottle, BurstZeroIsOff) {
  LogThrottle t(LogRateLimit{0, std::chrono::seconds(1)});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(t.admit("x", 1).emit);
}

TEST(LogThrottle, KeyTableIsBounded) {
  LogThrottle t(LogRateLimit{1, std::chrono::seconds(1)});
  for (int i = 0; i < 10'000; ++i) EXPECT_TRUE(t.admit(std::to_string(i), 1).emit);
  EXPECT_LE(t.keys(), 4096U);
  // Once their windows expired, old keys make room for new ones.
  EXPECT_TRUE(t.admit("new", 2 * kSec).emit);
  EXPECT_FALSE(t.admit("new", 2 * kSec + 1).emit);
}

// Redirects fd 2 to a file for the scope; text() reads what was written.
class CaptureStderr {
 public:
  CaptureStderr() {
    char tmpl[] = "/tmp/reactor_log_testXXXXXX";
    fd_ = ::mkstemp(tmpl);
    path_ = tmpl;
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  ~CaptureStderr() {
    restore();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::vector<std::string> lines() {
    restore();
    std::ifstream f(path_);
    std::vector<std::string> out;
    std::string l;
    while (std::getline(f, l)) out.push_back(l);
    return out;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

size_t count_containing(const std::vector<std::string>& lines, const std::string& what) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(what) != std::string::npos;
  return n;
}

class LogOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor::set_log_level(LogLevel::Info);
    reactor::set_log_format(LogFormat::Text);
    // An interval no test run reaches: the counts below do not depend on speed.
    reactor::set_log_rate_limit(LogRateLimit{5, std::chrono::hours(1)});
  }
  void TearDown() override {
    reactor::set_log_rate_limit(LogRateLimit{});
    reactor::set_log_format(LogFormat::Text);
  }
};

TEST_F(LogOutput, TenThousandRepeatsGiveABoundedNumberOfLinesAndTheSuppressedCount) {
  CaptureStderr cap;
  for (int i = 0; i < 10'000; ++i)
    reactor::log(LogLevel::Warn, "rpc: cannot accept a connection on {}: {}", "/tmp/x.sock", "Too many open files");
  reactor::log(LogLevel::Warn, "another problem {}", 1);  // its own key: not suppressed
  reactor::log_flush_suppressed();
  const auto lines = cap.lines();
  EXPECT_EQ(count_containing(lines, "Too many open files"), 5U);
  EXPECT_EQ(count_containing(lines, "another problem 1"), 1U);
  EXPECT_EQ(count_containing(lines,
                             "suppressed 9995 similar messages like 'rpc: cannot accept a connection on {}: {}'"),
            1U);
  EXPECT_EQ(lines.size(), 7U);
  for (const auto& l : lines) EXPECT_NE(l.find("[warning] [reactor] "), std::string::npos) << l;
}

TEST_F(LogOutput, BelowTheLevelNothingIsCountedOrPrinted) {
  CaptureStderr cap;
  reactor::set_log_level(LogLevel::Error);
  for (int i = 0; i < 100; ++i) reactor::log(LogLevel::Warn, "quiet {}", i);
  reactor::log_flush_suppressed();
  reactor::set_log_level(LogLevel::Info);
  EXPECT_TRUE(cap.lines().empty());
}

TEST_F(LogOutput, JsonLinesParseAndCarryTheSuppressedCount) {
  CaptureStderr cap;
  reactor::set_log_format(LogFormat::Json);
  for (int i = 0; i < 8; ++i) reactor::log(LogLevel::Error, "thread '{}' threw", "a\"b\nc\x01");
  reactor::log_flush_suppressed();
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 6U);
  for (size_t i = 0; i < 5; ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j.at("level"), "error");
    EXPECT_EQ(j.at("logger"), "reactor");
    EXPECT_EQ(j.at("msg"), "thread 'a\"b\nc\x01' threw");
    EXPECT_TRUE(j.at("time").get<std::string>().ends_with("Z"));
  }
  const auto s = nlohmann::json::parse(lines[5]);
  EXPECT_EQ(s.at("suppressed"), 3);
  EXPECT_EQ(s.at("like"), "thread '{}' threw");
  EXPECT_EQ(s.at("msg"), "suppressed 3 similar messages");
}

TEST_F(LogOutput, JournalLinesCarryTheSyslogPriority) {
  CaptureStderr cap;
  reactor::set_log_format(LogFormat::Journal);
  reactor::log(LogLevel::Warn, "w {}", 1);
  reactor::log(LogLevel::Error, "e {}", 2);
  reactor::log(LogLevel::Info, "i {}", 3);
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0], "<4>w 1");
  EXPECT_EQ(lines[1], "<3>e 2");
  EXPECT_EQ(lines[2], "<6>i 3");
}

TEST(LogFormatParse, NamesAndErrors) {
  LogFormat f = LogFormat::Text;
  EXPECT_TRUE(reactor::parse_log_format("json", f));
  EXPECT_EQ(f, LogFormat::Json);
  EXPECT_TRUE(reactor::parse_log_format("journal", f));
  EXPECT_EQ(f, LogFormat::Journal);
  EXPECT_FALSE(reactor::parse_log_format("xml", f));
  EXPECT_EQ(f, LogFormat::Journal);  // unchanged
}

}  // namespace
