#pragma once
/// Runtime: what a storage daemon embeds. Owns, in construction order, the
/// governor slot, the reactor pool, the SchedulerManager and the control
/// thread (one OS thread, not a reactor) that steps the manager's rounds and
/// whatever the application attaches (reactord attaches its RPC server).
/// Destruction reverses it: control thread, policy (restoring placement),
/// pool (threads exit, reactors join), governor.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <reactor/governor.hh>
#include <reactor/pool.hh>
#include <reactor/scheduler_manager.hh>

namespace reactor {

/// Which governor the runtime installs.
enum class GovernorChoice {
  Auto,  ///< DPDK rte_power where cpufreq works, else none (the reason is logged)
  Dpdk,  ///< DPDK rte_power; failing to start it is an error
  Sim,   ///< the simulated governor (tests, machines without cpufreq)
  None,  ///< no governor: gscheduler cannot run
};
/// Parses "auto", "dpdk", "sim", "none".
Result<GovernorChoice> parse_governor_choice(std::string_view text);

struct RuntimeOptions {
  PoolOptions pool;
  GovernorChoice governor = GovernorChoice::Auto;
  SchedulerManagerOptions scheduler;
  /// false: no SchedulerManager until start_scheduler() (reactord --wait-for-rpc).
  bool start_scheduler = true;
  /// Starts the control thread (OsThreads pools). Tests that step by hand set false.
  bool control_thread = true;
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> create(RuntimeOptions options);
  /// The same, with the DPDK governor (GovernorChoice::Auto or Dpdk)
  /// recording the cores' cpufreq settings in `cpufreq_state_path` instead
  /// of kDefaultCpufreqStatePath (reactord --cpufreq-state).
  static Result<std::unique_ptr<Runtime>> create(RuntimeOptions options, const std::string& cpufreq_state_path);
  ~Runtime();

  ReactorPool& pool() noexcept { return *pool_; }
  GovernorSlot& governor() noexcept { return *governor_; }
  /// nullptr until the scheduler started.
  SchedulerManager* scheduler() noexcept;
  /// Builds the SchedulerManager with the configured initial policy. Idempotent.
  Result<void> start_scheduler();
  bool scheduler_started() const noexcept;
  /// What switch validation (plan_switch) sees of a Runtime that `options`
  /// would build, before it exists: its cores, isolated cores, main core, no
  /// thread yet, and whether a governor is configured. Pure; any thread.
  static PolicyContext planned_context(const RuntimeOptions& options);
  /// Options the scheduler will start with (before start_scheduler()).
  SchedulerManagerOptions& pending_scheduler_options() noexcept { return sched_opts_; }

  /// Attaches work to the control thread: `poll(max_wait)` is called every
  /// iteration and may block up to max_wait (e.g. an RPC server's epoll);
  /// `wake()` must make a blocked poll return. While a switch or a round on
  /// the control thread waits for moves, `poll(0)` keeps being called
  /// between checks, so the hook's clients are answered meanwhile; `poll`
  /// must therefore not run a blocking switch itself (use
  /// SchedulerManager::switch_async). Call before the work is needed;
  /// replaces any previous hook.
  void set_control_hook(std::function<void(std::chrono::milliseconds)> poll, std::function<void()> wake);

  /// Stops the control thread, destroys the policy (placement restored),
  /// stops the pool. Idempotent.
  StopReport stop();

 private:
  struct Token {};

 public:
  explicit Runtime(Token) {}

 private:
  void control_loop();
  void step_control(std::chrono::milliseconds max_wait);
  /// The pool's wait (PoolOptions::wait) for OsThreads/EAL pools: naps, and
  /// on the control thread also serves the control hook between checks.
  bool wait(const std::function<bool()>& done, std::chrono::nanoseconds timeout);

  std::unique_ptr<GovernorSlot> governor_;
  std::unique_ptr<ReactorPool> pool_;
  SchedulerManagerOptions sched_opts_;
  // sched_mu_ serializes start_scheduler() and stop(); readers use the
  // published pointer and never take it (the manager's own locks are taken
  // under sched_mu_ while it is built, so readers inside a round must not).
  mutable std::mutex sched_mu_;
  std::unique_ptr<SchedulerManager> scheduler_;
  std::atomic<SchedulerManager*> scheduler_ptr_{nullptr};

  std::mutex ctl_mu_;
  std::condition_variable ctl_cv_;
  std::function<void(std::chrono::milliseconds)> hook_poll_;
  std::function<void()> hook_wake_;
  bool ctl_stop_ = false;
  bool in_hook_ = false;  // control thread only: inside hook_poll_
  std::thread control_;
  std::atomic<std::thread::id> control_id_{};
  bool stopped_ = false;
};

}  // namespace reactor
