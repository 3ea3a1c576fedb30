// GovernorSlot / GovernorLease exclusivity and restore-on-release, and the
// simulated governor's ladder and request record.

#include <reactor/governor.hh>
#include <reactor/sim_governor.hh>

#include <atomic>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace reactor {
namespace {

SimGovernor& sim(GovernorSlot& slot) {
  // The slot only hands out const access for inspection; tests built the
  // governor as a SimGovernor, so the cast is the test's own knowledge.
  return const_cast<SimGovernor&>(dynamic_cast<const SimGovernor&>(*slot.peek()));
}

// ---- SimGovernor ------------------------------------------------------------

TEST(SimGovernor, DefaultLadderStartsAtTheTop) {
  SimGovernor gov(CpuSet{0, 2});
  EXPECT_EQ(gov.name(), "sim_governor");
  EXPECT_EQ(gov.environment(), "sim");
  EXPECT_TRUE(gov.capabilities().per_core);
  EXPECT_FALSE(gov.capabilities().turbo);
  EXPECT_EQ(gov.cores(), (CpuSet{0, 2}));

  const std::vector<uint32_t> ladder = gov.available_frequencies(CoreId{0});
  ASSERT_EQ(ladder.size(), 21u);
  EXPECT_EQ(ladder.front(), 3'000'000u);
  EXPECT_EQ(ladder[1], 2'900'000u);
  EXPECT_EQ(ladder.back(), 1'000'000u);
  EXPECT_EQ(ladder, SimGovernor::default_ladder());

  // Baseline: the middle of the ladder, neither Max nor Min.
  EXPECT_EQ(gov.current_frequency(CoreId{0}), 2'000'000u);
  EXPECT_EQ(gov.current_frequency(CoreId{2}), 2'000'000u);
  EXPECT_EQ(gov.baseline_frequency(CoreId{2}), 2'000'000u);
  EXPECT_NE(gov.baseline_frequency(CoreId{2}), ladder.front());
  EXPECT_NE(gov.baseline_frequency(CoreId{2}), ladder.back());
  EXPECT_TRUE(gov.requests().empty());
}

TEST(SimGovernor, UngovernedCoreReportsNothing) {
  SimGovernor gov(CpuSet{0, 2});
  EXPECT_TRUE(gov.available_frequencies(CoreId{1}).empty());
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 0u);
  EXPECT_EQ(gov.baseline_frequency(CoreId{1}), 0u);
}

TEST(SimGovernor, LadderIsNormalised) {
  SimGovernor gov(CpuSet{1}, {1'000'000, 0, 3'000'000, 2'000'000, 3'000'000});
  EXPECT_EQ(gov.available_frequencies(CoreId{1}), (std::vector<uint32_t>{3'000'000, 2'000'000, 1'000'000}));
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 2'000'000u);

  SimGovernor zeros(CpuSet{1}, {0, 0});
  EXPECT_EQ(zeros.available_frequencies(CoreId{1}), SimGovernor::default_ladder());
}

TEST(SimGovernor, StepsAndRecordsEveryRequest) {
  SimGovernor gov(CpuSet{0, 1}, {300, 200, 100});  // baseline: 200, the middle
  ASSERT_TRUE(gov.step_down(CoreId{0}));
  EXPECT_EQ(gov.current_frequency(CoreId{0}), 100u);
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 200u) << "cores are independent";
  ASSERT_TRUE(gov.step_up(CoreId{0}));
  EXPECT_EQ(gov.current_frequency(CoreId{0}), 200u);
  ASSERT_TRUE(gov.set_min(CoreId{1}));
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 100u);
  ASSERT_TRUE(gov.set_max(CoreId{1}));
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 300u);
  ASSERT_TRUE(gov.set_min(CoreId{1}));
  ASSERT_TRUE(gov.restore_baseline(CoreId{1}));
  EXPECT_EQ(gov.current_frequency(CoreId{1}), 200u);

  const auto reqs = gov.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(gov.total_requests(), 6u);
  const struct {
    uint32_t core;
    FrequencyAction action;
    uint32_t before, after;
  } want[] = {
      {0, FrequencyAction::StepDown, 200, 100}, {0, FrequencyAction::StepUp, 100, 200},
      {1, FrequencyAction::Min, 200, 100},      {1, FrequencyAction::Max, 100, 300},
      {1, FrequencyAction::Min, 300, 100},      {1, FrequencyAction::Baseline, 100, 200},
  };
  for (size_t i = 0; i < reqs.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(reqs[i].core, CoreId{want[i].core});
    EXPECT_EQ(reqs[i].action, want[i].action) << frequency_action_name(reqs[i].action);
    EXPECT_EQ(reqs[i].before_khz, want[i].before);
    EXPECT_EQ(reqs[i].after_khz, want[i].after);
  }
}

TEST(SimGovernor, StepsStopAtTheEndsOfTheLadder) {
  SimGovernor gov(CpuSet{3}, {300, 200, 100});
  ASSERT_TRUE(gov.set_max(CoreId{3}));
  gov.clear_requests();
  ASSERT_TRUE(gov.step_up(CoreId{3})) << "at the top: stays, not an error";
  EXPECT_EQ(gov.current_frequency(CoreId{3}), 300u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(gov.step_down(CoreId{3}));
  EXPECT_EQ(gov.current_frequency(CoreId{3}), 100u);

  const auto reqs = gov.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(reqs[0].action, FrequencyAction::StepUp);
  EXPECT_EQ(reqs[0].before_khz, 300u);
  EXPECT_EQ(reqs[0].after_khz, 300u) << "a step that changed nothing is still recorded";
  EXPECT_EQ(reqs[2].after_khz, 100u);
  EXPECT_EQ(reqs[5].before_khz, 100u);
  EXPECT_EQ(reqs[5].after_khz, 100u);
}

TEST(SimGovernor, SingleLevelLadder) {
  SimGovernor gov(CpuSet{0}, {1'500'000});
  ASSERT_TRUE(gov.step_down(CoreId{0}));
  ASSERT_TRUE(gov.step_up(CoreId{0}));
  ASSERT_TRUE(gov.set_min(CoreId{0}));
  EXPECT_EQ(gov.current_frequency(CoreId{0}), 1'500'000u);
}

TEST(SimGovernor, UngovernedCoreIsAnErrorNamingTheCore) {
  SimGovernor gov(CpuSet{0, 1});
  for (auto op : {&SimGovernor::step_up, &SimGovernor::step_down, &SimGovernor::set_max,
                   &SimGovernor::set_min, &SimGovernor::restore_baseline}) {
    auto r = (gov.*op)(CoreId{7});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("core 7"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("0-1"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(gov.requests().empty()) << "failed requests change and record nothing";

  SimGovernor none(CpuSet{});
  auto r = none.step_up(CoreId{0});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("none"), std::string::npos) << r.error().message;
}

TEST(SimGovernor, RecordIsBoundedButCountsEverything) {
  SimGovernor gov(CpuSet{0}, {200, 100});
  const size_t extra = 10;
  for (size_t i = 0; i < SimGovernor::kMaxRecordedRequests + extra; ++i) {
    ASSERT_TRUE(i % 2 == 0 ? gov.step_down(CoreId{0}) : gov.step_up(CoreId{0}));
  }
  const auto reqs = gov.requests();
  EXPECT_EQ(reqs.size(), SimGovernor::kMaxRecordedRequests);
  EXPECT_EQ(gov.total_requests(), SimGovernor::kMaxRecordedRequests + extra);
  // The oldest `extra` (an even number) were dropped: the record starts with a step down.
  EXPECT_EQ(reqs.front().action, FrequencyAction::StepDown);

  gov.clear_requests();
  EXPECT_TRUE(gov.requests().empty());
  EXPECT_EQ(gov.total_requests(), 0u);
  EXPECT_EQ(gov.current_frequency(CoreId{0}), 200u) << "clearing the record keeps the frequency";
}

TEST(SimGovernor, RequestsCanBeReadFromAnotherThread) {
  SimGovernor gov(CpuSet{0, 1});
  constexpr int kSteps = 2000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    size_t last = 0;
    while (!done.load(std::memory_order_acquire)) {
      const auto reqs = gov.requests();
      EXPECT_GE(reqs.size(), last) << "the record only grows here";
      last = reqs.size();
      (void)gov.current_frequency(CoreId{1});
    }
  });
  for (int i = 0; i < kSteps; ++i) {
    ASSERT_TRUE(gov.step_down(CoreId{static_cast<uint32_t>(i % 2)}));
  }
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(gov.requests().size(), static_cast<size_t>(kSteps));
}

TEST(SimGovernor, FactoryBuildsASimGovernor) {
  std::unique_ptr<Governor> gov = make_sim_governor(CpuSet{0}, {500, 400});
  ASSERT_NE(gov, nullptr);
  EXPECT_EQ(gov->name(), "sim_governor");
  EXPECT_EQ(gov->available_frequencies(CoreId{0}), (std::vector<uint32_t>{500, 400}));
  EXPECT_NE(dynamic_cast<SimGovernor*>(gov.get()), nullptr);
}

TEST(SimGovernor, ActionNames) {
  EXPECT_EQ(frequency_action_name(FrequencyAction::Min), "min");
  EXPECT_EQ(frequency_action_name(FrequencyAction::Max), "max");
  EXPECT_EQ(frequency_action_name(FrequencyAction::StepUp), "step_up");
  EXPECT_EQ(frequency_action_name(FrequencyAction::StepDown), "step_down");
  EXPECT_EQ(frequency_action_name(FrequencyAction::Baseline), "baseline");
}

// ---- GovernorSlot / GovernorLease ------------------------------------------

TEST(GovernorSlot, WithoutAGovernorAcquireNamesTheReason) {
  GovernorSlot slot;
  EXPECT_FALSE(slot.available());
  EXPECT_EQ(slot.peek(), nullptr);
  auto lease = slot.acquire();
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, Errc::unsupported);
  EXPECT_NE(lease.error().message.find("no governor configured"), std::string::npos) << lease.error().message;

  slot.set_unavailable_reason("no cpufreq for core 0 (/sys/devices/system/cpu/cpu0/cpufreq missing)");
  lease = slot.acquire();
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, Errc::unsupported);
  EXPECT_NE(lease.error().message.find("/sys/devices/system/cpu/cpu0/cpufreq missing"), std::string::npos)
      << lease.error().message;
  EXPECT_FALSE(slot.leased());
}

TEST(GovernorSlot, LeaseIsExclusive) {
  GovernorSlot slot(make_sim_governor(CpuSet{0, 1}));
  EXPECT_TRUE(slot.available());
  auto first = slot.acquire();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  EXPECT_TRUE(slot.leased());
  EXPECT_EQ(&**first, slot.peek());
  EXPECT_EQ((*first)->name(), "sim_governor");

  auto second = slot.acquire();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::busy);
  EXPECT_NE(second.error().message.find("already leased"), std::string::npos) << second.error().message;
  EXPECT_TRUE(*first) << "a refused acquire leaves the holder alone";

  first->release();
  EXPECT_FALSE(*first);
  EXPECT_FALSE(slot.leased());
  auto third = slot.acquire();
  ASSERT_TRUE(third) << "released slot can be leased again";
}

TEST(GovernorSlot, ReleaseRestoresEveryBaseline) {
  GovernorSlot slot(make_sim_governor(CpuSet{0, 1, 3}, {300, 200, 100}));
  auto lease = slot.acquire();
  ASSERT_TRUE(lease);
  ASSERT_TRUE((*lease)->step_down(CoreId{0}));
  ASSERT_TRUE((*lease)->set_min(CoreId{3}));
  EXPECT_EQ(sim(slot).current_frequency(CoreId{0}), 100u);
  EXPECT_EQ(sim(slot).current_frequency(CoreId{3}), 100u);
  sim(slot).clear_requests();

  lease->release();
  for (uint32_t c : {0u, 1u, 3u}) {
    EXPECT_EQ(sim(slot).current_frequency(CoreId{c}), sim(slot).baseline_frequency(CoreId{c})) << "core " << c;
  }
  auto reqs = sim(slot).requests();
  ASSERT_EQ(reqs.size(), 3u) << "one restore per governed core";
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(reqs[i].action, FrequencyAction::Baseline);
  EXPECT_EQ(reqs[0].core, CoreId{0});
  EXPECT_EQ(reqs[0].before_khz, 100u);
  EXPECT_EQ(reqs[2].core, CoreId{3});
  EXPECT_EQ(reqs[2].before_khz, 100u);

  lease->release();  // idempotent: no second restore
  EXPECT_EQ(sim(slot).requests().size(), 3u);
  EXPECT_FALSE(slot.leased());
}

TEST(GovernorSlot, DestroyingTheLeaseRestoresAndFrees) {
  GovernorSlot slot(make_sim_governor(CpuSet{0, 1}));
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease);
    ASSERT_TRUE((*lease)->set_min(CoreId{1}));
  }
  EXPECT_FALSE(slot.leased());
  EXPECT_EQ(sim(slot).current_frequency(CoreId{1}), sim(slot).baseline_frequency(CoreId{1}));
  EXPECT_EQ(sim(slot).requests().back().action, FrequencyAction::Baseline);
}

TEST(GovernorSlot, MovedFromLeaseIsEmptyAndInert) {
  GovernorSlot slot(make_sim_governor(CpuSet{0}));
  auto acquired = slot.acquire();
  ASSERT_TRUE(acquired);
  GovernorLease a = std::move(*acquired);
  EXPECT_FALSE(*acquired);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_TRUE(a);
  ASSERT_TRUE(a->step_down(CoreId{0}));
  const size_t before = sim(slot).requests().size();

  acquired->release();  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(slot.leased()) << "releasing a moved-from lease must not free the slot";
  EXPECT_EQ(sim(slot).requests().size(), before) << "nor restore anything";

  GovernorLease b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b);
  EXPECT_TRUE(slot.leased());
  EXPECT_FALSE(slot.acquire()) << "still exactly one lease";

  GovernorLease empty;
  EXPECT_FALSE(empty);
  empty.release();  // no slot: nothing happens
  b = std::move(empty);  // assigning over a held lease releases it
  EXPECT_FALSE(b);
  EXPECT_FALSE(slot.leased());
  EXPECT_EQ(sim(slot).current_frequency(CoreId{0}), sim(slot).baseline_frequency(CoreId{0}));
}

TEST(GovernorSlot, MoveAssignmentReleasesTheOverwrittenLease) {
  GovernorSlot one(make_sim_governor(CpuSet{0}));
  GovernorSlot two(make_sim_governor(CpuSet{1}));
  auto a = one.acquire();
  auto b = two.acquire();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->set_min(CoreId{0}));

  *a = std::move(*b);
  EXPECT_FALSE(one.leased()) << "the lease that was overwritten is released";
  EXPECT_EQ(sim(one).current_frequency(CoreId{0}), sim(one).baseline_frequency(CoreId{0}))
      << "and its baselines restored";
  EXPECT_TRUE(two.leased());
  EXPECT_EQ((*a)->cores(), (CpuSet{1}));
  a->release();
  EXPECT_FALSE(two.leased());
}

// A governor whose restore fails on one core: release must still restore the
// others and free the slot.
class FlakyRestoreGovernor final : public Governor {
 public:
  explicit FlakyRestoreGovernor(CoreId bad) : inner_(CpuSet{0, 1, 2}, {300, 200, 100}), bad_(bad) {}
  std::string name() const override { return "flaky"; }
  std::string environment() const override { return "test"; }
  GovernorCapabilities capabilities() const override { return inner_.capabilities(); }
  CpuSet cores() const override { return inner_.cores(); }
  std::vector<uint32_t> available_frequencies(CoreId c) const override { return inner_.available_frequencies(c); }
  uint32_t current_frequency(CoreId c) const override { return inner_.current_frequency(c); }
  Result<void> step_up(CoreId c) override { return inner_.step_up(c); }
  Result<void> step_down(CoreId c) override { return inner_.step_down(c); }
  Result<void> set_max(CoreId c) override { return inner_.set_max(c); }
  Result<void> set_min(CoreId c) override { return inner_.set_min(c); }
  Result<void> restore_baseline(CoreId c) override {
    if (c == bad_) return make_error(Errc::io, "simulated sysfs write failure");
    return inner_.restore_baseline(c);
  }

 private:
  SimGovernor inner_;
  CoreId bad_;
};

TEST(GovernorSlot, FailedRestoreStillRestoresTheRestAndFrees) {
  GovernorSlot slot(std::make_unique<FlakyRestoreGovernor>(CoreId{1}));
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease);
    for (uint32_t c : {0u, 1u, 2u}) ASSERT_TRUE((*lease)->set_min(CoreId{c}));
  }
  EXPECT_FALSE(slot.leased());
  EXPECT_EQ(slot.peek()->current_frequency(CoreId{0}), 200u);
  EXPECT_EQ(slot.peek()->current_frequency(CoreId{1}), 100u) << "this core's restore failed";
  EXPECT_EQ(slot.peek()->current_frequency(CoreId{2}), 200u) << "a failure does not stop the others";
  EXPECT_TRUE(slot.acquire());
}

using GovernorSlotDeathTest = ::testing::Test;

TEST_F(GovernorSlotDeathTest, DestroyingALeasedSlotIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* slot = new GovernorSlot(make_sim_governor(CpuSet{0}));
        auto lease = slot->acquire();
        delete slot;
      },
      "assertion failed: !leased_");
}

TEST_F(GovernorSlotDeathTest, DereferencingAnEmptyLeaseIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  GovernorLease empty;
  EXPECT_DEATH((void)empty->name(), "assertion failed");
  EXPECT_DEATH((void)(*empty).name(), "assertion failed");
}

}  // namespace
}  // namespace reactor

namespace reactor {
namespace {

// Records the order of lease hooks and restores; can refuse a lease.
class HookedGovernor final : public Governor {
 public:
  explicit HookedGovernor(std::vector<std::string>& log, bool refuse = false) : log_(log), refuse_(refuse) {}
  std::string name() const override { return "hooked"; }
  std::string environment() const override { return "test"; }
  GovernorCapabilities capabilities() const override { return {}; }
  CpuSet cores() const override { return CpuSet{0, 1}; }
  std::vector<uint32_t> available_frequencies(CoreId) const override { return {2, 1}; }
  uint32_t current_frequency(CoreId) const override { return 1; }
  Result<void> step_up(CoreId) override { return {}; }
  Result<void> step_down(CoreId) override { return {}; }
  Result<void> set_max(CoreId) override { return {}; }
  Result<void> set_min(CoreId) override { return {}; }
  Result<void> restore_baseline(CoreId c) override {
    log_.push_back(fmt::format("baseline {}", c.value));
    return {};
  }
  Result<void> on_lease() override {
    log_.push_back("lease");
    if (refuse_) return make_error(Errc::unsupported, "rte_power cannot control core 0 (simulated)");
    return {};
  }
  void on_release() noexcept override { log_.push_back("release"); }

 private:
  std::vector<std::string>& log_;
  bool refuse_;
};

TEST(GovernorSlot, LeaseHooksWrapTheLeaseAndReleaseComesAfterTheBaselines) {
  std::vector<std::string> log;
  GovernorSlot slot(std::make_unique<HookedGovernor>(log));
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease);
    EXPECT_EQ(log, (std::vector<std::string>{"lease"}));
  }
  EXPECT_EQ(log, (std::vector<std::string>{"lease", "baseline 0", "baseline 1", "release"}));
  EXPECT_FALSE(slot.leased());
}

TEST(GovernorSlot, AGovernorRefusingTheLeaseLeavesTheSlotFree) {
  std::vector<std::string> log;
  GovernorSlot slot(std::make_unique<HookedGovernor>(log, /*refuse=*/true));
  auto lease = slot.acquire();
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, Errc::unsupported);
  EXPECT_NE(lease.error().message.find("cannot be leased: rte_power cannot control core 0"), std::string::npos)
      << lease.error().message;
  EXPECT_FALSE(slot.leased());
  EXPECT_EQ(log, (std::vector<std::string>{"lease"})) << "nothing to restore or release";
}

}  // namespace
}  // namespace reactor
