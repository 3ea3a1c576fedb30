#pragma once
// Internal bridge between the I/O layer (src/io) and the reactor/thread
// internals. Not API.
//
// Contract for an I/O submission made by thread T while it runs on reactor R:
//   - get R's ring with ring(R) (driving thread of R only), prepare SQEs whose
//     user_data is an IoCompletion* naming T as its owner, then call
//     submitted(R, T, n) and io_begin(T) per request; R submits at the end of
//     its pass;
//   - R reaps the CQE (possibly after T moved away) and calls
//     IoCompletion::on_complete(R, res, flags) on R's OS thread;
//   - R charges the load, not the I/O layer: the callback's ticks go to the
//     owner if R hosts it, and each submit/reap syscall is split among the
//     hosted threads by their SQEs (counted by submitted) and CQEs in it;
//   - the completion then either runs T's callback directly (T still hosted
//     by R: use hosted_by(T, R); host(T) == &R is also true while T is in
//     transit away from R) or forwards it with post_to_thread(T, task);
//     either way it calls io_end(T) exactly once, after the callback ran.
// A thread does not retire while io_inflight > 0, so no completion outlives it.

#include <liburing.h>

#include <reactor/reactor.hh>
#include <reactor/thread.hh>

namespace reactor::detail {

/// Implemented by each in-flight I/O request; user_data of its SQE.
struct IoCompletion {
  virtual void on_complete(Reactor& r, int res, uint32_t flags) noexcept = 0;
  /// The thread that submitted the request: charged for its completion
  /// callback and its share of the batch while the reaping reactor hosts it.
  /// nullptr: the reactor's overhead.
  LwThread* owner = nullptr;

 protected:
  ~IoCompletion() = default;
};

struct IoAccess {
  /// R's ring, created on first use; nullptr when io_uring is unavailable.
  static io_uring* ring(Reactor& r) noexcept { return r.io_ring(); }
  /// The reactor hosting T (or the one it last left while in transit).
  static Reactor* host(LwThread& t) noexcept { return t.reactor_.load(std::memory_order_acquire); }
  /// True when R hosts T right now (in R's list, not in transit away from R).
  /// Exact on R's driving thread. Order matters: in_transit first. A landing
  /// writes reactor_ before clearing in_transit_ (release), so reading "not in
  /// transit" (acquire) and then reactor_ == R means R itself hosted T.
  static bool hosted_by(const LwThread& t, const Reactor& r) noexcept {
    return !t.in_transit_.load(std::memory_order_acquire) && t.reactor_.load(std::memory_order_acquire) == &r;
  }
  /// R's clock read for the completion batch it is reaping (R's driving
  /// thread, inside on_complete): taken once per batch, after io_uring_enter.
  static uint64_t reap_time(const Reactor& r) noexcept;
  /// io_uring_enter calls R made to submit or reap (not to sleep); R's
  /// driving thread (tests pin when a pass enters the kernel).
  static uint64_t reap_enters(const Reactor& r) noexcept;
  /// R's ring flags completions the kernel holds (IORING_SETUP_TASKRUN_FLAG).
  static bool reports_pending(const Reactor& r) noexcept;
  /// R's tick source (the pool's clock).
  static const Clock& clock(const Reactor& r) noexcept { return r.clock_; }
  /// T (hosted by R, on R's driving thread) prepared `n` SQEs on R's ring.
  static void submitted(Reactor& r, LwThread& t, unsigned n) noexcept {
    r.io_inflight_ += n;
    t.io_sqes_ += n;
  }
  /// A request on R's ring that no hosted thread is charged for (a cancel
  /// submitted for a thread that left R). R's driving thread only.
  static void submitted_unowned(Reactor& r) noexcept { r.io_inflight_ += 1; }
  static void io_begin(LwThread& t) noexcept { t.io_inflight_.fetch_add(1, std::memory_order_relaxed); }
  static void io_end(LwThread& t) noexcept { t.io_inflight_.fetch_sub(1, std::memory_order_acq_rel); }
  static uint32_t inflight(const LwThread& t) noexcept { return t.io_inflight_.load(std::memory_order_acquire); }
  /// Runs `task` on T at its next poll (wherever it lands); never refused.
  static void post_to_thread(LwThread& t, Closure task) noexcept;
  /// Runs `task` on R's driving thread at its next pass, with no current
  /// thread (a request on R's ring for a thread that left R); never refused.
  static void post_to_reactor(Reactor& r, Closure task) noexcept;
  /// Counts (and, rate-limited, logs) an exception against T, as for one
  /// thrown by a message or poller. On T's hosting reactor.
  static void report_exception(LwThread& t, const char* where, const char* what) noexcept {
    t.log_exception(where, what);
  }
  /// The ring flags the reactor's ring was created with (SINGLE_ISSUER, ...).
  static unsigned ring_flags(Reactor& r) noexcept;
};

}  // namespace reactor::detail
