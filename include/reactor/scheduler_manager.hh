#pragma once
/// SchedulerManager: owns the current scheduling policy and its options, runs
/// periodic rounds (snapshot -> balance -> apply moves and modes -> frequencies)
/// and switches policy through RAII transitions:
///   1. validate the merged options and the target's preconditions (nothing
///      changes on failure);
///   2. no round is in flight (rounds and switches share one lock);
///   3. destroy the current policy: its PlacementGuard brings every movable
///      live thread home and every reactor to baseline; its GovernorLease
///      restores frequencies and frees the governor;
///   4. construct the target; if that fails rebuild the previous policy with
///      its previous options, and if even that fails, Static;
///   5. commit the options and record the transition in a bounded history.
/// Every method may be called from any OS thread except a reactor thread
/// (the blocking switch would wait on the reactors it runs on): there, use
/// switch_async(), which the control thread executes.
///
/// Reads (status, transitions, rounds) never wait behind a switch or a round:
/// they take a separate lock that is held only to copy published state. A
/// switch or round waits for its moves through the pool's wait function; on
/// the Runtime's control thread that wait keeps serving the control hook (the
/// RPC server), so the control plane answers while a switch is in flight.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <reactor/error.hh>
#include <reactor/governor.hh>
#include <reactor/policy.hh>
#include <reactor/pool.hh>

namespace reactor {

namespace detail {
class PoolPlacement;
class RecentLoad;
}

/// Longest accepted period: one year in microseconds (longer ones would
/// overflow the manager's time arithmetic).
inline constexpr uint64_t kMaxPeriodUs = 365ULL * 24 * 3600 * 1'000'000;
/// Shortest accepted period: 10 ms. Rounds more frequent than that burn a
/// CPU on an idle daemon (a 1 us period ran 2.6 M rounds, 87 % of a CPU) and
/// moved threads never settle between two of them.
inline constexpr uint64_t kMinPeriodUs = 10'000;
/// The period a switch to dynamic or gscheduler gets when none was given and
/// none is committed (SPDK's default: 1 s).
inline constexpr uint64_t kDefaultPeriodUs = 1'000'000;

/// Options committed in the manager (SPDK keeps them across switches too).
struct SchedulerOptions {
  uint64_t period_us = 0;   ///< 0: no periodic rounds
  DynamicOptions dynamic;
};

/// What a validated switch request will commit (see plan_switch()).
struct SwitchPlan {
  PolicyKind target = PolicyKind::Static;
  SchedulerOptions next;              ///< the options committed if the switch succeeds
  std::vector<HomeMapping> mappings;  ///< static only: new home cores
};

/// The switch rules, in one place (the manager and the RPC layer's pre-init
/// path both call it). Pure: merges `update` into `committed` for `target`
/// and validates the result against `ctx`:
///   - period: static commits 0; a non-zero requested period replaces the
///     committed one; none requested and none committed -> kDefaultPeriodUs;
///     outside kMinPeriodUs..kMaxPeriodUs is refused;
///   - options: each policy refuses the others' keys; percentages 0..100;
///     mappings parse and name live threads and allowed, non-isolated cores;
///   - gscheduler: a governor whose lease can be obtained (ctx).
/// Errors name the bad option; nothing is changed by a failure.
Result<SwitchPlan> plan_switch(PolicyKind target, const SchedulerOptions& committed,
                               const PolicyOptionsUpdate& update, const PolicyContext& ctx);

/// One policy switch, successful or not.
struct TransitionRecord {
  uint64_t seq = 0;
  std::chrono::system_clock::time_point at;
  PolicyKind from = PolicyKind::Static;
  PolicyKind to = PolicyKind::Static;       ///< requested target
  PolicyKind result_policy = PolicyKind::Static;  ///< what runs afterwards
  std::string options;                      ///< the request's options, "key=value ..."
  std::chrono::microseconds duration{0};
  RestoreReport restore;                    ///< what the old policy's destructor restored
  bool ok = false;                          ///< false for a failed switch and for a partial restore
  std::string result;                       ///< "ok", "partial: ..." or what failed and what runs now
};

/// One scheduling round.
struct RoundRecord {
  uint64_t seq = 0;
  PolicyKind policy = PolicyKind::Static;
  std::chrono::microseconds duration{0};
  std::vector<ThreadMove> moves;            ///< planned moves with their reasons
  uint32_t moves_landed = 0;
  uint32_t moves_skipped = 0;
  uint32_t mode_changes = 0;
  uint32_t frequency_requests = 0;
  std::vector<std::string> problems;        ///< skipped moves, stuck reactors, governor errors
  uint64_t at_tick = 0;                     ///< pool clock tick when the round took its snapshot
  /// Pool clock ticks between the previous round's snapshot and this one's
  /// (the wall time the snapshot's deltas cover; for the first round, the
  /// longest busy + idle of a core).
  uint64_t ticks = 0;
  /// The load the policy balanced, exactly as it saw it: kept only once a
  /// recorder asked for it (SchedulerManager::keep_round_loads()), else null.
  /// Immutable once published, shared by every copy of the record.
  std::shared_ptr<const LoadSnapshot> load;
};

/// Read-only view of the manager.
struct SchedulerStatus {
  PolicyKind policy = PolicyKind::Static;
  SchedulerOptions options;
  uint64_t period_us = 0;                   ///< effective period (0 for static)
  CoreId main_core;
  CpuSet isolated;
  std::string governor_name;                ///< empty when the policy holds no governor
  uint64_t rounds = 0;
  uint64_t transitions = 0;
  uint64_t moves_landed = 0;                ///< thread moves landed by rounds since start
  std::optional<RoundRecord> last_round;
  /// Set while a switch is in flight (its target); `policy` is still the old one.
  std::optional<PolicyKind> switching_to;
};

struct SchedulerManagerOptions {
  PolicyKind initial = PolicyKind::Static;
  SchedulerOptions options;
  size_t history_limit = 64;                ///< transitions and rounds kept
  /// Fault injection for tests: called before each policy construction; an
  /// error or an exception makes that construction fail (as a governor
  /// failing or an allocation throwing would).
  std::function<Result<void>(PolicyKind)> before_build;
  /// Fault injection for tests: called with each round's snapshot before the
  /// policy's balance(); an exception counts as balance() throwing.
  std::function<void(const LoadSnapshot&)> before_balance;
  /// The simulator's hook (reactor-sim, src/sim/): called with each round's
  /// snapshot right after it is taken from the pool and before anything
  /// reads it. It may replace the load of every CoreLoad and ThreadLoad
  /// (busy, idle, overhead, stalled) with a model's; the placement (core,
  /// home, cpumask, rounds_since_move, in_interrupt, thread_count) must stay
  /// what the pool says, since the round applies its plan to the pool.
  /// Empty in every daemon: the snapshot is the pool's measurement.
  std::function<void(LoadSnapshot&)> load_source;
  /// The simulator's hook: builds the policy that runs under
  /// PolicyKind::Dynamic (same name, option rules and governor lease) in place
  /// of make_dynamic_policy, so reactor-sim can run SPDK's dynamic algorithm
  /// (src/sim/spdk_dynamic_policy.hh) on the production manager. Empty in
  /// every daemon. An exception counts as a failed construction.
  std::function<std::unique_ptr<SchedulingPolicy>(PlacementGuard, DynamicOptions, GovernorLease)> dynamic_factory;
};

class SchedulerManager {
 public:
  /// Builds the initial policy. `pool` and `governor` must outlive the manager.
  /// Errors: the initial policy cannot be built (e.g. global without governor).
  static Result<std::unique_ptr<SchedulerManager>> create(ReactorPool& pool, GovernorSlot& governor,
                                                          SchedulerManagerOptions options = {});
  /// Destroys the policy (restoring placement) before returning.
  ~SchedulerManager();

  /// Blocking switch (see the header comment). Errors: invalid options or
  /// preconditions (nothing changed), Errc::wrong_thread on a reactor thread
  /// (any launch kind) or on the thread running a switch already,
  /// Errc::internal when construction failed (the message says what runs
  /// now), Errc::timeout when the target runs but the old policy's restore
  /// was partial (the message names the threads left away and what held them).
  Result<void> switch_to(PolicyKind target, const PolicyOptionsUpdate& update);
  /// Same, by name ("static", "dynamic", "gscheduler" or "global").
  Result<void> switch_to(std::string_view target, const PolicyOptionsUpdate& update);
  /// Queues a switch for the control thread's next step(); `done` runs there.
  /// Queued switches run one at a time in request order (a request made
  /// while a switch is in flight waits for it).
  void switch_async(PolicyKind target, PolicyOptionsUpdate update, std::function<void(Result<void>)> done);

  /// Control thread: executes queued switches, then a round if the period has
  /// elapsed since the last one (the first round after a switch is immediate).
  /// Returns the time until the next round is due (for the caller's sleep).
  std::chrono::microseconds step();
  /// Runs one round now (tests, the deterministic harness).
  RoundRecord run_round();

  SchedulerStatus status() const;
  std::vector<TransitionRecord> transitions() const;
  std::vector<RoundRecord> rounds() const;
  /// The kept rounds whose seq is above `seq` (oldest first), without copying
  /// the older ones. Any thread; never waits behind a round or a switch.
  std::vector<RoundRecord> rounds_since(uint64_t seq) const;
  /// From the next round on, every round record keeps the LoadSnapshot its
  /// policy balanced (RoundRecord::load), within the history bound. Off until
  /// first called (a recorder calls it), so a daemon nobody records pays
  /// nothing; the snapshot is moved into the record, never copied.
  /// Idempotent; any thread.
  void keep_round_loads() noexcept { keep_loads_.store(true, std::memory_order_relaxed); }

 private:
  struct Token {};

 public:
  SchedulerManager(Token, ReactorPool& pool, GovernorSlot& governor, SchedulerManagerOptions options);

 private:
  Result<std::unique_ptr<SchedulingPolicy>> build(PolicyKind kind, const SchedulerOptions& opts) noexcept;
  Result<void> switch_locked(PolicyKind target, const PolicyOptionsUpdate& update);
  RoundRecord round_locked();
  PolicyContext context() const;
  void publish_policy();

  ReactorPool& pool_;
  GovernorSlot& governor_;
  size_t history_limit_;
  std::function<Result<void>(PolicyKind)> before_build_;
  std::function<void(const LoadSnapshot&)> before_balance_;
  std::function<void(LoadSnapshot&)> load_source_;
  std::function<std::unique_ptr<SchedulingPolicy>(PlacementGuard, DynamicOptions, GovernorLease)> dynamic_factory_;
  std::unique_ptr<detail::PoolPlacement> placement_;
  std::unique_ptr<detail::RecentLoad> recent_;  // mu_
  // mu_ serializes switches and rounds (held across their waits); holder_ is
  // the OS thread holding it, so a re-entrant call fails instead of deadlocking.
  mutable std::mutex mu_;
  std::atomic<std::thread::id> holder_{};
  std::unique_ptr<SchedulingPolicy> policy_;  // mu_
  PolicyKind kind_ = PolicyKind::Static;      // written under mu_ and pub_mu_
  SchedulerOptions options_;                  // written under mu_ and pub_mu_
  RestoreReport last_restore_;                // mu_; written by the policy's guard
  std::chrono::steady_clock::time_point last_round_{};
  bool round_due_now_ = true;
  uint64_t last_snapshot_tick_ = 0;           // mu_
  std::atomic<bool> keep_loads_{false};

  // Published state: what readers see. Held only to copy.
  mutable std::mutex pub_mu_;
  std::string governor_name_;
  std::optional<PolicyKind> switching_to_;
  std::deque<TransitionRecord> transitions_;
  std::deque<RoundRecord> rounds_;
  uint64_t round_seq_ = 0;
  uint64_t transition_seq_ = 0;
  uint64_t moves_landed_ = 0;

  std::mutex queue_mu_;
  struct Pending {
    PolicyKind target;
    PolicyOptionsUpdate update;
    std::function<void(Result<void>)> done;
  };
  std::deque<Pending> queue_;
};

/// "period_us=1000000 load_limit=20 ..." for a request (history, logs).
std::string describe(const PolicyOptionsUpdate& update);

}  // namespace reactor
