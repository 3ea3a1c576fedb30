// LwThread: a passive context. Design notes:
//
// Ownership: a shared_ptr held by its reactor (while hosted or in transit, via
// the event carrying it), by the pool registry (until it exits) and by every
// ThreadRef. The ring, the local queue and the pollers die with the last
// reference.
//
// Sending from another reactor or any other OS thread (the ring path),
// exactly once and never lost:
//   1. write this thread's address into the sending OS thread's own slot
//      (src/thread/send_guard.hh), then read state_: not Running -> clear the
//      slot, fail with Errc::exited.
//   2. enqueue one 16-byte slot into the rte_ring (full -> Errc::full:
//      nothing queued). A slot is {run, payload} for an inline message or
//      {0, Message*} for an object (<reactor/detail/message.hh>).
//   3. clear the slot (release); wake the hosting reactor only if it sleeps.
// No read-modify-write on a line shared with other senders or the receiver:
// the slot is a plain store to a line only its OS thread writes, and the
// barrier that makes step 1 safe is paid by the retirer (once per exit), not
// by every send.
// A ring already full before step 1 (ring_full: the check the enqueue makes)
// fails at once, without step 1: a producer retrying on Errc::full (as
// documented) then costs two loads and a copy of full_error_ (built at
// spawn) per retry, not a format and its allocations. Errc::exited still
// comes first: a full ring of an exiting thread reports exited.
//
// Sending from the reactor hosting the thread (the local path): a message
// sent by code running on that reactor inside some LwThread (the thread to
// itself, or another thread hosted there) goes into the thread's local queue
// (no atomic read-modify-write, no fence, no wake: the sender is the
// reactor) when all of these hold, else it takes the ring path:
//   - the destination is hosted by the sender's reactor and not in transit
//     (see post_local for why reading in_transit_ then reactor_ is exact);
//   - it is Running (exit() runs on that same OS thread);
//   - its ring is idle: nothing queued and no enqueue in progress (the
//     producers' head equals the consumer's tail).
// Order: every message in the local queue precedes every message in the ring.
// A local send finds the ring idle, so whatever reaches the ring later was
// sent later; the poll runs the local queue first and, between ring bursts,
// runs what the burst's messages queued locally before dequeuing again. So
// each sender's messages run in the order sent whichever path each took
// (including a sender that moved between reactors), and a message caused by
// another (sent after it ran) never overtakes it. The local queue belongs to
// the thread: it travels with it on a move and runs, first, on the reactor it
// lands on; messages sent meanwhile wait in the ring behind it.
//
// Retiring (hosting reactor) requires state_ == Exiting, then (after the
// retirer's barrier) no OS thread's slot naming this thread, no forwarded
// I/O completion being pushed (senders_ == 0), an empty local queue and an
// empty ring, checked in that order: a sender that read Running either shows
// in its slot or its message shows in the ring, so nothing is dropped.
//
// Moving: the ring travels with the thread, so messages sent while it is in
// transit wait in the ring and run after it lands: exactly once, per-sender
// FIFO (single ring, MP enqueue preserves each producer's order).
//
// Polling (hosting reactor only): up to kMaxMessagesPerPoll messages, then each
// active poller, then timed pollers whose deadline passed. The reactor reads
// the clock once per thread per pass (never per message or per poller).
// Exceptions stop at this boundary. Messages still queued when the thread
// object dies (they were never accepted by a running thread) are destroyed
// without running. Per poller call: one indirect call (fn + the callable,
// inline in the slot for small callables), one store naming the running
// poller, the run and busy counts in the slot (plain load + store: one
// writer); a pause or unregister from inside the call changes the state
// itself, nothing is compared or exchanged afterwards.
//
// Load (hosting reactor only, see reactor.cc): during a pass the reactor adds
// what it spends for the thread (a poll that did work, its completion
// callbacks, its share of an io_uring batch) to pass_busy_; close_pass() then
// moves that to busy_ and the rest of the pass to idle_, so busy_ + idle_
// grows by the wall time the thread was hosted. busy_/idle_ have one writer
// (plain load + store); readers see published values.

#include <reactor/clock.hh>
#include <reactor/log.hh>
#include <reactor/reactor.hh>
#include <reactor/thread.hh>

#include <algorithm>
#include <exception>
#include <new>

#include "reactor/event_queue.hh"
#include "reactor/io_access.hh"
#include "thread/poller_slot.hh"
#include "thread/ring.hh"
#include "thread/send_guard.hh"

namespace reactor {
namespace {

// Messages run per poll pass: large enough to amortise the pass overhead at
// high message rates, small enough that pollers are not starved by a storm.
constexpr size_t kMaxMessagesPerPoll = 128;
constexpr unsigned kDequeueBurst = 32;

// initial-exec: a plain TLS load, no __tls_get_addr call, twice per poll pass.
__attribute__((tls_model("initial-exec"))) thread_local LwThread* t_current = nullptr;

}  // namespace

std::string_view to_string(PollerState s) noexcept {
  switch (s) {
    case PollerState::Waiting: return "waiting";
    case PollerState::Running: return "running";
    case PollerState::Paused: return "paused";
    case PollerState::Unregistered: return "unregistered";
  }
  return "unknown";
}

std::string_view to_string(ThreadState s) noexcept {
  switch (s) {
    case ThreadState::Running: return "running";
    case ThreadState::Exiting: return "exiting";
    case ThreadState::Exited: return "exited";
  }
  return "unknown";
}

LwThread* current_thread() noexcept { return t_current; }
CurrentThreadScope::CurrentThreadScope(LwThread* t) noexcept : prev_(t_current) { t_current = t; }
CurrentThreadScope::~CurrentThreadScope() { t_current = prev_; }

LwThread::LwThread(Token, ThreadId id, std::string name, CpuSet cpumask, CoreId home, uint32_t ring_size,
                   Closure on_exit, const Clock& clock)
    : id_(id),
      name_(std::move(name)),
      cpumask_(cpumask),
      clock_(clock),
      home_(home.value),
      core_(home.value),
      full_error_(fmt::format("thread '{}' (id {}): message ring full ({} slots); retry later", name_, id.value,
                              ring_size)),
      on_exit_(std::move(on_exit)),
      internal_(std::make_unique<detail::EventQueue>()),
      error_log_(clock.tick_rate()) {
  auto name_buf = fmt::format("t{}", id.value);
  auto r = detail::create_ring(name_buf.c_str(), ring_size, sizeof(detail::Slot), &ring_mem_);
  REACTOR_ASSERT(r.has_value());  // ring_size was validated by the pool
  ring_ = *r;
  local_max_ = ring_size - 1;  // as much as the ring holds
}

LwThread::~LwThread() {
  // Messages left in the ring were never accepted for delivery by a live
  // thread (sends fail once exiting); free them without running them.
  detail::Slot slots[kDequeueBurst];
  if (ring_ != nullptr) {
    while (unsigned n = detail::ring_dequeue_burst(ring_, slots, kDequeueBurst)) {
      for (unsigned i = 0; i < n; ++i)
        if (slots[i].w0 == 0) reinterpret_cast<detail::Message*>(slots[i].w1)->destroy();
    }
    detail::free_ring(ring_mem_);
  }
  for (; local_head_ != local_tail_; ++local_head_) {
    const LocalSlot& m = local_[local_head_ & (local_cap_ - 1)];
    if (m.w0 == 0) reinterpret_cast<detail::Message*>(m.w1)->destroy();
  }
}

Result<PollerId> LwThread::register_poller(std::string name, PollerFn fn, std::chrono::microseconds period) {
  if (name.size() > kMaxNameBytes)
    return make_error(Errc::invalid_argument,
                      fmt::format("poller name of {} bytes: at most {} bytes", name.size(), kMaxNameBytes));
  if (!fn) return make_error(Errc::invalid_argument, fmt::format("poller '{}': empty function", name));
  if (period.count() < 0)
    return make_error(Errc::invalid_argument, fmt::format("poller '{}': negative period", name));
  if (state() != ThreadState::Running)
    return make_error(Errc::exited,
                      fmt::format("thread '{}' (id {}) is exiting: no new pollers", name_, id_.value));
  auto slot = std::make_unique<detail::PollerSlot>();
  slot->name = std::move(name);
  slot->fn = std::move(fn);
  slot->period_us = static_cast<uint64_t>(period.count());
  slot->period_ticks = slot->period_us == 0 ? 0 : std::max<uint64_t>(1, clock_.us_to_ticks(slot->period_us));
  std::lock_guard lk(pollers_mu_);
  slot->id = PollerId{next_poller_id_++};
  PollerId id = slot->id;
  if (slot->period_ticks == 0) {
    active_.push_back(std::move(slot));
    ++running_active_;
  } else {
    slot->next_run = clock_.now() + slot->period_ticks;
    next_deadline_ = std::min(next_deadline_, slot->next_run);
    timed_.push_back(std::move(slot));
  }
  return id;
}

namespace {
detail::PollerSlot* find_slot(std::vector<std::unique_ptr<detail::PollerSlot>>& v, PollerId id) {
  for (auto& s : v)
    if (s->id == id && s->state.load(std::memory_order_relaxed) != PollerState::Unregistered) return s.get();
  return nullptr;
}
}  // namespace

Result<void> LwThread::pause_poller(PollerId id) {
  std::lock_guard lk(pollers_mu_);
  detail::PollerSlot* s = find_slot(active_, id);
  bool active = s != nullptr;
  if (s == nullptr) s = find_slot(timed_, id);
  if (s == nullptr) return make_error(Errc::not_found, fmt::format("thread '{}': no poller {}", name_, id.value));
  if (s->state.load(std::memory_order_relaxed) == PollerState::Paused) return {};
  s->state.store(PollerState::Paused, std::memory_order_relaxed);
  ++paused_count_;
  if (active) --running_active_;
  return {};
}

Result<void> LwThread::resume_poller(PollerId id) {
  std::lock_guard lk(pollers_mu_);
  detail::PollerSlot* s = find_slot(active_, id);
  bool active = s != nullptr;
  if (s == nullptr) s = find_slot(timed_, id);
  if (s == nullptr) return make_error(Errc::not_found, fmt::format("thread '{}': no poller {}", name_, id.value));
  if (s->state.load(std::memory_order_relaxed) != PollerState::Paused) return {};
  s->state.store(PollerState::Waiting, std::memory_order_relaxed);
  --paused_count_;
  if (active) {
    ++running_active_;
  } else {
    s->next_run = clock_.now() + s->period_ticks;
    next_deadline_ = std::min(next_deadline_, s->next_run);
  }
  return {};
}

Result<void> LwThread::unregister_poller(PollerId id) {
  std::lock_guard lk(pollers_mu_);
  detail::PollerSlot* s = find_slot(active_, id);
  bool active = s != nullptr;
  if (s == nullptr) s = find_slot(timed_, id);
  if (s == nullptr) return make_error(Errc::not_found, fmt::format("thread '{}': no poller {}", name_, id.value));
  PollerState prev = s->state.exchange(PollerState::Unregistered, std::memory_order_relaxed);
  if (prev == PollerState::Paused) --paused_count_;
  else if (active) --running_active_;
  // The slot (and its function, which may be running right now) is freed only
  // at the end of the poll pass, in compact_pollers().
  pollers_dirty_ = true;
  return {};
}

void LwThread::exit() noexcept {
  ThreadState expected = ThreadState::Running;
  if (!state_.compare_exchange_strong(expected, ThreadState::Exiting, std::memory_order_seq_cst)) return;
  std::lock_guard lk(pollers_mu_);
  for (auto* v : {&active_, &timed_})
    for (auto& s : *v) s->state.store(PollerState::Unregistered, std::memory_order_relaxed);
  running_active_ = 0;
  paused_count_ = 0;
  pollers_dirty_ = true;
  next_deadline_ = UINT64_MAX;
}

ThreadStats LwThread::load_stats() const noexcept {
  ThreadStats s;
  s.id = id_;
  s.cpumask = cpumask_;
  s.home = home_core();
  s.core = current_core();
  s.state = state();
  s.in_transit = in_transit_.load(std::memory_order_acquire);
  s.busy = busy_.load(std::memory_order_relaxed);
  s.idle = idle_.load(std::memory_order_relaxed);
  s.placed_at = placed_at_.load(std::memory_order_relaxed);
  return s;
}

ThreadStats LwThread::stats() const {
  ThreadStats s = load_stats();
  s.name = name_;
  s.messages = messages_.load(std::memory_order_relaxed);
  s.exceptions = exceptions_.load(std::memory_order_relaxed);
  std::lock_guard lk(pollers_mu_);
  for (auto& p : active_) {
    auto st = p->state.load(std::memory_order_relaxed);
    if (st == PollerState::Unregistered) continue;
    if (st == PollerState::Paused) ++s.paused_pollers; else ++s.active_pollers;
  }
  for (auto& p : timed_) {
    auto st = p->state.load(std::memory_order_relaxed);
    if (st == PollerState::Unregistered) continue;
    if (st == PollerState::Paused) ++s.paused_pollers; else ++s.timed_pollers;
  }
  return s;
}

std::vector<PollerStats> LwThread::pollers() const {
  std::vector<PollerStats> out;
  std::lock_guard lk(pollers_mu_);
  out.reserve(active_.size() + timed_.size());
  for (auto* v : {&active_, &timed_}) {
    for (auto& p : *v) {
      // Unregistered is gone for callers at once, even while its slot waits
      // for the end of the poll pass to be freed (as in stats()).
      if (p->state.load(std::memory_order_relaxed) == PollerState::Unregistered) continue;
      PollerStats ps;
      ps.name = p->name;
      ps.id = p->id;
      ps.state = p->state.load(std::memory_order_relaxed);
      if (ps.state == PollerState::Waiting && running_.load(std::memory_order_relaxed) == p.get())
        ps.state = PollerState::Running;
      ps.run_count = p->run_count.load(std::memory_order_relaxed);
      ps.busy_count = p->busy_count.load(std::memory_order_relaxed);
      ps.period_ticks = p->period_ticks;
      ps.period_us = p->period_us;
      out.push_back(std::move(ps));
    }
  }
  return out;
}

std::string LwThread::running_poller() const {
  // The slot cannot be freed while we hold the mutex (compact_pollers takes it).
  std::lock_guard lk(pollers_mu_);
  const detail::PollerSlot* p = running_.load(std::memory_order_acquire);
  return p != nullptr ? p->name : std::string{};
}

void LwThread::account(bool busy, uint64_t ticks) noexcept {
  // Single writer (the hosting reactor): plain load+store keeps it cheap.
  auto& c = busy ? busy_ : idle_;
  c.store(c.load(std::memory_order_relaxed) + ticks, std::memory_order_relaxed);
}

void LwThread::close_pass(uint64_t ticks) noexcept {
  // Charges are disjoint slices of the pass; the clamp only guards rounding.
  const uint64_t busy = std::min(pass_busy_, ticks);
  pass_busy_ = 0;
  if (busy != 0) busy_.store(busy_.load(std::memory_order_relaxed) + busy, std::memory_order_relaxed);
  if (ticks != busy) idle_.store(idle_.load(std::memory_order_relaxed) + (ticks - busy), std::memory_order_relaxed);
}

void LwThread::log_exception(const char* where, const char* what) noexcept {
  exceptions_.fetch_add(1, std::memory_order_relaxed);
  uint64_t suppressed = 0;
  if (!error_log_.allow(clock_.now(), suppressed)) return;
  if (suppressed > 0)
    log(LogLevel::Error, "thread '{}' (id {}): {} threw: {} ({} more exceptions not logged)", name_, id_.value,
        where, what, suppressed);
  else
    log(LogLevel::Error, "thread '{}' (id {}): {} threw: {}", name_, id_.value, where, what);
}

void LwThread::run_slot(uint64_t w0, uint64_t w1) noexcept {
  auto* m = w0 == 0 ? reinterpret_cast<detail::Message*>(w1) : nullptr;
  try {
    if (m != nullptr)
      m->run();
    else
      reinterpret_cast<detail::InlineRun>(w0)(static_cast<uintptr_t>(w1));
  } catch (const std::exception& e) {
    log_exception("message", e.what());
  } catch (...) {
    log_exception("message", "non-std exception");
  }
  if (m != nullptr) m->destroy();
}

size_t LwThread::drain_messages(size_t max) noexcept {
  detail::Slot slots[kDequeueBurst];
  size_t done = 0;
  while (done < max) {
    // The local queue first: everything in it was sent before anything now in
    // the ring (see the header). A message run here may queue the next one
    // locally (a self-sent chain): it runs in this pass, within the budget.
    if (local_head_ != local_tail_) {
      const LocalSlot m = local_[local_head_ & (local_cap_ - 1)];
      ++local_head_;
      run_slot(m.w0, m.w1);
      ++done;
      continue;
    }
    unsigned want = static_cast<unsigned>(std::min<size_t>(kDequeueBurst, max - done));
    unsigned n = detail::ring_dequeue_burst(ring_, slots, want);
    for (unsigned i = 0; i < n; ++i) {
      // The next message object was written on another core: start fetching
      // it while this one runs.
      if (i + 1 < n && slots[i + 1].w0 == 0) __builtin_prefetch(reinterpret_cast<const void*>(slots[i + 1].w1));
      run_slot(slots[i].w0, slots[i].w1);
    }
    done += n;
    // What the burst's messages queued locally runs before the next burst.
    if (n < want && local_head_ == local_tail_) break;
  }
  // One counter write per pass, not per message.
  if (done != 0) messages_.store(messages_.load(std::memory_order_relaxed) + done, std::memory_order_relaxed);
  return done;
}

void LwThread::refresh_deadline() noexcept {
  uint64_t d = UINT64_MAX;
  for (auto& s : timed_)
    if (s->state.load(std::memory_order_relaxed) == PollerState::Waiting) d = std::min(d, s->next_run);
  next_deadline_ = d;
}

void LwThread::compact_pollers() {
  std::lock_guard lk(pollers_mu_);
  auto gone = [](const std::unique_ptr<detail::PollerSlot>& s) {
    return s->state.load(std::memory_order_relaxed) == PollerState::Unregistered;
  };
  active_.erase(std::remove_if(active_.begin(), active_.end(), gone), active_.end());
  timed_.erase(std::remove_if(timed_.begin(), timed_.end(), gone), timed_.end());
  pollers_dirty_ = false;
  refresh_deadline();
}

namespace {
// Runs one poller; returns true if it reported busy. Exceptions are counted
// against the thread and the poller keeps its registration. The slot's state
// is not touched: a pause or unregister from inside the call has set it.
template <class OnThrow>
inline bool run_poller(detail::PollerSlot& s, std::atomic<const detail::PollerSlot*>& running,
                       OnThrow&& on_throw) noexcept {
  running.store(&s, std::memory_order_relaxed);
  bool busy = false;
  try {
    busy = s.fn() == PollStatus::Busy;
  } catch (const std::exception& e) {
    on_throw(e.what());
  } catch (...) {
    on_throw("non-std exception");
  }
  s.run_count.store(s.run_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s.busy_count.store(s.busy_count.load(std::memory_order_relaxed) + (busy ? 1 : 0), std::memory_order_relaxed);
  return busy;
}
}  // namespace

bool LwThread::poll(uint64_t now) noexcept {
  CurrentThreadScope scope(this);
  auto on_throw = [this](const char* what) { log_exception("poller", what); };
  bool work = false;
  // Runtime work first (forwarded I/O completions): it is never refused.
  while (detail::ReactorEvent* ev = internal_->pop()) {
    std::unique_ptr<detail::ReactorEvent> owned(ev);
    work = true;
    try {
      owned->call();
    } catch (const std::exception& e) {
      on_throw(e.what());
    } catch (...) {
      on_throw("non-std exception");
    }
  }
  work |= drain_messages(kMaxMessagesPerPoll) > 0;

  // Active pollers: pollers registered during the pass run from the next pass.
  const size_t n_active = active_.size();
  for (size_t i = 0; i < n_active; ++i) {
    detail::PollerSlot& s = *active_[i];
    if (s.state.load(std::memory_order_relaxed) != PollerState::Waiting) continue;
    work |= run_poller(s, running_, on_throw);
  }

  if (now >= next_deadline_) {
    const size_t n_timed = timed_.size();
    for (size_t i = 0; i < n_timed; ++i) {
      detail::PollerSlot& s = *timed_[i];
      if (s.state.load(std::memory_order_relaxed) != PollerState::Waiting || s.next_run > now) continue;
      // Next run one period after this one was due; a long stall does not
      // cause a burst of catch-up runs.
      s.next_run = std::max(s.next_run + s.period_ticks, now + 1);
      work |= run_poller(s, running_, on_throw);
    }
    refresh_deadline();
  }
  // Published with release: running_poller() reads the name under the mutex.
  if (running_.load(std::memory_order_relaxed) != nullptr) running_.store(nullptr, std::memory_order_release);
  if (pollers_dirty_) compact_pollers();
  return work;
}

bool LwThread::has_work(uint64_t now) const noexcept {
  // The sleep re-check: a message sender's enqueue is seen in the ring (post()
  // orders it before its load of `sleeping`); senders_ first, seq_cst, for a
  // forwarded completion being pushed (IoAccess::post_to_thread).
  return senders_.load(std::memory_order_seq_cst) != 0 || local_head_ != local_tail_ || !detail::ring_empty(ring_) || !internal_->empty() || running_active_ > 0 || now >= next_deadline_ ||
         (state_.load(std::memory_order_relaxed) == ThreadState::Exiting);
}

uint64_t LwThread::next_deadline() const noexcept { return next_deadline_; }

bool LwThread::ready_to_retire() const noexcept {
  if (state_.load(std::memory_order_seq_cst) != ThreadState::Exiting) return false;
  // Ring senders (send_guard.hh): after the barrier, a send that read Running
  // shows in its slot until its message is in the ring.
  if (!exit_fenced_) exit_fenced_ = detail::retirer_barrier();
  if (detail::sending_to(this)) return false;
  // Forwarded I/O completions (IoAccess::post_to_thread).
  if (senders_.load(std::memory_order_seq_cst) != 0) return false;
  if (local_head_ != local_tail_ || !detail::ring_empty(ring_)) return false;
  if (io_inflight_.load(std::memory_order_acquire) != 0 || !internal_->empty()) return false;
  return active_.empty() && timed_.empty();
}

bool LwThread::grow_local() noexcept {
  // First local send: 64 slots (1 KiB); then doubling, up to the ring's size.
  const uint32_t cap = local_cap_ == 0 ? 64 : local_cap_ * 2;
  LocalSlot* buf = new (std::nothrow) LocalSlot[cap];
  if (buf == nullptr) return false;  // the ring path reports what happens next
  const uint32_t n = local_tail_ - local_head_;
  for (uint32_t i = 0; i < n; ++i) buf[i] = local_[(local_head_ + i) & (local_cap_ - 1)];
  local_.reset(buf);
  local_cap_ = cap;
  local_head_ = 0;
  local_tail_ = n;
  return true;
}

bool LwThread::post_local(const LwThread& sender, uint64_t w0, uint64_t w1) noexcept {
  // The sender runs on its hosting reactor's OS thread (t_current is only set
  // there). The destination is hosted by that same reactor iff it is not in
  // transit and names it: in_transit_ is set by the reactor it leaves (this
  // OS thread, if it leaves us) and cleared, after reactor_ is written, by the
  // reactor it lands on, so reading it first (acquire) then reactor_ cannot
  // see "hosted here" for a thread that is elsewhere.
  if (in_transit_.load(std::memory_order_acquire)) return false;
  const Reactor* here = sender.reactor_.load(std::memory_order_relaxed);
  if (here == nullptr || reactor_.load(std::memory_order_relaxed) != here) return false;
  // Written by exit() on this same OS thread; the ring path reports the error.
  if (state_.load(std::memory_order_relaxed) != ThreadState::Running) return false;
  // Anything in the ring (or being put there) goes first: keep the ring path.
  if (!detail::ring_idle(ring_)) return false;
  const uint32_t queued = local_tail_ - local_head_;
  if (queued >= local_max_) return false;  // as full as the ring would be: the ring takes the next one
  if (queued == local_cap_ && !grow_local()) return false;
  local_[local_tail_ & (local_cap_ - 1)] = LocalSlot{w0, w1};
  ++local_tail_;
  return true;
}

Result<void> LwThread::refuse_send() const noexcept {
  if (state_.load(std::memory_order_acquire) != ThreadState::Running)
    return make_error(Errc::exited, fmt::format("thread '{}' (id {}) has exited", name_, id_.value));
  return make_error(Errc::full, full_error_);
}

Result<void> LwThread::post(uint64_t w0, uint64_t w1) noexcept {
  // The local path only when the sender runs on the reactor hosting this
  // thread (post_local re-checks exactly; this is the cheap early out).
  if (const LwThread* cur = t_current;
      cur != nullptr && cur->reactor_.load(std::memory_order_relaxed) == reactor_.load(std::memory_order_relaxed) &&
      post_local(*cur, w0, w1))
    return {};
  if (detail::ring_full(ring_)) [[unlikely]]
    return refuse_send();  // nothing will be queued: no slot needed (design notes)
  detail::SendSlot* slot = detail::my_send_slot();
  if (slot == nullptr) return make_error(Errc::internal, "out of memory registering the sending OS thread");
  // Announce the send, then read the state (send_guard.hh: the retirer waits
  // while a slot names this thread, and a send that starts after the retirer's
  // barrier reads Exiting).
  slot->target.store(this, std::memory_order_relaxed);
  detail::sender_barrier();
  if (state_.load(std::memory_order_relaxed) != ThreadState::Running) {
    slot->target.store(nullptr, std::memory_order_release);
    return refuse_send();
  }
  const int rc = detail::ring_enqueue(ring_, detail::Slot{w0, w1});
  // Release: a retirer that reads the cleared slot sees the enqueue.
  slot->target.store(nullptr, std::memory_order_release);
  if (rc != 0) return refuse_send();  // filled since ring_full() looked
  // Sleep protocol: a full barrier between the enqueue and the load of
  // `sleeping` in wake(), pairing with the reactor's store of `sleeping`, its
  // fence and its re-check of the ring. On x86 the enqueue's last step (the
  // ring's tail update, a compare-and-swap) is a locked instruction, which is
  // that barrier; elsewhere it is an explicit fence.
#if !defined(__x86_64__) && !defined(__i386__)
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  if (Reactor* r = reactor_.load(std::memory_order_acquire)) r->wake();
  return {};
}

namespace detail {

Result<void> send_message(LwThread& t, Message* m) noexcept {
  auto r = t.post(0, reinterpret_cast<uint64_t>(m));
  if (!r) m->destroy();
  return r;
}

Result<void> send_inline(LwThread& t, InlineRun run, uintptr_t payload) noexcept {
  return t.post(reinterpret_cast<uint64_t>(run), payload);
}

}  // namespace detail
}  // namespace reactor
