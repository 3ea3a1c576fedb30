#pragma once
/// ControlPlane: the JSON-RPC methods of a reactor process (rpc-compat.md §2-§4)
/// and the process state they act on: the Runtime (created at framework init),
/// the options it will be created with (editable before init), the synthetic
/// load threads of the scheduler test-app methods and the /proc/stat baseline.
///
///   ControlPlane cp(options);
///   RpcServer server(path);
///   cp.register_methods(server.engine());   // state STARTUP or RUNTIME
///   server.start();
///   if (!wait_for_rpc) cp.initialize();      // else framework_start_init does it
///   ... once cp.initialized(): cp.runtime()->set_control_hook(server.poll, server.wake)
///
/// Methods (state gating as rpc-compat.md §2):
///   both:    spdk_get_version, rpc_get_methods (engine built-in),
///            framework_get_scheduler, framework_set_scheduler,
///            framework_wait_init, scheduler_get_history
///   STARTUP: scheduler_set_options, framework_start_init, reactor_set_options
///   RUNTIME: framework_get_reactors, framework_get_governor, thread_get_stats,
///            thread_get_pollers, framework_get_subsystems,
///            scheduler_thread_create, scheduler_thread_set_active,
///            scheduler_thread_delete, reactor_get_reactor_stats,
///            save_config, framework_get_config, scheduler_get_load
///
/// scheduler_get_load (reactor's own; params {"since_round"?: u64}) answers
/// the topology, the cumulative per-core and per-thread counters and, after
/// since_round, the kept scheduling rounds with the exact load each one
/// balanced: the whole shape is described at the top of methods_trace.cc.
/// The first call makes the scheduler keep each round's load from then on
/// (bounded by its history). `reactorctl record` samples it into a trace.
///
/// save_config (no params) answers SPDK's configuration document
///   {"subsystems": [{"subsystem": "framework", "config": [
///                      {"method": "scheduler_set_options",
///                       "params": {"scheduling_core": u32, "isolated_core_mask": hex}},
///                      {"method": "reactor_set_options", "params": {"mode": "poll"|"interrupt"}}]},
///                   {"subsystem": "governor", "config": null},
///                   {"subsystem": "scheduler", "config": [
///                      {"method": "framework_set_scheduler",
///                       "params": {"name": s, "period"?: u64, "load_limit"?: u32,
///                                  "core_limit"?: u32, "core_busy"?: u32, "numa_local"?: bool,
///                                  "smt_last"?: bool, "keep_asleep"?: bool,
///                                  "main_room"?: bool}}]}]}
/// (period unless static, the limits and placement options for dynamic only); framework_get_config
/// {"name": subsystem} answers one "config" member (SPDK's; rpc.py's
/// save_config builds the same document from it). Replaying the entries on a
/// process in STARTUP rebuilds that configuration (config_file.hh).
/// reactor_set_options {"mode": "poll"|"interrupt"} (strict; STARTUP) sets
/// the baseline reactor mode (reactord --mode).
///
/// reactor_get_reactor_stats (reactor's own; no params; framework_get_reactors
/// keeps SPDK's exact shape, which spdk_top decodes strictly) answers
///   {"tick_rate": u64,
///    "reactors": [{"lcore": u32, "busy": u64, "idle": u64, "sleep": u64,
///                  "overhead": u64, "loops": u64, "wakeups": u64,
///                  "stalls": u64, "current_thread": u64}, ...]}
/// in ascending lcore order; counters are cumulative ticks (ReactorStats):
/// overhead is the part of busy no thread was charged for, sleep is apart
/// from busy and idle, current_thread is the id of the thread running on the
/// reactor right now (0: none).
///
/// scheduler_get_history (reactor's own; no params) answers
///   {"transitions_total": u64, "rounds_total": u64,
///    "transitions": [{"seq": u64, "time": "2025-01-31T12:00:00.123Z",
///                     "from": "static", "to": "dynamic", "result_policy": "dynamic",
///                     "ok": bool, "result": "ok" | "failed: ...",
///                     "options": "period_us=... load_limit=...", "duration_us": u64,
///                     "restore": {"moves_requested": u32, "moves_done": u32,
///                                 "moves_skipped": u32, "timed_out": bool,
///                                 "detail": string}}, ...],
///    "rounds": [{"seq": u64, "policy": "dynamic", "duration_us": u64,
///                "moves": [{"thread": u64, "from": u32, "to": u32, "reason": string}],
///                "moves_landed": u32, "moves_skipped": u32, "mode_changes": u32,
///                "frequency_requests": u32, "problems": [string]}, ...]}
/// oldest first, bounded by the manager's history (64 of each by default);
/// both lists are empty before framework init.
///
/// Threading: every member function is for the thread that steps the engine
/// the methods are registered on (reactord's main thread before init, the
/// Runtime's control thread after it), except stop(), which is called once
/// nobody steps the engine any more (it joins the control thread first).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <reactor/error.hh>
#include <reactor/runtime.hh>

#include "rpc/engine.hh"
#include "rpc/method.hh"

namespace reactor::rpc {

/// The project version as spdk_get_version reports it.
struct VersionInfo {
  std::string version;  ///< "reactor v0.1.0"
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint32_t patch = 0;
  std::string suffix;   ///< "" for a release
};
/// This build's version (from the CMake project version). Any thread.
VersionInfo reactor_version();

/// Cumulative per-CPU times from /proc/stat, in USER_HZ ticks.
struct CpuTimes {
  std::uint64_t usr = 0;  ///< user + nice
  std::uint64_t sys = 0;  ///< system
  std::uint64_t irq = 0;  ///< irq + softirq
};
/// Parses the per-CPU lines ("cpuN ...") of a /proc/stat text; unparsable
/// lines are skipped. Pure; any thread.
std::map<std::uint32_t, CpuTimes> parse_proc_stat(std::string_view text);
/// Reads /proc/stat; empty when it cannot be read. Any thread.
std::map<std::uint32_t, CpuTimes> read_proc_stat();

/// framework_set_scheduler answers -32602 above the manager's limit.
using reactor::kMaxPeriodUs;
using reactor::kMinPeriodUs;

/// Period and busy-wait unit of a load thread's timed poller (SPDK's test app:
/// 100 ms, busy-waiting active% of it).
inline constexpr std::uint64_t kLoadPollerPeriodUs = 100'000;

struct ControlPlaneOptions {
  /// What framework init builds the Runtime from. Before init,
  /// scheduler_set_options edits pool.main_core and pool.isolated and
  /// framework_set_scheduler edits scheduler.initial and scheduler.options.
  /// `start_scheduler` and `control_thread` are forced to true.
  RuntimeOptions runtime;
  /// The scheduler was chosen explicitly (reactord --scheduler): before init
  /// framework_get_scheduler names it (SPDK shows no name until one is set).
  bool scheduler_chosen = false;
  /// Where the DPDK governor records the cores' cpufreq settings
  /// (reactord --cpufreq-state).
  std::string cpufreq_state_path = std::string(kDefaultCpufreqStatePath);
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options);
  /// Calls stop().
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  /// Registers every method on `engine` (which must outlive this object or
  /// stop being stepped before it dies) and sets its state: RUNTIME when
  /// already initialized, else STARTUP. Errors: a name already registered.
  Result<void> register_methods(RpcEngine& engine);

  /// Framework init: creates the Runtime (governor, reactors, scheduler with
  /// the pending options), switches the engine to RUNTIME and answers waiting
  /// framework_wait_init calls. Idempotent. Errors: Runtime::create's (bad
  /// cores, governor, initial scheduler); nothing is left running then and the
  /// state stays STARTUP.
  Result<void> initialize();
  bool initialized() const noexcept { return runtime_ != nullptr; }
  /// The runtime; nullptr before initialize().
  Runtime* runtime() noexcept { return runtime_.get(); }
  /// The options init uses (or used).
  const RuntimeOptions& options() const noexcept { return opts_.runtime; }

  /// Stops the runtime (control thread joined, placement restored, every
  /// thread, load threads included, asked to exit and joined). Idempotent.
  StopReport stop();

 private:
  struct LoadThread;

  // methods.cc: framework and scheduler methods
  void get_version(const nlohmann::json* params, RpcResponder r);
  void get_scheduler(const nlohmann::json* params, RpcResponder r);
  void set_scheduler(const nlohmann::json* params, RpcResponder r);
  void set_options(const nlohmann::json* params, RpcResponder r);
  void start_init(const nlohmann::json* params, RpcResponder r);
  void wait_init(const nlohmann::json* params, RpcResponder r);
  void get_history(const nlohmann::json* params, RpcResponder r);
  void get_subsystems(const nlohmann::json* params, RpcResponder r);
  // methods_config.cc: save_config, framework_get_config, reactor_set_options
  void save_config(const nlohmann::json* params, RpcResponder r);
  void get_config(const nlohmann::json* params, RpcResponder r);
  void set_reactor_options(const nlohmann::json* params, RpcResponder r);
  /// The "config" member of subsystem `name` (an array, or null).
  nlohmann::ordered_json subsystem_config(std::string_view name) const;
  // methods_stats.cc: read-only views of the runtime
  void get_reactors(const nlohmann::json* params, RpcResponder r);
  void get_reactor_stats(const nlohmann::json* params, RpcResponder r);
  void get_governor(const nlohmann::json* params, RpcResponder r);
  void get_thread_stats(const nlohmann::json* params, RpcResponder r);
  void get_pollers(const nlohmann::json* params, RpcResponder r);
  // methods_trace.cc: one consistent read for `reactorctl record`
  void get_load(const nlohmann::json* params, RpcResponder r);
  // methods_load.cc: scheduler test-app load threads
  void load_create(const nlohmann::json* params, RpcResponder r);
  void load_set_active(const nlohmann::json* params, RpcResponder r);
  void load_delete(const nlohmann::json* params, RpcResponder r);
  std::shared_ptr<LoadThread> find_load(std::uint64_t id);

  ControlPlaneOptions opts_;
  RpcEngine* engine_ = nullptr;
  std::unique_ptr<Runtime> runtime_;
  std::vector<RpcResponder> init_waiters_;  // framework_wait_init before init
  std::map<std::uint32_t, CpuTimes> cpu_baseline_;
  std::map<std::uint64_t, std::shared_ptr<LoadThread>> loads_;  // by thread id
  bool stopped_ = false;
};

}  // namespace reactor::rpc
