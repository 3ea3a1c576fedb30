// The out-of-line half of IoAccess (io_access.hh): the I/O layer's only way
// into reactor and thread internals, kept in one place.

#include "reactor/io_access.hh"

#include <atomic>

#include "reactor/event_queue.hh"
#include "reactor/waker.hh"

namespace reactor::detail {

unsigned IoAccess::ring_flags(Reactor& r) noexcept { return r.waker_->ring_flags(); }

uint64_t IoAccess::reap_time(const Reactor& r) noexcept { return r.waker_->reap_time; }

uint64_t IoAccess::reap_enters(const Reactor& r) noexcept { return r.waker_->reap_enters; }

bool IoAccess::reports_pending(const Reactor& r) noexcept { return r.waker_->reports_pending(); }

void IoAccess::post_to_thread(LwThread& t, Closure task) noexcept {
  auto* ev = new ReactorEvent(ReactorEvent::Kind::Call);
  ev->call = std::move(task);
  // Counted as a sender until the wake-up is done: once pushed, the event may
  // run on T's reactor at once and let T retire (ready_to_retire waits for
  // senders_ == 0), while this thread still reads T to wake that reactor.
  t.senders_.fetch_add(1, std::memory_order_seq_cst);
  t.internal_->push(ev);
  // Pairs with the fence in Reactor::sleep_if_idle, as for a message.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (Reactor* r = t.reactor_.load(std::memory_order_acquire)) r->wake();
  t.senders_.fetch_sub(1, std::memory_order_seq_cst);
}

void IoAccess::post_to_reactor(Reactor& r, Closure task) noexcept {
  auto ev = std::make_unique<ReactorEvent>(ReactorEvent::Kind::Call);
  ev->call = std::move(task);
  r.post(std::move(ev));  // wakes R if it sleeps
}

}  // namespace reactor::detail
