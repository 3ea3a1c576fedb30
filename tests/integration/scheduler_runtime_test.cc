// The SchedulerManager inside a real Runtime: real reactors, the control
// thread running rounds, concurrent switches from several OS threads while
// threads spawn, receive messages and exit. Also run under TSan.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include <reactor/runtime.hh>

#include "support/scale.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Runtime> make_runtime(GovernorChoice gov = GovernorChoice::Sim) {
  auto topo = Topology::discover();
  EXPECT_TRUE(topo);
  RuntimeOptions o;
  o.pool.topology = *topo;
  auto cores = topo->all().cores();
  for (size_t i = 0; i < cores.size() && i < 2; ++i) o.pool.cores.set(cores[i]);
  o.pool.baseline = ReactorMode::Interrupt;  // 2 vCPUs: let idle reactors sleep
  o.governor = gov;
  o.scheduler.options.period_us = 20'000;
  auto rt = Runtime::create(std::move(o));
  EXPECT_TRUE(rt) << rt.error().message;
  return std::move(*rt);
}

using reactor::test::eventually;

}  // namespace

TEST(SchedulerRuntime, ConcurrentSwitchesWhileThreadsComeAndGo) {
  auto rt = make_runtime();
  SchedulerManager& mgr = *rt->scheduler();
  std::atomic<uint64_t> sent{0}, delivered{0};
  std::atomic<bool> run{true};
  const int switches = static_cast<int>(test::scaled(400));

  // Churn: spawn threads with a light timed poller, message them, let some exit.
  std::thread churn([&] {
    std::mt19937 rng(7);
    std::vector<ThreadRef> live;
    while (run.load()) {
      if (live.size() < 12) {
        auto t = rt->pool().spawn(ThreadOptions{}, [] {
          (void)current_thread()->register_poller("tick", [] { return PollStatus::Busy; }, 1ms);
        });
        if (t) live.push_back(*t);
      }
      for (auto& t : live) {
        if (t.send([&delivered] { delivered.fetch_add(1); })) sent.fetch_add(1);
      }
      if (live.size() > 6 && rng() % 3 == 0) {
        size_t k = rng() % live.size();
        (void)live[k].send([] { current_thread()->exit(); });
        live.erase(live.begin() + static_cast<long>(k));
      }
      std::this_thread::sleep_for(1ms);
    }
  });

  auto switcher = [&](int seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    const char* names[] = {"static", "dynamic", "gscheduler", "global", "bogus"};
    for (int i = 0; i < switches; ++i) {
      PolicyOptionsUpdate u;
      if (rng() % 3 == 0) u.load_limit = rng() % 120;
      if (rng() % 4 == 0) u.period_us = 1000 + rng() % 50'000;
      auto r = mgr.switch_to(names[rng() % 5], u);
      (void)r;
    }
  };
  std::thread s1(switcher, 1), s2(switcher, 2);
  s1.join();
  s2.join();
  run = false;
  churn.join();
  ASSERT_TRUE(eventually([&] { return delivered.load() == sent.load(); }, 30s))
      << "delivered " << delivered.load() << " of " << sent.load();
  auto ts = mgr.transitions();
  ASSERT_FALSE(ts.empty());
  for (auto& t : ts) EXPECT_TRUE(t.ok) << t.result;  // validation failures are not transitions
  // After a final switch to static every live thread is home.
  ASSERT_TRUE(mgr.switch_to(PolicyKind::Static, {}));
  for (auto& t : rt->pool().threads())
    if (t->state() == ThreadState::Running) {
      EXPECT_EQ(t->current_core(), t->home_core());
    }
  EXPECT_FALSE(rt->governor().leased());
  auto rep = rt->stop();
  EXPECT_TRUE(rep.stragglers.empty());
}

TEST(SchedulerRuntime, BlockingSwitchOnAReactorIsRefusedAsyncWorks) {
  auto rt = make_runtime();
  SchedulerManager& mgr = *rt->scheduler();
  auto t = *rt->pool().spawn(ThreadOptions{.name = "caller"});
  std::atomic<int> code{-1};
  std::atomic<bool> async_done{false};
  std::atomic<bool> async_ok{false};
  ASSERT_TRUE(t.send([&] {
    auto r = mgr.switch_to(PolicyKind::Dynamic, {});
    code = r ? 0 : static_cast<int>(r.error().code);
    mgr.switch_async(PolicyKind::Dynamic, {}, [&](Result<void> res) {
      async_ok = res.has_value();
      async_done = true;
    });
  }));
  ASSERT_TRUE(eventually([&] { return async_done.load(); }));
  EXPECT_EQ(code.load(), static_cast<int>(Errc::wrong_thread));
  EXPECT_TRUE(async_ok.load());
  EXPECT_EQ(mgr.status().policy, PolicyKind::Dynamic);
}

TEST(SchedulerRuntime, ControlThreadRunsRounds) {
  auto rt = make_runtime();
  SchedulerManager& mgr = *rt->scheduler();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(rt->pool().spawn(ThreadOptions{}));
  PolicyOptionsUpdate u;
  u.period_us = 10'000;
  ASSERT_TRUE(mgr.switch_to(PolicyKind::Dynamic, u));
  ASSERT_TRUE(eventually([&] { return mgr.status().rounds >= 3; }));
  // Idle threads consolidate on the main core; the other reactor goes to Interrupt mode.
  ASSERT_TRUE(eventually([&] {
    for (auto& t : rt->pool().threads())
      if (t->current_core() != rt->pool().main_core()) return false;
    return true;
  }));
}

TEST(SchedulerRuntime, GlobalNeedsAGovernor) {
  auto rt = make_runtime(GovernorChoice::None);
  auto r = rt->scheduler()->switch_to(PolicyKind::Global, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("governor"), std::string::npos) << r.error().message;
  EXPECT_EQ(rt->scheduler()->status().policy, PolicyKind::Static);
}
