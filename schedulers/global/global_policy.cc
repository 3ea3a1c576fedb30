// Global policy (SPDK's `gscheduler`): frequency only.
//
// It never moves a thread and never changes a reactor's mode. Each core's
// busy % since the last round picks a frequency action, in this order:
//   < 1 % -> minimum;  < 50 % -> one step down;  >= 99 % -> maximum;
//   otherwise one step up.
// SMT siblings share a physical core's frequency, so each core uses the
// highest busy % among its siblings that are in the snapshot (a sibling that
// is not one of our reactors carries no sample). A core with no sample (it
// slept the whole round, or this is the first round after a switch) reads as
// 0 %: busy_percent() never divides by zero, which is what crashed SPDK's
// gscheduler right after a switch.
//
// The policy needs a governor: make_global_policy() refuses an empty lease,
// and validate_global_options() refuses a context without one, so a switch
// fails before anything changes.

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include <reactor/policy.hh>

#include "common/policy_common.hh"

namespace reactor {
namespace {

using policy_detail::CoreIndex;
using policy_detail::safe_percent;

// SPDK gscheduler's thresholds (percent busy).
constexpr uint32_t kMinBelow = 1;        // below: lowest frequency
constexpr uint32_t kStepDownBelow = 50;  // below: one step down
constexpr uint32_t kMaxFrom = 99;        // from here: highest frequency

FrequencyAction action_for(uint32_t pct) noexcept {
  if (pct < kMinBelow) return FrequencyAction::Min;
  if (pct < kStepDownBelow) return FrequencyAction::StepDown;
  if (pct >= kMaxFrom) return FrequencyAction::Max;
  return FrequencyAction::StepUp;
}

class GlobalPolicy final : public SchedulingPolicy {
 public:
  GlobalPolicy(PlacementGuard guard, GovernorLease lease) : guard_(std::move(guard)), lease_(std::move(lease)) {}
  PolicyKind kind() const noexcept override { return PolicyKind::Global; }
  Governor* governor() noexcept override { return lease_ ? &*lease_ : nullptr; }
  Plan balance(const LoadSnapshot& snapshot) override { return balance_global(snapshot); }

 private:
  // Destroyed in reverse order: the lease (baseline frequencies) first, then
  // the guard (threads home, reactors to the baseline mode).
  PlacementGuard guard_;
  GovernorLease lease_;
};

}  // namespace

Plan balance_global(const LoadSnapshot& snapshot) {
  const CoreIndex index(snapshot);
  std::vector<uint32_t> pct;
  pct.reserve(snapshot.cores.size());
  for (const CoreLoad& c : snapshot.cores) pct.push_back(safe_percent(c.busy, c.idle));

  Plan plan;
  plan.frequencies.reserve(snapshot.cores.size());
  for (size_t i = 0; i < snapshot.cores.size(); ++i) {
    const CoreLoad& c = snapshot.cores[i];
    uint32_t p = pct[i];
    if (c.smt_siblings.count() > 1) {
      for (CoreId sibling : c.smt_siblings.cores()) {
        const int32_t j = index[sibling];
        if (j >= 0) p = std::max(p, pct[static_cast<size_t>(j)]);
      }
    }
    plan.frequencies.push_back(FrequencyRequest{c.id, action_for(p)});
  }
  return plan;
}

Result<void> validate_global_options(const PolicyContext& ctx, const PolicyOptionsUpdate& update) {
  if (!ctx.governor_available)
    return make_error(Errc::unsupported, fmt::format("gscheduler needs a governor: {}", ctx.governor_unavailable_reason));
  constexpr std::string_view kAccepted = "no options besides period";
  if (auto key = policy_detail::first_dynamic_key(update))
    return tl::unexpected(policy_detail::foreign_option_error("gscheduler", *key, "dynamic", kAccepted));
  if (update.mappings)
    return tl::unexpected(policy_detail::foreign_option_error("gscheduler", "mappings", "static", kAccepted));
  return {};
}

Result<std::unique_ptr<SchedulingPolicy>> make_global_policy(PlacementGuard guard, GovernorLease lease) {
  if (!lease) return make_error(Errc::unsupported, "gscheduler needs a governor: the governor lease is empty");
  return std::unique_ptr<SchedulingPolicy>(std::make_unique<GlobalPolicy>(std::move(guard), std::move(lease)));
}

}  // namespace reactor
