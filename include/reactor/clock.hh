#pragma once
/// Clocks: ticks plus a tick rate. SystemClock uses the invariant TSC when the
/// kernel clocksource is `tsc`, else CLOCK_MONOTONIC (1e9 ticks/s). ManualClock
/// is advanced by tests (the deterministic harness).
///
/// Environment: REACTOR_CLOCK=monotonic forces SystemClock onto CLOCK_MONOTONIC
/// (for hosts whose TSC misbehaves, or to compare the two); unset, empty or
/// "auto" chooses automatically. It is read each time a SystemClock is built.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace reactor {

/// Source of ticks. `now()` may be called from any OS thread.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Current tick count; monotonic (never goes back, also across threads).
  virtual uint64_t now() const noexcept = 0;
  /// Ticks per second; constant for the clock's life.
  virtual uint64_t tick_rate() const noexcept = 0;

  /// Conversions between ticks and time at tick_rate(), rounding down. The
  /// product is computed in 128 bits, so nothing overflows on the way; a result
  /// that does not fit in 64 bits saturates at UINT64_MAX. Any thread.
  uint64_t us_to_ticks(uint64_t us) const noexcept;
  uint64_t ticks_to_us(uint64_t ticks) const noexcept;
  uint64_t ticks_to_ns(uint64_t ticks) const noexcept;
};

/// The process-wide monotonic tick source (see header comment for TSC rules).
class SystemClock final : public Clock {
 public:
  /// Picks TSC or CLOCK_MONOTONIC for this object's life, honouring
  /// REACTOR_CLOCK. The TSC rate is calibrated once per process against
  /// CLOCK_MONOTONIC (about 25 ms, on the first SystemClock that wants the
  /// TSC); later constructions are cheap. Any thread.
  SystemClock();
  /// rdtsc, or CLOCK_MONOTONIC in nanoseconds. Any thread.
  uint64_t now() const noexcept override;
  /// The calibrated TSC rate, or 1e9.
  uint64_t tick_rate() const noexcept override { return rate_; }
  /// True when now() reads the TSC.
  bool uses_tsc() const noexcept { return tsc_; }

 private:
  bool tsc_ = false;
  uint64_t rate_ = 1'000'000'000;
};

/// A clock that only moves when told; 1e9 ticks/s by default. Thread-safe.
class ManualClock final : public Clock {
 public:
  /// Starts at `start` ticks; the non-zero default keeps 0 free for callers
  /// that use it as "never" (RateLimiter does).
  explicit ManualClock(uint64_t tick_rate = 1'000'000'000, uint64_t start = 1'000'000)
      : rate_(tick_rate), now_(start) {}
  uint64_t now() const noexcept override { return now_.load(std::memory_order_acquire); }
  uint64_t tick_rate() const noexcept override { return rate_; }
  /// Moves the clock forward by `ticks` (or `us` microseconds). Any thread.
  void advance(uint64_t ticks) noexcept { now_.fetch_add(ticks, std::memory_order_acq_rel); }
  void advance_us(uint64_t us) noexcept { advance(us_to_ticks(us)); }

 private:
  uint64_t rate_;
  std::atomic<uint64_t> now_;
};

}  // namespace reactor
