// Property tests (rapidcheck) for the three balance functions on random
// snapshots: 1..256 cores (dense or sparse ids, sometimes listed out of
// order), a random isolated set (never the main core), random stalled cores,
// random SMT pairs, random threads (non-empty cpumask inside the pool,
// current and home core inside the mask, settled or recently moved) and
// random busy/idle ticks including zeros (sleeping cores, first rounds) and
// huge values.
//
// Dynamic is also compared with a transliteration of SPDK's algorithm
// (spdk_dynamic_reference.hh): equal moves wherever none of the deliberate
// differences listed in dynamic_policy.cc can apply, and one property per
// difference everywhere else.
//
// rapidcheck picks the shape (sizes, densities, a seed); a seeded PRNG fills
// the details, so generation stays fast at 256 cores and a failure prints
// everything needed to rebuild the snapshot.

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

#include "unit/schedulers/spdk_dynamic_reference.hh"

namespace reactor {
namespace {

struct Shape {
  uint32_t cores = 1;
  uint32_t threads = 0;
  uint32_t stride = 1;            // core ids: offset + i * stride
  uint32_t offset = 0;
  uint32_t isolated_per_16 = 0;   // chance a non-main core is isolated
  uint32_t zero_per_16 = 0;       // chance a core or thread has no sample
  uint32_t pinned_per_16 = 0;     // chance a thread's mask is a strict subset
  uint32_t stalled_per_16 = 0;    // chance a core is stalled
  uint32_t moved_per_16 = 0;      // chance a thread has moved at some point
  bool unsorted = false;          // cores listed out of id order
  uint64_t seed = 0;
};

Shape pick_shape() {
  Shape s;
  s.cores = *rc::gen::inRange<uint32_t>(1, 257);
  s.threads = *rc::gen::inRange<uint32_t>(0, 4 * s.cores + 9);
  s.stride = *rc::gen::inRange<uint32_t>(1, 4);
  s.offset = *rc::gen::inRange<uint32_t>(0, 8);
  s.isolated_per_16 = *rc::gen::inRange<uint32_t>(0, 17);
  s.zero_per_16 = *rc::gen::inRange<uint32_t>(0, 17);
  s.pinned_per_16 = *rc::gen::inRange<uint32_t>(0, 17);
  s.stalled_per_16 = *rc::gen::element<uint32_t>(0, 0, 1, 4, 16);
  s.moved_per_16 = *rc::gen::inRange<uint32_t>(0, 17);
  s.unsorted = *rc::gen::inRange(0, 4) == 0;
  s.seed = *rc::gen::arbitrary<uint64_t>();
  RC_TAG(s.cores > 64 ? "many cores" : "few cores");
  return s;
}

uint64_t random_ticks(std::mt19937_64& rng, uint32_t zero_per_16) {
  const uint32_t roll = static_cast<uint32_t>(rng() % 16);
  if (roll < zero_per_16) return 0;
  switch (rng() % 8) {
    case 0: return UINT64_MAX - rng() % 1000;  // absurd but legal: must not overflow
    case 1: return rng() % 10;
    default: return rng() % 2'000'000;
  }
}

LoadSnapshot make_snapshot(const Shape& shape) {
  std::mt19937_64 rng(shape.seed);
  LoadSnapshot s;
  std::vector<CoreId> ids;
  for (uint32_t i = 0; i < shape.cores; ++i) ids.push_back(CoreId{shape.offset + i * shape.stride});
  const size_t main_index = rng() % ids.size();
  s.main_core = ids[main_index];
  for (size_t i = 0; i < ids.size(); ++i) {
    CoreLoad c;
    c.id = ids[i];
    c.isolated = i != main_index && rng() % 16 < shape.isolated_per_16;
    c.in_interrupt = rng() % 4 == 0;
    c.smt_siblings = CpuSet{c.id.value};
    s.cores.push_back(c);
  }
  // Random SMT pairs of neighbours.
  for (size_t i = 0; i + 1 < s.cores.size(); i += 2) {
    if (rng() % 2 == 0) continue;
    CpuSet pair{s.cores[i].id.value, s.cores[i + 1].id.value};
    s.cores[i].smt_siblings = pair;
    s.cores[i + 1].smt_siblings = pair;
  }
  for (uint32_t t = 0; t < shape.threads; ++t) {
    ThreadLoad th;
    th.id = ThreadId{(t + 1) * 7 + rng() % 7};  // unique, not dense
    std::vector<CoreId> mask;
    if (rng() % 16 < shape.pinned_per_16) {
      const size_t want = 1 + rng() % std::min<size_t>(ids.size(), 5);
      while (mask.size() < want) mask.push_back(ids[rng() % ids.size()]);
    } else {
      mask = ids;
    }
    for (CoreId c : mask) th.cpumask.set(c);
    th.core = mask[rng() % mask.size()];
    th.home = mask[rng() % mask.size()];
    th.busy = random_ticks(rng, shape.zero_per_16);
    th.idle = random_ticks(rng, shape.zero_per_16);
    if (rng() % 16 < shape.moved_per_16) th.rounds_since_move = static_cast<uint32_t>(rng() % 6);
    s.threads.push_back(th);
  }
  for (CoreLoad& c : s.cores) {
    for (const ThreadLoad& t : s.threads)
      if (t.core == c.id) ++c.thread_count;
    c.busy = random_ticks(rng, shape.zero_per_16);
    c.idle = random_ticks(rng, shape.zero_per_16);
    c.stalled = rng() % 16 < shape.stalled_per_16;
    if (c.stalled && rng() % 2 == 0) c.busy = c.idle = 0;  // what a stuck reactor reports
  }
  if (shape.unsorted) std::shuffle(s.cores.begin(), s.cores.end(), rng);
  return s;
}

/// busy_percent() that survives busy + idle overflowing (both halved until it
/// does not), as the policies compute loads.
uint32_t load_percent(uint64_t busy, uint64_t idle) {
  while (busy > UINT64_MAX - idle) {
    busy >>= 1;
    idle >>= 1;
  }
  return busy_percent(busy, idle);
}

DynamicOptions pick_dynamic_options() {
  DynamicOptions o;
  if (*rc::gen::inRange(0, 4) == 0) {
    o.load_limit = *rc::gen::inRange<uint32_t>(0, 101);
    o.core_limit = *rc::gen::inRange<uint32_t>(0, 101);
    o.core_busy = *rc::gen::inRange<uint32_t>(0, 101);
  }
  return o;
}

/// The contract every policy's plan must meet (SchedulingPolicy::balance).
void check_plan_contract(const LoadSnapshot& s, const Plan& p) {
  std::map<ThreadId, const ThreadLoad*> threads;
  for (const ThreadLoad& t : s.threads) threads.emplace(t.id, &t);
  std::set<ThreadId> moved;
  for (const ThreadMove& m : p.moves) {
    auto it = threads.find(m.thread);
    RC_ASSERT(it != threads.end());
    const ThreadLoad* t = it->second;
    RC_ASSERT(moved.insert(m.thread).second);  // at most once
    RC_ASSERT(m.from == t->core);
    RC_ASSERT(m.to != m.from);
    RC_ASSERT(t->cpumask.test(m.to));
    const CoreLoad* from = s.find_core(m.from);
    const CoreLoad* to = s.find_core(m.to);
    RC_ASSERT(from != nullptr);
    RC_ASSERT(to != nullptr);
    RC_ASSERT(!from->isolated);
    RC_ASSERT(!to->isolated);
    RC_ASSERT(!m.reason.empty());
  }
  std::set<CoreId> mode_cores;
  for (const CoreModeRequest& m : p.modes) {
    RC_ASSERT(s.find_core(m.core) != nullptr);
    RC_ASSERT(mode_cores.insert(m.core).second);
  }
  for (const FrequencyRequest& f : p.frequencies) RC_ASSERT(s.find_core(f.core) != nullptr);
}

bool same_plan(const Plan& a, const Plan& b) {
  if (a.moves.size() != b.moves.size() || a.modes.size() != b.modes.size() ||
      a.frequencies.size() != b.frequencies.size())
    return false;
  for (size_t i = 0; i < a.moves.size(); ++i) {
    const ThreadMove& x = a.moves[i];
    const ThreadMove& y = b.moves[i];
    if (x.thread != y.thread || x.from != y.from || x.to != y.to || x.reason != y.reason) return false;
  }
  for (size_t i = 0; i < a.modes.size(); ++i)
    if (a.modes[i].core != b.modes[i].core || a.modes[i].mode != b.modes[i].mode) return false;
  for (size_t i = 0; i < a.frequencies.size(); ++i)
    if (a.frequencies[i].core != b.frequencies[i].core || a.frequencies[i].action != b.frequencies[i].action)
      return false;
  return true;
}

RC_GTEST_PROP(PolicyProperties, StaticMeetsTheContractAndBringsMovableThreadsHome, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const Plan p = balance_static(s);
  check_plan_contract(s, p);
  RC_ASSERT(same_plan(p, balance_static(s)));
  RC_ASSERT(p.frequencies.empty());
  RC_ASSERT(p.modes.size() == s.cores.size());
  for (const CoreModeRequest& m : p.modes) RC_ASSERT(m.mode == ReactorMode::Poll);
  for (const ThreadLoad& t : s.threads) {
    const bool movable = !s.find_core(t.core)->isolated && !s.find_core(t.home)->isolated;
    const ThreadMove* m = nullptr;
    for (const ThreadMove& x : p.moves)
      if (x.thread == t.id) m = &x;
    if (t.core == t.home || !movable) RC_ASSERT(m == nullptr);
    else RC_ASSERT(m != nullptr && m->to == t.home);
  }
}

/// Whether the dynamic policy counts thread `t` as starved (a deliberate
/// difference): below load_limit, on a core at core_busy with more than one
/// thread, with at least its even share of that core's busy time.
bool starved(const LoadSnapshot& s, const DynamicOptions& o, const ThreadLoad& t) {
  const CoreLoad* c = s.find_core(t.core);
  if (c == nullptr || load_percent(t.busy, t.idle) >= o.load_limit || t.busy == 0) return false;
  const uint64_t count = static_cast<uint64_t>(
      std::count_if(s.threads.begin(), s.threads.end(), [&](const ThreadLoad& u) { return u.core == t.core; }));
  return count > 1 && load_percent(c->busy, c->idle) >= o.core_busy && t.busy >= c->busy / count;
}
/// Busy for the dynamic policy: at load_limit, or starved.
bool counts_busy(const LoadSnapshot& s, const DynamicOptions& o, const ThreadLoad& t) {
  return load_percent(t.busy, t.idle) >= o.load_limit || starved(s, o, t);
}
bool has_starved(const LoadSnapshot& s, const DynamicOptions& o) {
  return std::any_of(s.threads.begin(), s.threads.end(), [&](const ThreadLoad& t) { return starved(s, o, t); });
}

RC_GTEST_PROP(PolicyProperties, DynamicMeetsTheContract, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const DynamicOptions o = pick_dynamic_options();
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  RC_ASSERT(same_plan(p, balance_dynamic(s, o)));

  // A core polls when a busy thread ends the round on it and sleeps
  // otherwise (deliberately unlike SPDK, which only sleeps a core hosting no
  // thread); a stalled core gets no request.
  std::map<ThreadId, CoreId> planned;
  for (const ThreadMove& m : p.moves) planned[m.thread] = m.to;
  std::set<CoreId> busy_end;
  for (const ThreadLoad& t : s.threads) {
    if (!counts_busy(s, o, t)) continue;
    auto it = planned.find(t.id);
    busy_end.insert(it == planned.end() ? t.core : it->second);
  }
  std::map<CoreId, ReactorMode> modes;
  for (const CoreModeRequest& m : p.modes) modes[m.core] = m.mode;
  for (const CoreLoad& c : s.cores) {
    if (c.stalled) {
      RC_ASSERT(modes.count(c.id) == 0);
      continue;
    }
    RC_ASSERT(modes.count(c.id) == 1);
    RC_ASSERT(modes[c.id] == (busy_end.count(c.id) ? ReactorMode::Poll : ReactorMode::Interrupt));
  }

  // Frequencies follow the busy threads: a non-main core is at Max where a
  // busy thread ends and at Min elsewhere; main is at Max only for its own
  // busy threads, else steps. Stalled cores get no request.
  std::map<CoreId, std::vector<FrequencyAction>> freq;
  for (const FrequencyRequest& f : p.frequencies) freq[f.core].push_back(f.action);
  for (const CoreLoad& c : s.cores) {
    if (c.stalled) {
      RC_ASSERT(freq.count(c.id) == 0);
      continue;
    }
    RC_ASSERT(freq[c.id].size() == 1u);
    const FrequencyAction a = freq[c.id][0];
    if (c.id != s.main_core) RC_ASSERT(a == (busy_end.count(c.id) ? FrequencyAction::Max : FrequencyAction::Min));
    else if (busy_end.count(c.id)) RC_ASSERT(a == FrequencyAction::Max);
    else RC_ASSERT(a == FrequencyAction::StepUp || a == FrequencyAction::StepDown);
  }

  // Settled idle threads that may reach main end there (pass 1): pass 1 is
  // never stopped by the no-swap rule (only main receives in it, and threads
  // already on main do not move) -- unless main hosts a starved thread: then
  // it receives none, so that it can shed them.
  const CoreLoad* main = s.find_core(s.main_core);
  const bool main_starved = std::any_of(s.threads.begin(), s.threads.end(), [&](const ThreadLoad& t) {
    return t.core == s.main_core && starved(s, o, t);
  });
  for (const ThreadLoad& t : s.threads) {
    if (main_starved) break;
    const CoreLoad* c = s.find_core(t.core);
    if (c->isolated || c->stalled || main->isolated || main->stalled || !t.cpumask.test(s.main_core)) continue;
    if (t.rounds_since_move < kDynamicSettleRounds) continue;
    if (!counts_busy(s, o, t)) {
      auto it = planned.find(t.id);
      RC_ASSERT((it == planned.end() ? t.core : it->second) == s.main_core);
    }
  }
}

/// `s` with nothing a deliberate difference could act on: no stalled or
/// isolated core, every mask full, every thread settled.
LoadSnapshot without_differences(LoadSnapshot s) {
  CpuSet all;
  for (CoreLoad& c : s.cores) {
    c.stalled = false;
    c.isolated = false;
    all.set(c.id);
  }
  for (ThreadLoad& t : s.threads) {
    t.cpumask = all;
    t.rounds_since_move = ThreadLoad::kNeverMoved;
  }
  return s;
}

RC_GTEST_PROP(PolicyProperties, DynamicMovesAsSpdkWhereNoDifferenceApplies, ()) {
  // Most random snapshots make SPDK swap; try several seeds per shape so
  // that every case compares some plans.
  Shape shape = pick_shape();
  const DynamicOptions o = pick_dynamic_options();
  int compared = 0;
  int with_moves = 0;
  for (int k = 0; k < 16; ++k, ++shape.seed) {
    Shape sparse = shape;  // half the tries with fewer threads: fewer swaps
    if (k % 2 == 1) sparse.threads /= 4;
    const LoadSnapshot s = without_differences(make_snapshot(sparse));
    if (has_starved(s, o)) continue;
    const test::spdk::Result ref = test::spdk::balance(s, o);
    // What is left: SPDK's plan swaps (a core gives and receives), or uses
    // the least-busy fallback (the only way SPDK moves a busy thread onto an
    // occupied core past core_limit).
    if (test::spdk::has_swap(ref.plan.moves)) continue;
    if (std::any_of(ref.moves.begin(), ref.moves.end(), [](const test::spdk::Move& m) { return m.least_busy; }))
      continue;
    ++compared;
    if (!ref.moves.empty()) ++with_moves;
    const Plan p = balance_dynamic(s, o);
    RC_ASSERT(p.moves.size() == ref.plan.moves.size());
    for (size_t i = 0; i < p.moves.size(); ++i) {
      RC_ASSERT(p.moves[i].thread == ref.plan.moves[i].thread);
      RC_ASSERT(p.moves[i].from == ref.plan.moves[i].from);
      RC_ASSERT(p.moves[i].to == ref.plan.moves[i].to);
    }
  }
  RC_TAG(with_moves > 0 ? "compared plans with moves" : compared > 0 ? "compared empty plans only" : "nothing compared");
}

RC_GTEST_PROP(PolicyProperties, DynamicNeverTargetsOrEmptiesAStalledCore, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const Plan p = balance_dynamic(s, pick_dynamic_options());
  for (const ThreadMove& m : p.moves) {
    RC_ASSERT(!s.find_core(m.to)->stalled);
    RC_ASSERT(!s.find_core(m.from)->stalled);
  }
}

RC_GTEST_PROP(PolicyProperties, DynamicNeverSwaps, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const Plan p = balance_dynamic(s, pick_dynamic_options());
  RC_ASSERT(!test::spdk::has_swap(p.moves));
}

RC_GTEST_PROP(PolicyProperties, DynamicMovesAnUnsettledThreadOnlyOffACoreAtCoreBusy, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const DynamicOptions o = pick_dynamic_options();
  const Plan p = balance_dynamic(s, o);
  // Replay the plan with SPDK's bookkeeping: the values the policy saw.
  test::spdk::Ledger l(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = l.thread_index(m.thread);
    const int32_t from = l.index_of(m.from);
    if (s.threads[t].rounds_since_move < kDynamicSettleRounds) RC_ASSERT(l.pct_of(from) >= o.core_busy);
    l.move(t, l.index_of(m.to));
  }
}

RC_GTEST_PROP(PolicyProperties, DynamicMovesABusyThreadOnlyWhereItFits, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const DynamicOptions o = pick_dynamic_options();
  const Plan p = balance_dynamic(s, o);
  test::spdk::Ledger l(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = l.thread_index(m.thread);
    const int32_t to = l.index_of(m.to);
    // SPDK's fits(): a core with no thread, no sample (slept: never a
    // stalled one, see above) or staying under core_limit.
    if (load_percent(s.threads[t].busy, s.threads[t].idle) >= o.load_limit) RC_ASSERT(l.fits(t, to));
    l.move(t, to);
  }
}

// --- placement options (numa_local, smt_last, keep_asleep) -----------------
//
// Off, they change nothing (the plans above are SPDK's); on, each only picks
// among the cores SPDK's rule lets a busy thread go to (and two of them
// narrow that set when the thread's core has room). The snapshots below get
// a host-like topology: NUMA nodes in contiguous id ranges and SMT pairs
// either adjacent (0,1) or split ((0, n/2), as Linux numbers many hosts).

/// `o`'s percentages with every placement option at its default.
DynamicOptions limits_only(const DynamicOptions& o) {
  DynamicOptions d;
  d.load_limit = o.load_limit;
  d.core_limit = o.core_limit;
  d.core_busy = o.core_busy;
  return d;
}

struct Topo {
  uint32_t nodes = 1;
  bool split_smt = false;
};

Topo pick_topo() {
  Topo t;
  t.nodes = *rc::gen::element<uint32_t>(1, 2, 2, 4);
  t.split_smt = *rc::gen::arbitrary<bool>();
  return t;
}

LoadSnapshot with_topology(LoadSnapshot s, const Topo& topo) {
  std::vector<size_t> by_id(s.cores.size());
  for (size_t i = 0; i < by_id.size(); ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(), [&](size_t a, size_t b) { return s.cores[a].id < s.cores[b].id; });
  const size_t n = by_id.size();
  for (size_t r = 0; r < n; ++r) {
    CoreLoad& c = s.cores[by_id[r]];
    c.numa_node = static_cast<int>(r * topo.nodes / n);
    c.smt_siblings = CpuSet{c.id.value};
  }
  const size_t half = n / 2;
  for (size_t r = 0; r < (topo.split_smt ? half : n / 2); ++r) {
    const size_t a = topo.split_smt ? r : 2 * r;
    const size_t b = topo.split_smt ? r + half : 2 * r + 1;
    CoreLoad& x = s.cores[by_id[a]];
    CoreLoad& y = s.cores[by_id[b]];
    const CpuSet pair{x.id.value, y.id.value};
    x.smt_siblings = pair;
    y.smt_siblings = pair;
  }
  return s;
}

/// Replays a dynamic plan move by move with SPDK's bookkeeping and what the
/// placement options look at: which cores gave a thread, and how many busy
/// threads each core hosts.
class Replay {
 public:
  Replay(const LoadSnapshot& s, const DynamicOptions& o) : s_(s), o_(o), l_(s, o) {
    busy_threads_.assign(s.cores.size(), 0);
    for (size_t t = 0; t < s.threads.size(); ++t)
      if (busy(t) && l_.lcore(t) >= 0) ++busy_threads_[static_cast<size_t>(l_.lcore(t))];
    main_ = l_.index_of(s.main_core);
  }

  const test::spdk::Ledger& ledger() const { return l_; }
  bool busy(size_t t) const { return counts_busy(s_, o_, s_.threads[t]); }
  const CoreLoad& core(int32_t i) const { return s_.cores[static_cast<size_t>(i)]; }
  bool awake(int32_t i) const { return busy_threads_[static_cast<size_t>(i)] > 0; }
  bool physical_core_awake(int32_t i) const {
    for (CoreId c : core(i).smt_siblings.cores())
      if (const int32_t j = l_.index_of(c); j >= 0 && awake(j)) return true;
    return false;
  }
  int home_node(size_t t) const {
    const int32_t h = l_.index_of(s_.threads[t].home);
    if (h >= 0 && core(h).numa_node >= 0) return core(h).numa_node;
    return core(l_.lcore(t)).numa_node;
  }

  /// The cores SPDK's rule lets busy thread `t` move to now, each fitting:
  /// not its core, not isolated, stalled or a core that gave a thread, inside
  /// its mask; main, a lower core (not from main), or any core at core_limit.
  std::vector<int32_t> candidates(size_t t) const {
    std::vector<int32_t> out;
    const int32_t from = l_.lcore(t);
    const bool lim = l_.at_limit(from);
    for (int32_t i = 0; i < static_cast<int32_t>(s_.cores.size()); ++i) {
      const CoreLoad& c = core(i);
      if (i == from || c.isolated || c.stalled || gave_.count(i) || !s_.threads[t].cpumask.test(c.id)) continue;
      if (!l_.fits(t, i)) continue;
      if (i == main_ || (c.id < core(from).id && from != main_) || lim) out.push_back(i);
    }
    return out;
  }

  void apply(size_t t, int32_t to) {
    const int32_t from = l_.lcore(t);
    if (busy(t)) {
      --busy_threads_[static_cast<size_t>(from)];
      ++busy_threads_[static_cast<size_t>(to)];
    }
    gave_.insert(from);
    l_.move(t, to);
  }

 private:
  const LoadSnapshot& s_;
  DynamicOptions o_;
  test::spdk::Ledger l_;
  std::vector<uint32_t> busy_threads_;
  std::set<int32_t> gave_;
  int32_t main_ = -1;
};

RC_GTEST_PROP(PolicyProperties, PlacementOptionsOffMoveAsSpdkOnHostTopologies, ()) {
  Shape shape = pick_shape();
  const Topo topo = pick_topo();
  DynamicOptions o = pick_dynamic_options();
  o.numa_local = o.smt_last = o.keep_asleep = false;
  RC_ASSERT(o == limits_only(o));  // off is the default
  int with_moves = 0;
  for (int k = 0; k < 16; ++k, ++shape.seed) {
    Shape sparse = shape;
    if (k % 2 == 1) sparse.threads /= 4;
    const LoadSnapshot s = with_topology(without_differences(make_snapshot(sparse)), topo);
    if (has_starved(s, o)) continue;
    const test::spdk::Result ref = test::spdk::balance(s, o);
    if (test::spdk::has_swap(ref.plan.moves)) continue;
    if (std::any_of(ref.moves.begin(), ref.moves.end(), [](const test::spdk::Move& m) { return m.least_busy; }))
      continue;
    if (!ref.moves.empty()) ++with_moves;
    const Plan p = balance_dynamic(s, o);
    RC_ASSERT(p.moves.size() == ref.plan.moves.size());
    for (size_t i = 0; i < p.moves.size(); ++i) {
      RC_ASSERT(p.moves[i].thread == ref.plan.moves[i].thread);
      RC_ASSERT(p.moves[i].from == ref.plan.moves[i].from);
      RC_ASSERT(p.moves[i].to == ref.plan.moves[i].to);
    }
  }
  RC_TAG(with_moves > 0 ? "compared plans with moves" : "no plan with moves");
}

RC_GTEST_PROP(PolicyProperties, NumaLocalPrefersTheHomeNodeAndNeverLeavesItToConsolidate, ()) {
  const Topo topo = pick_topo();
  const LoadSnapshot s = with_topology(make_snapshot(pick_shape()), topo);
  DynamicOptions o = pick_dynamic_options();
  const DynamicOptions off = o;
  o.numa_local = true;
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  Replay r(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = r.ledger().thread_index(m.thread);
    const int32_t from = r.ledger().index_of(m.from);
    const int32_t to = r.ledger().index_of(m.to);
    if (r.busy(t)) {
      const int node = r.home_node(t);
      const int dest = r.core(to).numa_node;
      // Without core_limit pressure: only within its current or home node.
      if (!r.ledger().at_limit(from)) RC_ASSERT(dest == node || dest == r.core(from).numa_node);
      // Away from its home node only when no core there could take it.
      if (dest != node)
        for (int32_t i : r.candidates(t)) RC_ASSERT(r.core(i).numa_node != node);
    }
    r.apply(t, to);
  }
  // One node: the option has nothing to prefer.
  const LoadSnapshot one = with_topology(s, Topo{1, topo.split_smt});
  RC_ASSERT(same_plan(balance_dynamic(one, o), balance_dynamic(one, off)));
  RC_TAG(same_plan(p, balance_dynamic(s, off)) ? "same plan as off" : "numa_local changed the plan");
}

RC_GTEST_PROP(PolicyProperties, KeepAsleepWakesNoCoreForAThreadThatHasRoom, ()) {
  const LoadSnapshot s = with_topology(make_snapshot(pick_shape()), pick_topo());
  DynamicOptions o = pick_dynamic_options();
  const DynamicOptions off = o;
  o.keep_asleep = true;
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  Replay r(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = r.ledger().thread_index(m.thread);
    const int32_t from = r.ledger().index_of(m.from);
    const int32_t to = r.ledger().index_of(m.to);
    if (r.busy(t) && !r.awake(to)) {
      // It wakes a core only when its own is at core_limit and no awake core
      // SPDK's rule allows has room.
      RC_ASSERT(r.ledger().at_limit(from));
      for (int32_t i : r.candidates(t)) RC_ASSERT(!r.awake(i));
    }
    r.apply(t, to);
  }
  RC_TAG(same_plan(p, balance_dynamic(s, off)) ? "same plan as off" : "keep_asleep changed the plan");
}

RC_GTEST_PROP(PolicyProperties, SmtLastWakesAPhysicalCoreOnlyAtCoreLimitWhenNoAwakeOneHasRoom, ()) {
  const LoadSnapshot s = with_topology(make_snapshot(pick_shape()), pick_topo());
  DynamicOptions o = pick_dynamic_options();
  const DynamicOptions off = o;
  o.smt_last = true;
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  Replay r(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = r.ledger().thread_index(m.thread);
    const int32_t to = r.ledger().index_of(m.to);
    if (r.busy(t)) {
      // SPDK's set of destinations is kept (only the order changes) ...
      const std::vector<int32_t> c = r.candidates(t);
      RC_ASSERT(std::find(c.begin(), c.end(), to) != c.end());
      // ... and a whole idle physical core is woken only for a thread whose
      // core is at core_limit, when no core of an awake one is in that set.
      if (!r.physical_core_awake(to)) {
        RC_ASSERT(r.ledger().at_limit(r.ledger().lcore(t)));
        for (int32_t i : c) RC_ASSERT(!r.physical_core_awake(i));
      }
    }
    r.apply(t, to);
  }
  RC_TAG(same_plan(p, balance_dynamic(s, off)) ? "same plan as off" : "smt_last changed the plan");
}

// main_room: every idle thread it sends to main fits there at that point of
// the plan (SPDK's bookkeeping), every other rule holds, and without it the
// plan is the one without the option.
RC_GTEST_PROP(PolicyProperties, MainRoomSendsIdleThreadsOnlyWhereTheyFit, ()) {
  const LoadSnapshot s = with_topology(make_snapshot(pick_shape()), pick_topo());
  DynamicOptions o = pick_dynamic_options();
  o.main_room = true;
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  RC_ASSERT(!test::spdk::has_swap(p.moves));
  test::spdk::Ledger l(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = l.thread_index(m.thread);
    const int32_t to = l.index_of(m.to);
    if (!counts_busy(s, o, s.threads[t])) {
      RC_ASSERT(m.to == s.main_core);
      RC_ASSERT(l.fits(t, to));
    }
    l.move(t, to);
  }
  DynamicOptions off = o;
  off.main_room = false;
  RC_TAG(same_plan(p, balance_dynamic(s, off)) ? "same plan as off" : "main_room changed the plan");
}

RC_GTEST_PROP(PolicyProperties, PlacementOptionsKeepEveryOtherRule, ()) {
  const LoadSnapshot s = with_topology(make_snapshot(pick_shape()), pick_topo());
  DynamicOptions o = pick_dynamic_options();
  o.numa_local = *rc::gen::arbitrary<bool>();
  o.smt_last = *rc::gen::arbitrary<bool>();
  o.keep_asleep = *rc::gen::arbitrary<bool>();
  const Plan p = balance_dynamic(s, o);
  check_plan_contract(s, p);
  RC_ASSERT(same_plan(p, balance_dynamic(s, o)));
  RC_ASSERT(!test::spdk::has_swap(p.moves));
  test::spdk::Ledger l(s, o);
  for (const ThreadMove& m : p.moves) {
    const size_t t = l.thread_index(m.thread);
    const int32_t from = l.index_of(m.from);
    const int32_t to = l.index_of(m.to);
    RC_ASSERT(!s.find_core(m.to)->stalled);
    RC_ASSERT(!s.find_core(m.from)->stalled);
    if (s.threads[t].rounds_since_move < kDynamicSettleRounds) RC_ASSERT(l.pct_of(from) >= o.core_busy);
    if (load_percent(s.threads[t].busy, s.threads[t].idle) >= o.load_limit) RC_ASSERT(l.fits(t, to));
    l.move(t, to);
  }
  // Idle threads go to main exactly as without the options (pass 1).
  const Plan base = balance_dynamic(s, limits_only(o));
  std::map<ThreadId, CoreId> idle_to, idle_base;
  for (const ThreadMove& m : p.moves)
    if (m.to == s.main_core) idle_to[m.thread] = m.to;
  for (const ThreadMove& m : base.moves)
    if (m.to == s.main_core) idle_base[m.thread] = m.to;
  for (const ThreadLoad& t : s.threads)
    if (!counts_busy(s, o, t)) RC_ASSERT(idle_to.count(t.id) == idle_base.count(t.id));
}

RC_GTEST_PROP(PolicyProperties, GlobalNeverMovesAndSetsEveryCoreOnce, ()) {
  const LoadSnapshot s = make_snapshot(pick_shape());
  const Plan p = balance_global(s);
  check_plan_contract(s, p);
  RC_ASSERT(same_plan(p, balance_global(s)));
  RC_ASSERT(p.moves.empty());
  RC_ASSERT(p.modes.empty());
  RC_ASSERT(p.frequencies.size() == s.cores.size());
  for (size_t i = 0; i < s.cores.size(); ++i) RC_ASSERT(p.frequencies[i].core == s.cores[i].id);
  // SMT siblings always get the same action.
  for (size_t i = 0; i < s.cores.size(); ++i)
    for (size_t j = 0; j < s.cores.size(); ++j)
      if (i != j && s.cores[i].smt_siblings.test(s.cores[j].id))
        RC_ASSERT(p.frequencies[i].action == p.frequencies[j].action);
}

}  // namespace
}  // namespace reactor
