// Static policy: "every thread at home, every reactor polling".
//
// balance_static() plans a move for each thread that is away from its home
// core and the runtime's baseline mode (Poll unless configured) for every core. It leaves frequencies alone: the
// previous policy's GovernorLease restored the baselines when it was
// destroyed. A thread is left where it is when either end of the move is
// isolated, when its home is not a reactor of the snapshot, or when its home
// is outside its cpumask (the runtime keeps homes inside the mask; this guard
// keeps the plan inside the policy contract even for a stale snapshot).
//
// Options: only `mappings` (new homes), validated all-or-nothing against the
// PolicyContext; the manager applies them to the home map before building
// the policy, so the next balance() moves the threads there.

#include <memory>

#include <fmt/format.h>

#include <reactor/policy.hh>

#include "common/policy_common.hh"

namespace reactor {
namespace {

using policy_detail::CoreIndex;

class StaticPolicy final : public SchedulingPolicy {
 public:
  explicit StaticPolicy(PlacementGuard guard) : guard_(std::move(guard)) {}
  PolicyKind kind() const noexcept override { return PolicyKind::Static; }
  Plan balance(const LoadSnapshot& snapshot) override { return balance_static(snapshot); }

 private:
  PlacementGuard guard_;  // its destructor brings every thread home
};

}  // namespace

Plan balance_static(const LoadSnapshot& snapshot) {
  const CoreIndex index(snapshot);
  Plan plan;
  for (const ThreadLoad& t : snapshot.threads) {
    if (t.core == t.home) continue;
    const int32_t from = index[t.core];
    const int32_t to = index[t.home];
    if (from < 0 || to < 0) continue;
    if (snapshot.cores[static_cast<size_t>(from)].isolated || snapshot.cores[static_cast<size_t>(to)].isolated)
      continue;
    if (!t.cpumask.test(t.home)) continue;
    plan.moves.push_back(ThreadMove{t.id, t.core, t.home, fmt::format("static: back to home core {}", t.home.value)});
  }
  plan.modes.reserve(snapshot.cores.size());
  for (const CoreLoad& c : snapshot.cores) plan.modes.push_back(CoreModeRequest{c.id, snapshot.baseline});
  return plan;
}

Result<std::vector<HomeMapping>> validate_static_options(const PolicyContext& ctx,
                                                         const PolicyOptionsUpdate& update) {
  if (auto key = policy_detail::first_dynamic_key(update))
    return tl::unexpected(policy_detail::foreign_option_error("static", *key, "dynamic", "mappings"));
  if (!update.mappings) return std::vector<HomeMapping>{};

  auto parsed = parse_mappings(*update.mappings);
  if (!parsed) return tl::unexpected(std::move(parsed.error()));
  for (const HomeMapping& m : *parsed) {
    const std::string pair = fmt::format("{}:{}", m.thread.value, m.core.value);
    auto fail = [&](std::string detail) {
      return make_error(Errc::invalid_argument, fmt::format("mapping '{}': {}", pair, detail));
    };
    auto it = ctx.threads.find(m.thread);
    if (it == ctx.threads.end()) return fail(fmt::format("thread {} does not exist", m.thread.value));
    if (!ctx.cores.test(m.core))
      return fail(fmt::format("core {} is not a reactor (reactors: {})", m.core.value, ctx.cores.to_list()));
    if (!it->second.test(m.core))
      return fail(fmt::format("core {} is not in thread {}'s cpumask ({})", m.core.value, m.thread.value,
                              it->second.to_list()));
    if (ctx.isolated.test(m.core)) return fail(fmt::format("core {} is isolated", m.core.value));
  }
  return parsed;
}

std::unique_ptr<SchedulingPolicy> make_static_policy(PlacementGuard guard) {
  return std::make_unique<StaticPolicy>(std::move(guard));
}

}  // namespace reactor
