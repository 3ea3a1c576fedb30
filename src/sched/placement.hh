#pragma once
// PoolPlacement: the scheduler's view of a ReactorPool, built only on the
// pool's public API (the pool knows nothing of policies). It owns what the
// scheduler needs and the pool does not: the per-core and per-thread delta
// baselines of LoadSnapshot, how many rounds each thread has stayed put, and
// the restore (PlacementControl) that a policy's PlacementGuard runs.
// Control thread only (the SchedulerManager's caller). Not API.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>
#include <reactor/pool.hh>

namespace reactor::detail {

class PoolPlacement final : public PlacementControl {
 public:
  explicit PoolPlacement(ReactorPool& pool) : pool_(pool) {}

  /// Per-core and per-thread deltas since the previous call (the first call
  /// reports totals). Sleep counts as idle (load against wall time); a core
  /// that ran no pass while awake is `stalled`. `rounds_since_move` counts
  /// calls since the thread was last seen on another core.
  LoadSnapshot snapshot();

  /// Every movable live thread home and every reactor to the baseline mode.
  /// Retries threads that were in transit until all are home or the pool's
  /// wait bound expires; whatever is left away is named in the report with
  /// the reactor that held it up. Never throws.
  RestoreReport restore_placement() noexcept override;

  /// Why `core`'s reactor makes no progress, for round problems and partial
  /// restores: "reactor 1 is stuck in thread 'x' (id 3), poller 'p'", or what
  /// is known when the reactor is not inside a thread.
  std::string describe_block(CoreId core) const;

  /// Requests the moves of a plan and waits (bounded by `bound`) for their
  /// acknowledgements. Returns (landed, problems); every move not landed is
  /// named.
  struct MoveOutcome {
    uint32_t landed = 0;
    uint32_t skipped = 0;
    std::vector<std::string> problems;
  };
  MoveOutcome apply_moves(const std::vector<ThreadMove>& moves, std::chrono::nanoseconds bound);

 private:
  ReactorPool& pool_;
  struct CoreBase {
    uint64_t busy = 0, idle = 0, loops = 0, overhead = 0;
  };
  std::vector<CoreBase> last_core_;  // index: core id
  uint64_t last_now_ = 0;            // the previous snapshot's clock read; 0: none yet
  struct ThreadBase {
    ThreadId id;
    uint64_t busy = 0, idle = 0;
    CoreId core;
    uint32_t rounds_since_move = ThreadLoad::kNeverMoved;
  };
  // Ascending id, like pool_.threads(): each snapshot merges the two lists in
  // one walk and swaps buffers, so a round at 10,000 threads allocates
  // nothing here (an ordered map rebuilt per round was a third of the
  // round's cost in reactor-sim's profile).
  std::vector<ThreadBase> last_thread_;
  std::vector<ThreadBase> next_thread_;
};

}  // namespace reactor::detail
