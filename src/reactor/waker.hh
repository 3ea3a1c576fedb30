#pragma once
// The reactor's sleep: one io_uring per reactor (created on the driving OS
// thread, SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG where the kernel has them) waiting on the
// reactor's eventfd with a timeout. Other threads wake it by writing the
// eventfd, and only when the reactor announced it is sleeping.

#include <cstdint>

#include <liburing.h>

#include <reactor/error.hh>

namespace reactor::detail {

struct Waker {
  /// Creates the eventfd; when that fails (descriptors exhausted) efd is -1
  /// and efd_errno() says why: the owner must not run the reactor.
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  /// Creates the io_uring; call on the OS thread that will sleep. Falls back
  /// to ring flags the kernel accepts, then to poll(2) if io_uring is missing.
  Result<void> init() noexcept;
  /// Any thread: makes the next (or current) wait return.
  void wake() noexcept;
  /// On the OS thread that called init(), before it stops driving the ring:
  /// drops the ring fd registration (a registration belongs to that thread;
  /// unregistering from another one would hit that thread's slot instead).
  void release_ring_fd() noexcept;
  /// True when io_uring_enter goes through a registered ring fd (no file
  /// lookup and refcount per call).
  bool ring_fd_registered() const noexcept { return ring_fd_registered_; }
  /// Driving thread: waits for a wake-up or `timeout_ns`.
  void wait(uint64_t timeout_ns) noexcept;
  /// The reactor reaped the eventfd read's completion: re-arm on the next wait.
  void wake_read_done() noexcept { read_armed_ = false; }
  /// Completions are waiting in the CQ (driving thread).
  bool has_cqes() const noexcept { return ring_ok_ && io_uring_cq_ready(&ring_) > 0; }
  /// The kernel holds completions that only an io_uring_enter posts to the CQ
  /// (deferred task work, or CQEs that overflowed the CQ): with
  /// IORING_SETUP_TASKRUN_FLAG it says so in the SQ ring's flags, a load from
  /// shared memory, no syscall (driving thread).
  bool completions_pending() const noexcept {
    return ring_ok_ && (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0;
  }
  /// The ring reports pending completions (IORING_SETUP_TASKRUN_FLAG): a pass
  /// then enters the kernel only when completions_pending(). Without it
  /// (kernels before 5.19) a pass with I/O in flight must enter to find out.
  bool reports_pending() const noexcept { return ring_ok_ && (flags_ & IORING_SETUP_TASKRUN_FLAG) != 0; }
  /// SQEs are prepared and not submitted yet (driving thread).
  bool has_sqes() const noexcept { return ring_ok_ && io_uring_sq_ready(&ring_) > 0; }
  /// The ring (nullptr before init or without io_uring): the I/O layer submits here.
  io_uring* ring() noexcept { return ring_ok_ ? &ring_ : nullptr; }
  unsigned ring_flags() const noexcept { return flags_; }

  int efd = -1;
  /// Driving thread: the clock read of the completion batch being reaped
  /// (kept here, not in Reactor, whose layout is public ABI).
  uint64_t reap_time = 0;
  /// Driving thread: the open span of cycle-timed passes (Reactor::run_once,
  /// "Cycle-timed passes"); kept here with reap_time (Reactor's layout is
  /// public ABI). passes == 0: no span open.
  struct CycleSpan {
    uint64_t start = 0;     // the clock read the span starts at (pass_end)
    uint64_t last = 0;      // cycle count at the end of the previous pass
    uint64_t busy = 0;      // cycles of passes whose poll did work
    uint64_t idle = 0;      // cycles of passes that did nothing
    uint64_t longest = 0;   // cycles of the longest busy pass (stall detector)
    uint32_t passes = 0;
  } span;
  /// Set by the driving loop on a real reactor thread whose clock is not the
  /// cycle counter already (SystemClock on CLOCK_MONOTONIC) and whose CPU's
  /// counter is invariant.
  bool cycle_passes = false;
  /// Driving thread: io_uring_enter calls made to submit or reap (not the
  /// sleep's); the tests read it to pin when a pass enters the kernel.
  uint64_t reap_enters = 0;
  int efd_errno() const noexcept { return efd_errno_; }

 private:
  int efd_errno_ = 0;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool read_armed_ = false;
  bool ring_fd_registered_ = false;
  unsigned flags_ = 0;
  uint64_t efd_buf_ = 0;
};

/// user_data of the eventfd read; I/O completions use pointers (never this value).
constexpr uint64_t kWakeTag = 1;

}  // namespace reactor::detail
