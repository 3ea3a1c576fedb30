// Clocks: SystemClock's source choice and rate, monotonicity (also across
// threads), the REACTOR_CLOCK override, and overflow-free conversions.

#include <reactor/clock.hh>

#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace {

using reactor::ManualClock;
using reactor::SystemClock;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string kernel_clocksource() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string s;
  f >> s;
  return s;
}

/// Sets REACTOR_CLOCK for one scope and restores the previous value. Tests run
/// it before starting any thread, so setenv does not race with getenv.
class ScopedClockEnv {
 public:
  explicit ScopedClockEnv(const char* value) {
    if (const char* old = std::getenv("REACTOR_CLOCK")) old_ = old;
    setenv("REACTOR_CLOCK", value, 1);
  }
  ~ScopedClockEnv() {
    if (old_) setenv("REACTOR_CLOCK", old_->c_str(), 1);
    else unsetenv("REACTOR_CLOCK");
  }
  ScopedClockEnv(const ScopedClockEnv&) = delete;
  ScopedClockEnv& operator=(const ScopedClockEnv&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(SystemClockTest, SourceFollowsTheRules) {
  const SystemClock clock;
  RecordProperty("source", clock.uses_tsc() ? "tsc" : "monotonic");
  RecordProperty("tick_rate", std::to_string(clock.tick_rate()));
  if (clock.uses_tsc()) {
    EXPECT_EQ(kernel_clocksource(), "tsc") << "the TSC is used only when the kernel trusts it";
    EXPECT_GE(clock.tick_rate(), 100'000'000u);
    EXPECT_LE(clock.tick_rate(), 100'000'000'000u);
  } else {
    EXPECT_EQ(clock.tick_rate(), 1'000'000'000u);
  }
  // The choice is made once per process: a second clock agrees.
  const SystemClock again;
  EXPECT_EQ(again.uses_tsc(), clock.uses_tsc());
  EXPECT_EQ(again.tick_rate(), clock.tick_rate());
}

TEST(SystemClockTest, NeverGoesBack) {
  const SystemClock clock;
  uint64_t prev = clock.now();
  for (int i = 0; i < 200'000; ++i) {
    const uint64_t t = clock.now();
    ASSERT_GE(t, prev) << "at read " << i;
    prev = t;
  }
}

TEST(SystemClockTest, NeverGoesBackAcrossThreads) {
  // A tick published by one thread and acquired by another is never larger
  // than what the other thread reads next.
  const SystemClock clock;
  std::atomic<uint64_t> published{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> violations{0};
  auto writer = [&] {
    while (!stop.load(std::memory_order_relaxed)) published.store(clock.now(), std::memory_order_release);
  };
  auto reader = [&] {
    for (int i = 0; i < 200'000; ++i) {
      const uint64_t seen = published.load(std::memory_order_acquire);
      const uint64_t t = clock.now();
      if (t < seen) violations.fetch_add(1, std::memory_order_relaxed);
    }
    stop.store(true, std::memory_order_relaxed);
  };
  std::thread w(writer);
  std::thread r(reader);
  r.join();
  w.join();
  EXPECT_EQ(violations.load(), 0u);
}

TEST(SystemClockTest, RateMatchesMonotonicTime) {
  // Not a speed assertion: it checks that ticks_to_ns() of an interval agrees
  // with CLOCK_MONOTONIC. Noise (preemption between the paired reads) can only
  // spoil one attempt; a wrong rate spoils all of them.
  const SystemClock clock;
  double best_error = 1.0;
  for (int attempt = 0; attempt < 5 && best_error > 0.02; ++attempt) {
    const uint64_t ns0 = monotonic_ns();
    const uint64_t t0 = clock.now();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t t1 = clock.now();
    const uint64_t ns1 = monotonic_ns();
    const double measured = static_cast<double>(clock.ticks_to_ns(t1 - t0));
    const double real = static_cast<double>(ns1 - ns0);
    const double error = measured > real ? (measured - real) / real : (real - measured) / real;
    best_error = std::min(best_error, error);
  }
  EXPECT_LT(best_error, 0.02);
}

TEST(SystemClockTest, EnvironmentForcesMonotonic) {
  const ScopedClockEnv env("monotonic");
  const SystemClock clock;
  EXPECT_FALSE(clock.uses_tsc());
  EXPECT_EQ(clock.tick_rate(), 1'000'000'000u);
  // It reads CLOCK_MONOTONIC in nanoseconds.
  const uint64_t before = monotonic_ns();
  const uint64_t now = clock.now();
  const uint64_t after = monotonic_ns();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(SystemClockTest, UnknownEnvironmentValueChoosesAutomatically) {
  const SystemClock plain;
  const ScopedClockEnv env("bogus");
  const SystemClock clock;
  EXPECT_EQ(clock.uses_tsc(), plain.uses_tsc());
  EXPECT_EQ(clock.tick_rate(), plain.tick_rate());
}

TEST(ClockConversions, NanosecondClock) {
  const ManualClock c;  // 1e9 ticks/s
  EXPECT_EQ(c.us_to_ticks(0), 0u);
  EXPECT_EQ(c.us_to_ticks(1), 1'000u);
  EXPECT_EQ(c.us_to_ticks(1'000'000), 1'000'000'000u);
  EXPECT_EQ(c.ticks_to_us(1'999), 1u);  // rounds down
  EXPECT_EQ(c.ticks_to_us(2'000), 2u);
  EXPECT_EQ(c.ticks_to_ns(12'345), 12'345u);
  // No overflow in the intermediate products.
  EXPECT_EQ(c.ticks_to_us(kMax), kMax / 1'000);
  EXPECT_EQ(c.ticks_to_ns(kMax), kMax);
  EXPECT_EQ(c.us_to_ticks(kMax / 1'000), kMax / 1'000 * 1'000);
  // Results beyond 64 bits saturate.
  EXPECT_EQ(c.us_to_ticks(kMax), kMax);
  EXPECT_EQ(c.us_to_ticks(kMax / 1'000 + 1), kMax);
}

TEST(ClockConversions, TscLikeRate) {
  const ManualClock c(2'500'000'000);  // 2.5 GHz
  EXPECT_EQ(c.us_to_ticks(1), 2'500u);
  EXPECT_EQ(c.us_to_ticks(1'000'000), 2'500'000'000u);
  EXPECT_EQ(c.ticks_to_us(2'500), 1u);
  EXPECT_EQ(c.ticks_to_ns(5), 2u);  // 2 ns, rounded down
  EXPECT_EQ(c.ticks_to_ns(2'500'000'000), 1'000'000'000u);
  // A year of ticks at 2.5 GHz (7.9e16) times 1e9 overflows 64 bits; the
  // 128-bit product does not.
  const uint64_t year_ticks = 2'500'000'000ull * 86'400 * 365;
  EXPECT_EQ(c.ticks_to_ns(year_ticks), 1'000'000'000ull * 86'400 * 365);
  EXPECT_EQ(c.ticks_to_us(year_ticks), 1'000'000ull * 86'400 * 365);
  EXPECT_EQ(c.ticks_to_ns(kMax), kMax / 5 * 2);
}

TEST(ClockConversions, SlowClocks) {
  const ManualClock mhz(1'000'000);  // 1 tick per microsecond
  EXPECT_EQ(mhz.us_to_ticks(123), 123u);
  EXPECT_EQ(mhz.ticks_to_us(kMax), kMax);
  EXPECT_EQ(mhz.ticks_to_ns(7), 7'000u);
  EXPECT_EQ(mhz.ticks_to_ns(kMax), kMax);  // saturates
  const ManualClock three(3);  // 3 ticks per second
  EXPECT_EQ(three.us_to_ticks(1'000'000), 3u);
  EXPECT_EQ(three.us_to_ticks(999'999), 2u);
  EXPECT_EQ(three.ticks_to_us(1), 333'333u);
  EXPECT_EQ(three.ticks_to_ns(3), 1'000'000'000u);
}

TEST(ManualClockTest, MovesOnlyWhenTold) {
  ManualClock c(1'000'000'000, 5);
  EXPECT_EQ(c.now(), 5u);
  EXPECT_EQ(c.now(), 5u);
  c.advance(10);
  EXPECT_EQ(c.now(), 15u);
  c.advance_us(2);
  EXPECT_EQ(c.now(), 2'015u);
  EXPECT_EQ(ManualClock().now(), 1'000'000u);
  EXPECT_EQ(ManualClock(7).tick_rate(), 7u);
}

}  // namespace
