// Dynamic policy: SPDK's `dynamic` scheduler, as a pure function.
//
// One round works on a copy of each core's busy/idle ticks and thread count
// and updates that copy as it plans moves, so later decisions see earlier
// ones:
//   pass 1  every idle thread (load < load_limit) goes to the main core;
//   pass 2  every active thread goes to find_optimal_core(): the main core if
//           it has room, else a lower core with room (consolidate on low ids),
//           else -- when its core is at core_limit -- any core with room;
//   modes   a core where a busy thread ends the round polls (non-main ones at
//           maximum frequency); every other core sleeps in Interrupt mode
//           (non-main ones at minimum frequency): its reactor still wakes for
//           its threads' messages, timers and I/O;
//   main    frequency: maximum when a busy thread ends on main, else one step
//           up if main was more busy than idle, else one step down (an idle
//           process walks main down to its lowest frequency).
// Thresholds (defaults 20/80/95), the fits()/at_limit() rules and the per-move
// bookkeeping (including the rescale that keeps an overloaded source looking
// full for the rest of the round) follow SPDK's dynamic scheduler
// (rpc-compat.md 4.3); cores are scanned in ascending id whatever the
// snapshot's order, threads in snapshot order.
//
// Where we differ from SPDK, on purpose (README.md lists the same):
//   - cpumask: a thread is never planned outside its cpumask; an idle thread
//     whose mask excludes the main core stays where it is (SPDK moves it to
//     main anyway).
//   - isolated cores: no thread is moved to or from one (an isolated main
//     core leaves idle threads where they are).
//   - idle cores sleep: a core where no busy thread ends the round goes to
//     Interrupt mode, the main core and cores hosting idle threads included
//     (SPDK only sleeps a core that hosts no thread at all).
//   - frequencies follow busy threads: Max for a non-main core where a busy
//     thread ends, Min for one where none does; main is Max only when a busy
//     thread ends on it, else a step up or down by its own busy vs idle (SPDK
//     sets main to Max whenever busy threads run anywhere).
//   - moved threads settle: a thread that moved fewer than
//     kDynamicSettleRounds (3) rounds ago stays put unless its core is at
//     core_busy.
//   - no swaps: within one plan a core either gives or receives threads,
//     never both. This holds across both passes in visiting order: a main
//     core that received idle threads sheds no busy thread until the next
//     round, and a core that gave an idle thread to main receives no busy
//     thread this round.
//   - no overfilling: a busy thread only moves to a core that fits it (no
//     thread, slept the whole round, or stays under core_limit); when none
//     does it stays (SPDK falls back to the least busy core, room or not).
//   - starved threads count as busy: on a core at core_busy that hosts more
//     than one thread, a thread that got at least its even share of the
//     core's busy time (core busy / threads on it) is treated as busy for the
//     round even below load_limit. Its measured load is what an overloaded
//     core gave it, not what it wants: with many threads gathered on one
//     core (idle ones consolidated on main that turn busy together) each one
//     reads below load_limit, and SPDK's rules then leave them all starving
//     there for ever. As busy threads they leave through the core_limit rule
//     to cores that fit them (by their measured load: a lower bound, so an
//     overloaded destination splits again the next round). While the main
//     core hosts such a starved thread, pass 1 sends it no idle thread: a
//     core that receives gives nothing in the same plan (no swaps), and
//     with thousands of threads some thread reads idle somewhere nearly
//     every round, so main kept receiving and never shed its starved
//     threads (reactor-sim, steady, 2,500 threads on 128 PUs: main queued
//     120 cores' worth of work within 40 rounds). The idle threads stay
//     where they are until main is no longer at core_busy.
//   - stalled reactors: a stalled core (no tick counted while awake) is never
//     a destination, its threads are not moved (a stuck reactor cannot hand
//     them over, and a planned move would free load that is not freed), and
//     it gets no mode or frequency request (it could not acknowledge it).
//     A core that slept the whole round (no sample, not stalled) still fits.
//
// Placement preferences (DynamicOptions, all off by default; off, the code
// path is the one above and the moves are SPDK's). They never add a reason to
// move: the set of cores a busy thread may go to is still SPDK's (main, a
// lower core, or -- its core at core_limit -- any core; each fitting). They
// pick among that set by a key compared before the ascending id, and two of
// them narrow it when the thread's own core still has room:
//   numa_local   key: the core is outside the thread's NUMA node (its home
//                core's node; its memory was first touched there, and its
//                current core is often main after an idle spell). Narrows:
//                without core_limit pressure a thread never goes to a node
//                that is neither its current nor its home node;
//   keep_asleep  key: the core hosts no busy thread now (it would sleep this
//                round; waking it costs a polling CPU). Narrows: without
//                core_limit pressure a busy thread never wakes a core (SPDK
//                moves it to main or a lower core that has room, asleep or
//                not, which adds a polling core when its old core keeps
//                another busy thread);
//   smt_last     key: no SMT sibling of the core (itself included) hosts a
//                busy thread now, i.e. using it wakes a whole physical core.
//                A polling reactor costs one logical CPU whichever hyperthread
//                it is on, so this does not change the count of polling CPUs;
//                it keeps physical cores idle (the deep C-states that save
//                power need both hyperthreads asleep), at the price of sharing
//                a core's execution units (see README). Narrows: without
//                core_limit pressure a busy thread never wakes a physical
//                core (that consolidation saves nothing, and it would undo, a
//                round later, the sibling this option chose over the lower
//                idle core);
// "Busy thread now" is the plan's working state: earlier moves of the round
// count. The key order is numa_local, keep_asleep, smt_last.
//
// One more option acts on pass 1 instead (off by default: SPDK's pass 1):
//   main_room    an idle thread goes to main only if main fits it at its
//                recent peak (ThreadLoad::recent_busy: the most it was busy
//                in its last 16 rounds), staying under core_limit by the
//                plan's working values, which grow by that peak, so main
//                fills up to core_limit with what its threads may want again
//                and the rest stay; otherwise
//                it stays where it is, its core asleep unless a busy thread
//                ends there. "Idle" is below load_limit by what the thread
//                was served, and with frequencies following busy threads a
//                real I/O thread on a core at maximum frequency reads below
//                it: SPDK's pass 1 piles such threads onto main past
//                core_busy, where they queue until the starved rule spreads
//                them again (reactor-sim, diurnal load, 2,500 threads on 128
//                PUs, one hour: 17,363 core-s above core_busy, 2,819 with it).
//
// Every core that is not stalled gets exactly one mode request, including a
// core that has no sample and nothing planned (Interrupt: it is asleep and
// stays so). The same snapshot always yields the same plan; a thread moves at
// most once (pass 1 only looks at idle threads, pass 2 only at active ones).

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

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
  uint32_t busy_threads = 0;  ///< threads at or above load_limit (placement options)
  uint32_t pct() const noexcept { return safe_percent(busy, idle); }
};

/// Why find_optimal_core() chose its answer (for the move's reason).
enum class Choice { Stay, Main, Lower, Spread };

class DynamicRound {
 public:
  DynamicRound(const LoadSnapshot& s, const DynamicOptions& o) : s_(s), o_(o), index_(s) {
    const size_t n = s.cores.size();
    work_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      work_[i].busy = s.cores[i].busy;
      work_[i].idle = s.cores[i].idle;
    }
    cur_.resize(s.threads.size(), -1);
    for (size_t t = 0; t < s.threads.size(); ++t) {
      cur_[t] = index_[s.threads[t].core];
      if (cur_[t] < 0) continue;
      ++work_[static_cast<size_t>(cur_[t])].count;
    }
    // Busy threads: at load_limit, or starved on a core at core_busy (see
    // the design notes). Judged once, on the snapshot.
    active_.resize(s.threads.size(), 0);
    for (size_t t = 0; t < s.threads.size(); ++t) {
      if (cur_[t] < 0) continue;
      const WorkCore& w = work_[static_cast<size_t>(cur_[t])];
      const uint64_t tb = s.threads[t].busy;
      const bool starved = w.count > 1 && tb > 0 && w.pct() >= o.core_busy && tb >= w.busy / w.count;
      active_[t] = load(t) >= o.load_limit || starved;
      if (active_[t]) ++work_[static_cast<size_t>(cur_[t])].busy_threads;
      if (starved && load(t) < o.load_limit && s.threads[t].core == s.main_core) main_starved_ = true;
    }
    main_ = index_[s.main_core];
    prefer_ = o.numa_local || o.keep_asleep || o.smt_last;
    if (o.smt_last) {
      // Each core's SMT siblings (itself included) as snapshot indices.
      siblings_.resize(n);
      for (size_t i = 0; i < n; ++i) {
        for (CoreId c : s.cores[i].smt_siblings.cores())
          if (const int32_t j = index_[c]; j >= 0) siblings_[i].push_back(j);
        if (siblings_[i].empty()) siblings_[i].push_back(static_cast<int32_t>(i));
      }
    }
    // Ascending id, whatever the snapshot's order (its contract says sorted;
    // hand-built ones may not be): SPDK scans cores from the lowest id.
    order_.resize(n);
    for (size_t i = 0; i < n; ++i) order_[i] = static_cast<int32_t>(i);
    if (!std::is_sorted(s.cores.begin(), s.cores.end(),
                        [](const CoreLoad& a, const CoreLoad& b) { return a.id < b.id; }))
      std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return core(a).id < core(b).id; });
    rank_.resize(n);
    for (size_t r = 0; r < n; ++r) rank_[static_cast<size_t>(order_[r])] = static_cast<int32_t>(r);
    gave_.resize(n, 0);
    got_.resize(n, 0);
  }

  Plan run() {
    for (size_t t = 0; t < s_.threads.size(); ++t)
      if (cur_[t] >= 0 && !active_[t]) place_idle(t);
    for (size_t t = 0; t < s_.threads.size(); ++t)
      if (cur_[t] >= 0 && active_[t]) place_active(t);
    plan_modes_and_frequencies();
    return std::move(plan_);
  }

 private:
  const CoreLoad& core(int32_t i) const { return s_.cores[static_cast<size_t>(i)]; }
  WorkCore& work(int32_t i) { return work_[static_cast<size_t>(i)]; }
  uint32_t load(size_t t) const { return safe_percent(s_.threads[t].busy, s_.threads[t].idle); }
  bool settled(size_t t) const { return s_.threads[t].rounds_since_move >= kDynamicSettleRounds; }

  /// Whether thread `t` may leave its core this round: not isolated, not
  /// stalled, the core has not received a thread in this plan (no swaps),
  /// and the thread has settled unless its core is at core_busy.
  bool may_leave(size_t t) {
    const int32_t from = cur_[t];
    const CoreLoad& c = core(from);
    if (c.isolated || c.stalled || got_[static_cast<size_t>(from)]) return false;
    return settled(t) || work(from).pct() >= o_.core_busy;
  }

  /// A core thread `t` may be planned on: known, not isolated, not stalled,
  /// in its cpumask, and not a core that gave a thread away in this plan.
  bool may_receive(size_t t, int32_t i) const {
    if (i < 0) return false;
    const CoreLoad& c = core(i);
    return !c.isolated && !c.stalled && !gave_[static_cast<size_t>(i)] && s_.threads[t].cpumask.test(c.id);
  }

  /// For the reason of a move that the core_busy exception allowed.
  std::string unsettled_note(size_t t, int32_t from) {
    if (settled(t)) return {};
    return fmt::format(" (moved {} round(s) ago, but core {} is at core_busy {}: {}% busy)",
                       s_.threads[t].rounds_since_move + 1, core(from).id.value, o_.core_busy, work(from).pct());
  }

  void place_idle(size_t t) {
    const int32_t from = cur_[t];
    if (main_ < 0 || from == main_ || !may_receive(t, main_) || !may_leave(t)) return;  // idle threads stay
    // Main sheds its starved threads first: an idle thread landing there
    // would make it a receiving core, which gives nothing this round (no
    // swaps), and one arrives nearly every round.
    if (main_starved_) return;
    // main_room: main must have room for the thread at its recent peak (a
    // bursty thread that paused for a round reads idle, and several that
    // turn on again together on main queue there), else it stays where it is.
    const uint64_t peak = std::max(s_.threads[t].busy, s_.threads[t].recent_busy);
    if (o_.main_room && !fits(t, main_, peak)) return;
    move(t, main_,
         fmt::format("idle ({}% < load_limit {}): consolidate on main core {}{}{}", load(t), o_.load_limit,
                     core(main_).id.value, o_.main_room ? " [main_room: main has room]" : "",
                     unsettled_note(t, from)));
    if (o_.main_room && peak > s_.threads[t].busy) {
      // Main fills by the peaks of what it took, so the next idle thread is
      // judged against them (move() charged the current load only).
      WorkCore& m = work(main_);
      const uint64_t extra = std::min(peak - s_.threads[t].busy, m.idle);
      m.busy = saturating_add(m.busy, extra);
      m.idle -= extra;
    }
  }

  void place_active(size_t t) {
    if (!may_leave(t)) return;
    const int32_t from = cur_[t];
    const uint32_t from_pct = work(from).pct();
    const uint32_t from_count = work(from).count;
    const auto [to, why, note] = find_optimal_core(t);
    if (to == from) return;
    const uint32_t id = core(to).id.value;
    const std::string busy =
        load(t) >= o_.load_limit
            ? fmt::format("busy ({}% >= load_limit {})", load(t), o_.load_limit)
            : fmt::format("starved ({}%, at least its share of core {} at core_busy {})", load(t),
                          core(from).id.value, o_.core_busy);
    std::string reason;
    switch (why) {
      case Choice::Main:
        reason = fmt::format("{}: main core {} has room", busy, id);
        break;
      case Choice::Lower:
        reason = fmt::format("{}: consolidate on lower core {}, which has room", busy, id);
        break;
      case Choice::Spread:
        reason = fmt::format("{}: core {} is at core_limit {} ({}% busy, {} threads); core {} has room",
                             load(t) >= o_.load_limit ? fmt::format("busy ({}%)", load(t)) : busy,
                             core(from).id.value, o_.core_limit, from_pct, from_count, id);
        break;
      case Choice::Stay: return;
    }
    move(t, to, reason + note + unsettled_note(t, from));
  }

  /// More than one thread, some work, and at least core_limit busy.
  bool at_limit(int32_t i) {
    const WorkCore& w = work(i);
    return w.count > 1 && w.busy > 0 && w.pct() >= o_.core_limit;
  }

  /// Whether moving thread `t` onto core `i` keeps `i` under core_limit.
  /// Callers have already excluded stalled cores, so a core without a sample
  /// slept the whole round: it has room.
  bool fits(size_t t, int32_t i) { return fits(t, i, s_.threads[t].busy); }

  /// The same, for the thread counted at `tb` busy ticks.
  bool fits(size_t t, int32_t i, uint64_t tb) {
    if (i == cur_[t]) return true;
    const WorkCore& w = work(i);
    if (w.busy == 0 && w.idle == 0) return true;
    if (w.count == 0) return true;  // a core of its own
    if (w.idle < tb) return false;
    return safe_percent(saturating_add(w.busy, tb), w.idle - tb) < o_.core_limit;
  }

  /// The rule of SPDK's find_optimal_core that lets core `i` (fitting, not
  /// `cur`) take the thread, or Stay when none does.
  Choice rule(int32_t i, int32_t cur, bool lim) const {
    if (i == main_) return Choice::Main;
    if (core(i).id < core(cur).id && cur != main_) return Choice::Lower;
    if (lim) return Choice::Spread;
    return Choice::Stay;
  }

  int numa_of(int32_t i) const { return i < 0 ? -1 : core(i).numa_node; }

  /// Thread `t`'s NUMA node: its home core's, else its current core's (-1: unknown).
  int home_node(size_t t) const {
    const int h = numa_of(index_[s_.threads[t].home]);
    return h >= 0 ? h : numa_of(cur_[t]);
  }

  bool awake(int32_t i) { return work(i).busy_threads > 0; }

  bool physical_core_awake(int32_t i) {
    const auto& sib = siblings_[static_cast<size_t>(i)];
    return std::any_of(sib.begin(), sib.end(), [&](int32_t j) { return awake(j); });
  }

  /// Placement options: whether core `i` is out of the running for thread
  /// `t` (see the design notes), and its preference key (lower is better).
  bool excluded(int32_t i, int32_t cur, int node, bool lim) {
    if (lim) return false;
    if (o_.numa_local && node >= 0 && numa_of(i) != node && numa_of(i) != numa_of(cur)) return true;
    if (o_.smt_last && !physical_core_awake(i)) return true;
    return o_.keep_asleep && !awake(i);
  }
  uint32_t key(int32_t i, int node) {
    uint32_t k = 0;
    if (o_.numa_local && node >= 0 && numa_of(i) != node) k |= 4;
    if (o_.keep_asleep && !awake(i)) k |= 2;
    if (o_.smt_last && !physical_core_awake(i)) k |= 1;
    return k;
  }

  /// Why the placement options chose core `to` (for the move's reason).
  std::string preference_note(int32_t to, int node) {
    std::vector<std::string> why;
    if (o_.numa_local && node >= 0 && numa_of(to) == node)
      why.push_back(fmt::format("numa_local: on its NUMA node {}", node));
    if (o_.keep_asleep && awake(to)) why.push_back(fmt::format("keep_asleep: core {} is awake", core(to).id.value));
    if (o_.smt_last && physical_core_awake(to)) why.push_back("smt_last: its physical core is awake");
    if (why.empty()) return {};
    return fmt::format(" [{}]", fmt::join(why, "; "));
  }

  struct Target {
    int32_t core;
    Choice why;
    std::string note;  ///< set when the placement options picked another core than SPDK would
  };

  Target find_optimal_core(size_t t) {
    const int32_t cur = cur_[t];
    const bool lim = at_limit(cur);
    // Past both cur and main (in ascending id), a core can only be chosen
    // when cur is at its limit; otherwise the answer is already "stay" (same
    // result as scanning on, which matters at 256 cores x 10,000 threads).
    const int32_t n = static_cast<int32_t>(order_.size());
    const int32_t last_useful =
        lim ? n - 1 : std::max(rank_[static_cast<size_t>(cur)], main_ < 0 ? -1 : rank_[static_cast<size_t>(main_)]);
    const int node = o_.numa_local ? home_node(t) : -1;
    int32_t first = -1;  // SPDK's answer
    int32_t best = -1;
    uint32_t best_key = 0;
    Choice best_why = Choice::Stay;
    for (int32_t r = 0; r <= last_useful; ++r) {
      const int32_t i = order_[static_cast<size_t>(r)];
      if (i == cur || !may_receive(t, i) || !fits(t, i)) continue;
      const Choice why = rule(i, cur, lim);
      if (why == Choice::Stay) continue;
      if (!prefer_) return {i, why, {}};  // SPDK: the first core that qualifies
      if (first < 0) first = i;
      if (excluded(i, cur, node, lim)) continue;
      const uint32_t k = key(i, node);
      if (best < 0 || k < best_key) {
        best = i;
        best_key = k;
        best_why = why;
        if (k == 0) break;  // nothing later in ascending order beats it
      }
    }
    if (best < 0) return {cur, Choice::Stay, {}};
    return {best, best_why, best == first ? std::string{} : preference_note(best, node)};
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
    if (active_[t]) {
      ++d.busy_threads;
      if (from.busy_threads > 0) --from.busy_threads;
    }
    gave_[static_cast<size_t>(src)] = 1;
    got_[static_cast<size_t>(dst)] = 1;
    cur_[t] = dst;
    const ThreadLoad& th = s_.threads[t];
    plan_.moves.push_back(ThreadMove{th.id, th.core, core(dst).id, std::move(reason)});
  }

  void plan_modes_and_frequencies() {
    // Where busy threads end the round (idle ones, pinned or not, do not
    // keep a core awake: their reactor wakes for their messages and I/O).
    std::vector<uint8_t> busy_end(work_.size(), 0);
    for (size_t t = 0; t < s_.threads.size(); ++t)
      if (cur_[t] >= 0 && active_[t]) busy_end[static_cast<size_t>(cur_[t])] = 1;
    for (int32_t i = 0; i < static_cast<int32_t>(work_.size()); ++i) {
      const CoreLoad& c = core(i);
      if (c.stalled) continue;  // cannot acknowledge; the runtime reports it
      const bool busy = busy_end[static_cast<size_t>(i)] != 0;
      plan_.modes.push_back(CoreModeRequest{c.id, busy ? ReactorMode::Poll : ReactorMode::Interrupt});
      if (i != main_)
        plan_.frequencies.push_back(FrequencyRequest{c.id, busy ? FrequencyAction::Max : FrequencyAction::Min});
    }
    if (main_ < 0 || core(main_).stalled) return;
    const CoreId m = core(main_).id;
    if (busy_end[static_cast<size_t>(main_)]) plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::Max});
    else if (work(main_).busy > work(main_).idle) plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepUp});
    else plan_.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepDown});
  }

  const LoadSnapshot& s_;
  const DynamicOptions& o_;
  const CoreIndex index_;
  std::vector<WorkCore> work_;
  std::vector<int32_t> cur_;    // per thread: index of its (planned) core, -1 if unknown
  std::vector<uint8_t> active_;  // per thread: busy (load_limit) or starved, judged on the snapshot
  std::vector<int32_t> order_;  // core indices in ascending id
  std::vector<int32_t> rank_;   // per core index: its position in order_
  std::vector<uint8_t> gave_;   // per core index: a thread left it in this plan
  std::vector<uint8_t> got_;    // per core index: a thread arrived in this plan
  std::vector<std::vector<int32_t>> siblings_;  // per core index: its SMT siblings (smt_last only)
  int32_t main_ = -1;
  bool main_starved_ = false;  // a thread on main below load_limit counts as busy (starved)
  bool prefer_ = false;  // a placement option is on
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
                                                              policy_detail::kDynamicKeysText));
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
  // Booleans: any value is valid (the RPC and CLI layers refuse non-booleans,
  // naming the key); absent keeps the committed value.
  next.numa_local = update.numa_local.value_or(current.numa_local);
  next.smt_last = update.smt_last.value_or(current.smt_last);
  next.keep_asleep = update.keep_asleep.value_or(current.keep_asleep);
  next.main_room = update.main_room.value_or(current.main_room);
  return next;
}

std::unique_ptr<SchedulingPolicy> make_dynamic_policy(PlacementGuard guard, DynamicOptions options,
                                                      GovernorLease lease) {
  return std::make_unique<DynamicPolicy>(std::move(guard), options, std::move(lease));
}

}  // namespace reactor
