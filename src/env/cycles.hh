#pragma once
// Not API. The CPU's cycle counter as an interpolator between two clock reads
// (Reactor::run_once, "cycle-timed passes"): never a clock of its own. It
// splits the ticks between two reads of the real clock among the passes in
// between; the two reads fix the total, so a counter that drifts against the
// clock only blurs the split of a few microseconds.

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace reactor::detail {

/// True where cycles() counts at a constant rate (x86 with an invariant TSC:
/// CPUID 0x80000007 EDX bit 8). Computed once per process. Any thread.
bool cycle_counter_usable() noexcept;

/// The cycle counter (rdtsc, unordered: a split point, not a timestamp); 0
/// where there is none. Any thread; compare values from one CPU only.
inline uint64_t cycles() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return 0;
#endif
}

}  // namespace reactor::detail
