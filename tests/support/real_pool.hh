#pragma once
// Real reactors for integration tests: a pool of up to two reactors on the
// first cores this process may use (the suites must pass on 2 vCPUs), and a
// lightweight thread spawned on it. Failures are recorded as test failures
// where they happen (EXPECT), so the test that called stops at its next
// ASSERT on the result.

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <reactor/thread.hh>
#include <reactor/pool.hh>
#include <reactor/topology.hh>

namespace reactor::test {

/// Options of a pool of up to two real reactors. Interrupt by default: on two
/// vCPUs idle reactors must sleep. The long `max_sleep` makes a lost wake-up
/// show as a test timeout, not as a delay of a second.
inline PoolOptions real_pool_options(ReactorMode mode = ReactorMode::Interrupt,
                                     std::chrono::milliseconds max_sleep = std::chrono::seconds(60)) {
  auto topo = Topology::discover();
  EXPECT_TRUE(topo) << topo.error().message;
  PoolOptions o;
  if (!topo) return o;
  o.topology = *topo;
  auto cores = topo->all().cores();
  for (size_t i = 0; i < cores.size() && i < 2; ++i) o.cores.set(cores[i]);
  o.baseline = mode;
  o.max_sleep = max_sleep;
  return o;
}

/// A started pool made of real_pool_options(mode, max_sleep); nullptr (and a
/// failure recorded) if it cannot start.
inline std::unique_ptr<ReactorPool> make_pool(ReactorMode mode = ReactorMode::Interrupt,
                                              std::chrono::milliseconds max_sleep = std::chrono::seconds(60)) {
  auto p = ReactorPool::create(real_pool_options(mode, max_sleep));
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(*p) : nullptr;
}

/// A lightweight thread named `name` with nothing to run yet (tasks and
/// messages are given to it later); an empty ThreadRef (and a failure
/// recorded) if the spawn fails.
inline ThreadRef spawn_thread(ReactorPool& pool, const std::string& name) {
  ThreadOptions o;
  o.name = name;
  auto t = pool.spawn(std::move(o));
  EXPECT_TRUE(t) << t.error().message;
  return t ? *t : ThreadRef{};
}

}  // namespace reactor::test
