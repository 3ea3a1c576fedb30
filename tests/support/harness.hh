#pragma once
// Deterministic multi-reactor harness: N reactors driven from the test's own
// OS thread on a ManualClock. No reactor OS threads, no sleeping: a test
// spawns threads, polls one core or all cores, advances time and (with the
// SchedulerManager) runs scheduling rounds. The pool's bounded waits drive the
// reactors, so moves and restores complete inside one call.
//
// Poll order can be shuffled from a seed (REACTOR_SIM_SEED or the constructor);
// a failing test prints the seed through seed().

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <reactor/clock.hh>
#include <reactor/pool.hh>
#include <reactor/topology.hh>

namespace reactor::test {

struct HarnessOptions {
  uint32_t cores = 2;                 ///< flat topology of this many cores (ignored if topology set)
  std::optional<Topology> topology;   ///< e.g. Topology::synthetic("package:2 core:8 pu:2")
  CpuSet reactor_cores;               ///< default: every core of the topology
  CpuSet isolated;
  std::optional<CoreId> main_core;
  ReactorMode baseline = ReactorMode::Poll;
  uint64_t seed = 0;                  ///< 0: REACTOR_SIM_SEED or in-order polling
  /// Passes a pool wait (moves, restore) may drive before it gives up and
  /// reports a timeout; "time" in the harness is a pass count.
  size_t wait_passes = 100000;
};

class Harness {
 public:
  explicit Harness(HarnessOptions options = {});
  ~Harness();

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

  /// Spawns and lands a thread (polls until idle).
  ThreadRef spawn(std::string name, CpuSet mask = {}, Closure init = {});

 private:
  ManualClock clock_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  CpuSet blocked_;
  std::unique_ptr<ReactorPool> pool_;
};

}  // namespace reactor::test
