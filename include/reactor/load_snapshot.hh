#pragma once
/// LoadSnapshot and Plan: the only data a scheduling policy sees and returns.
/// A policy is a pure function snapshot -> plan; it never touches the runtime.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/ids.hh>
#include <reactor/reactor.hh>

namespace reactor {

/// One reactor's load since the previous round. Zero samples are legal
/// (a core that slept the whole round, or the very first round).
struct CoreLoad {
  CoreId id;
  uint64_t busy = 0;        ///< busy ticks since the last round
  uint64_t idle = 0;        ///< idle ticks since the last round (sleep excluded)
  bool in_interrupt = false;  ///< the reactor is in Interrupt mode now
  bool isolated = false;    ///< no thread may be moved to or from this core
  int numa_node = -1;
  CpuSet smt_siblings;      ///< includes the core itself
  uint32_t thread_count = 0;  ///< threads hosted now
  /// The reactor counted no tick since the last round although it was not
  /// asleep: it is stuck (in a poller or a message). Never a destination.
  bool stalled = false;
  /// Ticks the reactor spent since the last round on work that belongs to no
  /// thread (event queue, bookkeeping, unattributed I/O). Included in `busy`
  /// or `idle`; reported apart so a policy can tell it from thread load.
  uint64_t overhead = 0;
};

/// One lightweight thread's load since the previous round.
struct ThreadLoad {
  ThreadId id;
  CoreId core;    ///< where it runs now
  CoreId home;    ///< its home core (spawn placement or static mappings)
  CpuSet cpumask; ///< cores it may run on (already intersected with the pool)
  /// Busy ticks charged to the thread since the last round: its messages,
  /// pollers, I/O completion callbacks and its share of the reactor's
  /// io_uring submit and reap.
  uint64_t busy = 0;
  /// The rest of the wall time it was hosted since the last round (sleep of
  /// its reactor and time spent on other threads included), so that
  /// busy / (busy + idle) is its share of a core.
  uint64_t idle = 0;
  /// Rounds completed since the thread last landed on another core
  /// (0: it moved during the previous round). kNeverMoved if it never moved.
  uint32_t rounds_since_move = kNeverMoved;
  static constexpr uint32_t kNeverMoved = UINT32_MAX;
  /// The most the thread was busy in any of its last 16 rounds (this one
  /// included), as ticks of this round: its share of a core at that peak
  /// times busy + idle; never below `busy`. The scheduler manager fills it;
  /// 0 in a hand-built snapshot means "no history" (read as `busy`). A
  /// thread that paused for a round reads idle but keeps its recent peak.
  uint64_t recent_busy = 0;
};

/// Everything a policy may look at. `cores` are in ascending id order.
struct LoadSnapshot {
  uint64_t tick_rate = 1'000'000'000;
  CoreId main_core;              ///< scheduling core (dynamic's "main")
  ReactorMode baseline = ReactorMode::Poll;  ///< the runtime's baseline mode (static restores it)
  std::vector<CoreLoad> cores;
  std::vector<ThreadLoad> threads;

  const CoreLoad* find_core(CoreId id) const noexcept;
};

/// Move `thread` to `to`. `reason` is kept in the round history.
struct ThreadMove {
  ThreadId thread;
  CoreId from;
  CoreId to;
  std::string reason;
};

/// What a governor should do to one core's frequency.
enum class FrequencyAction { Min, Max, StepUp, StepDown, Baseline };

struct FrequencyRequest {
  CoreId core;
  FrequencyAction action;
};

struct CoreModeRequest {
  CoreId core;
  ReactorMode mode;
};

/// A policy's decision for one round.
struct Plan {
  std::vector<ThreadMove> moves;
  std::vector<CoreModeRequest> modes;      ///< cores whose mode should be set
  std::vector<FrequencyRequest> frequencies;
};

/// floor(100 * busy / (busy + idle)), 0 when there is no sample (never divides by zero).
constexpr uint32_t busy_percent(uint64_t busy, uint64_t idle) noexcept {
  const uint64_t total = busy + idle;
  if (total == 0) return 0;
  // busy * 100 overflows only past ~1.8e17 ticks; divide first there.
  if (busy > UINT64_MAX / 100) {
    const uint64_t p = busy / (total / 100);
    return static_cast<uint32_t>(p > 100 ? 100 : p);
  }
  return static_cast<uint32_t>((busy * 100) / total);
}

}  // namespace reactor
