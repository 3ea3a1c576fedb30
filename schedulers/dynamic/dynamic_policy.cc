// Dynamic policy: SPDK's `dynamic` scheduler, as a pure function.
//
// One round works on a copy of each core's busy/idle ticks and thread count
// and updates that copy as it plans moves, so later decisions see earlier
// ones:
//   pass 1  every idle thread (load < load_limit) goes to the main core;
//   pass 2  every active thread goes to find_optimal_core(): the main core if
//           it has room, else a lower core with room (consolidate on low ids),
//           else -- when its core is at core_limit -- any core with room, or
//           the least busy one;
//   modes   a core left with no thread that hosts none now -> Interrupt (and
//           minimum frequency); a core with threads -> Poll (non-main ones at
//           maximum frequency: only busy threads live off the main core);
//           a core emptied this round keeps its mode until the next round,
//           because a reactor only sleeps once its threads have left;
//   main    frequency: maximum when busy threads live elsewhere, else one step
//           up if main was more busy than idle, else one step down (an idle
//           process walks main down to its lowest frequency).
// Thresholds (defaults 20/80/95) and the per-move bookkeeping (including the
// rescale that keeps an overloaded source looking full for the rest of the
// round) follow SPDK's dynamic scheduler, whose behaviour SPDK's tools and
// tests expect from us.
//
// Deviations from SPDK, on purpose:
//   - a thread is never planned outside its cpumask: an idle thread whose mask
//     excludes the main core stays where it is (SPDK moves it to main anyway);
//   - a thread on an isolated core is never moved, and no thread is moved to
//     an isolated core (this includes an isolated main core: then idle threads
//     stay put).
// Threads are visited in snapshot order, cores in ascending id, so the same
// snapshot always yields the same plan; a thread moves at most once (pass 1
// only looks at idle threads, pass 2 only at active ones).

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include <reactor/policy.hh>

#include "common/policy_common.hh"

namespace reactor {
namespace {

using policy_detail::CoreIndex;
using policy_detail::safe_percent;

constexpr uint32_t kMaxPercent = 100;

uint64_t saturating_add(uint64_t a, uint64_t b) noexcept { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/// floor(total * percent / 100) without overflowing (total = 100q + r).
uint64_t scale_percent(uint64_t total, uint32_t percent) noexcept {
  return (total / 100) * percent + (total % 100) * percent / 100;
}

/// A core's working values for the round.
struct WorkCore {
  uint64_t busy = 0;
  uint64_t idle = 0;
  uint32_t count = 0;
  uint32_t pct() const noexcept { return safe_percent(busy, idle); }
};

/// Why find_optimal_core() chose its answer (for the move's reason).
enum class Choice { Stay, Main, Lower, Spread, LeastBusy };

class DynamicRound {
 public:
  DynamicRound(const LoadSnapshot& s, const DynamicOptions& o) : s_(s), o_(o), index_(s) {
    work_.resize(s.cores.size());
    for (size_t i = 0; i < s.cores.size(); ++i) {
      work_[i].busy = s.cores[i].busy;
      work_[i].idle = s.cores[i].idle;
    }
    cur_.resize(s.threads.size(), -1);
    for (size_t t = 0; t < s.threads.size(); ++t) {
      cur_[t] = index_[s.threads[t].core];
      if (cur_[t] >= 0) ++work_[static_cast<size_t>(cur_[t])].count;
    }
    initial_count_.reserve(work_.size());
    for (const WorkCore& w : work_) initial_count_.push_back(w.count);
    main_ = index_[s.main_core];
    sorted_ = std::is_sorted(s.cores.begin(), s.cores.end(),
                             [](const CoreLoad& a, const CoreLoad& b) { return a.id < b.id; });
  }

  Plan run() {
    for (size_t t = 0; t < s_.threads.size(); ++t)
      if (movable(t) && load(t) < o_.load_limit) place_idle(t);
    for (size_t t = 0; t < s_.threads.size(); ++t)
      if (movable(t) && load(t) >= o_.load_limit) place_active(t);
    plan_modes_and_frequencies();
    return std::move(plan_);
  }

 private:
  const CoreLoad& core(int32_t i) const { return s_.cores[static_cast<size_t>(i)]; }
  WorkCore& work(int32_t i) { return work_[static_cast<size_t>(i)]; }
  uint32_t load(size_t t) const { return safe_percent(s_.threads[t].busy, s_.threads[t].idle); }

  /// On a known, non-isolated core: pass 1 and 2 may look at it.
  bool movable(size_t t) const { return cur_[t] >= 0 && !core(cur_[t]).isolated; }

  /// A core the thread may be planned on: known, not isolated, in its cpumask.
  bool allowed(size_t t, int32_t i) const {
    return i >= 0 && !core(i).isolated && s_.threads[t].cpumask.test(core(i).id);
  }

  void place_idle(size_t t) {
    if (main_ < 0 || cur_[t] == main_ || !allowed(t, main_)) return;  // idle off-mask threads stay
    move(t, main_, fmt::format("idle ({}% < load_limit {}): consolidate on main core {}", load(t), o_.load_limit,
                               core(main_).id.value));
  }

  void place_active(size_t t) {
    const int32_t from = cur_[t];
    const uint32_t from_pct = work(from).pct();
    const uint32_t from_count = work(from).count;
    const auto [to, why] = find_optimal_core(t);
    if (to == from) return;
    const uint32_t id = core(to).id.value;
    std::string reason;
    switch (why) {
      case Choice::Main:
        reason = fmt::format("busy ({}% >= load_limit {}): main core {} has room", load(t), o_.load_limit, id);
        break;
      case Choice::Lower:
        reason = fmt::format("busy ({}% >= load_limit {}): consolidate on lower core {}, which has room", load(t),
                             o_.load_limit, id);
        break;
      case Choice::Spread:
        reason = fmt::format("busy ({}%): core {} is at core_limit {} ({}% busy, {} threads); core {} has room",
                             load(t), core(from).id.value, o_.core_limit, from_pct, from_count, id);
        break;
      case Choice::LeastBusy:
        reason = fmt::format(
            "busy ({}%): core {} is at core_limit {} ({}% busy, {} threads) and no core has room: least busy "
            "core {}",
            load(t), core(from).id.value, o_.core_limit, from_pct, from_count, id);
        break;
      case Choice::Stay: return;
    }
    move(t, to, std::move(reason));
  }

  /// More than one thread, some work, and at least core_limit busy.
  bool at_limit(int32_t i) {
    const WorkCore& w = work(i);
    return w.count > 1 && w.busy > 0 && w.pct() >= o_.core_limit;
  }

  /// Whether moving thread `t` onto core `i` keeps `i` under core_limit.
  bool fits(size_t t, int32_t i) {
    if (i == cur_[t]) return true;
    const WorkCore& w = work(i);
    if (w.busy == 0 && w.idle == 0) return true;  // no sample (slept all round): room by definition
    if (w.count == 0) return true;
    const uint64_t tb = s_.threads[t].busy;
    if (w.idle < tb) return false;
    return safe_percent(saturating_add(w.busy, tb), w.idle - tb) < o_.core_limit;
  }

  std::pair<int32_t, Choice> find_optimal_core(size_t t) {
    const int32_t cur = cur_[t];
    const bool lim = at_limit(cur);
    const CoreId cur_id = core(cur).id;
    int32_t least = cur;
    const CpuSet& mask = s_.threads[t].cpumask;
    // Past both cur and main, a core can only be chosen when cur is at its
    // limit; otherwise the answer is already "stay" (same result as scanning
    // on, which matters at 256 cores x 10,000 threads).
    const int32_t last_useful = lim || !sorted_ ? static_cast<int32_t>(work_.size()) - 1 : std::max(cur, main_);
    for (int32_t i = 0; i <= last_useful; ++i) {
      const CoreLoad& c = core(i);
      if (c.isolated || !mask.test(c.id)) continue;
      if (work(i).busy < work(least).busy) least = i;
      if (i == cur || !fits(t, i)) continue;
      if (i == main_) return {i, Choice::Main};
      if (c.id < cur_id && cur != main_) return {i, Choice::Lower};
      if (lim) return {i, Choice::Spread};
    }
    if (lim && least != cur) return {least, Choice::LeastBusy};
    return {cur, Choice::Stay};
  }

  void move(size_t t, int32_t dst, std::string reason) {
    const int32_t src = cur_[t];
    if (src == dst) return;
    const uint64_t tb = s_.threads[t].busy;
    WorkCore& d = work(dst);
    WorkCore& from = work(src);
    const uint32_t before = from.pct();
    d.busy = saturating_add(d.busy, tb);
    d.idle -= std::min(d.idle, tb);
    ++d.count;
    from.busy -= std::min(from.busy, tb);
    from.idle = saturating_add(from.idle, tb);
    // An overloaded core's other threads will likely use the freed cycles:
    // keep it looking full (core_limit) so nothing moves onto it this round.
    if (before >= o_.core_busy && from.pct() < o_.core_limit) {
      const uint64_t total = saturating_add(from.busy, from.idle);
      from.busy = scale_percent(total, o_.core_limit);
      from.idle = total - from.busy;
    }
    if (from.count > 0) --from.count;
    cur_[t] = dst;
    const ThreadLoad& th = s_.threads[t];
    plan_.moves.push_back(ThreadMove{th.id, th.core, core(dst).id, std::move(reason)});
  }

  void plan_modes_and_frequencies() {
    bool busy_elsewhere = false;
    for (int32_t i = 0; i < static_cast<int32_t>(work_.size()); ++i) {
      const CoreLoad& c = core(i);
      const bool hosts_now = c.thread_count > 0 || initial_count_[static_cast<size_t>(i)] > 0;
      if (work(i).count == 0 && !hosts_now) {
        plan_.modes.push_back(CoreModeRequest{c.id, ReactorMode::Interrupt});
        plan_.frequencies.push_back(FrequencyRequest{c.id, FrequencyAction::Min});
      } else if (work(i).count > 0) {
        plan_.modes.push_back(CoreModeRequest{c.id, ReactorMode::Poll});
        if (i != main_) {
          // Only busy threads live off the main core after pass 1.
          busy_elsewhere = true;
          plan_.frequencies.push_back(FrequencyRequest{c.id, FrequencyAction::Max});
        }
      }
    }
    if (main_ < 0) return;
    const CoreId m = core(main_).id;
    if (busy_elsewhere) plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::Max});
    else if (work(main_).busy > work(main_).idle) plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepUp});
    else plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepDown});
  }

  const LoadSnapshot& s_;
  const DynamicOptions& o_;
  const CoreIndex index_;
  std::vector<WorkCore> work_;
  std::vector<uint32_t> initial_count_;
  std::vector<int32_t> cur_;  // per thread: index of its (planned) core, -1 if unknown
  int32_t main_ = -1;
  bool sorted_ = true;  // cores in ascending id (the snapshot's contract; hand-built ones may not be)
  Plan plan_;
};

class DynamicPolicy final : public SchedulingPolicy {
 public:
  DynamicPolicy(PlacementGuard guard, DynamicOptions options, GovernorLease lease)
      : guard_(std::move(guard)), options_(options), lease_(std::move(lease)) {}
  PolicyKind kind() const noexcept override { return PolicyKind::Dynamic; }
  Governor* governor() noexcept override { return lease_ ? &*lease_ : nullptr; }
  Plan balance(const LoadSnapshot& snapshot) override { return balance_dynamic(snapshot, options_); }

 private:
  // Destroyed in reverse order: the lease (baseline frequencies) first, then
  // the guard (threads home, reactors to the baseline mode).
  PlacementGuard guard_;
  DynamicOptions options_;
  GovernorLease lease_;
};

Result<uint32_t> checked_percent(std::string_view key, std::optional<uint32_t> given, uint32_t current) {
  if (!given) return current;
  if (*given > kMaxPercent)
    return make_error(Errc::invalid_argument, fmt::format("{} {} is out of range (0-{})", key, *given, kMaxPercent));
  return *given;
}

}  // namespace

Plan balance_dynamic(const LoadSnapshot& snapshot, const DynamicOptions& options) {
  return DynamicRound(snapshot, options).run();
}

Result<DynamicOptions> validate_dynamic_options(const DynamicOptions& current, const PolicyOptionsUpdate& update) {
  if (update.mappings)
    return tl::unexpected(policy_detail::foreign_option_error("dynamic", "mappings", "static",
                                                              "load_limit, core_limit and core_busy"));
  DynamicOptions next;
  auto load_limit = checked_percent("load_limit", update.load_limit, current.load_limit);
  if (!load_limit) return tl::unexpected(std::move(load_limit.error()));
  auto core_limit = checked_percent("core_limit", update.core_limit, current.core_limit);
  if (!core_limit) return tl::unexpected(std::move(core_limit.error()));
  auto core_busy = checked_percent("core_busy", update.core_busy, current.core_busy);
  if (!core_busy) return tl::unexpected(std::move(core_busy.error()));
  next.load_limit = *load_limit;
  next.core_limit = *core_limit;
  next.core_busy = *core_busy;
  return next;
}

std::unique_ptr<SchedulingPolicy> make_dynamic_policy(PlacementGuard guard, DynamicOptions options,
                                                      GovernorLease lease) {
  return std::make_unique<DynamicPolicy>(std::move(guard), options, std::move(lease));
}

}  // namespace reactor
