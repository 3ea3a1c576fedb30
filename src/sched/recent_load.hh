// RecentLoad: each thread's busiest share of a core over its last rounds, so
// that a policy can tell a thread that is idle from one that paused. Filled
// into ThreadLoad::recent_busy by the scheduler manager after the round's
// load is final (the pool's counters, or a simulator's load_source).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <reactor/load_snapshot.hh>

namespace reactor::detail {

class RecentLoad {
 public:
  /// Rounds remembered, the current one included.
  static constexpr size_t kRounds = 16;

  /// Records each thread's share of this round and sets its recent_busy: the
  /// largest share of the last kRounds rounds, in this round's ticks
  /// (busy + idle), never below busy. Threads absent from `s` are forgotten.
  void fill(LoadSnapshot& s);

 private:
  struct Entry {
    uint64_t id = 0;
    std::array<float, kRounds> share{};  // ring of busy / (busy + idle)
    uint32_t next = 0;                    // next slot to write
  };
  // Ascending id, like the snapshot's threads: one merge walk per round.
  std::vector<Entry> last_, next_;
};

}  // namespace reactor::detail
