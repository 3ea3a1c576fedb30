// spdk-dynamic: the reference transliteration behind the SchedulingPolicy
// contract. balance() returns the reference's plan unchanged (moves without
// reasons get the pass that made them, for the round history).

#include "sim/spdk_dynamic_policy.hh"

#include "sim/spdk_dynamic_reference.hh"

namespace reactor::sim {
namespace {

class SpdkDynamicPolicy final : public SchedulingPolicy {
 public:
  SpdkDynamicPolicy(PlacementGuard guard, DynamicOptions options, GovernorLease lease)
      : guard_(std::move(guard)), options_(options), lease_(std::move(lease)) {}
  PolicyKind kind() const noexcept override { return PolicyKind::Dynamic; }
  Governor* governor() noexcept override { return lease_ ? &*lease_ : nullptr; }
  Plan balance(const LoadSnapshot& snapshot) override {
    spdk::Result r = spdk::balance(snapshot, options_);
    for (size_t i = 0; i < r.plan.moves.size() && i < r.moves.size(); ++i)
      r.plan.moves[i].reason = r.moves[i].pass == 1 ? "spdk pass 1: idle thread to main"
                               : r.moves[i].least_busy ? "spdk pass 2: least busy core (fallback)"
                                                       : "spdk pass 2: find_optimal_core";
    return std::move(r.plan);
  }

 private:
  // As every policy: the lease is released before the guard restores.
  PlacementGuard guard_;
  DynamicOptions options_;
  GovernorLease lease_;
};

}  // namespace

std::unique_ptr<SchedulingPolicy> make_spdk_dynamic_policy(PlacementGuard guard, DynamicOptions options,
                                                           GovernorLease lease) {
  return std::make_unique<SpdkDynamicPolicy>(std::move(guard), options, std::move(lease));
}

}  // namespace reactor::sim
