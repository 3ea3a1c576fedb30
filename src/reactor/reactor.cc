// Reactor: the per-core loop body. Design notes:
//
// run_once(now), driving thread only, never blocks:
//   1. drain the event queue (arrivals, move requests, calls);
//   2. if the pool is stopping, ask every hosted thread to exit;
//   3. reap completions (when the ring flags completions the kernel still
//      holds and the CQ is empty, enter to get them first: with I/O in
//      flight and nothing completed a pass makes no syscall);
//   4. poll each hosted thread once; retire threads that finished exiting;
//   5. submit what the threads prepared (one io_uring_enter) and reap;
//   6. close the pass: charge it to every hosted thread and to the reactor.
// The pass's last clock read is pass_end(): the driving loop uses it as the
// next pass's `now` (and sleep_if_idle as the start of its sleep), so wall
// time is charged without gaps and an idle pass hosting one thread costs one
// clock read. Hot fields are grouped by writer on separate cache lines
// (senders read mode/sleeping on every send; the counters are written on
// every pass). Moves requested while a thread polls are events, so they apply
// between polls.
//
// Load accounting tells the truth: every tick spent for a thread is charged
// to it as busy, the rest of each pass (and sleep) as idle, so every hosted
// thread's busy + idle grows by the wall time of the pass:
//   - a poll that did work is busy for the thread, an idle poll is idle (its
//     ticks are still the thread's: not overhead);
//   - completion callbacks are timed per run of consecutive CQEs of one owner
//     (one clock read per run, not per CQE) and charged busy to the owner if
//     this reactor hosts it; a completion whose owner moved away is forwarded
//     and runs (and is charged) in the owner's poll on its new reactor, only
//     the forwarding here is overhead. Callbacks read the batch's clock read
//     as their completion time (IoChannel::completion_time), so an I/O loop
//     needs no clock read per I/O;
//   - each submit/reap syscall (page-cache reads are copied inside
//     io_uring_enter) is timed (one clock read) and split among the hosted
//     threads in proportion to their SQEs that went in plus their CQEs that
//     came out; the share of CQEs owned by no hosted thread is overhead. A
//     syscall that moved nothing (no SQE, no CQE) is charged to nobody;
//   - overhead: in a pass that did work, the ticks charged to no thread
//     (events, the stop request, unattributed I/O). A pass that did nothing
//     is idle for the reactor in full, and charges no thread busy. The few
//     ns between two passes (closing one, starting the next) fall into the
//     next pass's first slice: a clock read per pass would cost more than it
//     measures.
// Per-thread cost: one extra load/store (LwThread::close_pass), no extra
// clock read; per I/O batch: two short loops over the hosted threads.
//
// Cycle-timed passes (real reactor threads whose clock is CLOCK_MONOTONIC, a
// 70-90 ns vDSO call under kvm-clock, on a CPU with an invariant cycle
// counter): a pass that polls the one hosted thread with nothing else to do
// (no event, no I/O in flight or completed, no timed poller, Poll mode) ends
// with a cycle-counter read (~25 ns) instead of a clock read. Such passes form
// a span that starts at a clock read (the previous pass's end) and ends at the
// next one, taken after kPassesPerClockRead passes or before anything else
// happens (a pass that is not cycle-timed, a sleep, a retire). The span's
// ticks (exact: two clock reads) are split between busy and idle in
// proportion to the cycles of the busy and idle passes in it, and charged
// then, to the thread and the reactor, so the counters trail by at most one
// span (a few microseconds). The cycle counter is never a clock: it only
// splits an interval the clock measured. The stall detector sees the span's
// longest busy pass. A reactor that polls idle thus spends a quarter of the
// time per pass on timing, and a message arriving is seen sooner.
//
// Sleep protocol (Interrupt mode only), no lost wake-up:
//   reactor: sleeping = true; seq_cst fence; re-check every source; wait.
//   senders: enqueue; full barrier (for a message: the ring's tail update, a
//   locked compare-and-swap on x86, a seq_cst fence elsewhere); if sleeping,
//   write the eventfd.
// Sleep ticks are counted apart from busy and idle; hosted threads are
// charged them as idle. The completions that woke the reactor run in the
// next pass, where they are charged like any other.

#include <reactor/reactor.hh>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <reactor/clock.hh>
#include <reactor/log.hh>
#include <reactor/pool.hh>

#include "env/cycles.hh"
#include "env/probes.hh"
#include "reactor/event_queue.hh"
#include "reactor/io_access.hh"
#include "reactor/waker.hh"

namespace reactor {
namespace {

// Cycle-timed passes between two clock reads: at most this many, so that the
// published busy/idle counters trail the truth by a few microseconds at most
// (64 passes of 20-60 ns) while a clock read costs 1/64 of a pass.
constexpr uint32_t kPassesPerClockRead = 64;

}  // namespace

Reactor::Reactor(Token, CoreId core, ReactorPool& pool, const Clock& clock, ReactorMode mode,
                 uint64_t stall_ticks)
    : core_(core),
      pool_(pool),
      clock_(clock),
      stall_ticks_(stall_ticks),
      events_(std::make_unique<detail::EventQueue>()),
      waker_(std::make_unique<detail::Waker>()),
      mode_(mode) {}

Reactor::~Reactor() = default;

bool Reactor::init_waiter() noexcept {
  tid_.store(static_cast<uint64_t>(::syscall(SYS_gettid)), std::memory_order_relaxed);
  return waker_->init().has_value();
}

io_uring* Reactor::io_ring() noexcept {
  if (waker_->ring() == nullptr) (void)waker_->init();
  return waker_->ring();
}

Reactor::Reaped Reactor::reap_io(bool submit, uint64_t start) noexcept {
  io_uring* ring = waker_->ring();
  if (ring == nullptr) return {false, false, start};
  uint64_t prev = start;
  uint64_t sys_ticks = 0;
  bool entered = false;
  bool any = false;
  if (submit && (io_uring_sq_ready(ring) > 0 || io_inflight_ > 0 || waker_->completions_pending())) {
    // The SQEs going in now: each hosted thread's count becomes its weight in
    // this batch (threads add SQEs only while polled or in a callback here).
    // Submitting is work, even before anything completes.
    if (io_uring_sq_ready(ring) > 0) {
      any = true;
      for (auto& t : threads_) {
        if (t->io_sqes_ != 0) REACTOR_PROBE3(io_submit, core_.value, t->id().value, t->io_sqes_);
        t->io_weight_ = t->io_sqes_;
        t->io_sqes_ = 0;
      }
    }
    // Submits what threads prepared this pass and, with DEFER_TASKRUN, runs
    // the task work that posts completions.
    io_uring_submit_and_get_events(ring);
    ++waker_->reap_enters;
    prev = clock_.now();
    sys_ticks = prev > start ? prev - start : 0;
    entered = true;
  }
  uint32_t owned = 0;
  uint32_t unowned = 0;
  io_uring_cqe* cqe = nullptr;
  unsigned head = 0;
  unsigned seen = 0;
  // The batch's clock read (after the syscall, else the pass's last one):
  // completion callbacks read it as their completion time (IoAccess::reap_time).
  waker_->reap_time = prev;
  // Callbacks are timed per run of consecutive CQEs of one owner (one clock
  // read per run, not per CQE: a clock read costs 20-90 ns, as much as a
  // small callback); the run is charged to its owner, or is overhead.
  LwThread* run_thread = nullptr;  // the run's hosted owner, nullptr: owned by no hosted thread
  uint64_t run_owner = 0;          // its id (0: unowned)
  uint32_t run_count = 0;
  auto close_run = [&]() noexcept {
    const uint64_t t = clock_.now();
    const uint64_t spent = t > prev ? t - prev : 0;
    prev = t;
    REACTOR_PROBE3(io_complete, core_.value, run_owner, run_count);
    if (run_thread != nullptr) {
      current_thread_.store(0, std::memory_order_relaxed);
      run_thread->pass_busy_ += spent;
      attributed_ += spent;
      run_thread->io_weight_ += run_count;
      owned += run_count;
      if (spent > stall_ticks_) note_stall(*run_thread, "io_completion", spent);
    } else {
      unowned += run_count;
    }
    run_count = 0;
  };
  io_uring_for_each_cqe(ring, head, cqe) {
    ++seen;
    const uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (tag == detail::kWakeTag) {
      waker_->wake_read_done();
      continue;
    }
    any = true;
    if (io_inflight_ > 0 && !(cqe->flags & IORING_CQE_F_MORE)) --io_inflight_;
    auto* c = reinterpret_cast<detail::IoCompletion*>(static_cast<uintptr_t>(tag));
    // Read before the callback: it may free the request. A hosted owner stays
    // alive through the whole batch (threads_ holds it; it cannot move or
    // retire while completions run).
    LwThread* owner = c->owner;
    if (owner != nullptr && !detail::IoAccess::hosted_by(*owner, *this)) owner = nullptr;
    const uint64_t owner_id = owner != nullptr ? owner->id().value : 0;
    if (run_count != 0 && owner_id != run_owner) close_run();
    if (run_count == 0) {
      run_thread = owner;
      run_owner = owner_id;
      if (owner != nullptr) current_thread_.store(owner_id, std::memory_order_relaxed);
    }
    ++run_count;
    c->on_complete(*this, cqe->res, cqe->flags);
  }
  if (run_count != 0) close_run();
  io_uring_cq_advance(ring, seen);
  if (entered || owned > 0) charge_io_batch(sys_ticks, unowned);
  return {any, entered || owned + unowned > 0, prev};
}

void Reactor::charge_io_batch(uint64_t ticks, uint32_t unowned) noexcept {
  uint64_t total = unowned;
  for (auto& t : threads_) total += t->io_weight_;
  if (total == 0) return;  // nothing went in or came out: charged to nobody
  for (auto& t : threads_) {
    const uint32_t w = t->io_weight_;
    if (w == 0) continue;
    t->io_weight_ = 0;
    // ticks * w cannot overflow for any real batch; divide first if it would.
    const uint64_t share = ticks <= UINT64_MAX / w ? ticks * w / total : ticks / total * w;
    t->pass_busy_ += share;
    attributed_ += share;
  }
}


void Reactor::post(std::unique_ptr<detail::ReactorEvent> ev) noexcept {
  events_->push(ev.release());
  std::atomic_thread_fence(std::memory_order_seq_cst);
  wake();
}

void Reactor::wake_sleeping() noexcept { waker_->wake(); }

void Reactor::host(std::shared_ptr<LwThread> t, uint64_t now) noexcept {
  t->core_.store(core_.value, std::memory_order_release);
  t->reactor_.store(this, std::memory_order_release);
  t->placed_at_.store(now, std::memory_order_relaxed);
  t->in_transit_.store(false, std::memory_order_release);
  threads_.push_back(std::move(t));
  thread_count_.store(static_cast<uint32_t>(threads_.size()), std::memory_order_relaxed);
}

void Reactor::handle(detail::ReactorEvent& ev, uint64_t now) noexcept {
  using K = detail::ReactorEvent::Kind;
  switch (ev.kind) {
    case K::Arrive: {
      host(std::move(ev.thread), now);
      if (ev.ack) ev.ack->result.store(MoveResult::Landed, std::memory_order_release);
      break;
    }
    case K::Move: {
      auto skip = [&](std::string why) {
        ev.ack->skip_reason = std::move(why);
        ev.ack->result.store(MoveResult::Skipped, std::memory_order_release);
      };
      auto it = std::find(threads_.begin(), threads_.end(), ev.thread);
      if (it == threads_.end()) {
        skip(fmt::format("thread {} is not on core {} (in transit or exited)", ev.thread->id().value, core_.value));
        break;
      }
      if ((*it)->state() != ThreadState::Running) {
        skip(fmt::format("thread {} is exiting", ev.thread->id().value));
        break;
      }
      if (ev.to == core_) {
        ev.ack->result.store(MoveResult::Landed, std::memory_order_release);
        break;
      }
      Reactor* dst = pool_.reactor(ev.to);
      if (dst == nullptr || pool_.isolated().test(core_) || pool_.isolated().test(ev.to)) {
        skip(fmt::format("move {} -> {} touches an isolated core", core_.value, ev.to.value));
        break;
      }
      std::shared_ptr<LwThread> t = std::move(*it);
      threads_.erase(it);
      thread_count_.store(static_cast<uint32_t>(threads_.size()), std::memory_order_relaxed);
      t->in_transit_.store(true, std::memory_order_release);
      REACTOR_PROBE4(thread_move, t->id().value, core_.value, ev.to.value, ev.cause);
      auto arrive = std::make_unique<detail::ReactorEvent>(K::Arrive);
      arrive->thread = std::move(t);
      arrive->ack = std::move(ev.ack);
      dst->post(std::move(arrive));
      break;
    }
    case K::Call: {
      if (ev.call) {
        try {
          ev.call();
        } catch (const std::exception& e) {
          log(LogLevel::Error, "reactor {}: runtime call threw: {}", core_.value, e.what());
        } catch (...) {
          log(LogLevel::Error, "reactor {}: runtime call threw", core_.value);
        }
      }
      break;
    }
  }
}

void Reactor::retire(size_t index) noexcept {
  std::shared_ptr<LwThread> t = std::move(threads_[index]);
  threads_.erase(threads_.begin() + static_cast<std::ptrdiff_t>(index));
  thread_count_.store(static_cast<uint32_t>(threads_.size()), std::memory_order_relaxed);
  t->state_.store(ThreadState::Exited, std::memory_order_release);
  if (t->on_exit_) {
    try {
      t->on_exit_();
    } catch (const std::exception& e) {
      log(LogLevel::Error, "thread '{}' (id {}): on_exit threw: {}", t->name(), t->id().value, e.what());
    } catch (...) {
      log(LogLevel::Error, "thread '{}' (id {}): on_exit threw", t->name(), t->id().value);
    }
    t->on_exit_ = nullptr;
  }
  pool_.on_thread_exited(t->id());
}

void Reactor::note_stall(const LwThread& t, const char* what, uint64_t ticks) noexcept {
  stalls_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t us = clock_.ticks_to_us(ticks);
  REACTOR_PROBE4(stall, core_.value, t.id().value, what, us);
  uint64_t now = clock_.now();
  // At most one line per second per reactor.
  if (last_stall_log_ != 0 && now - last_stall_log_ < clock_.tick_rate()) return;
  last_stall_log_ = now;
  log(LogLevel::Warn, "reactor {}: {} of thread '{}' (id {}) ran for {} us (stall threshold {} us)", core_.value,
      std::string_view(what) == "poll" ? "a poll" : "a batch of I/O completions", t.name(), t.id().value, us,
      clock_.ticks_to_us(stall_ticks_));
}

uint64_t Reactor::close_span() noexcept {
  detail::Waker::CycleSpan& s = waker_->span;
  const uint64_t t1 = clock_.now();
  const uint64_t ticks = t1 > s.start ? t1 - s.start : 0;
  const uint64_t total = s.busy + s.idle;
  // The two clock reads fix the span's ticks; the cycle counts only split them.
  __extension__ using u128 = unsigned __int128;
  const uint64_t busy = total == 0 ? 0 : static_cast<uint64_t>(static_cast<u128>(ticks) * s.busy / total);
  LwThread& t = *threads_.front();
  t.pass_busy_ += busy;
  if (total != 0 && s.longest != 0) {
    const uint64_t longest = static_cast<uint64_t>(static_cast<u128>(ticks) * s.longest / total);
    if (longest > stall_ticks_) note_stall(t, "poll", longest);
  }
  t.close_pass(ticks);
  if (busy != 0) busy_.store(busy_.load(std::memory_order_relaxed) + busy, std::memory_order_relaxed);
  if (ticks != busy) idle_.store(idle_.load(std::memory_order_relaxed) + (ticks - busy), std::memory_order_relaxed);
  s.passes = 0;
  pass_end_ = t1;
  return t1;
}

bool Reactor::run_cycle_timed(uint64_t now) noexcept {
  detail::Waker::CycleSpan& s = waker_->span;
  if (s.passes == 0) {
    // `now` is the previous pass's last clock read: the span starts there.
    s = detail::Waker::CycleSpan{};
    s.start = now;
    s.last = detail::cycles();
  }
  LwThread& t = *threads_.front();
  current_thread_.store(t.id().value, std::memory_order_relaxed);
  const bool busy = t.poll(s.start);
  current_thread_.store(0, std::memory_order_relaxed);
  const uint64_t c = detail::cycles();
  const uint64_t spent = c > s.last ? c - s.last : 0;
  s.last = c;
  if (busy) {
    s.busy += spent;
    s.longest = std::max(s.longest, spent);
  } else {
    s.idle += spent;
  }
  ++s.passes;
  if (t.ready_to_retire()) {
    (void)close_span();
    retire(0);
    return true;
  }
  if (s.passes >= kPassesPerClockRead) (void)close_span();
  return busy;
}

bool Reactor::run_once(uint64_t now) noexcept {
  loops_.store(loops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (waker_->cycle_passes) {
    // Cycle-timed passes: one hosted thread polled with nothing else to do
    // (no event, no I/O, no timed poller, polling mode).
    if (threads_.size() == 1 && io_inflight_ == 0 && events_->empty() && mode() == ReactorMode::Poll &&
        threads_.front()->next_deadline_ == UINT64_MAX && !waker_->has_cqes() && !waker_->completions_pending() &&
        !pool_.stopping_.load(std::memory_order_relaxed))
      return run_cycle_timed(now);
    // Anything else closes the open span first: this pass starts at its read.
    if (waker_->span.passes != 0) now = close_span();
  }
  attributed_ = 0;
  bool work = false;
  while (detail::ReactorEvent* ev = events_->pop()) {
    std::unique_ptr<detail::ReactorEvent> owned(ev);
    handle(*owned, now);
    work = true;
  }
  if (pool_.stopping_.load(std::memory_order_acquire)) {
    for (auto& t : threads_) {
      if (t->state() == ThreadState::Running) {
        CurrentThreadScope scope(t.get());
        t->exit();
      }
    }
  }
  uint64_t t0 = now;
  bool clocked = false;  // t0 is a clock read of this pass
  if (work) {
    // Events ran: what follows starts after them (they are overhead).
    t0 = clock_.now();
    clocked = true;
  }
  // Completions the kernel holds for us (deferred task work): the ring flags
  // them, so a pass with I/O in flight and nothing completed costs no
  // syscall. A ring that cannot flag them (old kernels) is entered whenever
  // I/O is in flight, as before.
  const bool pending = waker_->reports_pending() ? waker_->completions_pending() : io_inflight_ > 0;
  if (const bool cqes = waker_->has_cqes(); pending || cqes) {
    // Enter the kernel (with DEFER_TASKRUN it runs the task work that posts
    // completions) only when no completion is waiting: after a wake-up the
    // CQ already holds what woke us, and the submit at the end of this pass
    // collects whatever arrived since (one io_uring_enter less per wake).
    const Reaped r = reap_io(pending && !cqes, t0);
    work |= r.any;
    t0 = r.end;
    clocked |= r.clocked;
  }
  for (size_t i = 0; i < threads_.size();) {
    LwThread& t = *threads_[i];
    current_thread_.store(t.id().value, std::memory_order_relaxed);
    bool busy = t.poll(t0);
    uint64_t t1 = clock_.now();
    uint64_t spent = t1 >= t0 ? t1 - t0 : 0;
    attributed_ += spent;
    if (busy) t.pass_busy_ += spent;
    if (spent > stall_ticks_) note_stall(t, "poll", spent);
    t0 = t1;
    clocked = true;
    work |= busy;
    if (t.ready_to_retire()) {
      // It leaves before the pass closes: charge it what it has now.
      t.close_pass(t.pass_busy_);
      retire(i);
      work = true;
      continue;
    }
    ++i;
  }
  if (clocked) current_thread_.store(0, std::memory_order_relaxed);
  // Submit what the threads prepared during this pass.
  if (io_ring_has_sqes()) {
    const Reaped r = reap_io(true, t0);
    work |= r.any;
    t0 = r.end;
    clocked |= r.clocked;
  }
  // The pass ends at its last clock read (a poll or a completion).
  const uint64_t end = clocked ? t0 : clock_.now();
  pass_end_ = end;
  close_pass(end >= now ? end - now : 0, work);
  return work;
}

void Reactor::close_pass(uint64_t ticks, bool work) noexcept {
  for (auto& t : threads_) t->close_pass(ticks);
  if (work) {
    busy_.store(busy_.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
    // Most passes hosting threads charge every tick to them: no write then.
    if (ticks > attributed_)
      overhead_.store(overhead_.load(std::memory_order_relaxed) + (ticks - attributed_), std::memory_order_relaxed);
  } else {
    idle_.store(idle_.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
  }
}

bool Reactor::io_ring_has_sqes() noexcept {
  io_uring* ring = waker_->ring();
  return ring != nullptr && io_uring_sq_ready(ring) > 0;
}

bool Reactor::has_work(uint64_t now) const noexcept {
  if (!events_->empty()) return true;
  if (waker_->has_cqes()) return true;
  // Completions the kernel holds until we enter (deferred task work): a pass
  // collects and charges them; sleeping would only enter to find them there.
  if (waker_->completions_pending()) return true;
  // Completion callbacks of the last pass prepared SQEs: submit them in a
  // pass (charged to their threads), not inside the sleep's io_uring_enter
  // (where page-cache reads would complete and be counted as sleep).
  if (waker_->has_sqes()) return true;
  if (pool_.stopping_.load(std::memory_order_acquire) && !threads_.empty()) return true;
  for (const auto& t : threads_)
    if (t->has_work(now)) return true;
  return false;
}

uint64_t Reactor::next_deadline() const noexcept {
  uint64_t d = UINT64_MAX;
  for (const auto& t : threads_) d = std::min(d, t->next_deadline());
  return d;
}

bool Reactor::sleep_if_idle(uint64_t max_sleep_ns) noexcept {
  if (mode() != ReactorMode::Interrupt) return false;
  // A span of cycle-timed passes (the mode just changed) ends before the sleep starts.
  if (waker_->span.passes != 0) (void)close_span();
  const uint64_t now = clock_.now();
  if (has_work(now)) return false;
  // Sleep starts where the last pass ended (the checks above included), so
  // passes and sleeps tile wall time; a reactor that never ran a pass starts
  // at `now`.
  const uint64_t from = pass_end_ != 0 && pass_end_ <= now ? pass_end_ : now;
  sleep_from_.store(from, std::memory_order_relaxed);
  sleeping_.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (has_work(now) || mode() != ReactorMode::Interrupt || pool_.stopped_.load(std::memory_order_acquire)) {
    sleeping_.store(false, std::memory_order_relaxed);
    sleep_from_.store(0, std::memory_order_relaxed);
    return false;
  }
  uint64_t timeout_ns = max_sleep_ns;
  uint64_t deadline = next_deadline();
  if (deadline != UINT64_MAX) {
    uint64_t until = deadline > now ? clock_.ticks_to_ns(deadline - now) : 0;
    timeout_ns = std::min(timeout_ns, until);
  }
  REACTOR_PROBE2(reactor_sleep, core_.value, timeout_ns);
  if (timeout_ns > 0) waker_->wait(timeout_ns);
  sleeping_.store(false, std::memory_order_relaxed);
  // The completions that woke us are reaped (and charged) by the next pass.
  const uint64_t after = clock_.now();
  const uint64_t slept = after > from ? after - from : 0;
  // Readers add the sleep in progress themselves (stats().sleeping_since):
  // end it before the counters grow by it, and order the two (the release
  // fence pairs with an acquire after a reader's counter loads), so that a
  // reader that sees the grown counters also sees the sleep ended.
  sleep_from_.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  pass_end_ = after;
  sleep_.store(sleep_.load(std::memory_order_relaxed) + slept, std::memory_order_relaxed);
  // The hosted threads were idle while the reactor slept: without this a
  // thread with only a timed poller would look 100 % busy on a sleeping core.
  for (auto& t : threads_) t->account(false, slept);
  wakeups_.store(wakeups_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  REACTOR_PROBE2(reactor_wake, core_.value, clock_.ticks_to_ns(slept));
  return true;
}

ReactorStats Reactor::stats() const noexcept {
  ReactorStats s;
  s.core = core_;
  s.busy = busy_.load(std::memory_order_relaxed);
  s.idle = idle_.load(std::memory_order_relaxed);
  s.sleep = sleep_.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);  // see sleep_if_idle
  s.sleeping_since = sleep_from_.load(std::memory_order_relaxed);
  s.overhead = overhead_.load(std::memory_order_relaxed);
  s.loops = loops_.load(std::memory_order_relaxed);
  s.wakeups = wakeups_.load(std::memory_order_relaxed);
  s.stalls = stalls_.load(std::memory_order_relaxed);
  s.mode = mode();
  s.sleeping = sleeping_.load(std::memory_order_relaxed);
  s.thread_count = thread_count_.load(std::memory_order_relaxed);
  s.tid = tid_.load(std::memory_order_relaxed);
  s.current_thread = current_thread_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace reactor
