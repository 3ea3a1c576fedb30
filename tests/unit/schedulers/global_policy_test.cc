// Global policy (gscheduler): per-core frequency from busy %, SMT siblings
// take the max, never moves threads or changes modes; needs a governor.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <reactor/governor.hh>
#include <reactor/policy.hh>

#include "unit/schedulers/snapshot_builder.hh"

namespace reactor {
namespace {

using test::frequencies_of;
using test::SnapshotBuilder;
using ::testing::ElementsAre;
using FA = FrequencyAction;

struct Threshold {
  uint64_t busy;
  uint64_t idle;
  FrequencyAction expected;
};

TEST(BalanceGlobal, ThresholdsFollowGscheduler) {
  const std::vector<Threshold> cases = {
      {0, 0, FA::Min},          // no sample: 0 %, no division by zero
      {0, 1000, FA::Min},       // 0 %
      {9, 991, FA::Min},        // 0.9 % floors to 0
      {10, 990, FA::StepDown},  // 1 %
      {499, 501, FA::StepDown}, // 49 %
      {500, 500, FA::StepUp},   // 50 %
      {989, 11, FA::StepUp},    // 98 %
      {990, 10, FA::Max},       // 99 %
      {1000, 0, FA::Max},       // 100 %
  };
  for (const Threshold& c : cases) {
    const LoadSnapshot s = SnapshotBuilder(1).core_load(0, c.busy, c.idle).build();
    const Plan p = balance_global(s);
    EXPECT_THAT(frequencies_of(p, 0), ElementsAre(c.expected)) << c.busy << "/" << c.idle;
  }
}

TEST(BalanceGlobal, NeverMovesThreadsOrChangesModes) {
  const LoadSnapshot s = SnapshotBuilder(4)
                             .thread(1, 0, 5, 995)
                             .thread(2, 1, 990, 10)
                             .thread(3, 1, 990, 10, std::nullopt, 3)  // away from home: still not moved
                             .interrupt(2)
                             .build();
  const Plan p = balance_global(s);
  EXPECT_TRUE(p.moves.empty());
  EXPECT_TRUE(p.modes.empty());
  ASSERT_EQ(p.frequencies.size(), 4u);
  for (uint32_t c = 0; c < 4; ++c) EXPECT_EQ(p.frequencies[c].core, CoreId{c});  // ascending, one each
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::Min));
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 2), ElementsAre(FA::Min));  // slept all round
}

TEST(BalanceGlobal, SmtSiblingsTakeTheBusiestSibling) {
  const LoadSnapshot s = SnapshotBuilder(4)
                             .siblings(CpuSet{0, 1})
                             .siblings(CpuSet{2, 3})
                             .core_load(0, 100, 900)  // 10 %
                             .core_load(1, 995, 5)    // 99 %
                             .core_load(2, 0, 0)      // no sample
                             .core_load(3, 600, 400)  // 60 %
                             .build();
  const Plan p = balance_global(s);
  EXPECT_THAT(frequencies_of(p, 0), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
  EXPECT_THAT(frequencies_of(p, 2), ElementsAre(FA::StepUp));
  EXPECT_THAT(frequencies_of(p, 3), ElementsAre(FA::StepUp));
}

TEST(BalanceGlobal, SiblingOutsideTheSnapshotIsIgnored) {
  // Core 1's sibling 5 is not one of our reactors: it carries no sample.
  const LoadSnapshot s = SnapshotBuilder(2).siblings(CpuSet{1, 5}).core_load(1, 300, 700).build();
  EXPECT_THAT(frequencies_of(balance_global(s), 1), ElementsAre(FA::StepDown));
}

TEST(BalanceGlobal, HugeTickCountsDoNotOverflow) {
  const LoadSnapshot s = SnapshotBuilder(1).core_load(0, UINT64_MAX - 5, UINT64_MAX / 2).build();
  EXPECT_THAT(frequencies_of(balance_global(s), 0), ElementsAre(FA::StepUp));  // ~66 %
}

// --- options ---------------------------------------------------------------

PolicyContext with_governor() {
  PolicyContext ctx;
  ctx.cores = CpuSet{0, 1};
  ctx.governor_available = true;
  return ctx;
}

TEST(ValidateGlobalOptions, AcceptsPeriodOnly) {
  PolicyOptionsUpdate u;
  EXPECT_TRUE(validate_global_options(with_governor(), u));
  u.period_us = 100000;
  EXPECT_TRUE(validate_global_options(with_governor(), u));
}

TEST(ValidateGlobalOptions, NeedsAGovernorAndSaysWhy) {
  PolicyContext ctx = with_governor();
  ctx.governor_available = false;
  ctx.governor_unavailable_reason = "no cpufreq in /sys/devices/system/cpu/cpu0/cpufreq";
  auto r = validate_global_options(ctx, PolicyOptionsUpdate{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().message, "gscheduler needs a governor: no cpufreq in /sys/devices/system/cpu/cpu0/cpufreq");
}

TEST(ValidateGlobalOptions, RejectsOtherPoliciesOptionsByName) {
  struct Case {
    PolicyOptionsUpdate u;
    std::string message;
  };
  std::vector<Case> cases(4);
  cases[0].u.load_limit = 0;  // present counts, even at 0
  cases[0].message = "gscheduler does not take load_limit (a dynamic option); gscheduler takes no options besides period";
  cases[1].u.core_limit = 80;
  cases[1].message = "gscheduler does not take core_limit (a dynamic option); gscheduler takes no options besides period";
  cases[2].u.core_busy = 95;
  cases[2].message = "gscheduler does not take core_busy (a dynamic option); gscheduler takes no options besides period";
  cases[3].u.mappings = "1:0";
  cases[3].message = "gscheduler does not take mappings (a static option); gscheduler takes no options besides period";
  for (const Case& c : cases) {
    auto r = validate_global_options(with_governor(), c.u);
    ASSERT_FALSE(r) << c.message;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

// --- the policy object -------------------------------------------------------

struct CountingControl final : PlacementControl {
  const GovernorSlot* slot = nullptr;
  int restores = 0;
  bool leased_at_restore = false;
  RestoreReport restore_placement() noexcept override {
    ++restores;
    if (slot != nullptr) leased_at_restore = slot->leased();
    return {};
  }
};

TEST(GlobalPolicy, RefusesAnEmptyLease) {
  CountingControl control;
  auto r = make_global_policy(PlacementGuard(control, nullptr), GovernorLease{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().message, "gscheduler needs a governor: the governor lease is empty");
}

TEST(GlobalPolicy, ExposesItsGovernorAndReleasesItBeforeRestoring) {
  GovernorSlot slot(make_sim_governor(CpuSet{0, 1}));
  CountingControl control;
  control.slot = &slot;
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease) << lease.error().message;
    auto policy = make_global_policy(PlacementGuard(control, nullptr), std::move(*lease));
    ASSERT_TRUE(policy) << policy.error().message;
    EXPECT_EQ((*policy)->kind(), PolicyKind::Global);
    ASSERT_NE((*policy)->governor(), nullptr);
    EXPECT_EQ((*policy)->governor()->name(), "sim_governor");
    const Plan p = (*policy)->balance(SnapshotBuilder(2).core_load(1, 1000, 0).build());
    EXPECT_THAT(frequencies_of(p, 1), ElementsAre(FA::Max));
    EXPECT_EQ(control.restores, 0);
  }
  EXPECT_EQ(control.restores, 1);
  EXPECT_FALSE(control.leased_at_restore);
  EXPECT_FALSE(slot.leased());
}

}  // namespace
}  // namespace reactor
