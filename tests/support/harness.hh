#pragma once
// Deterministic multi-reactor harness: N reactors driven from the test's own
// OS thread on a ManualClock (see src/sim/manual_pool.hh, which it is). No
// reactor OS threads, no sleeping: a test spawns threads, polls one core or
// all cores, advances time and (with the SchedulerManager) runs scheduling
// rounds. The pool's bounded waits drive the reactors, so moves and restores
// complete inside one call.
//
// Poll order can be shuffled from a seed (REACTOR_SIM_SEED or the constructor);
// a failing test prints the seed through seed().

#include "sim/manual_pool.hh"

namespace reactor::test {

using HarnessOptions = sim::ManualPoolOptions;

class Harness : public sim::ManualPool {
 public:
  explicit Harness(HarnessOptions options = {}) : sim::ManualPool(std::move(options)) {}
};

}  // namespace reactor::test
