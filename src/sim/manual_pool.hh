#pragma once
/// ManualPool: N reactors driven from the caller's own OS thread on a
/// ManualClock. No reactor OS threads, no sleeping: the caller spawns threads,
/// polls one core or all cores, advances time and (with a SchedulerManager)
/// runs scheduling rounds. The pool's bounded waits drive the reactors, so
/// moves and restores complete inside one call.
///
/// It is the engine under both the deterministic test harness
/// (tests/support/harness.hh) and reactor-sim: the pool, the threads, the
/// moves and the scheduler are the production code; only time is manual.
///
/// Poll order can be shuffled from a seed (REACTOR_SIM_SEED or the options);
/// a failing test prints the seed through seed(). Single OS thread: every
/// member is called from the thread that built the pool.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <reactor/clock.hh>
#include <reactor/pool.hh>
#include <reactor/topology.hh>

namespace reactor::sim {

struct ManualPoolOptions {
  uint32_t cores = 2;                 ///< flat topology of this many cores (ignored if topology set)
  std::optional<Topology> topology;   ///< e.g. Topology::synthetic("package:2 core:8 pu:2")
  CpuSet reactor_cores;               ///< default: every core of the topology
  CpuSet isolated;
  std::optional<CoreId> main_core;
  ReactorMode baseline = ReactorMode::Poll;
  uint64_t seed = 0;                  ///< 0: REACTOR_SIM_SEED or in-order polling
  /// Passes a pool wait (moves, restore) may drive before it gives up and
  /// reports a timeout; "time" here is a pass count.
  size_t wait_passes = 100000;
};

class ManualPool {
 public:
  /// Builds the pool. Throws std::runtime_error naming the problem when the
  /// pool cannot be created (bad cores, main core, isolated set).
  explicit ManualPool(ManualPoolOptions options = {});
  ~ManualPool();
  ManualPool(const ManualPool&) = delete;
  ManualPool& operator=(const ManualPool&) = delete;

  ReactorPool& pool() { return *pool_; }
  ManualClock& clock() { return clock_; }
  uint64_t seed() const { return seed_; }

  /// One run_once on `core`'s reactor at the current manual time.
  bool poll(CoreId core);
  /// One run_once on every reactor that is not blocked (shuffled when
  /// seeded). Returns true if any did work.
  bool poll_all();
  /// A blocked core is never polled by poll_all() or by the pool's waits: it
  /// behaves like a reactor stuck in a poller, so waits on it time out.
  void block(CoreId core) { blocked_.set(core); }
  void unblock(CoreId core) { blocked_.reset(core); }
  /// poll_all() until a pass does no work (or `max_passes`); returns passes run.
  size_t poll_until_idle(size_t max_passes = 100000);
  void advance_us(uint64_t us) { clock_.advance_us(us); }
  /// poll_all() passes run so far (by the caller and by the pool's waits).
  uint64_t passes() const { return passes_; }

  /// Spawns and lands a thread (polls until its init ran).
  ThreadRef spawn(std::string name, CpuSet mask = {}, Closure init = {});
  /// Spawns many threads without polling in between, then polls until every
  /// one landed: O(threads + reactors) instead of a full pass per spawn.
  /// Throws std::runtime_error naming the first spawn that failed.
  std::vector<ThreadRef> spawn_many(std::vector<ThreadOptions> options);

 private:
  ManualClock clock_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  CpuSet blocked_;
  uint64_t passes_ = 0;
  std::vector<Reactor*> order_;  // scratch for poll_all
  std::unique_ptr<ReactorPool> pool_;
};

}  // namespace reactor::sim
