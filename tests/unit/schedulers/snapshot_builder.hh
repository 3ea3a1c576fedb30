#pragma once
// Hand-built LoadSnapshots and plan queries for the policy tests.
//
// A core's busy/idle default to the sum of its threads' busy/idle (what a
// reactor that only ran those threads would report); set them explicitly to
// model time spent outside threads or a reactor that slept (zero samples).

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

namespace reactor::test {

class SnapshotBuilder {
 public:
  /// `n` cores 0..n-1 (each its own SMT sibling), scheduling core `main`.
  explicit SnapshotBuilder(uint32_t n, uint32_t main = 0) {
    s_.main_core = CoreId{main};
    for (uint32_t i = 0; i < n; ++i) {
      CoreLoad c;
      c.id = CoreId{i};
      c.smt_siblings = CpuSet{i};
      s_.cores.push_back(c);
      all_.set(CoreId{i});
    }
  }

  /// Explicit busy/idle ticks for core `id` (overrides the sum of its threads).
  SnapshotBuilder& core_load(uint32_t id, uint64_t busy, uint64_t idle) {
    explicit_[id] = {busy, idle};
    return *this;
  }
  SnapshotBuilder& isolate(uint32_t id) {
    find(id).isolated = true;
    return *this;
  }
  SnapshotBuilder& interrupt(uint32_t id) {
    find(id).in_interrupt = true;
    return *this;
  }
  /// Core `id`'s reactor counted no tick since the last round while awake.
  SnapshotBuilder& stall(uint32_t id) {
    find(id).stalled = true;
    return *this;
  }
  /// Thread `thread` last moved `rounds` completed rounds ago (0: during the
  /// previous round). Threads default to ThreadLoad::kNeverMoved.
  SnapshotBuilder& moved(uint64_t thread, uint32_t rounds) {
    for (ThreadLoad& t : s_.threads)
      if (t.id.value == thread) t.rounds_since_move = rounds;
    return *this;
  }
  /// Cores `first`..`last` on NUMA node `node` (cores default to -1: unknown).
  SnapshotBuilder& numa(uint32_t first, uint32_t last, int node) {
    for (uint32_t id = first; id <= last; ++id) find(id).numa_node = node;
    return *this;
  }
  SnapshotBuilder& siblings(CpuSet set) {
    for (CoreId c : set.cores()) find(c.value).smt_siblings = set;
    return *this;
  }
  /// Thread `id` on `core` with the given ticks; mask defaults to every core,
  /// home defaults to `core`.
  SnapshotBuilder& thread(uint64_t id, uint32_t core, uint64_t busy, uint64_t idle,
                          std::optional<CpuSet> mask = std::nullopt, std::optional<uint32_t> home = std::nullopt) {
    ThreadLoad t;
    t.id = ThreadId{id};
    t.core = CoreId{core};
    t.home = CoreId{home.value_or(core)};
    t.cpumask = mask.value_or(all_);
    t.busy = busy;
    t.idle = idle;
    s_.threads.push_back(t);
    return *this;
  }

  LoadSnapshot build() const {
    LoadSnapshot s = s_;
    for (CoreLoad& c : s.cores) {
      c.busy = c.idle = 0;
      c.thread_count = 0;
      for (const ThreadLoad& t : s.threads) {
        if (t.core != c.id) continue;
        c.busy += t.busy;
        c.idle += t.idle;
        ++c.thread_count;
      }
      if (auto it = explicit_.find(c.id.value); it != explicit_.end()) {
        c.busy = it->second.first;
        c.idle = it->second.second;
      }
    }
    return s;
  }

 private:
  CoreLoad& find(uint32_t id) {
    for (CoreLoad& c : s_.cores)
      if (c.id.value == id) return c;
    s_.cores.emplace_back();  // unreachable in well-formed tests; keeps the reference valid
    return s_.cores.back();
  }

  LoadSnapshot s_;
  CpuSet all_;
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> explicit_;
};

/// The move planned for `thread`, if any.
inline const ThreadMove* find_move(const Plan& plan, uint64_t thread) {
  auto it = std::find_if(plan.moves.begin(), plan.moves.end(),
                         [&](const ThreadMove& m) { return m.thread.value == thread; });
  return it == plan.moves.end() ? nullptr : &*it;
}

/// Where `thread` ends up after the plan (its move target, or its current core).
inline uint32_t final_core(const LoadSnapshot& s, const Plan& plan, uint64_t thread) {
  if (const ThreadMove* m = find_move(plan, thread)) return m->to.value;
  for (const ThreadLoad& t : s.threads)
    if (t.id.value == thread) return t.core.value;
  return UINT32_MAX;
}

/// The mode requested for `core`, if any.
inline std::optional<ReactorMode> mode_of(const Plan& plan, uint32_t core) {
  for (const CoreModeRequest& m : plan.modes)
    if (m.core.value == core) return m.mode;
  return std::nullopt;
}

/// Every frequency action requested for `core`, in plan order.
inline std::vector<FrequencyAction> frequencies_of(const Plan& plan, uint32_t core) {
  std::vector<FrequencyAction> out;
  for (const FrequencyRequest& f : plan.frequencies)
    if (f.core.value == core) out.push_back(f.action);
  return out;
}

}  // namespace reactor::test
