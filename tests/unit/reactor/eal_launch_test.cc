// Launch::EalLcores in its own process (EAL initialises once per process):
// EAL started without hugepages or PCI, reactors on the worker lcores (and a
// std::thread for the main lcore's core), messages, a move and a clean stop.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <reactor/pool.hh>
#include <reactor/scheduler_manager.hh>

#include "sched/dpdk_eal.hh"

using namespace reactor;
using namespace std::chrono_literals;

TEST(EalLaunch, RefusedBeforeEalStarts) {
  // Runs first in this binary (gtest keeps declaration order).
  PoolOptions o;
  o.cores = CpuSet{0};
  o.launch = Launch::EalLcores;
  auto p = ReactorPool::create(std::move(o));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("needs DPDK's EAL initialised first"), std::string::npos) << p.error().message;
}

TEST(EalLaunch, ReactorsRunOnEalLcores) {
  auto topo = Topology::discover();
  ASSERT_TRUE(topo);
  if (topo->all().count() < 2) GTEST_SKIP() << "needs two cores";
  auto cores = topo->all().cores();
  CpuSet two{cores[0].value, cores[1].value};
  auto eal = detail::init_eal_once(two);
  if (!eal) GTEST_SKIP() << "EAL cannot start here: " << eal.error().message;
  PoolOptions o;
  o.cores = two;
  o.topology = *topo;
  o.launch = Launch::EalLcores;
  o.baseline = ReactorMode::Interrupt;
  auto p = ReactorPool::create(std::move(o));
  ASSERT_TRUE(p) << p.error().message;
  auto& pool = **p;
  auto t = *pool.spawn(ThreadOptions{.name = "on_eal"});
  std::atomic<int> n{0};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(t.send([&] { n.fetch_add(1); }));
  ASSERT_TRUE(pool.wait_for([&] { return n.load() == 1000; }, 10s));
  CoreId other = t->current_core() == cores[0] ? cores[1] : cores[0];
  auto tk = pool.move(t.id(), other);
  ASSERT_TRUE(tk);
  ASSERT_TRUE(pool.wait_for([&] { return (*tk)->done(); }, 10s));
  EXPECT_EQ((*tk)->result.load(), MoveResult::Landed);
  std::atomic<uint32_t> ran_on{999};
  ASSERT_TRUE(t.send([&] { ran_on = static_cast<uint32_t>(sched_getcpu()); }));
  ASSERT_TRUE(pool.wait_for([&] { return ran_on.load() != 999; }, 10s));
  EXPECT_EQ(ran_on.load(), other.value);
  for (auto& r : pool.reactors()) EXPECT_NE(r->stats().tid, 0u);
  // A blocking switch from a thread running on an EAL lcore would wait on
  // the reactor it blocks: refused, as on reactor OS threads.
  {
    GovernorSlot no_governor;
    auto mgr = SchedulerManager::create(pool, no_governor);
    ASSERT_TRUE(mgr) << mgr.error().message;
    std::atomic<int> code{-1};
    ASSERT_TRUE(t.send([&] {
      auto r = (*mgr)->switch_to(PolicyKind::Dynamic, {});
      code = r ? 0 : static_cast<int>(r.error().code);
    }));
    ASSERT_TRUE(pool.wait_for([&] { return code.load() != -1; }, 10s));
    EXPECT_EQ(code.load(), static_cast<int>(Errc::wrong_thread));
  }
  auto rep = pool.stop();
  EXPECT_TRUE(rep.stragglers.empty());
}
