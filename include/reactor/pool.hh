#pragma once
/// ReactorPool: the reactors of a core set plus the registry of lightweight
/// threads. With Launch::OsThreads each reactor runs on its own OS thread
/// pinned to its core and named `reactor_<core>`; with Launch::Manual nobody
/// drives them and a test calls Reactor::run_once (tests/support/harness.hh).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <reactor/clock.hh>
#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/reactor.hh>
#include <reactor/thread.hh>
#include <reactor/topology.hh>

namespace reactor {

/// Who drives the reactors.
enum class Launch {
  OsThreads,  ///< one std::thread per reactor, pinned with hwloc
  Manual,     ///< nobody: tests call run_once (deterministic harness)
  /// For hosts that already initialised DPDK's EAL: each reactor runs on the
  /// EAL worker lcore bound to its core (rte_eal_remote_launch); a reactor on
  /// the main lcore's core gets its own pinned std::thread instead.
  EalLcores,
};

/// Waits until `done()` or `timeout`; returns done(). In OsThreads pools it
/// naps; the deterministic harness installs one that drives the reactors.
using WaitFn = std::function<bool(const std::function<bool()>& done, std::chrono::nanoseconds timeout)>;

struct PoolOptions {
  CpuSet cores;                          ///< required; must be in the topology
  std::optional<Topology> topology;      ///< default: Topology::discover()
  const Clock* clock = nullptr;          ///< default: a SystemClock owned by the pool
  ReactorMode baseline = ReactorMode::Poll;
  Launch launch = Launch::OsThreads;
  CpuSet isolated;                       ///< no moves to or from these cores
  std::optional<CoreId> main_core;       ///< default: first core
  /// A poller or message running longer than this is logged and counted.
  std::chrono::microseconds stall_threshold{std::chrono::milliseconds(100)};
  /// Longest single sleep (bounds the cost of a lost wake-up to this; none is expected).
  std::chrono::milliseconds max_sleep{std::chrono::milliseconds(1000)};
  /// Bounded wait for moves during restore and for threads during stop.
  std::chrono::milliseconds wait_bound{std::chrono::seconds(5)};
  WaitFn wait;                           ///< default: napping wait (OsThreads) or none
};

/// Outcome of stop(): what exited and what did not in time.
struct StopReport {
  uint32_t exited = 0;
  std::vector<std::string> stragglers;  ///< "name (id N) on core C"
};

class ReactorPool final {
 public:
  /// Validates options (cores non-empty and present, isolated subset, main
  /// core in the set, not isolated) and starts the reactors.
  static Result<std::unique_ptr<ReactorPool>> create(PoolOptions options);
  ~ReactorPool();

  /// Spawns a thread on its home core (round-robin over its cpumask unless
  /// given). `init` runs on the thread as its first message. Any OS thread.
  /// Errors: cpumask outside the pool, bad home core, bad ring size, stopped pool.
  Result<ThreadRef> spawn(ThreadOptions options, Closure init = {});

  /// Requests a move; takes effect between polls and is acknowledged in the
  /// ticket (Landed or Skipped with a reason). Any OS thread.
  /// Errors (nothing requested): unknown thread, core not a reactor, core not
  /// in the thread's cpumask. `cause` names who asked ("policy", "restore",
  /// "request") in the `reactor:thread_move` probe; it must be a string with
  /// static storage duration (a literal).
  Result<MoveTicket> move(ThreadId thread, CoreId to, const char* cause = "request");
  /// Changes a thread's home core (static mappings). Same validation as move.
  Result<void> set_home(ThreadId thread, CoreId home);
  /// Changes several home cores at once, all or nothing: if any thread is
  /// gone (exited) or any core is invalid for its thread, no home changes and
  /// the error names the first bad pair.
  Result<void> set_homes(const std::vector<std::pair<ThreadId, CoreId>>& homes);
  /// Puts a reactor in Poll or Interrupt mode (takes effect on its next pass).
  Result<void> set_mode(CoreId core, ReactorMode mode);

  /// Runs `fn` on every live thread (on each thread's reactor, as a message),
  /// then `done` once all visits ended (on the reactor of the last visit).
  void for_each_thread(std::function<void(LwThread&)> fn, std::function<void()> done);

  ThreadRef find(ThreadId id) const;
  /// Live (not yet exited) threads in id order.
  std::vector<ThreadRef> threads() const;
  Reactor* reactor(CoreId core) const noexcept;
  const std::vector<std::unique_ptr<Reactor>>& reactors() const noexcept { return reactors_; }

  const CpuSet& cores() const noexcept { return cores_; }
  const CpuSet& isolated() const noexcept { return isolated_; }
  CoreId main_core() const noexcept { return main_core_; }
  ReactorMode baseline() const noexcept { return baseline_; }
  const Topology& topology() const noexcept { return topology_; }
  const Clock& clock() const noexcept { return *clock_; }
  Launch launch() const noexcept { return launch_; }
  bool on_reactor_thread() const noexcept;

  /// CPU time (ns) consumed so far by the OS thread driving `core`'s reactor
  /// (pthread_getcpuclockid); 0 for Manual pools or unknown cores.
  uint64_t reactor_cpu_ns(CoreId core) const noexcept;

  /// Ticks the thread described by `stats` has spent asleep with its reactor
  /// in a sleep that has not ended yet, at tick `now` (0 if awake or in
  /// transit): its counters grow by a sleep only when the reactor wakes, so a
  /// reader adds this to `stats.idle`. Call right after taking `stats` (the
  /// ordering pairs with Reactor::sleep_if_idle). Any OS thread.
  uint64_t asleep_since(const ThreadStats& stats, uint64_t now) const noexcept;

  /// Waits through the injected wait function (see WaitFn).
  bool wait_for(const std::function<bool()>& done, std::chrono::nanoseconds timeout) const;

  /// The bound given for waits on moves and on stop (PoolOptions::wait_bound).
  std::chrono::milliseconds wait_bound() const noexcept { return wait_bound_; }

  /// Asks every thread to exit, waits (bounded), reports stragglers, then stops
  /// and joins the reactors. Idempotent; the destructor calls it.
  StopReport stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  friend class Reactor;
  struct Token {};

 public:
  ReactorPool(Token, PoolOptions&& options, Topology topology);

 private:
  void run_reactor(Reactor& r);
  void on_thread_exited(ThreadId id) noexcept;

  Topology topology_;
  std::unique_ptr<Clock> owned_clock_;
  const Clock* clock_ = nullptr;
  CpuSet cores_;
  CpuSet isolated_;
  CoreId main_core_;
  ReactorMode baseline_;
  Launch launch_;
  std::chrono::microseconds stall_threshold_;
  std::chrono::milliseconds max_sleep_;
  std::chrono::milliseconds wait_bound_;
  WaitFn wait_;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<Reactor*> by_core_;          // index: core id
  std::vector<std::thread> os_threads_;
  std::vector<unsigned> eal_lcores_;       // lcores launched with rte_eal_remote_launch
  std::atomic<int> eal_running_{0};        // reactors still running on EAL lcores
  alignas(detail::kCacheLine) std::atomic<bool> stopping_{false};  // read by every reactor pass
  std::atomic<bool> stopped_{false};

  alignas(detail::kCacheLine) mutable std::mutex mu_;  // guards the registry and placement cursor
  std::map<ThreadId, std::shared_ptr<LwThread>> live_;
  uint64_t next_thread_id_ = 1;
  std::map<uint32_t, uint32_t> cursor_;    // round-robin cursor per cpumask hash bucket
  uint32_t rr_cursor_ = 0;
};

}  // namespace reactor
