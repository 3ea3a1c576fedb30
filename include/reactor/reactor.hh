#pragma once
/// Reactor: one per core. Its loop body is run_once(now): drain the event
/// queue, reap and submit io_uring I/O, poll each hosted LwThread once, charge
/// the elapsed ticks to the threads they were spent for (the rest is reactor
/// overhead), apply pending moves. run_once never blocks; sleeping (Interrupt mode)
/// is a separate step. A Reactor has no hidden thread-locals: a test may drive
/// it from any single OS thread (see tests/support/harness.hh).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <reactor/ids.hh>
#include <reactor/thread.hh>

struct io_uring;  // liburing, kept out of the public headers

namespace reactor {

class Clock;
namespace detail {
struct IoAccess;
struct ReactorEvent;
struct EventQueue;
struct Waker;
}  // namespace detail

/// Whether a reactor busy-polls or may sleep when it has nothing runnable.
enum class ReactorMode { Poll, Interrupt };

/// Published reactor statistics (atomics; readers never message or wake it).
struct ReactorStats {
  CoreId core;
  uint64_t busy = 0;    ///< ticks of run_once passes that did work
  uint64_t idle = 0;    ///< ticks of passes that did nothing (sleep excluded)
  uint64_t sleep = 0;   ///< ticks spent asleep in io_uring (completed sleeps)
  /// Tick at which the sleep in progress began, 0 when awake: `sleep` and the
  /// hosted threads' idle grow by the whole sleep only when it ends, so a
  /// reader adds now - sleeping_since to see the time asleep so far.
  uint64_t sleeping_since = 0;
  /// Ticks asleep so far at tick `now` in the sleep in progress (0 when awake).
  uint64_t asleep_at(uint64_t now) const noexcept {
    return sleeping_since != 0 && now > sleeping_since ? now - sleeping_since : 0;
  }
  /// Ticks of passes that did work which no thread was charged for (event
  /// queue, bookkeeping, the share of an io_uring submit/reap that belongs to
  /// no hosted thread). Part of `busy`, reported apart: the hosted threads'
  /// busy ticks plus `overhead` never exceed busy + idle.
  uint64_t overhead = 0;
  uint64_t loops = 0;   ///< run_once calls
  uint64_t wakeups = 0; ///< times it woke from sleep
  uint64_t stalls = 0;  ///< pollers/messages that ran past the stall threshold
  ReactorMode mode = ReactorMode::Poll;
  bool sleeping = false;
  uint32_t thread_count = 0;
  uint64_t tid = 0;     ///< OS thread id driving it (0 before it starts)
  /// Id of the thread whose poll or I/O completion callback runs on the
  /// reactor right now, 0 between them. With a stalled tick count it names
  /// the thread a stuck reactor is stuck in (LwThread::running_poller() then
  /// names the poller). Relaxed: a hint for the stall detector, not a lock.
  uint64_t current_thread = 0;
};

/// Result of a move request, set by the reactors (acknowledged, never left hanging).
enum class MoveResult : uint8_t { Pending, Landed, Skipped };

/// Shared acknowledgement of one move.
struct MoveAck {
  std::atomic<MoveResult> result{MoveResult::Pending};
  std::string skip_reason;  ///< written before result becomes Skipped
  bool done() const noexcept { return result.load(std::memory_order_acquire) != MoveResult::Pending; }
};
using MoveTicket = std::shared_ptr<MoveAck>;

class Reactor {
 public:
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  CoreId core() const noexcept { return core_; }

  /// One loop iteration at tick `now`. Returns true if anything did work.
  /// Only the OS thread currently driving this reactor may call it.
  bool run_once(uint64_t now) noexcept;
  /// The tick at which the last run_once (or sleep_if_idle that slept) ended,
  /// its last clock read: the `now` of the next pass, which saves a clock read
  /// per pass and leaves no gap in the wall time charged to threads. Driving
  /// thread only.
  uint64_t pass_end() const noexcept { return pass_end_; }
  /// True when a run_once now could do work (event, message, active poller,
  /// due timer). Driving thread only.
  bool has_work(uint64_t now) const noexcept;
  /// Earliest timed-poller deadline among hosted threads (UINT64_MAX if none).
  uint64_t next_deadline() const noexcept;

  /// Interrupt mode: sleeps in io_uring until an event, a message, the next
  /// deadline (or `max_sleep_ns`), whichever comes first; returns at once in
  /// Poll mode or when work is pending (set sleeping, fence, re-check).
  /// Returns true if it slept; pass_end() is then the wake-up tick. The whole
  /// time since pass_end() is charged as sleep to the reactor and as idle to
  /// every hosted thread; completions that woke it run in the next pass.
  /// Driving thread only.
  bool sleep_if_idle(uint64_t max_sleep_ns) noexcept;

  ReactorMode mode() const noexcept { return mode_.load(std::memory_order_acquire); }
  ReactorStats stats() const noexcept;

  /// Wakes the reactor if it sleeps (any OS thread; no syscall when awake).
  /// Inline: a message send checks `sleeping` without a call. seq_cst: the
  /// sender's half of the sleep protocol (reactor.cc).
  void wake() noexcept {
    if (sleeping_.load(std::memory_order_seq_cst)) wake_sleeping();
  }

 private:
  void wake_sleeping() noexcept;
  friend class ReactorPool;
  friend struct detail::IoAccess;
  struct Token {};

 public:
  /// Internal: built by ReactorPool.
  Reactor(Token, CoreId core, ReactorPool& pool, const Clock& clock, ReactorMode mode,
          uint64_t stall_ticks);

 private:
  void post(std::unique_ptr<detail::ReactorEvent> ev) noexcept;
  void handle(detail::ReactorEvent& ev, uint64_t now) noexcept;
  void host(std::shared_ptr<LwThread> t, uint64_t now) noexcept;
  void retire(size_t index) noexcept;
  bool init_waiter() noexcept;
  // I/O: the ring (created on first use by the driving thread), and the
  // completion reaping done every pass while I/O is in flight.
  io_uring* io_ring() noexcept;
  struct Reaped {
    bool any;      // SQEs went in or a completion (not a wake-up) was reaped
    bool clocked;  // `end` is a clock read taken here
    uint64_t end;  // the last clock read (after the syscall or a callback), else `start`
  };
  Reaped reap_io(bool submit, uint64_t start) noexcept;
  void charge_io_batch(uint64_t ticks, uint32_t unowned) noexcept;
  bool io_ring_has_sqes() noexcept;
  void close_pass(uint64_t ticks, bool work) noexcept;
  // Cycle-timed passes (reactor.cc): one pass, and the clock read that ends a span.
  bool run_cycle_timed(uint64_t now) noexcept;
  uint64_t close_span() noexcept;
  void note_stall(const LwThread& t, const char* what, uint64_t ticks) noexcept;

  const CoreId core_;
  ReactorPool& pool_;
  const Clock& clock_;
  const uint64_t stall_ticks_;
  std::unique_ptr<detail::EventQueue> events_;
  std::unique_ptr<detail::Waker> waker_;
  std::vector<std::shared_ptr<LwThread>> threads_;  // driving thread only
  // Read by every sender (wake check): written only on sleep, wake-up and mode
  // changes, kept off the line of the per-pass counters below.
  alignas(detail::kCacheLine) std::atomic<ReactorMode> mode_;
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> sleep_from_{0};  // start of the sleep in progress, 0 when awake
  // Written by the driving thread on every pass; read only by stats().
  alignas(detail::kCacheLine) std::atomic<uint64_t> busy_{0};
  std::atomic<uint64_t> idle_{0}, sleep_{0}, overhead_{0}, loops_{0}, wakeups_{0}, stalls_{0};
  std::atomic<uint64_t> current_thread_{0};
  std::atomic<uint32_t> thread_count_{0};
  std::atomic<uint64_t> tid_{0};
  uint64_t last_stall_log_ = 0;
  uint64_t pass_end_ = 0;     // driving thread only
  uint64_t attributed_ = 0;   // driving thread only: ticks of this pass charged to a thread (busy or idle)
  uint32_t io_inflight_ = 0;  // driving thread only: SQEs submitted on this ring, not yet reaped
};

}  // namespace reactor
