// PoolPlacement: snapshots and restores on top of ReactorPool's public API.
//
// Snapshot: per reactor, the deltas of its busy, idle+sleep (load is measured
// against wall time), overhead and pass counters since the previous call,
// never more busy+idle than the wall time between the two calls: a reactor
// counts a pass when it ends, so a pass that straddles a snapshot (a long
// poll, or a reactor thread the OS preempted mid-pass) would land whole in
// the next one and read 130-180 % busy there after reading little in this
// one. The excess is carried into the following snapshots instead, so the
// totals stay exact and no round sees a core or thread above 100 %. A
// reactor that ran no pass and is not asleep is `stalled` (stuck in a poller
// or a message: it is never a destination, and the round names what holds
// it). Per live thread, its busy/idle deltas and how many snapshots it has
// stayed on the same core (`rounds_since_move`, 0 right after a move, by a
// policy or anyone else).
//
// Restore (a policy's PlacementGuard):
//   1. every reactor back to the baseline mode;
//   2. repeat until every live thread is home or the pool's wait bound
//      expires: request a move home for every thread away from home (a
//      thread in transit refuses it, Skipped); wait for the acknowledgements
//      and for in-transit threads to land;
//   3. report: threads that were away, how many are home now, which ones
//      exited meanwhile, and for each thread still away the reactor that
//      held it up (describe_block). timed_out is set whenever the bound
//      expired with a thread still away, so a partial restore is never "ok".

#include "sched/placement.hh"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace reactor::detail {

namespace {

// Deltas of counters that include an estimate of the sleep in progress: the
// estimate is replaced by the real sleep when the reactor wakes, which can
// be a tick or two less than the estimate. Never negative.
uint64_t delta(uint64_t now, uint64_t before) noexcept { return now > before ? now - before : 0; }

}  // namespace

LoadSnapshot PoolPlacement::snapshot() {
  LoadSnapshot s;
  const uint64_t now = pool_.clock().now();
  // The cap on a delta; none on the first snapshot (counters since the start).
  const uint64_t wall = last_now_ != 0 ? (now > last_now_ ? now - last_now_ : 0) : UINT64_MAX;
  last_now_ = now;
  s.tick_rate = pool_.clock().tick_rate();
  s.main_core = pool_.main_core();
  s.baseline = pool_.baseline();
  const Topology& topo = pool_.topology();
  for (const auto& r : pool_.reactors()) {
    const ReactorStats st = r->stats();
    if (last_core_.size() <= st.core.value) last_core_.resize(st.core.value + 1);
    CoreBase& last = last_core_[st.core.value];
    const uint64_t idle_total = st.idle + st.sleep + st.asleep_at(now);
    CoreLoad c;
    c.id = st.core;
    c.busy = std::min(delta(st.busy, last.busy), wall);
    c.idle = std::min(delta(idle_total, last.idle), wall - c.busy);
    c.overhead = delta(st.overhead, last.overhead);
    // No pass since the last snapshot and not asleep: stuck inside a pass.
    // (A reactor asleep for the whole round counted nothing either, but it
    // answers the moment a thread lands on it.)
    // A reactor that has not begun its first pass is starting, not stuck (a
    // pass counts itself when it begins); in the deterministic harness a
    // reactor nobody polled since the last snapshot counts as stuck.
    c.stalled = st.loops != 0 && st.loops == last.loops && !st.sleeping;
    // The baselines advance by what was reported (never past the counters:
    // each delta is at most counter - baseline), so a capped excess stays
    // counted for the next snapshot, and an idle estimate above the real
    // sleep leaves the baseline where it was.
    last = CoreBase{last.busy + c.busy, last.idle + c.idle, st.loops, st.overhead};
    c.in_interrupt = st.mode == ReactorMode::Interrupt;
    c.isolated = pool_.isolated().test(st.core);
    c.thread_count = st.thread_count;
    if (const CpuInfo* ci = topo.find(st.core)) {
      c.numa_node = ci->numa_node;
      c.smt_siblings = ci->smt_siblings & pool_.cores();
    } else {
      c.smt_siblings.set(st.core);
    }
    s.cores.push_back(c);
  }
  next_thread_.clear();
  const std::vector<ThreadRef> refs = pool_.threads();  // ascending id, as last_thread_
  s.threads.reserve(refs.size());
  next_thread_.reserve(refs.size());
  size_t li = 0;  // merge cursor in last_thread_
  for (const ThreadRef& ref : refs) {
    ThreadStats st = ref->load_stats();  // no name, no lock: 10,000 of these per round in reactor-sim
    if (st.state != ThreadState::Running) continue;
    // A thread on a sleeping reactor has been idle since the sleep began,
    // though its counters only grow when the reactor wakes: without this a
    // thread that ran once and then slept all round would look busy.
    st.idle += pool_.asleep_since(st, now);
    ThreadLoad tl;
    tl.id = st.id;
    tl.core = st.core;
    tl.home = st.home;
    tl.cpumask = st.cpumask & pool_.cores();
    ThreadBase next{st.id, st.busy, st.idle, st.core, ThreadLoad::kNeverMoved};
    while (li < last_thread_.size() && last_thread_[li].id < st.id) ++li;  // exited since
    if (li < last_thread_.size() && last_thread_[li].id == st.id) {
      const ThreadBase& before = last_thread_[li];
      tl.busy = std::min(delta(st.busy, before.busy), wall);
      tl.idle = std::min(delta(st.idle, before.idle), wall - tl.busy);
      next.busy = before.busy + tl.busy;
      next.idle = before.idle + tl.idle;
      const uint32_t prev = before.rounds_since_move;
      if (before.core != st.core || st.in_transit) next.rounds_since_move = 0;
      else if (prev != ThreadLoad::kNeverMoved) next.rounds_since_move = std::min(prev + 1, ThreadLoad::kNeverMoved - 1);
    } else {
      tl.busy = std::min(st.busy, wall);
      tl.idle = std::min(st.idle, wall - tl.busy);
      next.busy = tl.busy;
      next.idle = tl.idle;
    }
    tl.rounds_since_move = next.rounds_since_move;
    next_thread_.push_back(next);
    s.threads.push_back(std::move(tl));
  }
  last_thread_.swap(next_thread_);
  return s;
}

std::string PoolPlacement::describe_block(CoreId core) const {
  const Reactor* r = pool_.reactor(core);
  if (r == nullptr) return fmt::format("core {} has no reactor", core.value);
  const ReactorStats st = r->stats();
  if (st.current_thread != 0) {
    const ThreadRef t = pool_.find(ThreadId{st.current_thread});
    if (!t) return fmt::format("reactor {} is stuck in thread {}", core.value, st.current_thread);
    const std::string poller = t->running_poller();
    if (poller.empty())
      return fmt::format("reactor {} is stuck in thread '{}' (id {}), in a message", core.value, t->name(),
                         st.current_thread);
    return fmt::format("reactor {} is stuck in thread '{}' (id {}), poller '{}'", core.value, t->name(),
                       st.current_thread, poller);
  }
  if (st.sleeping) return fmt::format("reactor {} is asleep", core.value);
  return fmt::format("reactor {} made no progress ({} passes so far)", core.value, st.loops);
}

PoolPlacement::MoveOutcome PoolPlacement::apply_moves(const std::vector<ThreadMove>& moves,
                                                      std::chrono::nanoseconds bound) {
  MoveOutcome out;
  std::vector<std::pair<const ThreadMove*, MoveTicket>> tickets;
  for (const ThreadMove& mv : moves) {
    auto tk = pool_.move(mv.thread, mv.to, "policy");
    if (!tk) {
      ++out.skipped;
      out.problems.push_back(
          fmt::format("move of thread {} to core {}: {}", mv.thread.value, mv.to.value, tk.error().message));
      continue;
    }
    tickets.emplace_back(&mv, *tk);
  }
  pool_.wait_for(
      [&] { return std::all_of(tickets.begin(), tickets.end(), [](const auto& t) { return t.second->done(); }); },
      bound);
  for (const auto& [mv, tk] : tickets) {
    const MoveResult res = tk->result.load(std::memory_order_acquire);
    if (res == MoveResult::Landed) {
      ++out.landed;
      continue;
    }
    ++out.skipped;
    if (res == MoveResult::Skipped)
      out.problems.push_back(fmt::format("move of thread {} to core {}: {}", mv->thread.value, mv->to.value,
                                         tk->skip_reason));
    else
      out.problems.push_back(fmt::format("move of thread {} {} -> {} not acknowledged within {} ms: {}",
                                         mv->thread.value, mv->from.value, mv->to.value,
                                         std::chrono::duration_cast<std::chrono::milliseconds>(bound).count(),
                                         describe_block(mv->from)));
  }
  return out;
}

RestoreReport PoolPlacement::restore_placement() noexcept {
  RestoreReport rep;
  try {
    for (const auto& r : pool_.reactors()) (void)pool_.set_mode(r->core(), pool_.baseline());
    std::set<ThreadId> away;
    const auto bound = pool_.wait_bound();
    const auto deadline = std::chrono::steady_clock::now() + bound;
    auto left = [&] {
      return std::max(std::chrono::nanoseconds(0),
                      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now()));
    };
    // Set when a wait settled but used up the bound: one more look decides
    // (everything home: complete; anything away: timed out), with no new
    // moves. Without it, moves that landed as the bound expired (the waiting
    // control thread preempted, or serving RPC requests meanwhile) made a
    // complete restore "partial" with nothing left away.
    bool last_look = false;
    for (;;) {
      std::vector<MoveTicket> tickets;
      std::vector<ThreadRef> transit;
      std::vector<std::pair<ThreadId, CoreId>> to_move;
      for (const ThreadRef& ref : pool_.threads()) {
        const ThreadStats st = ref->stats();
        if (st.state != ThreadState::Running) continue;
        if (st.core == st.home && !st.in_transit) continue;
        away.insert(st.id);
        if (st.in_transit) {
          transit.push_back(ref);  // a move now would be refused: wait for it to land first
          continue;
        }
        to_move.emplace_back(st.id, st.home);
      }
      if (to_move.empty() && transit.empty()) break;
      if (last_look) {
        rep.timed_out = true;
        break;
      }
      for (const auto& [id, home] : to_move)
        if (auto tk = pool_.move(id, home, "restore")) tickets.push_back(*tk);
      if (tickets.empty() && transit.empty()) break;  // refused (exited meanwhile): the report says which
      const bool settled = pool_.wait_for(
          [&] {
            for (const MoveTicket& tk : tickets)
              if (!tk->done()) return false;
            for (const ThreadRef& t : transit)
              if (t->stats().in_transit && t->state() == ThreadState::Running) return false;
            return true;
          },
          left());
      if (!settled) {
        rep.timed_out = true;
        break;
      }
      last_look = left().count() == 0;
    }
    rep.moves_requested = static_cast<uint32_t>(away.size());
    std::string left_away;
    for (ThreadId id : away) {
      const ThreadRef t = pool_.find(id);
      if (!t || t->state() != ThreadState::Running) {
        ++rep.moves_skipped;
        rep.detail += fmt::format("thread {} exited before it was home; ", id.value);
        continue;
      }
      const ThreadStats st = t->stats();
      if (st.core == st.home && !st.in_transit) {
        ++rep.moves_done;
        continue;
      }
      ++rep.moves_skipped;
      rep.timed_out = true;  // still away: never reported as a complete restore
      rep.left_away.push_back(id);
      // Not in transit: its reactor never handled the move (stuck). In
      // transit: the reactor it was sent to never landed it (home, for our moves).
      const CoreId blocker = st.in_transit ? st.home : st.core;
      left_away += fmt::format("thread '{}' (id {}) {} core {} (home {}): {}; ", st.name, id.value,
                               st.in_transit ? "in transit from" : "still on", st.core.value, st.home.value,
                               describe_block(blocker));
    }
    if (!left_away.empty())
      rep.detail += fmt::format("restore gave up after {} ms, left away: {}", bound.count(), left_away);
  } catch (const std::exception& e) {
    rep.timed_out = true;
    rep.detail += std::string("restore failed: ") + e.what();
  }
  if (!rep.detail.empty() && rep.detail.ends_with("; ")) rep.detail.resize(rep.detail.size() - 2);
  return rep;
}

}  // namespace reactor::detail
