// Reactor: the per-core loop body. Design notes:
//
// run_once(now), driving thread only, never blocks:
//   1. drain the event queue (arrivals, move requests, calls);
//   2. if the pool is stopping, ask every hosted thread to exit;
//   3. poll each hosted thread once, charging the ticks of each pass to the
//      thread as busy or idle; retire threads that finished exiting;
//   4. charge the whole pass to the reactor as busy (anything did work) or idle.
// The pass's last clock read is pass_end(): the driving loop uses it as the
// next pass's `now` unless the reactor slept, so an idle pass hosting one
// thread costs one clock read. Hot fields are grouped by writer on separate
// cache lines (senders read mode/sleeping on every send; the counters are
// written on every pass).
// Moves requested while a thread polls are events, so they apply between polls.
//
// Sleep protocol (Interrupt mode only), no lost wake-up:
//   reactor: sleeping = true; seq_cst fence; re-check every source; wait.
//   senders: enqueue; seq_cst fence; if sleeping, write the eventfd.
// Sleep ticks are counted apart from busy and idle.

#include <reactor/reactor.hh>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include <reactor/clock.hh>
#include <reactor/log.hh>
#include <reactor/pool.hh>

#include "reactor/event_queue.hh"
#include "reactor/io_access.hh"
#include "reactor/waker.hh"

namespace reactor {

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

bool Reactor::reap_io(bool submit) noexcept {
  io_uring* ring = waker_->ring();
  if (ring == nullptr) return false;
  if (submit) {
    // Submits what threads prepared this pass and, with DEFER_TASKRUN, runs
    // the task work that posts completions.
    if (io_uring_sq_ready(ring) > 0 || io_inflight_ > 0) io_uring_submit_and_get_events(ring);
  }
  bool any = false;
  io_uring_cqe* cqe = nullptr;
  unsigned head = 0;
  unsigned seen = 0;
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
    c->on_complete(*this, cqe->res, cqe->flags);
  }
  io_uring_cq_advance(ring, seen);
  return any;
}

unsigned detail::IoAccess::ring_flags(Reactor& r) noexcept { return r.waker_->ring_flags(); }

void Reactor::post(std::unique_ptr<detail::ReactorEvent> ev) noexcept {
  events_->push(ev.release());
  std::atomic_thread_fence(std::memory_order_seq_cst);
  wake();
}

void Reactor::wake() noexcept {
  if (sleeping_.load(std::memory_order_acquire)) waker_->wake();
}

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

void Reactor::note_stall(const std::string& what, uint64_t ticks) noexcept {
  stalls_.fetch_add(1, std::memory_order_relaxed);
  uint64_t now = clock_.now();
  // At most one line per second per reactor.
  if (last_stall_log_ != 0 && now - last_stall_log_ < clock_.tick_rate()) return;
  last_stall_log_ = now;
  log(LogLevel::Warn, "reactor {}: {} ran for {} us (stall threshold {} us)", core_.value, what,
      clock_.ticks_to_us(ticks), clock_.ticks_to_us(stall_ticks_));
}

bool Reactor::run_once(uint64_t now) noexcept {
  loops_.store(loops_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
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
  if (io_inflight_ > 0) work |= reap_io(true);
  uint64_t t0 = now;
  for (size_t i = 0; i < threads_.size();) {
    LwThread& t = *threads_[i];
    current_thread_.store(t.id().value, std::memory_order_relaxed);
    bool busy = t.poll(t0);
    uint64_t t1 = clock_.now();
    uint64_t spent = t1 >= t0 ? t1 - t0 : 0;
    t.account(busy, spent);
    if (spent > stall_ticks_) note_stall(fmt::format("thread '{}' (id {})", t.name(), t.id().value), spent);
    t0 = t1;
    work |= busy;
    if (t.ready_to_retire()) {
      retire(i);
      work = true;
      continue;
    }
    ++i;
  }
  if (!threads_.empty()) current_thread_.store(0, std::memory_order_relaxed);
  // Submit what the threads prepared during this pass.
  const bool submit = io_ring_has_sqes();
  if (submit) work |= reap_io(true);
  // The last thread's clock read ends the pass, unless a submit came after it.
  uint64_t end = threads_.empty() || submit ? clock_.now() : t0;
  pass_end_ = end;
  uint64_t spent = end >= now ? end - now : 0;
  auto& c = work ? busy_ : idle_;
  c.store(c.load(std::memory_order_relaxed) + spent, std::memory_order_relaxed);
  return work;
}

bool Reactor::io_ring_has_sqes() noexcept {
  io_uring* ring = waker_->ring();
  return ring != nullptr && io_uring_sq_ready(ring) > 0;
}

bool Reactor::has_work(uint64_t now) const noexcept {
  if (!events_->empty()) return true;
  if (waker_->has_cqes()) return true;
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
  uint64_t now = clock_.now();
  if (has_work(now)) return false;
  sleeping_.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (has_work(now) || mode() != ReactorMode::Interrupt || pool_.stopped_.load(std::memory_order_acquire)) {
    sleeping_.store(false, std::memory_order_relaxed);
    return false;
  }
  uint64_t timeout_ns = max_sleep_ns;
  uint64_t deadline = next_deadline();
  if (deadline != UINT64_MAX) {
    uint64_t until = deadline > now ? clock_.ticks_to_ns(deadline - now) : 0;
    timeout_ns = std::min(timeout_ns, until);
  }
  if (timeout_ns > 0) waker_->wait(timeout_ns);
  sleeping_.store(false, std::memory_order_relaxed);
  reap_io(false);  // completions that woke us run now, before the next pass
  uint64_t after = clock_.now();
  const uint64_t slept = after > now ? after - now : 0;
  sleep_.store(sleep_.load(std::memory_order_relaxed) + slept, std::memory_order_relaxed);
  // The hosted threads were idle while the reactor slept: without this a
  // thread with only a timed poller would look 100 % busy on a sleeping core.
  for (auto& t : threads_) t->account(false, slept);
  wakeups_.store(wakeups_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

ReactorStats Reactor::stats() const noexcept {
  ReactorStats s;
  s.core = core_;
  s.busy = busy_.load(std::memory_order_relaxed);
  s.idle = idle_.load(std::memory_order_relaxed);
  s.sleep = sleep_.load(std::memory_order_relaxed);
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
