// Clocks: which tick source SystemClock uses, and tick/time conversions.
//
// The TSC is the cheapest monotonic source (one rdtsc, no vDSO call), but it
// is only trustworthy when two facts hold: the CPU says the TSC is invariant
// (CPUID 0x80000007 EDX bit 8: constant rate across P/C-states), and the
// kernel kept `tsc` as its clocksource (it switches away when it finds the
// TSC unsynchronised between CPUs or unstable, e.g. on some VMs). Otherwise
// CLOCK_MONOTONIC in nanoseconds. REACTOR_CLOCK=monotonic forces the latter.
//
// The TSC rate is not exposed to user space, so it is measured once per
// process against CLOCK_MONOTONIC. That measurement is an immutable fact of
// the machine, kept in a function-local static (computed on first use,
// thread-safe), not mutable state.
//
// Conversions multiply in 128 bits, so no intermediate product overflows;
// a result that does not fit in 64 bits saturates at UINT64_MAX.

#include <reactor/clock.hh>

#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define REACTOR_HAVE_TSC 1
#else
#define REACTOR_HAVE_TSC 0
#endif

#include <reactor/log.hh>

#include "env/cycles.hh"

namespace reactor {
namespace {

constexpr uint64_t kNsPerSec = 1'000'000'000;
constexpr uint64_t kUsPerSec = 1'000'000;
// Calibration window: 25 ms keeps the rate error well under 0.1% (the reads
// that bracket it cost well under a microsecond) while adding little to
// process start-up.
constexpr uint64_t kCalibrationNs = 25'000'000;
// A TSC slower than 100 MHz or faster than 100 GHz means the measurement went
// wrong (no x86 CPU with an invariant TSC is outside that range).
constexpr uint64_t kMinTscHz = 100'000'000;
constexpr uint64_t kMaxTscHz = 100'000'000'000;

uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// GCC and Clang extension; `__extension__` keeps -Wpedantic quiet about it.
__extension__ using u128 = unsigned __int128;

uint64_t scale(uint64_t value, uint64_t mul, uint64_t div) noexcept {
  REACTOR_ASSERT(div != 0);
  const u128 r = static_cast<u128>(value) * mul / div;
  return r > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                  : static_cast<uint64_t>(r);
}

#if REACTOR_HAVE_TSC
bool cpu_has_invariant_tsc() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) == 0 || eax < 0x80000007u) return false;
  if (__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (edx & (1u << 8)) != 0;
}

bool kernel_clocksource_is_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return f && (f >> name) && name == "tsc";
}

/// Measures the TSC rate over kCalibrationNs. Each end pairs one rdtsc with
/// the CLOCK_MONOTONIC reads around it, retried so that a preemption between
/// the reads does not skew the pair.
uint64_t calibrate_tsc_hz() noexcept {
  auto sample = [](uint64_t& ns, uint64_t& tsc) {
    uint64_t best_gap = std::numeric_limits<uint64_t>::max();
    for (int i = 0; i < 5; ++i) {
      const uint64_t a = monotonic_ns();
      const uint64_t t = __rdtsc();
      const uint64_t b = monotonic_ns();
      if (b - a < best_gap) {
        best_gap = b - a;
        ns = a + (b - a) / 2;
        tsc = t;
      }
    }
  };
  uint64_t ns0 = 0, tsc0 = 0, ns1 = 0, tsc1 = 0;
  sample(ns0, tsc0);
  timespec nap{0, static_cast<long>(kCalibrationNs)};
  while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
  }
  sample(ns1, tsc1);
  if (ns1 <= ns0 || tsc1 <= tsc0) return 0;
  return scale(tsc1 - tsc0, kNsPerSec, ns1 - ns0);
}
#endif

/// The TSC rate when the TSC is usable, else 0. Decided once per process.
uint64_t usable_tsc_hz() noexcept {
#if REACTOR_HAVE_TSC
  static const uint64_t hz = []() noexcept -> uint64_t {
    bool source_is_tsc = false;
    try {
      source_is_tsc = kernel_clocksource_is_tsc();
    } catch (...) {
    }
    if (!cpu_has_invariant_tsc() || !source_is_tsc) return 0;
    const uint64_t measured = calibrate_tsc_hz();
    if (measured < kMinTscHz || measured > kMaxTscHz) {
      log(LogLevel::Warn, "TSC calibration gave {} Hz; using CLOCK_MONOTONIC instead", measured);
      return 0;
    }
    return measured;
  }();
  return hz;
#else
  return 0;
#endif
}

/// REACTOR_CLOCK: unset, empty or "auto" picks the TSC when usable;
/// "monotonic" forces CLOCK_MONOTONIC.
bool monotonic_forced() noexcept {
  const char* v = std::getenv("REACTOR_CLOCK");
  if (v == nullptr) return false;
  const std::string_view s(v);
  if (s == "monotonic") return true;
  if (!s.empty() && s != "auto")
    log(LogLevel::Warn, "REACTOR_CLOCK='{}' is not 'monotonic' or 'auto'; choosing automatically", s);
  return false;
}

}  // namespace

namespace detail {

bool cycle_counter_usable() noexcept {
#if REACTOR_HAVE_TSC
  static const bool usable = cpu_has_invariant_tsc();
  return usable;
#else
  return false;
#endif
}

}  // namespace detail

uint64_t Clock::us_to_ticks(uint64_t us) const noexcept { return scale(us, tick_rate(), kUsPerSec); }

uint64_t Clock::ticks_to_us(uint64_t ticks) const noexcept { return scale(ticks, kUsPerSec, tick_rate()); }

uint64_t Clock::ticks_to_ns(uint64_t ticks) const noexcept { return scale(ticks, kNsPerSec, tick_rate()); }

SystemClock::SystemClock() {
  if (monotonic_forced()) return;
  if (const uint64_t hz = usable_tsc_hz(); hz != 0) {
    tsc_ = true;
    rate_ = hz;
  }
}

uint64_t SystemClock::now() const noexcept {
#if REACTOR_HAVE_TSC
  // lfence keeps rdtsc from executing ahead of earlier loads (as the kernel's
  // own clock_gettime does): a tick read after acquiring a value published
  // with another thread's tick is then never smaller than that tick.
  if (tsc_) {
    _mm_lfence();
    return __rdtsc();
  }
#endif
  return monotonic_ns();
}

}  // namespace reactor
