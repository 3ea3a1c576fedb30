// reactor-sim's engine: the simulator's hooks in the production
// SchedulerManager (load_source, dynamic_factory) on a ManualPool, and the
// model's bookkeeping through run_policy on real pools (conservation of work,
// queueing under overload, frequency scaling capacity, Interrupt-mode sleep,
// move stalls, determinism).

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>

#include <reactor/scheduler_manager.hh>
#include <reactor/sim_governor.hh>

#include "sim/manual_pool.hh"
#include "sim/simulation.hh"
#include "sim/spdk_dynamic_policy.hh"
#include "sim/spdk_dynamic_reference.hh"

using namespace reactor;
using namespace reactor::sim;

namespace {

constexpr uint64_t kSecond = 1'000'000'000;  // ManualClock ticks

// A fixed demand per thread per round (microseconds per second of round).
class FixedSource final : public DemandSource {
 public:
  explicit FixedSource(std::vector<double> per_second_us) : d_(std::move(per_second_us)) {}
  uint32_t threads() const override { return static_cast<uint32_t>(d_.size()); }
  void demand(double, double period_s, std::vector<double>& out) override {
    out.resize(d_.size());
    for (size_t i = 0; i < d_.size(); ++i) out[i] = d_[i] * period_s;
  }

 private:
  std::vector<double> d_;
};

SimSetup setup_for(const std::string& topo, std::vector<double> per_second_us, double duration_s) {
  SimSetup s;
  s.topology = *Topology::synthetic(topo);
  s.topology_text = topo;
  s.duration_s = duration_s;
  s.source = [d = std::move(per_second_us)] { return std::make_unique<FixedSource>(d); };
  return s;
}

PolicySpec spec(const std::string& text) { return *parse_policy_spec(text); }

TEST(SimHooks, LoadSourceReplacesTheLoadAndKeepsThePlacement) {
  ManualPool mp(ManualPoolOptions{.cores = 4});
  auto a = mp.spawn("a");  // core 0 (main)
  auto b = mp.spawn("b");  // core 1
  ASSERT_EQ(b->stats().core, CoreId{1});
  GovernorSlot slot;
  std::optional<LoadSnapshot> seen;
  SchedulerManagerOptions o;
  // The model says: b is idle, a is idle, every core idle -> dynamic
  // consolidates b on main. Without the hook, b's measured load (the
  // harness's passes) would be what the pool counted.
  o.load_source = [](LoadSnapshot& s) {
    for (CoreLoad& c : s.cores) {
      c.busy = 0;
      c.idle = kSecond;
    }
    for (ThreadLoad& t : s.threads) {
      t.busy = t.id.value == 2 ? 1000 : 0;  // b: 1 us of a second
      t.idle = kSecond - t.busy;
    }
  };
  o.before_balance = [&](const LoadSnapshot& s) { seen = s; };
  auto mgr = std::move(*SchedulerManager::create(mp.pool(), slot, std::move(o)));
  ASSERT_TRUE(mgr->switch_to(PolicyKind::Dynamic, {}));
  mp.advance_us(1'000'000);
  mp.poll_all();
  const RoundRecord rec = mgr->run_round();
  ASSERT_TRUE(seen.has_value());
  ASSERT_EQ(seen->threads.size(), 2u);
  EXPECT_EQ(seen->threads[1].busy, 1000u);             // the model's load
  EXPECT_EQ(seen->threads[1].core, CoreId{1});         // the pool's placement
  EXPECT_EQ(seen->cores[1].busy, 0u);
  EXPECT_EQ(seen->cores[1].idle, kSecond);
  ASSERT_EQ(rec.moves.size(), 1u);
  EXPECT_EQ(rec.moves_landed, 1u);
  EXPECT_EQ(b->stats().core, CoreId{0});               // applied to the real pool
  (void)a;
}

TEST(SimHooks, DynamicFactoryRunsSpdksAlgorithmUnderTheDynamicName) {
  ManualPool mp(ManualPoolOptions{.cores = 4});
  std::vector<ThreadRef> ts;
  for (int i = 0; i < 8; ++i) ts.push_back(mp.spawn(fmt::format("t{}", i)));
  GovernorSlot slot(std::make_unique<SimGovernor>(mp.pool().cores()));
  std::optional<LoadSnapshot> seen;
  SchedulerManagerOptions o;
  // Threads 1, 5 busy (60 %) on cores 0 and 0 (round-robin: 0,1,2,3,0,1,2,3),
  // the rest idle: SPDK consolidates the idle ones on main and spreads the
  // busy ones; its moves carry the reference's pass in their reason.
  o.load_source = [](LoadSnapshot& s) {
    for (CoreLoad& c : s.cores) {
      c.busy = c.id.value == 0 ? kSecond : 0;
      c.idle = kSecond - c.busy;
    }
    for (ThreadLoad& t : s.threads) {
      t.busy = (t.id.value == 1 || t.id.value == 5) ? kSecond * 6 / 10 : 0;
      t.idle = kSecond - t.busy;
    }
  };
  o.before_balance = [&](const LoadSnapshot& s) { seen = s; };
  o.dynamic_factory = make_spdk_dynamic_policy;
  auto mgr = std::move(*SchedulerManager::create(mp.pool(), slot, std::move(o)));
  ASSERT_TRUE(mgr->switch_to(PolicyKind::Dynamic, {}));
  EXPECT_EQ(mgr->status().policy, PolicyKind::Dynamic);  // RPC-visible names unchanged
  mp.advance_us(1'000'000);
  mp.poll_all();
  const RoundRecord rec = mgr->run_round();
  ASSERT_TRUE(seen.has_value());
  const spdk::Result ref = spdk::balance(*seen, DynamicOptions{});
  ASSERT_FALSE(ref.plan.moves.empty());
  ASSERT_EQ(rec.moves.size(), ref.plan.moves.size());
  for (size_t i = 0; i < rec.moves.size(); ++i) {
    EXPECT_EQ(rec.moves[i].thread, ref.plan.moves[i].thread) << i;
    EXPECT_EQ(rec.moves[i].to, ref.plan.moves[i].to) << i;
    EXPECT_EQ(rec.moves[i].reason.rfind("spdk pass", 0), 0u) << rec.moves[i].reason;
  }
  EXPECT_EQ(rec.moves_landed, rec.moves.size());
}

TEST(SimManualPool, SpawnManyLandsEveryThread) {
  ManualPool mp(ManualPoolOptions{.topology = *Topology::synthetic("package:2 core:4 pu:2")});
  std::vector<ThreadOptions> o(1000);
  for (auto& t : o) t.ring_size = 64;
  const auto ts = mp.spawn_many(std::move(o));
  ASSERT_EQ(ts.size(), 1000u);
  std::vector<uint32_t> per_core(16, 0);  // 2 packages x 4 cores x 2 PUs
  for (const ThreadRef& t : ts) {
    const ThreadStats st = t->stats();
    EXPECT_FALSE(st.in_transit);
    ++per_core[st.core.value];
  }
  for (uint32_t n : per_core) EXPECT_TRUE(n == 62 || n == 63) << n;  // round-robin over 16 PUs
  EXPECT_GT(mp.passes(), 0u);
}

// Static at baseline frequency: everything that arrived was either served or
// is still queued.
TEST(SimModel, WorkIsConservedAndOverloadQueues) {
  // One core, one thread asking 1.5 s of work per second: 0.5 s more queued
  // every round, the core always above core_busy.
  auto s = setup_for("package:1 core:1 pu:1", {1.5e6}, 10);
  auto r = run_policy(s, spec("static"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rounds, 10u);
  EXPECT_NEAR(r->demand_s, 15.0, 1e-6);
  EXPECT_NEAR(r->work_s, 10.0, 1e-6);
  EXPECT_NEAR(r->queued_end_s, 5.0, 1e-6);
  EXPECT_NEAR(r->work_s + r->queued_end_s, r->demand_s, 1e-6);
  EXPECT_NEAR(r->above_core_busy_s, 10.0, 1e-9);
  EXPECT_NEAR(r->polling_s, 10.0, 1e-9);  // static polls
  EXPECT_EQ(r->sleeping_s, 0.0);
  // The queue grows by 0.5 s per round: late work waits seconds.
  EXPECT_GT(r->delay_p99_us, 3e6);
  EXPECT_GT(r->delay_p50_us, 1e6);
  EXPECT_EQ(r->moves, 0u);
}

TEST(SimModel, UnderloadedPollingCoreHasNoQueue) {
  auto s = setup_for("package:1 core:2 pu:1", {300'000, 200'000}, 20);
  auto r = run_policy(s, spec("static"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NEAR(r->work_s, 10.0, 1e-6);
  EXPECT_NEAR(r->queued_end_s, 0.0, 1e-9);
  EXPECT_EQ(r->delay_p99_us, 0.0);
  EXPECT_EQ(r->above_core_busy_s, 0.0);
  EXPECT_NEAR(r->polling_s, 40.0, 1e-9);
  EXPECT_NEAR(r->cpu_used_s, 40.0, 1e-9);
}

// A frequency step scales capacity: 1.2 s of work per second on one core
// queues 0.2 s a round at baseline (static), while gscheduler raises the
// core's frequency (busy -> step up) until it keeps up.
TEST(SimModel, FrequencyScalesCapacity) {
  auto s = setup_for("package:1 core:1 pu:1", {1.2e6}, 30);
  auto st = run_policy(s, spec("static"));
  auto gs = run_policy(s, spec("gscheduler"));
  ASSERT_TRUE(st && gs);
  EXPECT_NEAR(st->queued_end_s, 6.0, 1e-6);
  EXPECT_GT(gs->frequency_changes, 0u);
  EXPECT_LT(gs->queued_end_s, 1.0);
  EXPECT_GT(gs->work_s, st->work_s);
  EXPECT_NEAR(gs->work_s + gs->queued_end_s, gs->demand_s, 1e-6);
}

// Dynamic puts cores without busy threads to sleep: they burn nothing while
// idle, and work that arrives on them pays wake-ups.
TEST(SimModel, InterruptModeSleepsAndWakes) {
  // 4 cores, 4 nearly idle threads (1 ms per second each).
  auto s = setup_for("package:1 core:4 pu:1", {1000, 1000, 1000, 1000}, 20);
  auto dyn = run_policy(s, spec("dynamic"));
  auto st = run_policy(s, spec("static"));
  ASSERT_TRUE(dyn && st);
  EXPECT_NEAR(st->polling_s, 80.0, 1e-9);
  EXPECT_LE(dyn->polling_s, 4.0 + 1e-9);  // only the first round polls (baseline Poll)
  EXPECT_GT(dyn->sleeping_s, 75.0);
  EXPECT_GT(dyn->wakes, 0.0);
  EXPECT_LT(dyn->cpu_used_s, st->cpu_used_s / 10);
  EXPECT_GT(dyn->mode_changes, 0u);
  EXPECT_EQ(dyn->moves, 3u);  // the three idle threads off main consolidate on it
  EXPECT_NEAR(dyn->work_s + dyn->queued_end_s, dyn->demand_s, 1e-6);
}

// A moved thread does move_stall_us more work in the round after it lands.
TEST(SimModel, MoveCostsAStall) {
  auto s = setup_for("package:1 core:4 pu:1", {1000, 1000, 1000, 1000}, 5);
  s.model.move_stall_us = 0;
  auto free_moves = run_policy(s, spec("dynamic"));
  s.model.move_stall_us = 5000;
  auto stalled = run_policy(s, spec("dynamic"));
  ASSERT_TRUE(free_moves && stalled);
  ASSERT_EQ(stalled->moves, 3u);
  EXPECT_NEAR(stalled->demand_s - free_moves->demand_s, 3 * 0.005, 1e-9);
}

TEST(SimModel, SameSeedSameResult) {
  auto run = [](const std::string& p) {
    auto s = setup_for("package:2 core:2 pu:2", {900'000, 10, 500'000, 10, 10, 700'000, 10, 10, 10, 10}, 30);
    return *run_policy(s, spec(p));
  };
  for (const char* p : {"dynamic", "spdk-dynamic", "gscheduler"}) {
    const PolicyResult a = run(p), b = run(p);
    EXPECT_EQ(a.moves, b.moves) << p;
    EXPECT_EQ(a.work_s, b.work_s) << p;
    EXPECT_EQ(a.cpu_used_s, b.cpu_used_s) << p;
    EXPECT_EQ(a.frequency_changes, b.frequency_changes) << p;
  }
}

TEST(SimPolicySpec, ParsesAndRefusesWithTheKeyNamed) {
  auto d = parse_policy_spec("dynamic:load_limit=30,core_busy=90,period_us=500000");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, PolicyKind::Dynamic);
  EXPECT_EQ(d->update.load_limit, 30u);
  EXPECT_EQ(d->update.core_busy, 90u);
  EXPECT_EQ(d->update.period_us, 500000u);
  auto sp = parse_policy_spec("spdk-dynamic:core_limit=70");
  ASSERT_TRUE(sp);
  EXPECT_TRUE(sp->spdk);
  EXPECT_EQ(sp->kind, PolicyKind::Dynamic);
  EXPECT_EQ(parse_policy_spec("global")->name, "gscheduler");
  auto opts = parse_policy_spec("dynamic:numa_local=true,smt_last=false,keep_asleep=true");
  ASSERT_TRUE(opts);
  EXPECT_EQ(opts->update.numa_local, std::optional<bool>(true));
  EXPECT_EQ(opts->update.smt_last, std::optional<bool>(false));
  EXPECT_EQ(opts->update.keep_asleep, std::optional<bool>(true));
  EXPECT_EQ(opts->update.main_room, std::nullopt);
  EXPECT_EQ(parse_policy_spec("dynamic:main_room=true")->update.main_room, std::optional<bool>(true));
  const std::pair<const char*, const char*> bad[] = {
      {"dynamic:load_limt=30", "unknown option 'load_limt' for dynamic"},
      {"static:load_limit=30", "unknown option 'load_limit' for static"},
      {"gscheduler:core_busy=1", "unknown option 'core_busy' for gscheduler"},
      {"dynamic:load_limit=130", "load_limit 130 is out of range"},
      {"dynamic:load_limit=x", "load_limit 'x' is not a non-negative integer"},
      {"dynamic:period_us=5", "period_us 5 is out of range"},
      {"dynamic:", "empty option list"},
      {"dynamic:load_limit", "'load_limit' is not key=value"},
      {"fastest", "unknown policy 'fastest'"},
      {"dynamic:numa_local=1", "numa_local '1' is not true or false"},
      {"spdk-dynamic:keep_asleep=true", "unknown option 'keep_asleep' for spdk-dynamic"},
      {"spdk-dynamic:main_room=true", "unknown option 'main_room' for spdk-dynamic"},
      {"dynamic:main_room=1", "main_room '1' is not true or false"},
      {"static:smt_last=true", "unknown option 'smt_last' for static"},
  };
  for (auto [text, want] : bad) {
    auto r = parse_policy_spec(text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << text << ": " << r.error().message;
  }
}

}  // namespace
