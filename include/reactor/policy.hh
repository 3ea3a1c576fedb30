#pragma once
/// SchedulingPolicy: the contract every policy in schedulers/ implements.
/// A policy is built from validated options plus what it leases (a governor),
/// and `balance()` is a pure function of the snapshot. Destroying a policy
/// (its PlacementGuard and GovernorLease) restores what it changed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <reactor/error.hh>
#include <reactor/governor.hh>
#include <reactor/ids.hh>
#include <reactor/load_snapshot.hh>

namespace reactor {

/// The built-in policies. Names: "static", "dynamic", "gscheduler" (alias "global").
enum class PolicyKind { Static, Dynamic, Global };

/// Canonical SPDK-compatible name: "static", "dynamic", "gscheduler".
std::string_view policy_name(PolicyKind kind) noexcept;
/// Parses "static", "dynamic", "gscheduler" or "global"; the error lists the known names.
Result<PolicyKind> parse_policy_name(std::string_view name);

/// Options of the dynamic policy (SPDK defaults). Percentages are 0..100.
/// The three placement preferences are our extension; each is off by
/// default, and with all three off a plan's moves are SPDK's (see
/// dynamic_policy.cc for where else they differ). They only reorder or
/// narrow the cores a busy thread may move to; which threads move, and why,
/// stays SPDK's rule (main core, a lower core, or any core when its own is at
/// core_limit).
struct DynamicOptions {
  uint32_t load_limit = 20;  ///< a thread below this busy % is idle
  uint32_t core_limit = 80;  ///< do not fill a core past this busy %
  uint32_t core_busy = 95;   ///< a core past this is overloaded: spread
  /// Prefer cores of the thread's NUMA node (its home core's node) while one
  /// of them has room; never move a busy thread to a third node just to
  /// consolidate (only when its core is at core_limit).
  bool numa_local = false;
  /// Fill an awake physical core's idle SMT sibling before waking a physical
  /// core whose hyperthreads are all idle; never wake a whole physical core
  /// for a busy thread whose own core is under core_limit.
  bool smt_last = false;
  /// Never wake a core (one with no busy thread: it sleeps this round) for a
  /// busy thread whose own core is under core_limit, and when its core is at
  /// core_limit prefer an awake core with room to a sleeping one.
  bool keep_asleep = false;
  /// Send an idle thread to the main core only if main stays under
  /// core_limit with it; otherwise it stays where it is (its core sleeps
  /// unless a busy thread ends there). Off, idle threads go to main however
  /// loaded main is, as SPDK does.
  bool main_room = false;
  bool operator==(const DynamicOptions&) const = default;
};

/// Dynamic leaves a thread where it is for this many rounds after it moved
/// (ThreadLoad::rounds_since_move < this), unless its core is at core_busy.
/// The round right after a move measures the migration itself (cold caches,
/// I/O still completing on the old core, messages in flight); waiting three
/// periods gives at least two clean samples on the new core before judging it
/// again, and bounds any back-and-forth to one move per four periods (4 s at
/// the default period).
inline constexpr uint32_t kDynamicSettleRounds = 3;

/// One `mappings` entry of the static policy: thread -> home core.
struct HomeMapping {
  ThreadId thread;
  CoreId core;
};

/// Parses "<thread_id>:<core>[,<thread_id>:<core>...]"; errors name the bad pair.
Result<std::vector<HomeMapping>> parse_mappings(std::string_view text);

/// A switch request's options. Absent members keep the committed value.
struct PolicyOptionsUpdate {
  std::optional<uint64_t> period_us;
  std::optional<uint32_t> load_limit;
  std::optional<uint32_t> core_limit;
  std::optional<uint32_t> core_busy;
  std::optional<bool> numa_local;   ///< dynamic only (our extension)
  std::optional<bool> smt_last;     ///< dynamic only (our extension)
  std::optional<bool> keep_asleep;  ///< dynamic only (our extension)
  std::optional<bool> main_room;    ///< dynamic only (our extension)
  std::optional<std::string> mappings;  ///< static only
};

/// What the runtime looks like to option validation (no side effects).
struct PolicyContext {
  CpuSet cores;           ///< reactors of the pool
  CpuSet isolated;        ///< cores no thread may be moved to or from
  CoreId main_core;
  /// Live threads: id -> cpumask (for mappings validation).
  std::map<ThreadId, CpuSet> threads;
  bool governor_available = false;
  std::string governor_unavailable_reason;
};

/// What restoring placement achieved (written to the transition record).
struct RestoreReport {
  uint32_t moves_requested = 0;   ///< threads that were away from home
  uint32_t moves_done = 0;        ///< acknowledged as landed at home
  uint32_t moves_skipped = 0;     ///< not movable (exiting, isolated end, in transit)
  /// The bounded wait expired, or a thread is still away from home: the
  /// restore is partial (never reported as ok).
  bool timed_out = false;
  std::vector<ThreadId> left_away;  ///< live threads not home when the restore gave up
  std::string detail;             ///< what could not be restored and what held it up
  bool partial() const noexcept { return timed_out || !left_away.empty(); }
};

/// Implemented by the runtime: brings every movable live thread back to its
/// home core and every reactor back to the baseline mode, waiting (bounded)
/// for the moves to land. Never throws; failures go into the report.
class PlacementControl {
 public:
  virtual ~PlacementControl() = default;
  virtual RestoreReport restore_placement() noexcept = 0;
};

/// RAII: its destructor is the restore. Owned by every policy, so destroying a
/// policy returns the thread-to-core map and the reactor modes to baseline.
class PlacementGuard {
 public:
  PlacementGuard() = default;
  /// `report` (may be null) receives the outcome; both must outlive the guard.
  PlacementGuard(PlacementControl& control, RestoreReport* report) : control_(&control), report_(report) {}
  PlacementGuard(PlacementGuard&& o) noexcept : control_(o.control_), report_(o.report_) { o.control_ = nullptr; }
  PlacementGuard& operator=(PlacementGuard&&) = delete;
  PlacementGuard(const PlacementGuard&) = delete;
  PlacementGuard& operator=(const PlacementGuard&) = delete;
  ~PlacementGuard() {
    if (control_ == nullptr) return;
    RestoreReport r = control_->restore_placement();
    if (report_ != nullptr) *report_ = std::move(r);
  }

 private:
  PlacementControl* control_ = nullptr;
  RestoreReport* report_ = nullptr;
};

/// The policy contract. Calls come from the control thread only.
class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy() = default;
  virtual PolicyKind kind() const noexcept = 0;
  /// The leased governor, or nullptr; the manager applies frequency requests through it.
  virtual Governor* governor() noexcept { return nullptr; }
  /// Pure: same snapshot, same plan. Must accept zero-sample cores/threads,
  /// must only plan cores inside each thread's cpumask, never to or from an
  /// isolated core, and each thread at most once.
  virtual Plan balance(const LoadSnapshot& snapshot) = 0;
};

// Validation is static and side-effect free: each returns a message naming
// the bad option.

/// Dynamic: percentages 0..100, the placement booleans merged; mappings not accepted.
Result<DynamicOptions> validate_dynamic_options(const DynamicOptions& current,
                                                const PolicyOptionsUpdate& update);
/// Static: mappings parse, thread exists, core is a reactor, core in the
/// thread's cpumask, core not isolated; dynamic keys are not accepted.
Result<std::vector<HomeMapping>> validate_static_options(const PolicyContext& ctx,
                                                         const PolicyOptionsUpdate& update);
/// Global: needs a governor; no dynamic keys or mappings.
Result<void> validate_global_options(const PolicyContext& ctx, const PolicyOptionsUpdate& update);

/// Pure balance functions, usable without constructing a policy (benchmarks,
/// property tests). Each is what the corresponding policy's balance() returns.
Plan balance_static(const LoadSnapshot& snapshot);
Plan balance_dynamic(const LoadSnapshot& snapshot, const DynamicOptions& options);
/// `freq_levels` is not needed: the plan carries step actions for the governor.
Plan balance_global(const LoadSnapshot& snapshot);

// Factories. Member order inside each policy: the lease is released before
// the guard restores placement; both happen in the policy's destructor.

/// Static: every thread home, every reactor polling. Cannot fail.
std::unique_ptr<SchedulingPolicy> make_static_policy(PlacementGuard guard);
/// Dynamic: `lease` may be empty (no governor: frequency steps are skipped).
std::unique_ptr<SchedulingPolicy> make_dynamic_policy(PlacementGuard guard, DynamicOptions options,
                                                      GovernorLease lease);
/// Global: fails (Errc::unsupported, naming why) when `lease` is empty.
Result<std::unique_ptr<SchedulingPolicy>> make_global_policy(PlacementGuard guard, GovernorLease lease);

}  // namespace reactor
