// SchedulerManager on the deterministic harness: every ordered pair of
// policies under load, SPDK's switching failures as named regressions, and
// random switches with valid and invalid options while threads come and go.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include <reactor/scheduler_manager.hh>
#include <reactor/sim_governor.hh>

#include "support/harness.hh"
#include "support/load.hh"
#include "support/scale.hh"

using namespace reactor;
using reactor::test::Harness;
using reactor::test::HarnessOptions;
using reactor::test::LoadKnob;

namespace {

struct Bench {
  explicit Bench(uint32_t cores = 4, bool with_governor = true, uint64_t seed = 0)
      : h(HarnessOptions{.cores = cores, .seed = seed}) {
    if (with_governor) governor = std::make_unique<GovernorSlot>(make_sim_governor(h.pool().cores()));
    else governor = std::make_unique<GovernorSlot>();
    mgr = std::move(*SchedulerManager::create(h.pool(), *governor));
  }
  ~Bench() {
    mgr.reset();
    h.pool().stop();
  }

  ThreadRef spawn_loaded(uint32_t busy_pct, CpuSet mask = {}) {
    auto knob = std::make_shared<LoadKnob>();
    knob->busy_pct = busy_pct;
    knobs.push_back(knob);
    auto t = h.spawn("load" + std::to_string(knobs.size()), mask,
                     [this, knob] { test::register_load(h.clock(), knob); });
    threads.push_back(t);
    return t;
  }

  // Several polls of every reactor, then a scheduling round.
  RoundRecord cycle(int polls = 20) {
    for (int i = 0; i < polls; ++i) h.poll_all();
    return mgr->run_round();
  }

  // A storm of counted messages to every thread.
  void storm(int per_thread) {
    for (auto& t : threads) {
      for (int i = 0; i < per_thread; ++i) {
        ASSERT_TRUE(t.send([this] { ++delivered; }));
        ++sent;
      }
    }
  }

  void expect_restored(const char* when) {
    for (auto& t : h.pool().threads())
      EXPECT_EQ(t->current_core(), t->home_core()) << when << ": thread " << t.id().value << " not home";
    for (auto& r : h.pool().reactors())
      EXPECT_EQ(r->mode(), h.pool().baseline()) << when << ": core " << r->core().value << " not baseline";
  }

  Harness h;
  std::unique_ptr<GovernorSlot> governor;
  std::unique_ptr<SchedulerManager> mgr;
  std::vector<std::shared_ptr<LoadKnob>> knobs;
  std::vector<ThreadRef> threads;
  uint64_t sent = 0;
  uint64_t delivered = 0;  // only touched on reactors driven by this OS thread
};

PolicyOptionsUpdate opts_for(PolicyKind k, int variant) {
  PolicyOptionsUpdate u;
  if (k == PolicyKind::Dynamic) {
    u.load_limit = variant ? 30 : 20;
    u.core_limit = variant ? 70 : 80;
  }
  if (variant) u.period_us = 500'000;
  return u;
}

}  // namespace

class EveryPair : public ::testing::TestWithParam<std::tuple<PolicyKind, PolicyKind>> {};

TEST_P(EveryPair, SwitchUnderLoadRestoresAndLosesNothing) {
  auto [from, to] = GetParam();
  Bench b(4);
  for (uint32_t pct : {0u, 5u, 50u, 90u, 100u, 10u, 0u, 70u}) b.spawn_loaded(pct);
  ASSERT_TRUE(b.mgr->switch_to(from, opts_for(from, 0))) << policy_name(from);
  b.storm(50);
  for (int i = 0; i < 5; ++i) b.cycle();
  b.storm(50);
  auto r = b.mgr->switch_to(to, opts_for(to, 1));
  ASSERT_TRUE(r) << r.error().message;
  // Invariant (b): the old policy's destructor returned with everything home.
  b.expect_restored("after switch");
  auto st = b.mgr->status();
  EXPECT_EQ(st.policy, to);
  EXPECT_EQ(b.governor->leased(), to != PolicyKind::Static);  // dynamic and global lease the governor
  if (to == PolicyKind::Global) {
    EXPECT_EQ(st.governor_name, "sim_governor");
  }
  auto tr = b.mgr->transitions().back();
  EXPECT_TRUE(tr.ok);
  EXPECT_EQ(tr.from, from);
  EXPECT_EQ(tr.to, to);
  EXPECT_EQ(tr.restore.moves_done, tr.restore.moves_requested);
  b.storm(50);
  for (int i = 0; i < 5; ++i) b.cycle();
  for (int i = 0; i < 100 && b.delivered != b.sent; ++i) b.h.poll_all();
  EXPECT_EQ(b.delivered, b.sent);
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, EveryPair,
                         ::testing::Combine(::testing::Values(PolicyKind::Static, PolicyKind::Dynamic,
                                                              PolicyKind::Global),
                                            ::testing::Values(PolicyKind::Static, PolicyKind::Dynamic,
                                                              PolicyKind::Global)),
                         [](const auto& param_info) {
                           return std::string(policy_name(std::get<0>(param_info.param))) + "_to_" +
                                  std::string(policy_name(std::get<1>(param_info.param)));
                         });

// SPDK issue 3388: dynamic -> gscheduler dereferenced a governor the old
// policy's deinit had cleared. Here the lease moves from dynamic to global.
TEST(Regression, DynamicToGlobalKeepsGovernorAndRestoresThreads) {
  Bench b(4);
  for (int i = 0; i < 6; ++i) b.spawn_loaded(0);  // idle: dynamic consolidates them on core 0
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, {}));
  for (int i = 0; i < 3; ++i) b.cycle();
  size_t on_main = 0;
  for (auto& t : b.threads) on_main += t->current_core().value == 0;
  EXPECT_EQ(on_main, b.threads.size());
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Global, {}));
  b.expect_restored("dynamic -> global");
  EXPECT_TRUE(b.governor->leased());
  EXPECT_EQ(b.mgr->status().governor_name, "sim_governor");
  for (int i = 0; i < 3; ++i) {
    auto rr = b.cycle();
    EXPECT_TRUE(rr.moves.empty());  // global never moves threads
    EXPECT_GT(rr.frequency_requests, 0u);
  }
}

// SPDK issue 3550: gscheduler right after a switch divided by zero on cores
// that had no samples.
TEST(Regression, GlobalDynamicGlobalWithZeroSampleCores) {
  Bench b(4);
  b.spawn_loaded(100, CpuSet{0});
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Global, {}));
  b.mgr->run_round();  // no polls at all since the switch: every core has zero samples
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, {}));
  b.mgr->run_round();
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Global, {}));
  auto rr = b.mgr->run_round();
  // In the harness a reactor nobody polled since the last round counts as
  // stuck and is named; nothing else may go wrong (no governor error).
  for (const std::string& p : rr.problems) EXPECT_NE(p.find("counted no ticks"), std::string::npos) << p;
  auto after = b.cycle();
  EXPECT_TRUE(after.problems.empty()) << after.problems.front();
}

// SPDK issue 2492: dynamic -> static left every thread on one core.
TEST(Regression, DynamicToStaticRestoresTheHomeMap) {
  Bench b(4);
  for (int i = 0; i < 8; ++i) b.spawn_loaded(0);
  std::map<uint64_t, uint32_t> homes;
  for (auto& t : b.threads) homes[t.id().value] = t->home_core().value;
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, {}));
  for (int i = 0; i < 3; ++i) b.cycle();
  for (auto& t : b.threads) EXPECT_EQ(t->current_core().value, 0u);
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Static, {}));
  for (auto& t : b.threads) EXPECT_EQ(t->current_core().value, homes[t.id().value]);
  std::set<uint32_t> used;
  for (auto& t : b.threads) used.insert(t->current_core().value);
  EXPECT_EQ(used.size(), 4u);
}

// A failed switch changes nothing: global without a governor leaves dynamic
// running with its options untouched.
TEST(Regression, GlobalWithoutGovernorLeavesDynamicUntouched) {
  Bench b(4, /*with_governor=*/false);
  for (int i = 0; i < 4; ++i) b.spawn_loaded(0);
  PolicyOptionsUpdate u;
  u.load_limit = 30;
  u.period_us = 250'000;
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, u));
  for (int i = 0; i < 2; ++i) b.cycle();
  std::map<uint64_t, uint32_t> placed;
  for (auto& t : b.threads) placed[t.id().value] = t->current_core().value;
  auto before = b.mgr->transitions().size();
  auto r = b.mgr->switch_to(PolicyKind::Global, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("governor"), std::string::npos) << r.error().message;
  auto st = b.mgr->status();
  EXPECT_EQ(st.policy, PolicyKind::Dynamic);
  EXPECT_EQ(st.options.dynamic.load_limit, 30u);
  EXPECT_EQ(st.period_us, 250'000u);
  EXPECT_EQ(b.mgr->transitions().size(), before);
  for (auto& t : b.threads) EXPECT_EQ(t->current_core().value, placed[t.id().value]);
}

TEST(Options, DynamicOptionsPersistAcrossSwitches) {
  Bench b(2);
  PolicyOptionsUpdate u;
  u.core_limit = 60;
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, u));
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Static, {}));
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Dynamic, {}));
  EXPECT_EQ(b.mgr->status().options.dynamic.core_limit, 60u);
  EXPECT_EQ(b.mgr->status().period_us, 1'000'000u);  // static reset the period; default is 1 s
  PolicyOptionsUpdate bad;
  bad.load_limit = 150;
  auto r = b.mgr->switch_to(PolicyKind::Dynamic, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(b.mgr->status().options.dynamic.load_limit, 20u);
}

TEST(Options, StaticMappingsSetHomesAllOrNothing) {
  Bench b(4);
  auto t1 = b.spawn_loaded(0);
  auto t2 = b.spawn_loaded(0);
  PolicyOptionsUpdate u;
  u.mappings = std::to_string(t1.id().value) + ":3," + std::to_string(t2.id().value) + ":2";
  ASSERT_TRUE(b.mgr->switch_to(PolicyKind::Static, u));
  EXPECT_EQ(t1->home_core().value, 3u);
  EXPECT_EQ(t1->current_core().value, 3u);
  EXPECT_EQ(t2->current_core().value, 2u);
  PolicyOptionsUpdate bad;
  bad.mappings = std::to_string(t1.id().value) + ":0,999:1";
  auto r = b.mgr->switch_to(PolicyKind::Static, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(t1->home_core().value, 3u);  // first pair not applied either
}

// Random switches with random valid and invalid options while threads spawn,
// move and exit; invariants after every successful switch.
TEST(Random, ThousandsOfSwitches) {
  const uint64_t seed = 12345;
  Bench b(4, true, seed);
  std::mt19937_64 rng(seed);
  const int iterations = static_cast<int>(test::scaled(10'000));
  const PolicyKind kinds[] = {PolicyKind::Static, PolicyKind::Dynamic, PolicyKind::Global};
  int ok = 0, rejected = 0;
  for (int i = 0; i < iterations; ++i) {
    switch (rng() % 4) {
      case 0:
        if (b.threads.size() < 24) b.spawn_loaded(static_cast<uint32_t>(rng() % 101));
        break;
      case 1:
        if (!b.threads.empty()) {
          auto& t = b.threads[rng() % b.threads.size()];
          (void)b.h.pool().move(t.id(), CoreId{static_cast<uint32_t>(rng() % 4)});
        }
        break;
      case 2:
        if (b.threads.size() > 4) {
          size_t k = rng() % b.threads.size();
          (void)b.threads[k].send([] { current_thread()->exit(); });
          b.threads.erase(b.threads.begin() + static_cast<long>(k));
        }
        break;
      default:
        break;
    }
    b.h.poll_all();
    PolicyKind k = kinds[rng() % 3];
    PolicyOptionsUpdate u;
    if (rng() % 3 == 0) u.load_limit = static_cast<uint32_t>(rng() % 130);
    if (rng() % 5 == 0) u.period_us = rng() % 2'000'000;
    if (rng() % 7 == 0) u.mappings = std::to_string(rng() % 40) + ":" + std::to_string(rng() % 6);
    auto r = b.mgr->switch_to(k, u);
    if (r) {
      ++ok;
      for (auto& t : b.h.pool().threads())
        if (t->state() == ThreadState::Running) {
          ASSERT_EQ(t->current_core(), t->home_core()) << "seed " << seed << " iteration " << i;
        }
    } else {
      ++rejected;
    }
    if (i % 10 == 0) b.cycle(2);
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
  RecordProperty("switches_ok", ok);
  RecordProperty("switches_rejected", rejected);
}
