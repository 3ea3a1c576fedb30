// Trace replay (see replay.hh). The validation replay, per sample in order:
//   1. threads new in the sample are spawned (name, cpumask, home as
//      recorded; ascending trace id, so the replay's ids keep the recorded
//      order) and moved to their recorded core if it is not their home;
//      threads no longer listed exit;
//   2. the manual clock advances by the sample's ticks (converted to the
//      replay clock's rate) and every reactor runs a pass;
//   3. a sample with a round: the replay's placement is compared with the
//      sample's, then SchedulerManager::run_round() balances the recorded load
//      (load_source) and its moves are compared with the recorded ones.

#include "sim/replay.hh"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include <reactor/scheduler_manager.hh>
#include <reactor/sim_governor.hh>

#include "sim/manual_pool.hh"

namespace reactor::sim {
namespace {

std::string moves_text(const std::vector<TraceMove>& ms) {
  std::string s = "[";
  for (const TraceMove& m : ms) s += fmt::format("{}{}: {}->{}", s.size() > 1 ? ", " : "", m.thread, m.from, m.to);
  return s + "]";
}

}  // namespace

Result<Topology> trace_topology(const TraceHeader& h) {
  if (h.synthetic) return Topology::synthetic(*h.synthetic);
  uint32_t max_core = 0;
  for (uint32_t c : h.reactor_cores) max_core = std::max(max_core, c);
  if (max_core >= CpuSet::kMaxCores)
    return make_error(Errc::invalid_argument, fmt::format("trace core {} is out of range", max_core));
  return Topology::flat(max_core + 1);
}

Result<ReplayCheck> replay_recorded(const Trace& trace) {
  const TraceHeader& h = trace.header;
  auto topo = trace_topology(h);
  if (!topo) return tl::unexpected(topo.error());
  ManualPoolOptions mo;
  mo.topology = *topo;
  for (uint32_t c : h.reactor_cores) mo.reactor_cores.set(CoreId{c});
  for (uint32_t c : h.isolated) mo.isolated.set(CoreId{c});
  mo.main_core = CoreId{h.main_core};
  mo.baseline = h.baseline;
  mo.wait_passes = 1000;
  std::unique_ptr<ManualPool> mp;
  try {
    mp = std::make_unique<ManualPool>(mo);
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, fmt::format("cannot build the recorded pool: {}", e.what()));
  }
  ReactorPool& pool = mp->pool();
  GovernorSlot slot(std::make_unique<SimGovernor>(pool.cores()));

  std::map<uint64_t, ThreadRef> live;        // trace id -> replay thread
  std::map<uint64_t, uint64_t> to_trace;     // replay id -> trace id
  const TraceSample* current = nullptr;
  SchedulerManagerOptions so;
  so.history_limit = 1;
  so.load_source = [&](LoadSnapshot& s) {
    if (current == nullptr) return;
    for (CoreLoad& c : s.cores) {
      auto it = std::find_if(current->cores.begin(), current->cores.end(),
                             [&](const TraceCoreSample& x) { return x.id == c.id.value; });
      if (it == current->cores.end()) continue;
      c.busy = it->busy;
      c.idle = it->idle;
      c.stalled = it->stalled;
      c.overhead = 0;
    }
    std::map<uint64_t, const TraceThreadSample*> by_id;
    for (const TraceThreadSample& t : current->threads) by_id[t.id] = &t;
    for (ThreadLoad& t : s.threads) {
      auto tr = to_trace.find(t.id.value);
      if (tr == to_trace.end()) continue;
      auto it = by_id.find(tr->second);
      if (it == by_id.end()) continue;
      t.busy = it->second->busy;
      t.idle = it->second->idle;
    }
  };
  auto mgr = SchedulerManager::create(pool, slot, std::move(so));
  if (!mgr) return tl::unexpected(mgr.error());
  auto kind = parse_policy_name(h.scheduler.policy);
  if (!kind) return tl::unexpected(kind.error());
  PolicyOptionsUpdate up;
  if (*kind != PolicyKind::Static) {
    if (h.scheduler.period_us != 0) up.period_us = h.scheduler.period_us;
  }
  if (*kind == PolicyKind::Dynamic) {
    up.load_limit = h.scheduler.load_limit;
    up.core_limit = h.scheduler.core_limit;
    up.core_busy = h.scheduler.core_busy;
  }
  if (auto ok = (*mgr)->switch_to(*kind, up); !ok)
    return make_error(Errc::invalid_argument,
                      fmt::format("the recorded policy {} cannot run here: {}", h.scheduler.policy,
                                  ok.error().message));

  ReplayCheck chk;
  auto diverge = [&](std::string what) {
    ++chk.divergence_count;
    if (chk.divergences.size() < ReplayCheck::kMaxDivergences) chk.divergences.push_back(std::move(what));
  };
  const double tick_scale = static_cast<double>(mp->clock().tick_rate()) / static_cast<double>(h.tick_rate);
  for (const TraceSample& s : trace.samples) {
    ++chk.samples;
    // 1. Threads that appeared and disappeared.
    std::set<uint64_t> present;
    for (const TraceThreadSample& t : s.threads) present.insert(t.id);
    for (auto it = live.begin(); it != live.end();) {
      if (present.count(it->first) != 0) {
        ++it;
        continue;
      }
      LwThread* lw = it->second.operator->();
      (void)it->second.send([lw] { lw->exit(); });
      to_trace.erase(it->second.id().value);
      it = live.erase(it);
      ++chk.threads_exited;
    }
    for (const TraceThreadSample& t : s.threads) {
      if (live.count(t.id) != 0) continue;
      ThreadOptions o;
      o.name = t.name;
      for (uint32_t c : t.cpumask) o.cpumask.set(CoreId{c});
      o.home = CoreId{t.home};
      o.ring_size = 64;
      std::vector<ThreadOptions> one;
      one.push_back(std::move(o));
      std::vector<ThreadRef> got;
      try {
        got = mp->spawn_many(std::move(one));
      } catch (const std::exception& e) {
        return make_error(Errc::invalid_argument,
                          fmt::format("sample {}: thread {} ('{}'): {}", s.seq, t.id, t.name, e.what()));
      }
      ThreadRef ref = got.front();
      if (t.core != t.home) {
        auto tk = pool.move(ref.id(), CoreId{t.core}, "request");
        if (tk) pool.wait_for([&] { return (*tk)->done(); }, pool.wait_bound());
      }
      to_trace[ref.id().value] = t.id;
      live.emplace(t.id, std::move(ref));
      ++chk.threads_spawned;
    }
    // 2. Time passes.
    mp->clock().advance(static_cast<uint64_t>(static_cast<double>(s.ticks) * tick_scale));
    mp->poll_until_idle(100);
    if (!s.round) continue;
    // 3. The recorded round, on the recorded load.
    ++chk.rounds;
    bool same = true;
    for (const TraceThreadSample& t : s.threads) {
      const uint32_t now = live.at(t.id)->stats().core.value;
      if (now != t.core) {
        same = false;
        diverge(fmt::format("round {} (sample {}): thread {} is on core {} in the replay, recorded on core {}",
                            s.round->seq, s.seq, t.id, now, t.core));
      }
    }
    current = &s;
    const RoundRecord rec = (*mgr)->run_round();
    current = nullptr;
    std::vector<TraceMove> replayed;
    for (const ThreadMove& m : rec.moves) {
      auto tr = to_trace.find(m.thread.value);
      replayed.push_back(TraceMove{tr == to_trace.end() ? 0 : tr->second, m.from.value, m.to.value, m.reason});
    }
    chk.moves_recorded += s.round->moves.size();
    chk.moves_replayed += replayed.size();
    const bool moves_equal =
        replayed.size() == s.round->moves.size() &&
        std::equal(replayed.begin(), replayed.end(), s.round->moves.begin(), [](const TraceMove& a, const TraceMove& b) {
          return a.thread == b.thread && a.from == b.from && a.to == b.to;
        });
    if (!moves_equal) {
      same = false;
      diverge(fmt::format("round {} (sample {}): recorded moves {}, replayed {}", s.round->seq, s.seq,
                          moves_text(s.round->moves), moves_text(replayed)));
    }
    if (same) ++chk.rounds_matched;
  }
  mgr->reset();
  return chk;
}

std::vector<uint64_t> TraceDemand::thread_ids(const Trace& trace) {
  std::set<uint64_t> ids;
  for (const TraceSample& s : trace.samples)
    for (const TraceThreadSample& t : s.threads) ids.insert(t.id);
  return {ids.begin(), ids.end()};
}

TraceDemand::TraceDemand(std::shared_ptr<const Trace> trace) : trace_(std::move(trace)), ids_(thread_ids(*trace_)) {}

void TraceDemand::demand(double, double, std::vector<double>& out) {
  out.assign(ids_.size(), 0.0);
  if (next_ >= trace_->samples.size()) return;
  const TraceSample& s = trace_->samples[next_++];
  const double us_per_tick = 1e6 / static_cast<double>(trace_->header.tick_rate);
  for (const TraceThreadSample& t : s.threads) {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), t.id);
    if (it != ids_.end() && *it == t.id) out[static_cast<size_t>(it - ids_.begin())] = static_cast<double>(t.busy) * us_per_tick;
  }
}

}  // namespace reactor::sim
