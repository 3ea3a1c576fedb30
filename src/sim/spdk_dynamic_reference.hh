#pragma once
// SPDK's dynamic scheduler, transliterated from rpc-compat.md 4.3 as
// literally as C++ allows, for the property tests to compare our dynamic
// policy against and for reactor-sim to run as the policy `spdk-dynamic`
// (sim/spdk_dynamic_policy.hh). Do not "fix" it: its flaws are what the
// policy's deliberate differences are measured against.
//
// Where the text leaves a choice, this follows our policy, so that the two
// only differ where a deliberate difference applies:
//   - threads are visited in snapshot order (SPDK visits them core by core,
//     in each core's list order);
//   - arithmetic saturates and percentages halve both operands while
//     busy + idle overflows (SPDK's u64 would wrap on tick counts no real
//     counter reaches);
//   - a thread whose core is not in the snapshot is skipped, and there is
//     no main core when the snapshot does not list it.
// Alongside the plan it reports, per move, which pass made it and whether it
// came from find_optimal_core's least-busy fallback.
//
// Speed without changing a result (reactor-sim runs it at 256 cores x 10,000
// threads): find_optimal_core stops scanning past both the thread's core and
// main when the core is not at its limit (no later core can be returned:
// the fallback is only taken at the limit), and the id -> index tables are
// hashed instead of ordered.

#include <algorithm>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

namespace reactor::sim::spdk {

/// pct(b, i) = floor(100 b / (b + i)), 0 when b + i = 0.
inline uint32_t pct(uint64_t busy, uint64_t idle) {
  while (busy > UINT64_MAX - idle) {
    busy >>= 1;
    idle >>= 1;
  }
  return busy_percent(busy, idle);
}

inline uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/// A thread's load: pct of its busy and idle deltas.
inline uint32_t thread_load(const ThreadLoad& t) { return pct(t.busy, t.idle); }

/// The per-round working values (4.3 "busy, idle, count") and move() (4.3
/// step 3). Also used to replay any plan's moves in order, so a property can
/// look at the values a policy saw when it decided each move.
class Ledger {
 public:
  struct Work {
    uint64_t busy = 0;
    uint64_t idle = 0;
    uint32_t count = 0;
  };

  Ledger(const LoadSnapshot& s, const DynamicOptions& o) : s_(s), o_(o) {
    for (size_t i = 0; i < s.cores.size(); ++i) {
      index_[s.cores[i].id.value] = static_cast<int32_t>(i);
      work_.push_back(Work{s.cores[i].busy, s.cores[i].idle, 0});
    }
    thread_index_.reserve(s.threads.size());
    for (size_t t = 0; t < s.threads.size(); ++t) {
      thread_index_[s.threads[t].id.value] = t;
      lcore_.push_back(index_of(s.threads[t].core));
      if (lcore_.back() >= 0) ++work_[static_cast<size_t>(lcore_.back())].count;
    }
    initial_ = work_;
  }

  int32_t index_of(CoreId id) const {
    auto it = index_.find(id.value);
    return it == index_.end() ? -1 : it->second;
  }
  size_t thread_index(ThreadId id) const { return thread_index_.at(id.value); }
  const Work& work(int32_t i) const { return work_[static_cast<size_t>(i)]; }
  const Work& initial(int32_t i) const { return initial_[static_cast<size_t>(i)]; }
  uint32_t pct_of(int32_t i) const { return pct(work(i).busy, work(i).idle); }
  int32_t lcore(size_t t) const { return lcore_[t]; }

  /// 4.3 step 3.
  void move(size_t t, int32_t dst) {
    const int32_t src = lcore_[t];
    if (dst == src) return;
    const uint64_t tb = s_.threads[t].busy;
    Work& d = work_[static_cast<size_t>(dst)];
    Work& c = work_[static_cast<size_t>(src)];
    const uint32_t p0 = pct(c.busy, c.idle);
    d.busy = sat_add(d.busy, tb);
    d.idle -= std::min(d.idle, tb);
    d.count++;
    c.busy -= std::min(c.busy, tb);
    c.idle = sat_add(c.idle, tb);
    if (p0 >= o_.core_busy && pct(c.busy, c.idle) < o_.core_limit) {
      const uint64_t total = sat_add(c.busy, c.idle);
      c.busy = (total / 100) * o_.core_limit + (total % 100) * o_.core_limit / 100;
      c.idle = total - c.busy;
    }
    c.count--;
    lcore_[t] = dst;
  }

  /// 4.3 step 4.
  bool at_limit(int32_t i) const { return work(i).count > 1 && work(i).busy > 0 && pct_of(i) >= o_.core_limit; }

  /// 4.3 step 5.
  bool fits(size_t t, int32_t i) const {
    if (i == lcore_[t]) return true;
    const Work& c = work(i);
    if (c.busy == 0 && c.idle == 0) return true;
    if (c.count == 0) return true;
    const uint64_t tb = s_.threads[t].busy;
    if (c.idle < tb) return false;
    return pct(sat_add(c.busy, tb), c.idle - tb) < o_.core_limit;
  }

 private:
  const LoadSnapshot& s_;
  const DynamicOptions o_;
  std::unordered_map<uint32_t, int32_t> index_;
  std::unordered_map<uint64_t, size_t> thread_index_;
  std::vector<Work> work_;
  std::vector<Work> initial_;
  std::vector<int32_t> lcore_;
};

struct Move {
  ThreadMove move;       ///< reason left empty
  int pass = 0;          ///< 1 (idle threads) or 2 (active threads)
  bool least_busy = false;  ///< find_optimal_core's fallback chose it
};

struct Result {
  std::vector<Move> moves;
  Plan plan;  ///< moves (without reasons), modes, frequencies
};

inline Result balance(const LoadSnapshot& s, const DynamicOptions& o) {
  Ledger l(s, o);
  Result r;
  std::vector<int32_t> ascending(s.cores.size());
  for (size_t i = 0; i < ascending.size(); ++i) ascending[i] = static_cast<int32_t>(i);
  std::sort(ascending.begin(), ascending.end(),
            [&](int32_t a, int32_t b) { return s.cores[static_cast<size_t>(a)].id < s.cores[static_cast<size_t>(b)].id; });
  const int32_t main = l.index_of(s.main_core);
  const auto core = [&](int32_t i) -> const CoreLoad& { return s.cores[static_cast<size_t>(i)]; };
  const auto record = [&](size_t t, int32_t dst, int pass, bool least) {
    if (dst == l.lcore(t)) return;
    const ThreadLoad& th = s.threads[t];
    r.moves.push_back(Move{ThreadMove{th.id, core(l.lcore(t)).id, core(dst).id, {}}, pass, least});
    r.plan.moves.push_back(r.moves.back().move);
    l.move(t, dst);
  };

  // 1. Pass 1: every idle thread on a non-isolated core goes to main,
  //    whatever its cpumask.
  for (size_t t = 0; t < s.threads.size(); ++t) {
    const int32_t cur = l.lcore(t);
    if (cur < 0 || core(cur).isolated || main < 0) continue;
    if (thread_load(s.threads[t]) < o.load_limit) record(t, main, 1, false);
  }

  // 6. find_optimal_core.
  std::vector<int32_t> rank(s.cores.size());
  for (size_t k = 0; k < ascending.size(); ++k) rank[static_cast<size_t>(ascending[k])] = static_cast<int32_t>(k);
  const auto find_optimal_core = [&](size_t t, bool& least_busy) -> int32_t {
    const int32_t cur = l.lcore(t);
    int32_t least = cur;
    const bool lim = l.at_limit(cur);
    least_busy = false;
    // Not at the limit, a core past both cur and main cannot be returned.
    const size_t last = lim ? ascending.size() - 1
                            : static_cast<size_t>(std::max(rank[static_cast<size_t>(cur)],
                                                           main < 0 ? -1 : rank[static_cast<size_t>(main)]));
    for (size_t k = 0; k <= last; ++k) {
      const int32_t i = ascending[k];
      if (!s.threads[t].cpumask.test(core(i).id) || core(i).isolated) continue;
      if (l.work(i).busy < l.work(least).busy) least = i;
      if (i == cur || !l.fits(t, i)) continue;
      if (i == main) return i;
      if (core(i).id < core(cur).id && cur != main) return i;
      if (lim) return i;
    }
    if (lim) {
      least_busy = least != cur;
      return least;
    }
    return cur;
  };

  // 2. Pass 2: every active thread on a non-isolated core.
  for (size_t t = 0; t < s.threads.size(); ++t) {
    const int32_t cur = l.lcore(t);
    if (cur < 0 || core(cur).isolated) continue;
    if (thread_load(s.threads[t]) < o.load_limit) continue;
    bool least = false;
    const int32_t dst = find_optimal_core(t, least);
    record(t, dst, 2, least);
  }

  // 7. Core modes.
  bool busy_threads_present = false;
  for (int32_t i = 0; i < static_cast<int32_t>(s.cores.size()); ++i) {
    const bool hosts_now = core(i).thread_count > 0 || l.initial(i).count > 0;
    if (l.work(i).count == 0 && !hosts_now) {
      r.plan.modes.push_back(CoreModeRequest{core(i).id, ReactorMode::Interrupt});
      r.plan.frequencies.push_back(FrequencyRequest{core(i).id, FrequencyAction::Min});
    } else if (l.work(i).count > 0) {
      r.plan.modes.push_back(CoreModeRequest{core(i).id, ReactorMode::Poll});
      if (i != main) {
        r.plan.frequencies.push_back(FrequencyRequest{core(i).id, FrequencyAction::Max});
        busy_threads_present = true;
      }
    }
  }

  // 8. Main-core frequency.
  if (main >= 0) {
    const CoreId m = core(main).id;
    if (busy_threads_present) r.plan.frequencies.push_back(FrequencyRequest{m, FrequencyAction::Max});
    else if (l.work(main).busy > l.work(main).idle) r.plan.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepUp});
    else r.plan.frequencies.push_back(FrequencyRequest{m, FrequencyAction::StepDown});
  }
  return r;
}

/// Whether some core both gives and receives a thread in `moves`.
inline bool has_swap(const std::vector<ThreadMove>& moves) {
  std::map<uint32_t, int> dir;  // bit 1: gave, bit 2: received
  for (const ThreadMove& m : moves) {
    dir[m.from.value] |= 1;
    dir[m.to.value] |= 2;
  }
  return std::any_of(dir.begin(), dir.end(), [](const auto& kv) { return kv.second == 3; });
}

}  // namespace reactor::sim::spdk
