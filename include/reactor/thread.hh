#pragma once
/// Lightweight threads (LwThread): passive contexts with their own MPSC
/// message ring, pollers and busy/idle statistics, hosted by one reactor at a
/// time and movable between reactors without losing a message.
///
/// Thread rules:
///  - ThreadRef::send() may be called from any OS thread.
///  - Poller registration, pause/resume/unregister and exit() are called from
///    the thread itself (inside one of its messages or pollers); from anywhere
///    else post a message that does it.
///  - stats() and pollers() may be called from any OS thread (published values).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/detail/message.hh>
#include <reactor/detail/unique_function.hh>
#include <reactor/error.hh>
#include <reactor/ids.hh>
#include <reactor/log.hh>

struct rte_ring;

namespace reactor {

class Reactor;
class ReactorPool;
class LwThread;

/// What a poller reports: "did work" drives busy/idle accounting.
enum class PollStatus : uint8_t { Idle, Busy };

/// A poller's life cycle (names as SPDK's thread_get_pollers prints them).
enum class PollerState : uint8_t { Waiting, Running, Paused, Unregistered };
std::string_view to_string(PollerState state) noexcept;

/// Thread life cycle: Running -> Exiting (exit() called: sends refused, pollers
/// unregistered, pending messages drained) -> Exited (removed from its reactor).
enum class ThreadState : uint8_t { Running, Exiting, Exited };
std::string_view to_string(ThreadState state) noexcept;

using PollerFn = detail::UniqueFunction<PollStatus()>;
using Closure = detail::UniqueFunction<void()>;

/// Published state of one poller.
struct PollerStats {
  std::string name;
  PollerId id;
  PollerState state = PollerState::Waiting;
  uint64_t run_count = 0;
  uint64_t busy_count = 0;
  uint64_t period_ticks = 0;  ///< 0 for an active poller
  uint64_t period_us = 0;
};

/// Published state of one thread (any OS thread may read it).
struct ThreadStats {
  ThreadId id;
  std::string name;
  CpuSet cpumask;
  CoreId home;
  CoreId core;
  ThreadState state = ThreadState::Running;
  bool in_transit = false;
  /// Ticks its reactors spent for it: poll passes that did work, its I/O
  /// completion callbacks and its share of the io_uring submit/reap batches
  /// its requests went in and came out of.
  uint64_t busy = 0;
  /// The rest of the wall time it was hosted: idle polls, time its reactor
  /// spent on other threads or on itself, and sleep. busy / (busy + idle) is
  /// its share of a core (two threads saturating one core read ~50 % each).
  uint64_t idle = 0;
  uint64_t messages = 0;         ///< messages run
  uint64_t exceptions = 0;       ///< exceptions caught at the thread boundary
  uint64_t placed_at = 0;        ///< tick when it last landed on its reactor
  uint32_t active_pollers = 0;
  uint32_t timed_pollers = 0;
  uint32_t paused_pollers = 0;
};

/// Longest thread or poller name, in bytes (SPDK's limit). Names are kept in
/// every listing; a longer one is refused (Errc::invalid_argument).
inline constexpr size_t kMaxNameBytes = 128;

/// Spawn options.
struct ThreadOptions {
  std::string name;             ///< empty: "thread_<id>"; at most kMaxNameBytes
  CpuSet cpumask;               ///< empty: every core of the pool
  std::optional<CoreId> home;   ///< default: round-robin over the cpumask
  /// Message ring slots (power of two, 64..1<<20); a full ring fails send().
  uint32_t ring_size = 4096;
  /// Runs on the thread's last reactor after it exited (pollers gone, ring empty).
  Closure on_exit;
};

namespace detail {
struct PollerSlot;
struct EventQueue;
struct IoAccess;
/// Sends a message object to `t`; takes ownership (destroys it on failure).
Result<void> send_message(LwThread& t, Message* m) noexcept;
/// Sends an inline message (run(payload) on the thread).
Result<void> send_inline(LwThread& t, InlineRun run, std::uintptr_t payload) noexcept;
}  // namespace detail

/// A lightweight thread. Owned through shared_ptr by its reactor and by every
/// ThreadRef; memory (and the ring) die with the last reference.
class LwThread {
 public:
  ~LwThread();
  LwThread(const LwThread&) = delete;
  LwThread& operator=(const LwThread&) = delete;

  ThreadId id() const noexcept { return id_; }
  const std::string& name() const noexcept { return name_; }
  const CpuSet& cpumask() const noexcept { return cpumask_; }
  CoreId home_core() const noexcept { return CoreId{home_.load(std::memory_order_acquire)}; }
  /// Core of the reactor hosting it (the destination once a move lands).
  CoreId current_core() const noexcept { return CoreId{core_.load(std::memory_order_acquire)}; }
  ThreadState state() const noexcept { return state_.load(std::memory_order_acquire); }

  /// Registers a poller. period 0 = active (every poll), else timed (honoured
  /// on the tick clock). On-thread only. Errors: thread exiting, empty fn.
  Result<PollerId> register_poller(std::string name, PollerFn fn,
                                   std::chrono::microseconds period = std::chrono::microseconds{0});
  /// Pause/resume/unregister; allowed from inside the poller itself. Errors: unknown id.
  Result<void> pause_poller(PollerId id);
  Result<void> resume_poller(PollerId id);
  Result<void> unregister_poller(PollerId id);
  /// Starts exiting: later sends fail, every poller is unregistered, pending
  /// messages still run; the thread is destroyed once its ring is empty and
  /// on_exit runs. On-thread only; idempotent.
  void exit() noexcept;

  ThreadStats stats() const;
  /// What a scheduling snapshot needs, without the lock and the copies of
  /// stats(): id, cpumask, home, core, state, in_transit, busy, idle and
  /// placed_at; the name is empty and the poller counts are 0. Any OS thread.
  ThreadStats load_stats() const noexcept;
  /// The registered pollers (one unregistered a moment ago is not listed).
  std::vector<PollerStats> pollers() const;
  /// Name of the poller running right now (its slot is PollerState::Running),
  /// "" if none. Any OS thread; with ReactorStats::current_thread it names
  /// where a stuck reactor is stuck. A hint: the poller may return meanwhile.
  std::string running_poller() const;

 private:
  friend class Reactor;
  friend class ReactorPool;
  friend struct detail::IoAccess;
  friend Result<void> detail::send_message(LwThread&, detail::Message*) noexcept;
  friend Result<void> detail::send_inline(LwThread&, detail::InlineRun, std::uintptr_t) noexcept;
  struct Token {};

 public:
  /// Internal: built by ReactorPool::spawn().
  LwThread(Token, ThreadId id, std::string name, CpuSet cpumask, CoreId home, uint32_t ring_size,
           Closure on_exit, const class Clock& clock);

 private:
  // Runs one poll pass at tick `now`; returns true if it did work.
  bool poll(uint64_t now) noexcept;
  // True when a poll now could do work (message pending, active poller, timer due).
  bool has_work(uint64_t now) const noexcept;
  // Earliest timed-poller deadline (UINT64_MAX if none).
  uint64_t next_deadline() const noexcept;
  // Exiting and nothing left: the reactor may retire it.
  bool ready_to_retire() const noexcept;
  void account(bool busy, uint64_t ticks) noexcept;
  // Ends a pass of `ticks` on the hosting reactor: what was charged busy in
  // it (pass_busy_) goes to busy_, the rest of the pass to idle_.
  void close_pass(uint64_t ticks) noexcept;
  // Enqueues one message (w0: InlineRun or 0, w1: payload or Message*): into
  // the reactor-local queue when the sender runs on the reactor hosting this
  // thread and the ring is idle, else into the ring.
  Result<void> post(std::uint64_t w0, std::uint64_t w1) noexcept;
  // The local path of post(): true if queued. Sender's reactor OS thread only.
  bool post_local(const LwThread& sender, std::uint64_t w0, std::uint64_t w1) noexcept;
  bool grow_local() noexcept;
  // A refused send: Errc::exited once the thread is exiting, else Errc::full
  // with full_error_ (copied, not formatted).
  Result<void> refuse_send() const noexcept;
  void run_slot(std::uint64_t w0, std::uint64_t w1) noexcept;
  size_t drain_messages(size_t max) noexcept;
  void compact_pollers();
  void refresh_deadline() noexcept;
  void log_exception(const char* where, const char* what) noexcept;

  const ThreadId id_;
  const std::string name_;
  const CpuSet cpumask_;
  const class Clock& clock_;
  std::atomic<uint32_t> home_;
  std::atomic<uint32_t> core_;
  std::atomic<Reactor*> reactor_{nullptr};  // hosting (or last) reactor, for wake-ups
  std::atomic<ThreadState> state_{ThreadState::Running};
  std::atomic<bool> in_transit_{false};
  rte_ring* ring_ = nullptr;
  void* ring_mem_ = nullptr;
  // The Errc::full message, built at spawn: a producer retrying against a
  // full ring pays a copy per failed send, not a format.
  const std::string full_error_;
  // The fields above are read by senders and by the hosting reactor on every
  // pass and written only on moves and exit. senders_ counts forwarded I/O
  // completions being pushed (IoAccess::post_to_thread), on its own cache
  // line; message senders announce themselves in a slot of their own OS
  // thread instead (src/thread/send_guard.hh), so a message costs no shared
  // read-modify-write.
  alignas(detail::kCacheLine) std::atomic<uint64_t> senders_{0};
  // Hosting reactor only: the retirer's barrier of send_guard.hh ran once
  // since this thread became Exiting, and covers every later check.
  mutable bool exit_fenced_ = false;

  // Pollers: owned and run by the hosting reactor's OS thread. The mutex is
  // only taken to change the lists (rare) and by readers of pollers().
  alignas(detail::kCacheLine) mutable std::mutex pollers_mu_;
  std::vector<std::unique_ptr<detail::PollerSlot>> active_;
  std::vector<std::unique_ptr<detail::PollerSlot>> timed_;
  uint64_t next_poller_id_ = 1;
  uint64_t next_deadline_ = UINT64_MAX;
  bool pollers_dirty_ = false;    // something was unregistered: compact after the pass
  uint32_t paused_count_ = 0;
  uint32_t running_active_ = 0;   // active pollers not paused

  // The poller being called right now (nullptr between calls): names it in
  // running_poller() and pollers() (state Running) without a state change
  // per call. Written by the hosting reactor, read under pollers_mu_ (a slot
  // is freed only in compact_pollers(), after the call, under the mutex).
  std::atomic<const detail::PollerSlot*> running_{nullptr};

  // Reactor-local message queue (see lw_thread.cc): messages sent to this
  // thread by code running on the reactor hosting it (itself or another
  // thread there) while the ring was idle. A ring of 16-byte slots that grows
  // by doubling up to the ring's capacity; head/tail run free. Hosting
  // reactor's OS thread only; it belongs to the thread, so it travels with
  // it on a move.
  struct LocalSlot {
    std::uint64_t w0, w1;
  };
  std::unique_ptr<LocalSlot[]> local_;
  uint32_t local_cap_ = 0;  // power of two, 0 until the first local send
  uint32_t local_max_ = 0;  // ring capacity: the local queue holds no more
  uint32_t local_head_ = 0;
  uint32_t local_tail_ = 0;

  std::atomic<uint64_t> busy_{0};
  std::atomic<uint64_t> idle_{0};
  // Hosting reactor only (handed over with the thread on a move):
  uint64_t pass_busy_ = 0;  // busy ticks charged in the current pass, not yet in busy_
  uint32_t io_sqes_ = 0;    // SQEs prepared since the reactor's last submit
  uint32_t io_weight_ = 0;  // its SQEs + CQEs in the I/O batch being charged
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> exceptions_{0};
  std::atomic<uint64_t> placed_at_{0};
  Closure on_exit_;
  // Runtime work for this thread that must never be refused (forwarded I/O
  // completions): unbounded, drained at the start of every poll pass.
  std::unique_ptr<detail::EventQueue> internal_;
  std::atomic<uint32_t> io_inflight_{0};  // I/O submitted and not yet completed
  RateLimiter error_log_;                  // one exception line per second per thread
};

/// The lifetime-safe handle users hold. Copyable; sending to an exited thread
/// fails with Errc::exited instead of touching freed memory.
class ThreadRef {
 public:
  ThreadRef() = default;
  explicit ThreadRef(std::shared_ptr<LwThread> t) : t_(std::move(t)) {}

  explicit operator bool() const noexcept { return t_ != nullptr; }
  ThreadId id() const noexcept { return t_ ? t_->id() : ThreadId{}; }
  /// Posts `fn` to run on the thread. Any OS thread. A trivially copyable
  /// callable of one word (a lambda capturing one pointer) travels inside the
  /// ring slot; anything else is copied/moved into a block of the message pool
  /// (or the heap if larger than a block). Errors: Errc::exited (thread
  /// exiting or gone), Errc::full (ring full: nothing was queued; retry),
  /// Errc::invalid_argument (empty ref, or copying `fn` threw), Errc::internal
  /// (out of memory). noexcept: every failure is an error and sends nothing.
  template <class F>
  Result<void> send(F&& fn) const noexcept {
    if (!t_) return make_error(Errc::invalid_argument, "send on an empty ThreadRef");
    using D = std::decay_t<F>;
    if constexpr (detail::kInlineMessage<D>) {
      const D d(std::forward<F>(fn));  // a function reference becomes its pointer here
      return detail::send_inline(*t_, &detail::run_inline<D>, detail::inline_payload(d));
    } else {
      detail::Message* m = nullptr;
      try {
        m = detail::make_message<D>(std::forward<F>(fn));
      } catch (const std::bad_alloc&) {
        return make_error(Errc::internal, "out of memory allocating a message");
      } catch (...) {
        return make_error(Errc::invalid_argument, "constructing the message's callable threw: nothing was sent");
      }
      return detail::send_message(*t_, m);
    }
  }
  /// The thread itself (stats, ids). Never dereference from another OS thread for on-thread calls.
  LwThread* get() const noexcept { return t_.get(); }
  LwThread* operator->() const noexcept { return t_.get(); }
  const std::shared_ptr<LwThread>& shared() const noexcept { return t_; }

 private:
  std::shared_ptr<LwThread> t_;
};

/// The LwThread whose message or poller is running on this OS thread, or nullptr.
LwThread* current_thread() noexcept;

/// Scoped "current thread" setter: the runtime uses it around every message and
/// poller; tests use it to call on-thread APIs directly.
class CurrentThreadScope {
 public:
  explicit CurrentThreadScope(LwThread* t) noexcept;
  ~CurrentThreadScope();
  CurrentThreadScope(const CurrentThreadScope&) = delete;
  CurrentThreadScope& operator=(const CurrentThreadScope&) = delete;

 private:
  LwThread* prev_;
};

}  // namespace reactor
