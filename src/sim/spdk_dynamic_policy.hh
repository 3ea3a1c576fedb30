#pragma once
/// spdk-dynamic: SPDK's dynamic scheduler (the literal reference
/// transliteration in sim/spdk_dynamic_reference.hh) as a SchedulingPolicy,
/// so reactor-sim runs it on the production SchedulerManager next to ours.
/// It is built through SchedulerManagerOptions::dynamic_factory and runs
/// under PolicyKind::Dynamic (same options, same governor lease); it is not
/// an RPC-visible policy. Control thread only, like every policy.

#include <memory>

#include <reactor/policy.hh>

namespace reactor::sim {

/// The name reactor-sim gives it (the manager reports it as "dynamic").
inline constexpr std::string_view kSpdkDynamicName = "spdk-dynamic";

/// SPDK's dynamic algorithm with `options`; the guard restores placement and
/// the lease frequencies when it is destroyed, as for every policy.
std::unique_ptr<SchedulingPolicy> make_spdk_dynamic_policy(PlacementGuard guard, DynamicOptions options,
                                                           GovernorLease lease);

}  // namespace reactor::sim
