// Dynamic policy: SPDK's dynamic scenarios on hand-built snapshots, our
// deviations (cpumask, isolated cores), options and the policy object.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <reactor/governor.hh>
#include <reactor/policy.hh>

#include "unit/schedulers/snapshot_builder.hh"

namespace reactor {
namespace {

using test::final_core;
using test::find_move;
using test::frequencies_of;
using test::mode_of;
using test::SnapshotBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using FA = FrequencyAction;

const DynamicOptions kDefaults{};

TEST(BalanceDynamic, IdleThreadsConsolidateOnMainThenOtherCoresSleep) {
  // Round 1: one idle (5 %) thread per core.
  const LoadSnapshot s1 = SnapshotBuilder(4)
                              .thread(1, 0, 50, 950)
                              .thread(2, 1, 50, 950)
                              .thread(3, 2, 50, 950)
                              .thread(4, 3, 50, 950)
                              .build();
  const Plan p1 = balance_dynamic(s1, kDefaults);
  ASSERT_EQ(p1.moves.size(), 3u);
  for (uint64_t t = 2; t <= 4; ++t) {
    const ThreadMove* m = find_move(p1, t);
    ASSERT_NE(m, nullptr) << t;
    EXPECT_EQ(m->to, CoreId{0});
    EXPECT_EQ(m->from, CoreId{static_cast<uint32_t>(t - 1)});
    EXPECT_EQ(m->reason, "idle (5% < load_limit 20): consolidate on main core 0");
  }
  // Cores 1-3 still host their threads this round: no mode change yet.
  EXPECT_EQ(mode_of(p1, 0), ReactorMode::Poll);
  for (uint32_t c = 1; c < 4; ++c) EXPECT_EQ(mode_of(p1, c), std::nullopt) << c;
  // Nothing busy away from main, main mostly idle: main steps down.
  EXPECT_THAT(frequencies_of(p1, 0), ElementsAre(FA::StepDown));

  // Round 2: everything on main, the other reactors emptied and slept.
  const LoadSnapshot s2 = SnapshotBuilder(4)
                              .thread(1, 0, 50, 950)
                              .thread(2, 0, 50, 950)
                              .thread(3, 0, 50, 950)
                              .thread(4, 0, 50, 950)
                              .build();
  const Plan p2 = balance_dynamic(s2, kDefaults);
  EXPECT_TRUE(p2.moves.empty());
  EXPECT_EQ(mode_of(p2, 0), ReactorMode::Poll);
  for (uint32_t c = 1; c < 4; ++c) {
    EXPECT_EQ(mode_of(p2, c), ReactorMode::Interrupt) << c;
    EXPECT_THAT(frequencies_of(p2, c), ElementsAre(FA::Min)) << c;
  }
}

TEST(BalanceDynamic, MainWithoutThreadsGoesToInterruptToo) {
  // An idle process: the main core sleeps as well (DESIGN: "the main core included").
  const LoadSnapshot s = SnapshotBuilder(2).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::Min, FA::StepDown));
}

TEST(BalanceDynamic, BusyThreadLeavesACrowdedMainCore) {
  // Main hosts an idle thread and a 100 % thread: core 0 is 90 % busy with 2 threads.
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 0, 5, 95).thread(2, 0, 900, 0).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{2});
  EXPECT_EQ(p.moves[0].to, CoreId{1});
  EXPECT_EQ(p.moves[0].reason,
            "busy (100%): core 0 is at core_limit 80 (90% busy, 2 threads); core 1 has room");
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Poll);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Poll);
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::Max));  // busy threads elsewhere
}

TEST(BalanceDynamic, BusyThreadAloneOnMainStays) {
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 0, 900, 100).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
  // Main was more busy than idle and nothing runs elsewhere: one step up.
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::StepUp));
}

TEST(BalanceDynamic, TwoBusyThreadsOnTwoCoresStayApart) {
  const LoadSnapshot s = SnapshotBuilder(3).thread(1, 0, 900, 100).thread(2, 1, 900, 100).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Poll);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Poll);
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Interrupt);
}

TEST(BalanceDynamic, BusyThreadMovesToMainWhenMainHasRoom) {
  const LoadSnapshot s = SnapshotBuilder(3).thread(1, 0, 100, 900).thread(2, 2, 300, 700).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{2});
  EXPECT_EQ(p.moves[0].to, CoreId{0});
  EXPECT_EQ(p.moves[0].reason, "busy (30% >= load_limit 20): main core 0 has room");
}

TEST(BalanceDynamic, BusyThreadConsolidatesOnALowerCoreWithRoom) {
  // Main is full; core 1 has room for thread 1 (70 % after the move < 80).
  const LoadSnapshot s =
      SnapshotBuilder(3).thread(3, 0, 900, 100).thread(2, 1, 200, 800).thread(1, 2, 500, 500).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{1});
  EXPECT_EQ(p.moves[0].to, CoreId{1});
  EXPECT_EQ(p.moves[0].reason, "busy (50% >= load_limit 20): consolidate on lower core 1, which has room");
  EXPECT_EQ(mode_of(p, 2), std::nullopt);  // emptied this round: it sleeps next round
}

TEST(BalanceDynamic, MainPastCoreBusySpreadsItsThreads) {
  // Three 96 % threads share main (96 % busy >= core_busy 95); the others slept.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 0, 320, 10)
                             .thread(2, 0, 320, 10)
                             .thread(3, 0, 320, 20)
                             .interrupt(1)
                             .interrupt(2)
                             .interrupt(3)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  // Thread 1 leaves; because main was past core_busy it is rescaled to look
  // full (80 %), so thread 2 leaves too; thread 3 then has main to itself.
  ASSERT_EQ(p.moves.size(), 2u);
  EXPECT_EQ(final_core(s, p, 1), 1u);
  EXPECT_EQ(final_core(s, p, 2), 2u);
  EXPECT_EQ(final_core(s, p, 3), 0u);
  EXPECT_THAT(p.moves[1].reason, HasSubstr("core 0 is at core_limit 80 (80% busy, 2 threads)"));
  for (uint32_t c = 0; c < 3; ++c) EXPECT_EQ(mode_of(p, c), ReactorMode::Poll) << c;
  EXPECT_EQ(mode_of(p, 3), ReactorMode::Interrupt);
}

TEST(BalanceDynamic, OverloadedCoreWithNoRoomAnywhereGoesToTheLeastBusyCore) {
  // Core 1 (at limit, 2 threads) cannot fit on core 0 or 2 (not enough idle):
  // its first thread goes to the least busy core in its mask.
  const LoadSnapshot s = SnapshotBuilder(3)
                             .thread(1, 0, 950, 50)
                             .thread(2, 1, 450, 50)
                             .thread(3, 1, 450, 50)
                             .thread(4, 2, 800, 200)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  const ThreadMove* m = find_move(p, 2);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->to, CoreId{2});
  EXPECT_EQ(m->reason,
            "busy (90%): core 1 is at core_limit 80 (90% busy, 2 threads) and no core has room: least busy core 2");
}

TEST(BalanceDynamic, ZeroSampleCoresAndThreadsDoNotDivideByZero) {
  // First round after a switch: nothing has a sample. Every thread reads 0 %.
  const LoadSnapshot s = SnapshotBuilder(3).thread(1, 1, 0, 0).thread(2, 2, 0, 0).thread(3, 0, 0, 0).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, p, 1), 0u);
  EXPECT_EQ(final_core(s, p, 2), 0u);
  EXPECT_EQ(find_move(p, 3), nullptr);
  EXPECT_EQ(p.moves[0].reason, "idle (0% < load_limit 20): consolidate on main core 0");
}

TEST(BalanceDynamic, BusyThreadFitsOnASleepingCore) {
  // Core 0 at limit; core 1 slept all round (no sample, no threads) -> fits.
  const LoadSnapshot s =
      SnapshotBuilder(2).thread(1, 0, 500, 0).thread(2, 0, 450, 50).interrupt(1).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, p, 1), 1u);
  EXPECT_EQ(final_core(s, p, 2), 0u);
}

TEST(BalanceDynamic, IsolatedCoresAreNeverAnEndOfAMove) {
  // Cores 1 and 2 are isolated. Thread 1 (idle, on isolated core 2) stays.
  // Core 3 is at its limit; empty, sample-less core 1 would be the first core
  // with room, but it is isolated: thread 2 goes to the least busy usable
  // core instead (main, which does not fit it either).
  const LoadSnapshot s = SnapshotBuilder(4)
                             .isolate(1)
                             .isolate(2)
                             .thread(1, 2, 10, 990)
                             .thread(2, 3, 500, 0)
                             .thread(3, 3, 450, 50)
                             .thread(4, 0, 900, 100)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  for (const ThreadMove& m : p.moves) {
    for (uint32_t isolated : {1u, 2u}) {
      EXPECT_NE(m.from, CoreId{isolated}) << m.reason;
      EXPECT_NE(m.to, CoreId{isolated}) << m.reason;
    }
  }
  EXPECT_EQ(find_move(p, 1), nullptr);
  const ThreadMove* m = find_move(p, 2);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->to, CoreId{0});
  EXPECT_THAT(m->reason, HasSubstr("no core has room: least busy core 0"));
}

TEST(BalanceDynamic, IsolatedMainLeavesIdleThreadsWhereTheyAre) {
  const LoadSnapshot s = SnapshotBuilder(2).isolate(0).thread(1, 1, 0, 100).build();
  EXPECT_TRUE(balance_dynamic(s, kDefaults).moves.empty());
}

TEST(BalanceDynamic, IdleThreadPinnedAwayFromMainStays) {
  // SPDK would move it to main regardless of its cpumask; we never do.
  const LoadSnapshot s = SnapshotBuilder(4).thread(1, 2, 10, 990, CpuSet{1, 2}).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Poll);
}

TEST(BalanceDynamic, BusyThreadOnlyConsidersCoresInItsMask) {
  // Core 3 is at its limit with two threads. Thread 3 may only run on {2,3}:
  // main and core 1 (both empty) are not candidates, lower core 2 is.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 2, 10, 990, CpuSet{1, 2})
                             .thread(3, 3, 500, 0, CpuSet{2, 3})
                             .thread(2, 3, 450, 50)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_EQ(find_move(p, 1), nullptr);
  ASSERT_NE(find_move(p, 3), nullptr);
  EXPECT_EQ(find_move(p, 3)->to, CoreId{2});
  EXPECT_EQ(find_move(p, 3)->reason, "busy (100% >= load_limit 20): consolidate on lower core 2, which has room");
  EXPECT_EQ(final_core(s, p, 2), 0u);  // unpinned: main has room

  // Pinned to its own core only: it stays even though every other core is empty.
  const LoadSnapshot s2 =
      SnapshotBuilder(4).thread(3, 3, 500, 0, CpuSet{3}).thread(2, 3, 450, 50).build();
  const Plan p2 = balance_dynamic(s2, kDefaults);
  EXPECT_EQ(find_move(p2, 3), nullptr);
  EXPECT_EQ(final_core(s2, p2, 2), 0u);
}

TEST(BalanceDynamic, OptionsChangeTheThresholds) {
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 1, 300, 700).build();
  EXPECT_EQ(final_core(s, balance_dynamic(s, kDefaults), 1), 0u);  // 30 % >= 20: busy, main has room
  DynamicOptions o;
  o.load_limit = 50;
  const Plan p = balance_dynamic(s, o);
  EXPECT_EQ(final_core(s, p, 1), 0u);
  EXPECT_EQ(p.moves[0].reason, "idle (30% < load_limit 50): consolidate on main core 0");
  o = DynamicOptions{};
  o.core_limit = 20;  // main would be 30 % with it: no room, and 1 is not at limit
  const LoadSnapshot s2 = SnapshotBuilder(2).thread(2, 0, 100, 900).thread(1, 1, 300, 700).build();
  EXPECT_TRUE(balance_dynamic(s2, o).moves.empty());
}

TEST(BalanceDynamic, SameSnapshotSamePlan) {
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 0, 320, 10)
                             .thread(2, 0, 320, 10)
                             .thread(3, 3, 5, 995)
                             .thread(4, 2, 500, 500)
                             .build();
  const Plan a = balance_dynamic(s, kDefaults);
  const Plan b = balance_dynamic(s, kDefaults);
  ASSERT_EQ(a.moves.size(), b.moves.size());
  for (size_t i = 0; i < a.moves.size(); ++i) {
    EXPECT_EQ(a.moves[i].thread, b.moves[i].thread);
    EXPECT_EQ(a.moves[i].to, b.moves[i].to);
    EXPECT_EQ(a.moves[i].reason, b.moves[i].reason);
  }
}

// --- options ---------------------------------------------------------------

TEST(ValidateDynamicOptions, AbsentKeysKeepTheCurrentValues) {
  DynamicOptions current;
  current.load_limit = 10;
  current.core_limit = 70;
  current.core_busy = 90;
  PolicyOptionsUpdate u;
  u.core_limit = 60;
  u.period_us = 2000;
  auto r = validate_dynamic_options(current, u);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->load_limit, 10u);
  EXPECT_EQ(r->core_limit, 60u);
  EXPECT_EQ(r->core_busy, 90u);
  auto none = validate_dynamic_options(current, PolicyOptionsUpdate{});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->load_limit, 10u);
}

TEST(ValidateDynamicOptions, BoundsAreInclusive) {
  PolicyOptionsUpdate u;
  u.load_limit = 0;
  u.core_limit = 100;
  u.core_busy = 100;
  auto r = validate_dynamic_options(DynamicOptions{}, u);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->load_limit, 0u);
  EXPECT_EQ(r->core_limit, 100u);
}

struct BadDynamic {
  PolicyOptionsUpdate update;
  std::string message;
};

TEST(ValidateDynamicOptions, ErrorsNameTheKey) {
  std::vector<BadDynamic> cases(5);
  cases[0].update.load_limit = 150;
  cases[0].message = "load_limit 150 is out of range (0-100)";
  cases[1].update.core_limit = 101;
  cases[1].message = "core_limit 101 is out of range (0-100)";
  cases[2].update.core_busy = 255;
  cases[2].message = "core_busy 255 is out of range (0-100)";
  cases[3].update.mappings = "1:0";
  cases[3].message =
      "dynamic does not take mappings (a static option); dynamic takes load_limit, core_limit and core_busy";
  cases[4].update.load_limit = 50;
  cases[4].update.core_busy = 4000000000u;
  cases[4].message = "core_busy 4000000000 is out of range (0-100)";
  for (const BadDynamic& c : cases) {
    auto r = validate_dynamic_options(DynamicOptions{}, c.update);
    ASSERT_FALSE(r) << c.message;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

// --- the policy object -------------------------------------------------------

struct CountingControl final : PlacementControl {
  int restores = 0;
  RestoreReport restore_placement() noexcept override {
    ++restores;
    return {};
  }
};

TEST(DynamicPolicy, UsesItsOptionsAndRunsWithoutAGovernor) {
  CountingControl control;
  {
    DynamicOptions o;
    o.load_limit = 50;
    auto policy = make_dynamic_policy(PlacementGuard(control, nullptr), o, GovernorLease{});
    EXPECT_EQ(policy->kind(), PolicyKind::Dynamic);
    EXPECT_EQ(policy->governor(), nullptr);
    const LoadSnapshot s = SnapshotBuilder(2).thread(1, 1, 300, 700).build();
    const Plan p = policy->balance(s);
    ASSERT_EQ(p.moves.size(), 1u);
    EXPECT_THAT(p.moves[0].reason, HasSubstr("load_limit 50"));
  }
  EXPECT_EQ(control.restores, 1);
}

/// Checks, at restore time, that the policy's lease was already released.
struct LeaseOrderControl final : PlacementControl {
  const GovernorSlot* slot = nullptr;
  bool leased_at_restore = true;
  RestoreReport restore_placement() noexcept override {
    leased_at_restore = slot->leased();
    return {};
  }
};

TEST(DynamicPolicy, ReleasesTheLeaseBeforeRestoringPlacement) {
  GovernorSlot slot(make_sim_governor(CpuSet{0, 1}));
  LeaseOrderControl control;
  control.slot = &slot;
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease) << lease.error().message;
    auto policy = make_dynamic_policy(PlacementGuard(control, nullptr), DynamicOptions{}, std::move(*lease));
    ASSERT_NE(policy->governor(), nullptr);
    EXPECT_EQ(policy->governor()->name(), "sim_governor");
    EXPECT_TRUE(slot.leased());
  }
  EXPECT_FALSE(control.leased_at_restore);
  EXPECT_FALSE(slot.leased());
}

}  // namespace
}  // namespace reactor
