// Static policy: every thread home, every reactor polling; its options.

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <reactor/policy.hh>

#include "unit/schedulers/snapshot_builder.hh"

namespace reactor {
namespace {

using test::final_core;
using test::find_move;
using test::frequencies_of;
using test::mode_of;
using test::SnapshotBuilder;

TEST(BalanceStatic, MovesEveryThreadAwayFromHomeBackHome) {
  // Threads 1 and 2 were consolidated on core 0 by a dynamic round; 3 is home.
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 0, 10, 90, std::nullopt, 2)
                             .thread(2, 0, 10, 90, std::nullopt, 3)
                             .thread(3, 1, 10, 90)
                             .build();
  const Plan p = balance_static(s);
  ASSERT_EQ(p.moves.size(), 2u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{1});  // snapshot order
  EXPECT_EQ(p.moves[0].from, CoreId{0});
  EXPECT_EQ(p.moves[0].to, CoreId{2});
  EXPECT_EQ(p.moves[0].reason, "static: back to home core 2");
  EXPECT_EQ(p.moves[1].thread, ThreadId{2});
  EXPECT_EQ(p.moves[1].to, CoreId{3});
  EXPECT_EQ(find_move(p, 3), nullptr);
}

TEST(BalanceStatic, EveryCorePollsAndFrequenciesAreLeftAlone) {
  const LoadSnapshot s = SnapshotBuilder(3).interrupt(1).interrupt(2).thread(1, 0, 0, 0).build();
  const Plan p = balance_static(s);
  ASSERT_EQ(p.modes.size(), 3u);
  for (uint32_t c = 0; c < 3; ++c) EXPECT_EQ(mode_of(p, c), ReactorMode::Poll) << c;
  EXPECT_TRUE(p.frequencies.empty());
  EXPECT_TRUE(p.moves.empty());
}

TEST(BalanceStatic, SkipsIsolatedEnds) {
  const LoadSnapshot s = SnapshotBuilder(4)
                             .isolate(2)
                             .thread(1, 2, 0, 0, std::nullopt, 1)  // sits on an isolated core
                             .thread(2, 1, 0, 0, std::nullopt, 2)  // home is isolated
                             .thread(3, 1, 0, 0, std::nullopt, 3)  // movable
                             .build();
  const Plan p = balance_static(s);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].thread, ThreadId{3});
  EXPECT_EQ(p.moves[0].to, CoreId{3});
}

TEST(BalanceStatic, NeverPlansOutsideTheMaskOrOntoAnUnknownCore) {
  const LoadSnapshot s = SnapshotBuilder(2)
                             .thread(1, 0, 0, 0, CpuSet{0}, 1)   // stale home outside the mask
                             .thread(2, 0, 0, 0, std::nullopt, 7)  // home is not a reactor
                             .build();
  EXPECT_TRUE(balance_static(s).moves.empty());
}

TEST(BalanceStatic, ZeroSampleSnapshotIsFine) {
  const LoadSnapshot s = SnapshotBuilder(2).thread(1, 1, 0, 0, std::nullopt, 0).build();
  const Plan p = balance_static(s);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(final_core(s, p, 1), 0u);
  EXPECT_TRUE(frequencies_of(p, 0).empty());
}

// --- options ---------------------------------------------------------------

PolicyContext context() {
  PolicyContext ctx;
  ctx.cores = CpuSet{0, 1, 2, 3};
  ctx.isolated = CpuSet{3};
  ctx.main_core = CoreId{0};
  ctx.threads[ThreadId{1}] = CpuSet{0, 1, 2, 3};
  ctx.threads[ThreadId{2}] = CpuSet{1, 2};
  ctx.threads[ThreadId{5}] = CpuSet{0, 1, 2, 3};
  return ctx;
}

PolicyOptionsUpdate with_mappings(std::string m) {
  PolicyOptionsUpdate u;
  u.mappings = std::move(m);
  return u;
}

TEST(ValidateStaticOptions, NoOptionsMeansNoMappings) {
  auto r = validate_static_options(context(), PolicyOptionsUpdate{});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->empty());
  PolicyOptionsUpdate period_only;
  period_only.period_us = 5000;
  EXPECT_TRUE(validate_static_options(context(), period_only));
}

TEST(ValidateStaticOptions, ValidMappingsAreReturnedInOrder) {
  auto r = validate_static_options(context(), with_mappings("2:2,1:0,5:1"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].thread, ThreadId{2});
  EXPECT_EQ((*r)[0].core, CoreId{2});
  EXPECT_EQ((*r)[2].thread, ThreadId{5});
  EXPECT_EQ((*r)[2].core, CoreId{1});
}

struct BadStatic {
  std::string mappings;
  std::string message;
};

TEST(ValidateStaticOptions, AllOrNothingWithMessagesNamingThePair) {
  const std::vector<BadStatic> cases = {
      {"7:3", "mapping '7:3': thread 7 does not exist"},
      {"1:0,7:3", "mapping '7:3': thread 7 does not exist"},  // first pair valid: still rejected
      {"1:4", "mapping '1:4': core 4 is not a reactor (reactors: 0-3)"},
      {"2:0", "mapping '2:0': core 0 is not in thread 2's cpumask (1-2)"},
      {"1:3", "mapping '1:3': core 3 is isolated"},
      {"1:0,1:1", "mapping '1:1': thread 1 is already mapped by '1:0'"},
      {"1-0", "mapping '1-0': expected '<thread_id>:<core>'"},
      {"0:1", "mapping '0:1': thread id 0 is not valid (ids start at 1)"},
  };
  for (const BadStatic& c : cases) {
    auto r = validate_static_options(context(), with_mappings(c.mappings));
    ASSERT_FALSE(r) << c.mappings;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.mappings;
    EXPECT_EQ(r.error().message, c.message) << c.mappings;
  }
}

TEST(ValidateStaticOptions, DynamicKeysAreRejectedByName) {
  PolicyOptionsUpdate u;
  u.load_limit = 20;
  auto r = validate_static_options(context(), u);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_EQ(r.error().message, "static does not take load_limit (a dynamic option); static takes mappings");
  u = PolicyOptionsUpdate{};
  u.core_limit = 0;  // present counts, even at 0
  EXPECT_EQ(validate_static_options(context(), u).error().message,
            "static does not take core_limit (a dynamic option); static takes mappings");
  u = PolicyOptionsUpdate{};
  u.core_busy = 95;
  u.mappings = "1:0";
  EXPECT_EQ(validate_static_options(context(), u).error().message,
            "static does not take core_busy (a dynamic option); static takes mappings");
}

// --- the policy object -------------------------------------------------------

struct CountingControl final : PlacementControl {
  int restores = 0;
  RestoreReport restore_placement() noexcept override {
    ++restores;
    RestoreReport r;
    r.moves_requested = 3;
    r.moves_done = 3;
    return r;
  }
};

TEST(StaticPolicy, BalanceIsThePureFunctionAndDestructionRestores) {
  CountingControl control;
  RestoreReport report;
  {
    auto policy = make_static_policy(PlacementGuard(control, &report));
    ASSERT_NE(policy, nullptr);
    EXPECT_EQ(policy->kind(), PolicyKind::Static);
    EXPECT_EQ(policy->governor(), nullptr);
    const LoadSnapshot s = SnapshotBuilder(2).thread(1, 0, 0, 0, std::nullopt, 1).build();
    const Plan p = policy->balance(s);
    ASSERT_EQ(p.moves.size(), 1u);
    EXPECT_EQ(p.moves[0].to, CoreId{1});
    EXPECT_EQ(control.restores, 0);
  }
  EXPECT_EQ(control.restores, 1);
  EXPECT_EQ(report.moves_done, 3u);
}

}  // namespace
}  // namespace reactor
