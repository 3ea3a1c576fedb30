#pragma once
/// reactor-sim's engine: one policy over a modelled load, on the production
/// code. Each run builds a ReactorPool in Launch::Manual on a ManualClock
/// (sim::ManualPool) over the given topology, spawns real lightweight
/// threads, and drives the real SchedulerManager (switch_to, run_round) with
/// a SimGovernor. The threads do no work of their own: their demand comes
/// from a DemandSource, and the model (README "reactor-sim: the model")
/// decides each round how much of it each core served, how much is queued
/// and how long it waited; SchedulerManagerOptions::load_source puts that
/// load into the round's snapshot, so the policy balances the modelled load
/// while the placement it changes is the real pool's.
///
/// The model, per round of `period` (all of it stated in README):
///   - a core serves at most period x scale of work, scale = its current
///     frequency / its baseline frequency (the SimGovernor's ladder); work
///     is in microseconds of a core at baseline frequency;
///   - what it cannot serve is queued, FIFO per core, carried to the next
///     round (a thread's queued work moves with it, like its message ring);
///   - work arrives evenly over the round; its delay is the fluid FIFO wait
///     (queue ahead / service rate) sampled at four points of the round;
///   - a core in Interrupt mode burns nothing while idle; work arriving
///     while it sleeps waits `wake_us`, counted once per burst of `burst_us`
///     that finds it idle (bursts x (1 - utilisation));
///   - a core in Poll mode burns the whole period;
///   - a thread that moved in the previous round does `move_stall_us` more
///     work in this one (cold caches, state re-established on its new core).
/// Single OS thread; not thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/policy.hh>
#include <reactor/thread.hh>
#include <reactor/topology.hh>

namespace reactor::sim {

/// The model's parameters (CLI options of reactor-sim; defaults stated there).
struct ModelOptions {
  double period_s = 1.0;        ///< round length unless a policy sets period_us
  double wake_us = 50;          ///< wait of work that finds an Interrupt-mode core asleep
  double move_stall_us = 200;   ///< extra work of a thread in the round after it moved
  double burst_us = 100;        ///< work arrives in bursts of this size (wake count)
};

Result<void> validate(const ModelOptions& options);

/// A policy to run: one `--policy NAME[:key=value,...]`.
struct PolicySpec {
  std::string text;              ///< as given
  std::string name;              ///< static, dynamic, gscheduler, spdk-dynamic
  PolicyKind kind = PolicyKind::Static;
  bool spdk = false;             ///< SPDK's dynamic algorithm (kind Dynamic)
  PolicyOptionsUpdate update;
};

/// Parses "dynamic:load_limit=30,core_limit=70", "static", "gscheduler" (alias
/// "global"), "spdk-dynamic:core_busy=90". Keys: period_us (all but static),
/// load_limit, core_limit, core_busy (dynamic, spdk-dynamic), numa_local,
/// smt_last, keep_asleep, main_room (dynamic: true or false). Errors name the
/// bad key or value and list what the policy takes.
Result<PolicySpec> parse_policy_spec(std::string_view text);

/// Where the demand comes from (a generated workload, a trace).
class DemandSource {
 public:
  virtual ~DemandSource() = default;
  /// Thread count (fixed for the run).
  virtual uint32_t threads() const = 0;
  /// Demand of each thread in [t_s, t_s + period_s), microseconds of baseline core time.
  virtual void demand(double t_s, double period_s, std::vector<double>& out_us) = 0;
};

struct SimSetup {
  Topology topology = Topology::flat(1);
  std::string topology_text;      ///< for titles
  CpuSet reactor_cores;           ///< default: every core of the topology
  CpuSet thread_mask;             ///< every thread's cpumask; default: every reactor core
  std::optional<CoreId> main_core;
  double duration_s = 3600;
  ModelOptions model;
  bool keep_series = false;       ///< per-round, per-core series (plots)
  /// Per-thread spawn options (cpumask, home) by thread index; default: the
  /// thread_mask and round-robin homes.
  std::function<void(uint32_t, ThreadOptions&)> thread_options;
  /// Builds a fresh source for each policy (every policy sees the same demand).
  std::function<std::unique_ptr<DemandSource>()> source;
};

/// One round that decided something: moved a thread or changed a core's mode.
struct DecidingRound {
  uint64_t round = 0;
  double t_s = 0;
  uint32_t moves = 0;
  uint32_t mode_changes = 0;
  uint32_t frequency_changes = 0;
  std::string first_reason;       ///< the first move's reason, if any
};

/// Per-round series for pictures (kept when SimSetup::keep_series).
struct SimSeries {
  std::vector<uint32_t> cores;                  ///< row labels
  std::vector<std::vector<float>> busy_pct;     ///< [round][core], above 100: demand queued
  std::vector<std::vector<uint8_t>> sleeping;   ///< [round][core], Interrupt mode and no work
  std::vector<double> cpu_used_s;               ///< per round, core-seconds
  std::vector<double> queued_s;                 ///< per round end, core-seconds of queued work
  std::vector<double> moves;                    ///< per round
  struct Move {
    double t_s;
    uint32_t from, to;
  };
  std::vector<Move> move_list;                  ///< first 100,000
};

struct PolicyResult {
  std::string policy;           ///< the --policy text
  std::string options;          ///< effective options, "period_us=... load_limit=..."
  uint64_t rounds = 0;
  double period_s = 0;
  double simulated_s = 0;
  double real_s = 0;            ///< wall time this run took
  double cpu_s = 0;             ///< CPU time this run took (the process's, on one OS thread)
  uint64_t passes = 0;          ///< reactor passes (every reactor polled once) the run drove
  uint32_t threads = 0;
  uint32_t cores = 0;
  // Energy proxy.
  double polling_s = 0;         ///< core-seconds of Poll-mode cores (a polling core burns all of it)
  double sleeping_s = 0;        ///< core-seconds Interrupt-mode cores slept
  double busy_s = 0;            ///< core-seconds cores were busy (both modes; at their frequency)
  double work_s = 0;            ///< work served, in seconds of a core at baseline frequency
  double demand_s = 0;          ///< work that arrived (move stalls included), same unit
  double cpu_used_s = 0;        ///< polling_s + busy time of Interrupt-mode cores
  // Latency risk.
  uint32_t core_busy = 95;      ///< threshold used (the policy's core_busy, else the default)
  double above_core_busy_s = 0; ///< core-seconds of cores at or above core_busy
  double delay_p50_us = 0;      ///< of all work (work-weighted)
  double delay_p99_us = 0;
  double worst_thread_p99_us = 0;  ///< the highest per-thread p99
  double queued_end_s = 0;      ///< work still queued at the end
  double wakes = 0;             ///< modelled wake-ups of Interrupt-mode cores
  // Decisions.
  uint64_t moves = 0;           ///< landed
  uint64_t moves_skipped = 0;
  double moves_per_thread_hour = 0;
  uint64_t mode_changes = 0;
  uint64_t frequency_changes = 0;  ///< core-rounds whose frequency changed
  uint64_t deciding_rounds = 0;
  std::vector<DecidingRound> deciding;  ///< the first kMaxDecidingListed
  std::vector<std::string> problems;    ///< round problems (first few)
  SimSeries series;

  static constexpr size_t kMaxDecidingListed = 50;
};

/// Runs `policy` over the setup. Errors: the pool cannot be built on the
/// topology, the threads cannot be spawned, the switch to the policy is
/// refused (its message names the option).
Result<PolicyResult> run_policy(const SimSetup& setup, const PolicySpec& policy);

}  // namespace reactor::sim
