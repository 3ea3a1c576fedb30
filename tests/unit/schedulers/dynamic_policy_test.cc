// Dynamic policy: SPDK's dynamic scenarios on hand-built snapshots, one
// focused test per deliberate difference from SPDK (dynamic_policy.cc lists
// them), a load model iterated over rounds (placement settles), options and
// the policy object.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <reactor/governor.hh>
#include <reactor/policy.hh>
#include <reactor/scheduler_manager.hh>

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

/// Whether two plans move the same threads between the same cores, in order.
bool same_moves(const Plan& a, const Plan& b) {
  if (a.moves.size() != b.moves.size()) return false;
  for (size_t i = 0; i < a.moves.size(); ++i)
    if (a.moves[i].thread != b.moves[i].thread || a.moves[i].from != b.moves[i].from || a.moves[i].to != b.moves[i].to)
      return false;
  return true;
}

TEST(BalanceDynamic, IdleThreadsConsolidateOnMainAndEveryCoreSleeps) {
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
  // No busy thread anywhere: every core sleeps at once, main included (SPDK
  // would keep main polling and leave cores 1-3 alone while they host threads).
  for (uint32_t c = 0; c < 4; ++c) EXPECT_EQ(mode_of(p1, c), ReactorMode::Interrupt) << c;
  for (uint32_t c = 1; c < 4; ++c) EXPECT_THAT(frequencies_of(p1, c), ElementsAre(FA::Min)) << c;
  // Main mostly idle: it steps down.
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
  EXPECT_EQ(mode_of(p2, 0), ReactorMode::Interrupt);
  EXPECT_THAT(frequencies_of(p2, 0), ElementsAre(FA::StepDown));
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
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::StepDown));  // main walks down, one request
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Min));
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
  // Only the idle thread ends on main: main sleeps and steps down (SPDK: Poll
  // and Max, because a busy thread runs elsewhere).
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Poll);
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::StepDown));
}

TEST(BalanceDynamic, BusyThreadAloneOnMainStays) {
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 0, 900, 100).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Poll);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
  // A busy thread ends on main: maximum (SPDK would step up from here).
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::Max));
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
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Interrupt);  // emptied this round: sleeps now (SPDK: next round)
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Poll);
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

TEST(BalanceDynamic, OverloadedCoreWithNoRoomAnywhereKeepsItsThreads) {
  // Core 1 (at limit, 2 threads) cannot fit on core 0 or 2 (not enough idle).
  // SPDK would move its first thread to the least busy core (2, 80 % busy:
  // 125 % after the move); we leave both where they are.
  const LoadSnapshot s = SnapshotBuilder(3)
                             .thread(1, 0, 950, 50)
                             .thread(2, 1, 450, 50)
                             .thread(3, 1, 450, 50)
                             .thread(4, 2, 800, 200)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  for (uint32_t c = 0; c < 3; ++c) EXPECT_EQ(mode_of(p, c), ReactorMode::Poll) << c;
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
  // with room, but it is isolated, and main does not fit thread 2: it stays.
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
  EXPECT_TRUE(p.moves.empty());
}

TEST(BalanceDynamic, IsolatedMainLeavesIdleThreadsWhereTheyAre) {
  const LoadSnapshot s = SnapshotBuilder(2).isolate(0).thread(1, 1, 0, 100).build();
  EXPECT_TRUE(balance_dynamic(s, kDefaults).moves.empty());
}

TEST(BalanceDynamic, IdleThreadPinnedAwayFromMainStays) {
  // SPDK would move it to main regardless of its cpumask; we never do. Being
  // idle, it keeps neither its core polling nor main at maximum frequency.
  const LoadSnapshot s = SnapshotBuilder(4).thread(1, 2, 10, 990, CpuSet{1, 2}).build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Interrupt);
  EXPECT_THAT(frequencies_of(p, 2), ElementsAre(FA::Min));
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Interrupt);
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::StepDown));
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

// --- deliberate differences from SPDK: one focused test each ----------------

TEST(BalanceDynamicDifferences, CoresWithOnlyIdleThreadsSleep) {
  // Main hosts two idle threads, core 1 a busy one and core 2 an idle one,
  // both pinned there. SPDK: main and core 2 poll (they host threads), main
  // at Max.
  const LoadSnapshot s = SnapshotBuilder(3)
                             .thread(1, 0, 10, 990)
                             .thread(2, 0, 50, 950)
                             .thread(3, 1, 900, 100, CpuSet{1})
                             .thread(4, 2, 10, 990, CpuSet{2})
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Poll);
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Interrupt);
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 2), ElementsAre(FA::Min));
}

TEST(BalanceDynamicDifferences, MainIsAtMaximumOnlyForItsOwnBusyThreads) {
  // A busy thread elsewhere: main (idle) steps down instead of going to Max.
  const LoadSnapshot away = SnapshotBuilder(2).thread(1, 0, 10, 990).thread(2, 1, 900, 100).build();
  EXPECT_THAT(frequencies_of(balance_dynamic(away, kDefaults), 0), ElementsAre(FA::StepDown));
  // Main busier than idle from work outside threads, no busy thread on it: one step up.
  const LoadSnapshot overhead =
      SnapshotBuilder(2).thread(1, 0, 10, 990).thread(2, 1, 900, 100).core_load(0, 700, 300).build();
  const Plan po = balance_dynamic(overhead, kDefaults);
  EXPECT_THAT(frequencies_of(po, 0), ElementsAre(FA::StepUp));
  EXPECT_EQ(mode_of(po, 0), ReactorMode::Interrupt);
  // A busy thread ends on main (moved there this round): Max.
  const LoadSnapshot onto = SnapshotBuilder(3).thread(1, 2, 300, 700).build();
  const Plan pm = balance_dynamic(onto, kDefaults);
  ASSERT_EQ(final_core(onto, pm, 1), 0u);
  EXPECT_EQ(mode_of(pm, 0), ReactorMode::Poll);
  EXPECT_THAT(frequencies_of(pm, 0), ElementsAre(FA::Max));
  EXPECT_EQ(mode_of(pm, 2), ReactorMode::Interrupt);
}

TEST(BalanceDynamicDifferences, RecentlyMovedThreadSettlesFirst) {
  // Busy thread 1 on core 2 would move to main (room). Moved last round: stays.
  const auto snap = [](uint32_t rounds) {
    return SnapshotBuilder(3).thread(2, 0, 100, 900).thread(1, 2, 300, 700).moved(1, rounds).build();
  };
  for (uint32_t r = 0; r < kDynamicSettleRounds; ++r)
    EXPECT_EQ(find_move(balance_dynamic(snap(r), kDefaults), 1), nullptr) << r;
  EXPECT_EQ(final_core(snap(kDynamicSettleRounds), balance_dynamic(snap(kDynamicSettleRounds), kDefaults), 1), 0u);
  // The same holds for idle threads (pass 1).
  const LoadSnapshot idle = SnapshotBuilder(2).thread(1, 1, 10, 990).moved(1, 0).build();
  EXPECT_TRUE(balance_dynamic(idle, kDefaults).moves.empty());
}

TEST(BalanceDynamicDifferences, RecentlyMovedThreadLeavesACoreAtCoreBusy) {
  // Core 1 is 98 % busy with two threads, both moved last round: one leaves.
  const LoadSnapshot s =
      SnapshotBuilder(3).thread(9, 0, 900, 100).thread(1, 1, 500, 10).thread(2, 1, 480, 10).moved(1, 0).moved(2, 0).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{1});
  EXPECT_EQ(p.moves[0].to, CoreId{2});
  EXPECT_EQ(p.moves[0].reason,
            "busy (98%): core 1 is at core_limit 80 (98% busy, 2 threads); core 2 has room (moved 1 round(s) ago, "
            "but core 1 is at core_busy 95: 98% busy)");
}

TEST(BalanceDynamicDifferences, StarvedThreadsOnACoreAtCoreBusyCountAsBusy) {
  // Ten threads gathered on main (consolidated while idle) all turned busy:
  // main is 100 % busy and each got a tenth of it, 10 % < load_limit 20.
  // SPDK's rules read ten idle threads and move nothing: they starve there.
  // Each got its even share of a core at core_busy, so each counts as busy
  // and leaves through the core_limit rule to a core that fits it. A truly
  // idle thread on the same core (below its share) stays.
  SnapshotBuilder b(4);
  for (uint64_t id = 1; id <= 10; ++id) b.thread(id, 0, 100, 900);
  b.thread(11, 0, 1, 999).core_load(0, 1000, 0);
  const LoadSnapshot s = b.build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_FALSE(p.moves.empty());
  for (const ThreadMove& m : p.moves) {
    EXPECT_NE(m.thread, ThreadId{11});
    EXPECT_EQ(m.from, CoreId{0});
    EXPECT_NE(m.to, CoreId{0});
    EXPECT_THAT(m.reason, HasSubstr("starved (10%, at least its share of core 0 at core_busy 95)"));
  }
  // Destinations poll: they now host threads counted as busy.
  EXPECT_EQ(mode_of(p, p.moves[0].to.value), ReactorMode::Poll);
  // Below core_busy the same loads are idle threads: nothing moves (SPDK's rule).
  SnapshotBuilder calm(4);
  for (uint64_t id = 1; id <= 10; ++id) calm.thread(id, 0, 90, 910);
  EXPECT_TRUE(balance_dynamic(calm.core_load(0, 900, 100).build(), kDefaults).moves.empty());
}

TEST(BalanceDynamicDifferences, MainWithStarvedThreadsReceivesNoIdleThreadAndShedsThem) {
  // As above, plus an idle thread on core 3. Sent to main in pass 1, it
  // would make main a receiving core, which gives nothing this round (no
  // swaps): the starved threads would stay, and with thousands of threads
  // some thread reads idle somewhere nearly every round, so they stayed for
  // ever (reactor-sim, steady load, 2,500 threads on 128 PUs). While main
  // hosts a starved thread the idle thread stays where it is.
  SnapshotBuilder b(4);
  for (uint64_t id = 1; id <= 10; ++id) b.thread(id, 0, 100, 900);
  b.thread(11, 0, 1, 999).core_load(0, 1000, 0);
  b.thread(12, 3, 10, 990);
  const Plan p = balance_dynamic(b.build(), kDefaults);
  EXPECT_EQ(find_move(p, 12), nullptr) << "the idle thread must not land on a main core shedding starved threads";
  size_t starved_left = 0;
  for (const ThreadMove& m : p.moves) {
    EXPECT_EQ(m.from, CoreId{0});
    EXPECT_THAT(m.reason, HasSubstr("starved"));
    ++starved_left;
  }
  EXPECT_GT(starved_left, 0u);
  // Main not at core_busy: the idle thread consolidates on it (SPDK's rule).
  SnapshotBuilder calm(4);
  for (uint64_t id = 1; id <= 10; ++id) calm.thread(id, 0, 50, 950);
  calm.core_load(0, 500, 500).thread(12, 3, 10, 990);
  const Plan q = balance_dynamic(calm.build(), kDefaults);
  ASSERT_NE(find_move(q, 12), nullptr);
  EXPECT_EQ(find_move(q, 12)->to, CoreId{0});
}

TEST(BalanceDynamicDifferences, NeverSwapsThreadsBetweenCores) {
  // SPDK: idle thread 2 goes to main, which then reads 95 % with two
  // threads, so busy thread 1 leaves for core 1: the two cores trade threads.
  // Main received a thread, so it gives none this round.
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 0, 900, 100).thread(2, 1, 50, 950).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{2});
  EXPECT_EQ(p.moves[0].to, CoreId{0});
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
}

TEST(BalanceDynamicDifferences, CoreThatGaveAThreadReceivesNone) {
  // SPDK: thread 2 leaves core 1 for main, then thread 3 takes its place on
  // (lower) core 1. Core 1 gave a thread, so thread 3 stays on core 2.
  const LoadSnapshot s =
      SnapshotBuilder(3).thread(1, 0, 400, 600).thread(2, 1, 300, 700).thread(3, 2, 300, 700).build();
  const Plan p = balance_dynamic(s, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{2});
  EXPECT_EQ(p.moves[0].to, CoreId{0});
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Poll);
}

TEST(BalanceDynamicDifferences, StalledCoreIsNeverADestination) {
  // Main is stalled: idle thread 1 stays on core 1 (SPDK: moves to main).
  const LoadSnapshot idle = SnapshotBuilder(2).thread(1, 1, 10, 990).core_load(0, 0, 0).stall(0).build();
  EXPECT_TRUE(balance_dynamic(idle, kDefaults).moves.empty());
  // Core 3 at its limit; core 1 (stalled, no sample, no thread) would be the
  // first core with room (SPDK): thread 2 goes to core 2 instead.
  const LoadSnapshot busy = SnapshotBuilder(4)
                                .thread(9, 0, 900, 100)
                                .thread(2, 3, 500, 0)
                                .thread(3, 3, 450, 50)
                                .core_load(1, 0, 0)
                                .stall(1)
                                .build();
  const Plan p = balance_dynamic(busy, kDefaults);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{2});
  EXPECT_EQ(p.moves[0].to, CoreId{2});
  // A stalled core could not acknowledge a mode or frequency change.
  EXPECT_EQ(mode_of(p, 1), std::nullopt);
  EXPECT_TRUE(frequencies_of(p, 1).empty());
}

TEST(BalanceDynamicDifferences, ThreadsOnAStalledCoreStay) {
  // Core 1 is stalled with an idle and two busy threads: nothing leaves it.
  const LoadSnapshot s = SnapshotBuilder(3)
                             .thread(1, 1, 10, 990)
                             .thread(2, 1, 500, 0)
                             .thread(3, 1, 450, 50)
                             .stall(1)
                             .build();
  const Plan p = balance_dynamic(s, kDefaults);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 1), std::nullopt);
  // Main is not stalled: a core that slept the whole round still fits.
  const LoadSnapshot asleep =
      SnapshotBuilder(2).thread(2, 1, 500, 0).thread(3, 1, 450, 50).core_load(0, 0, 0).build();
  EXPECT_EQ(final_core(asleep, balance_dynamic(asleep, kDefaults), 2), 0u);
}

TEST(BalanceDynamic, CoreOrderInTheSnapshotDoesNotChangeThePlan) {
  // Cores are scanned in ascending id even when the snapshot lists them out
  // of order: the lower core with room is core 1, not the first listed.
  LoadSnapshot s = SnapshotBuilder(4)
                       .thread(9, 0, 900, 100)
                       .thread(1, 1, 200, 800)
                       .thread(2, 2, 200, 800)
                       .thread(3, 3, 500, 500)
                       .build();
  const Plan sorted = balance_dynamic(s, kDefaults);
  std::reverse(s.cores.begin(), s.cores.end());
  const Plan reversed = balance_dynamic(s, kDefaults);
  ASSERT_EQ(sorted.moves.size(), 1u);
  EXPECT_EQ(sorted.moves[0].to, CoreId{1});
  ASSERT_EQ(reversed.moves.size(), 1u);
  EXPECT_EQ(reversed.moves[0].thread, sorted.moves[0].thread);
  EXPECT_EQ(reversed.moves[0].to, sorted.moves[0].to);
}

// --- steady load: placement settles -----------------------------------------

/// A thread of the load model: it wants `demand` of a core; when the threads
/// on a core want more than the core, each gets its proportional share.
struct ModelThread {
  uint64_t id;
  uint32_t core;
  double demand;
  uint32_t rounds_since_move = ThreadLoad::kNeverMoved;
};

constexpr uint64_t kWall = 1'000'000;  // ticks per round

LoadSnapshot model_snapshot(uint32_t cores, const std::vector<ModelThread>& threads) {
  std::vector<double> want(cores, 0.0);
  for (const ModelThread& t : threads) want[t.core] += t.demand;
  SnapshotBuilder b(cores);
  std::vector<uint64_t> core_busy(cores, 0);
  for (const ModelThread& t : threads) {
    const double share = want[t.core] > 1.0 ? t.demand / want[t.core] : t.demand;
    const auto busy = static_cast<uint64_t>(std::llround(share * kWall));
    b.thread(t.id, t.core, busy, kWall - busy).moved(t.id, t.rounds_since_move);
    core_busy[t.core] += busy;
  }
  for (uint32_t c = 0; c < cores; ++c) {
    const uint64_t busy = std::min(core_busy[c], kWall);
    b.core_load(c, busy, kWall - busy);  // wall time: sleep counts as idle
  }
  return b.build();
}

struct Settling {
  std::vector<size_t> moves_per_round;
  std::vector<ModelThread> final;
  std::map<uint64_t, int> moves_of;  // per thread, over all rounds
  std::string trace;                 // every move, for failure messages
};

/// Applies balance() to the model for `rounds` rounds; fails the test if a
/// thread ever goes back to a core it left (oscillation).
Settling run_model(uint32_t cores, std::vector<ModelThread> threads, int rounds = 20) {
  Settling out;
  std::map<uint64_t, std::set<uint32_t>> left;
  for (int r = 0; r < rounds; ++r) {
    const Plan p = balance_dynamic(model_snapshot(cores, threads), kDefaults);
    out.moves_per_round.push_back(p.moves.size());
    for (const ThreadMove& m : p.moves)
      out.trace += fmt::format("round {}: thread {} {} -> {}: {}\n", r, m.thread.value, m.from.value, m.to.value,
                               m.reason);
    for (ModelThread& t : threads) {
      const ThreadMove* m = find_move(p, t.id);
      if (m == nullptr) {
        if (t.rounds_since_move != ThreadLoad::kNeverMoved) ++t.rounds_since_move;
        continue;
      }
      EXPECT_EQ(left[t.id].count(m->to.value), 0u) << "round " << r << ": thread " << t.id << " back to core "
                                                   << m->to.value << " (" << m->reason << ")";
      left[t.id].insert(t.core);
      ++out.moves_of[t.id];
      t.core = m->to.value;
      t.rounds_since_move = 0;
    }
  }
  out.final = threads;
  return out;
}

void expect_settled_after(const Settling& s, size_t round) {
  for (size_t r = round; r < s.moves_per_round.size(); ++r)
    EXPECT_EQ(s.moves_per_round[r], 0u) << "round " << r << " still moves:\n" << s.trace;
}

TEST(BalanceDynamicSettles, TwoSaturatingThreadsOnTwoCores) {
  const Settling s = run_model(2, {{1, 0, 1.0}, {2, 0, 1.0}});
  expect_settled_after(s, 1);
  EXPECT_NE(s.final[0].core, s.final[1].core);
}

TEST(BalanceDynamicSettles, SixMixedThreadsOnFourCores) {
  const Settling s = run_model(
      4, {{1, 0, 0.9}, {2, 1, 0.6}, {3, 2, 0.45}, {4, 3, 0.3}, {5, 0, 0.1}, {6, 1, 0.05}});
  // Consolidation on low core ids takes one move per round here (no swaps,
  // moved threads settle first), and ends within six rounds.
  expect_settled_after(s, 6);
  for (const auto& [id, n] : s.moves_of) EXPECT_LE(n, 2) << "thread " << id << "\n" << s.trace;
  // Nothing is left overloaded, and 2.4 cores of demand use three cores.
  std::vector<double> want(4, 0.0);
  for (const ModelThread& t : s.final) want[t.core] += t.demand;
  for (uint32_t c = 0; c < 4; ++c) EXPECT_LE(want[c], 1.0) << c;
  EXPECT_EQ(std::count(want.begin(), want.end(), 0.0), 1) << s.trace;
}

TEST(BalanceDynamicSettles, OneBusyAndFiveIdleThreads) {
  const Settling s = run_model(
      4, {{1, 0, 1.0}, {2, 1, 0.02}, {3, 2, 0.02}, {4, 3, 0.01}, {5, 1, 0.03}, {6, 2, 0.0}});
  expect_settled_after(s, 5);
  // Idle threads share main; the busy thread has a core of its own.
  const uint32_t busy_core = s.final[0].core;
  for (size_t i = 1; i < s.final.size(); ++i) EXPECT_EQ(s.final[i].core, 0u) << s.final[i].id;
  EXPECT_NE(busy_core, 0u);
  const Plan last = balance_dynamic(model_snapshot(4, s.final), kDefaults);
  EXPECT_EQ(mode_of(last, busy_core), ReactorMode::Poll);
  for (uint32_t c = 0; c < 4; ++c)
    if (c != busy_core) {
      EXPECT_EQ(mode_of(last, c), ReactorMode::Interrupt) << c;
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
      "dynamic does not take mappings (a static option); dynamic takes load_limit, core_limit, core_busy, "
      "numa_local, smt_last, keep_asleep and main_room";
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


// --- placement options (our extension; off by default) ---------------------

DynamicOptions with(bool DynamicOptions::*flag) {
  DynamicOptions o;
  o.*flag = true;
  return o;
}

TEST(BalanceDynamicNumaLocal, SpreadsWithinTheHomeNodeFirst) {
  // Nodes 0 (cores 0-3) and 1 (cores 4-7). Core 5 is at core_limit with two
  // threads whose home is core 5; main is full; every other core is empty.
  const LoadSnapshot s = SnapshotBuilder(8)
                             .numa(0, 3, 0)
                             .numa(4, 7, 1)
                             .thread(10, 0, 700, 300)
                             .thread(1, 5, 450, 550)
                             .thread(2, 5, 450, 550)
                             .core_load(5, 900, 100)
                             .build();
  // SPDK: the lowest cores with room, on the other node (1 and 2).
  const Plan spdk = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, spdk, 1), 1u);
  EXPECT_EQ(final_core(s, spdk, 2), 2u);
  // numa_local: thread 1 goes to core 4 (node 1); thread 2 then has room on
  // core 5 and is not moved to node 0 to consolidate.
  const Plan p = balance_dynamic(s, with(&DynamicOptions::numa_local));
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{1});
  EXPECT_EQ(p.moves[0].to, CoreId{4});
  EXPECT_EQ(p.moves[0].reason,
            "busy (45% >= load_limit 20): consolidate on lower core 4, which has room [numa_local: on its NUMA "
            "node 1]");
  EXPECT_EQ(final_core(s, p, 2), 5u);
}

TEST(BalanceDynamicNumaLocal, DoesNotLeaveItsNodeToConsolidate) {
  // A 30 % thread alone on core 4 (node 1); main (node 0) has room.
  SnapshotBuilder b(8);
  b.thread(10, 0, 200, 800).thread(1, 4, 300, 700);
  const LoadSnapshot flat = b.build();
  const LoadSnapshot numa = b.numa(0, 3, 0).numa(4, 7, 1).build();
  EXPECT_EQ(final_core(numa, balance_dynamic(numa, kDefaults), 1), 0u);  // SPDK: to main
  EXPECT_EQ(final_core(numa, balance_dynamic(numa, with(&DynamicOptions::numa_local)), 1), 4u);
  // Without NUMA information the option changes nothing.
  EXPECT_EQ(final_core(flat, balance_dynamic(flat, with(&DynamicOptions::numa_local)), 1), 0u);
}

TEST(BalanceDynamicNumaLocal, GoesHomeWhenItsCoreIsFullElsewhere) {
  // Two busy threads whose home is core 6 (node 1) share main (node 0) at
  // core_limit: the one that leaves goes to node 1, although core 1 is lower.
  const LoadSnapshot s = SnapshotBuilder(8)
                             .numa(0, 3, 0)
                             .numa(4, 7, 1)
                             .thread(1, 0, 450, 550, std::nullopt, 6)
                             .thread(2, 0, 450, 550, std::nullopt, 6)
                             .core_load(0, 900, 100)
                             .build();
  EXPECT_EQ(final_core(s, balance_dynamic(s, kDefaults), 1), 1u);
  EXPECT_EQ(final_core(s, balance_dynamic(s, with(&DynamicOptions::numa_local)), 1), 4u);
}

TEST(BalanceDynamicMainRoom, IdleThreadsFillMainOnlyUpToCoreLimit) {
  // Main runs at 60 %. Four threads at 15 % (below load_limit 20: idle, as a
  // real I/O thread on a core at maximum frequency reads) on cores 1-4.
  // SPDK's pass 1 sends all four to main: 120 % of demand on one core. With
  // main_room the first one fits (75 % < core_limit 80), the others stay
  // where they are.
  SnapshotBuilder b(6);
  b.thread(10, 0, 600, 400);
  for (uint64_t id = 1; id <= 4; ++id) b.thread(id, static_cast<uint32_t>(id), 150, 850);
  const LoadSnapshot s = b.build();
  const Plan spdk = balance_dynamic(s, kDefaults);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(final_core(s, spdk, id), 0u) << id;
  const Plan p = balance_dynamic(s, with(&DynamicOptions::main_room));
  EXPECT_EQ(final_core(s, p, 1), 0u);
  ASSERT_NE(find_move(p, 1), nullptr);
  EXPECT_THAT(find_move(p, 1)->reason, HasSubstr("[main_room: main has room]"));
  for (uint64_t id = 2; id <= 4; ++id) EXPECT_EQ(final_core(s, p, id), id) << id;
  // The cores they stay on host no busy thread: they sleep, as SPDK's empty ones.
  for (uint32_t c = 2; c <= 4; ++c) EXPECT_EQ(mode_of(p, c), ReactorMode::Interrupt) << c;
  // A main core with room for all of them takes all of them.
  SnapshotBuilder calm(6);
  calm.thread(10, 0, 100, 900);
  for (uint64_t id = 1; id <= 4; ++id) calm.thread(id, static_cast<uint32_t>(id), 150, 850);
  const LoadSnapshot c = calm.build();
  const Plan q = balance_dynamic(c, with(&DynamicOptions::main_room));
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(final_core(c, q, id), 0u) << id;
}

TEST(BalanceDynamicMainRoom, ThreadsThatPausedAreCountedAtTheirRecentPeak) {
  // Main at 10 %. Four threads read idle this round (they paused: bursty
  // I/O) but were 50 % busy in a recent round. SPDK's pass 1 sends all four
  // to main; when they resume together main has 210 % of demand. With
  // main_room main takes them at their peak: the first fits (60 % < 80),
  // the rest stay where they are, their cores asleep until they resume.
  SnapshotBuilder b(6);
  b.thread(10, 0, 100, 900);
  for (uint64_t id = 1; id <= 4; ++id) b.thread(id, static_cast<uint32_t>(id), 0, 1000);
  LoadSnapshot s = b.build();
  for (ThreadLoad& t : s.threads)
    if (t.id.value != 10) t.recent_busy = 500;
  const Plan spdk = balance_dynamic(s, kDefaults);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(final_core(s, spdk, id), 0u) << id;
  const Plan p = balance_dynamic(s, with(&DynamicOptions::main_room));
  EXPECT_EQ(final_core(s, p, 1), 0u);
  for (uint64_t id = 2; id <= 4; ++id) EXPECT_EQ(final_core(s, p, id), id) << id;
  for (uint32_t c = 2; c <= 4; ++c) EXPECT_EQ(mode_of(p, c), ReactorMode::Interrupt) << c;
  // No history (recent_busy 0, as a hand-built snapshot): judged by this round, all four fit.
  for (ThreadLoad& t : s.threads) t.recent_busy = 0;
  const Plan q = balance_dynamic(s, with(&DynamicOptions::main_room));
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_EQ(final_core(s, q, id), 0u) << id;
}

TEST(BalanceDynamicKeepAsleep, DoesNotWakeACoreForAThreadThatHasRoom) {
  // Two 30 % threads share core 2 (60 %: room). SPDK moves one to the
  // sleeping main core and the other to the sleeping core 1: one polling
  // core becomes two.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 2, 300, 700)
                             .thread(2, 2, 300, 700)
                             .core_load(2, 600, 400)
                             .interrupt(0)
                             .interrupt(1)
                             .interrupt(3)
                             .build();
  const Plan spdk = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, spdk, 1), 0u);
  EXPECT_EQ(final_core(s, spdk, 2), 1u);
  EXPECT_EQ(mode_of(spdk, 0), ReactorMode::Poll);
  EXPECT_EQ(mode_of(spdk, 1), ReactorMode::Poll);
  const Plan p = balance_dynamic(s, with(&DynamicOptions::keep_asleep));
  EXPECT_TRUE(p.moves.empty());
  EXPECT_EQ(mode_of(p, 0), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 1), ReactorMode::Interrupt);
  EXPECT_EQ(mode_of(p, 2), ReactorMode::Poll);
}

TEST(BalanceDynamicKeepAsleep, AtCoreLimitPrefersAnAwakeCoreWithRoom) {
  // Core 2 is at core_limit (two 45 % threads); core 3 is awake at 30 %;
  // main and core 1 sleep.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 2, 450, 550)
                             .thread(2, 2, 450, 550)
                             .core_load(2, 900, 100)
                             .thread(3, 3, 300, 700)
                             .interrupt(0)
                             .interrupt(1)
                             .build();
  const Plan spdk = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, spdk, 1), 0u);  // wakes main
  EXPECT_EQ(final_core(s, spdk, 2), 1u);  // and core 1: three polling cores
  const Plan p = balance_dynamic(s, with(&DynamicOptions::keep_asleep));
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{1});
  EXPECT_EQ(p.moves[0].to, CoreId{3});  // 75 % there: under core_limit
  EXPECT_THAT(p.moves[0].reason, HasSubstr("core 2 is at core_limit 80 (90% busy, 2 threads); core 3 has room "
                                           "[keep_asleep: core 3 is awake]"));
  for (uint32_t c : {0u, 1u}) EXPECT_EQ(mode_of(p, c), ReactorMode::Interrupt) << c;
  for (uint32_t c : {2u, 3u}) EXPECT_EQ(mode_of(p, c), ReactorMode::Poll) << c;
}

TEST(BalanceDynamicKeepAsleep, WakesACoreWhenNoAwakeCoreHasRoom) {
  const LoadSnapshot s = SnapshotBuilder(3)
                             .thread(1, 0, 450, 550)
                             .thread(2, 0, 450, 550)
                             .core_load(0, 900, 100)
                             .interrupt(1)
                             .interrupt(2)
                             .build();
  const Plan p = balance_dynamic(s, with(&DynamicOptions::keep_asleep));
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].to, CoreId{1});
  EXPECT_TRUE(same_moves(p, balance_dynamic(s, kDefaults)));
}

TEST(BalanceDynamicSmtLast, FillsAnAwakePhysicalCoreBeforeWakingAnother) {
  // Siblings as Linux numbers them on many hosts: (0,3), (1,4), (2,5).
  // Main (0) is awake at 70 %; core 5 is at core_limit with two 45 % threads;
  // the physical core (1,4) is entirely idle.
  const LoadSnapshot s = SnapshotBuilder(6)
                             .siblings(CpuSet{0, 3})
                             .siblings(CpuSet{1, 4})
                             .siblings(CpuSet{2, 5})
                             .thread(1, 5, 450, 550)
                             .thread(2, 5, 450, 550)
                             .core_load(5, 900, 100)
                             .thread(3, 0, 700, 300)
                             .build();
  // SPDK: the lowest cores with room, 1 and 2: three physical cores awake.
  const Plan spdk = balance_dynamic(s, kDefaults);
  EXPECT_EQ(final_core(s, spdk, 1), 1u);
  EXPECT_EQ(final_core(s, spdk, 2), 2u);
  // smt_last: core 2 (its sibling 5 is awake), then core 3 (sibling of main).
  const Plan p = balance_dynamic(s, with(&DynamicOptions::smt_last));
  EXPECT_EQ(final_core(s, p, 1), 2u);
  EXPECT_EQ(final_core(s, p, 2), 3u);
  EXPECT_THAT(find_move(p, 1)->reason, HasSubstr("[smt_last: its physical core is awake]"));
  // Same number of polling reactors (3), one physical core fewer awake.
  for (uint32_t c : {0u, 2u, 3u}) EXPECT_EQ(mode_of(p, c), ReactorMode::Poll) << c;
  for (uint32_t c : {1u, 4u, 5u}) EXPECT_EQ(mode_of(p, c), ReactorMode::Interrupt) << c;
}

TEST(BalanceDynamicSmtLast, ALaterRoundDoesNotUndoItsChoice) {
  // The placement smt_last chose in FillsAnAwakePhysicalCoreBeforeWakingAnother,
  // settled: thread 1 alone on core 2 (room), main full. SPDK's rule would
  // consolidate it on the lower core 1, a whole idle physical core: one more
  // move to end where SPDK put it a round earlier, and nothing saved.
  const LoadSnapshot s = SnapshotBuilder(6)
                             .siblings(CpuSet{0, 3})
                             .siblings(CpuSet{1, 4})
                             .siblings(CpuSet{2, 5})
                             .thread(1, 2, 450, 550)
                             .thread(2, 3, 450, 550)
                             .thread(3, 0, 700, 300)
                             .interrupt(1)
                             .interrupt(4)
                             .interrupt(5)
                             .build();
  EXPECT_EQ(final_core(s, balance_dynamic(s, kDefaults), 1), 1u);
  EXPECT_TRUE(balance_dynamic(s, with(&DynamicOptions::smt_last)).moves.empty());
}

TEST(BalanceDynamicSmtLast, WithoutSiblingsItActsLikeKeepAsleep) {
  // No SMT: each core is its own physical core, so waking a core wakes a
  // physical core, and smt_last makes keep_asleep's choices.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 2, 450, 550)
                             .thread(2, 2, 450, 550)
                             .core_load(2, 900, 100)
                             .thread(3, 3, 300, 700)
                             .interrupt(0)
                             .interrupt(1)
                             .build();
  const Plan p = balance_dynamic(s, with(&DynamicOptions::smt_last));
  EXPECT_EQ(final_core(s, p, 1), 3u);  // SPDK: main, asleep
  EXPECT_EQ(final_core(s, p, 2), 2u);  // has room: does not wake main (SPDK: core 1)
  EXPECT_TRUE(same_moves(p, balance_dynamic(s, with(&DynamicOptions::keep_asleep))));
}

TEST(ValidateDynamicOptions, PlacementOptionsMergeLikeTheLimits) {
  DynamicOptions current;
  current.numa_local = true;
  PolicyOptionsUpdate u;
  u.smt_last = true;
  u.keep_asleep = false;
  auto r = validate_dynamic_options(current, u);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->numa_local);  // absent: kept
  EXPECT_TRUE(r->smt_last);
  EXPECT_FALSE(r->keep_asleep);
  u = PolicyOptionsUpdate{};
  u.numa_local = false;
  r = validate_dynamic_options(*r, u);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->numa_local);
  EXPECT_TRUE(r->smt_last);
  u = PolicyOptionsUpdate{};
  u.main_room = true;
  r = validate_dynamic_options(*r, u);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->main_room);
  EXPECT_TRUE(r->smt_last);  // absent: kept
  EXPECT_EQ(DynamicOptions{}, (DynamicOptions{20, 80, 95, false, false, false, false}));  // SPDK's behaviour by default
}

TEST(PlanSwitch, PlacementOptionsAreDynamicOnlyAndTheErrorNamesTheKey) {
  PolicyContext ctx;
  ctx.cores = CpuSet{0, 1};
  ctx.governor_available = true;
  const SchedulerOptions committed;
  const std::pair<const char*, std::optional<bool> PolicyOptionsUpdate::*> keys[] = {
      {"numa_local", &PolicyOptionsUpdate::numa_local},
      {"smt_last", &PolicyOptionsUpdate::smt_last},
      {"keep_asleep", &PolicyOptionsUpdate::keep_asleep}};
  for (const auto& [key, member] : keys) {
    for (bool value : {false, true}) {
      PolicyOptionsUpdate u;
      u.*member = value;
      auto st = plan_switch(PolicyKind::Static, committed, u, ctx);
      ASSERT_FALSE(st) << key;
      EXPECT_EQ(st.error().message, fmt::format("static does not take {} (a dynamic option); static takes mappings", key));
      auto gl = plan_switch(PolicyKind::Global, committed, u, ctx);
      ASSERT_FALSE(gl) << key;
      EXPECT_EQ(gl.error().message, fmt::format("gscheduler does not take {} (a dynamic option); gscheduler takes no "
                                                "options besides period",
                                                key));
      auto dy = plan_switch(PolicyKind::Dynamic, committed, u, ctx);
      ASSERT_TRUE(dy) << dy.error().message;
      DynamicOptions expected;
      if (std::string_view(key) == "numa_local") expected.numa_local = value;
      if (std::string_view(key) == "smt_last") expected.smt_last = value;
      if (std::string_view(key) == "keep_asleep") expected.keep_asleep = value;
      EXPECT_EQ(dy->next.dynamic, expected) << key;
      EXPECT_EQ(describe(u), fmt::format("{}={}", key, value));
    }
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
