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

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <reactor/error.hh>
#include <reactor/governor.hh>
#include <reactor/policy.hh>
#include <reactor/pool.hh>

namespace reactor {

/// Options committed in the manager (SPDK keeps them across switches too).
struct SchedulerOptions {
  uint64_t period_us = 0;   ///< 0: no periodic rounds
  DynamicOptions dynamic;
};

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
  bool ok = false;
  std::string result;                       ///< "ok" or what failed and what runs now
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
  std::vector<std::string> problems;        ///< skipped moves, governor errors
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
  std::optional<RoundRecord> last_round;
};

struct SchedulerManagerOptions {
  PolicyKind initial = PolicyKind::Static;
  SchedulerOptions options;
  size_t history_limit = 64;                ///< transitions and rounds kept
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
  /// preconditions (nothing changed), Errc::wrong_thread on a reactor thread,
  /// Errc::internal when construction failed (the message says what runs now).
  Result<void> switch_to(PolicyKind target, const PolicyOptionsUpdate& update);
  /// Same, by name ("static", "dynamic", "gscheduler" or "global").
  Result<void> switch_to(std::string_view target, const PolicyOptionsUpdate& update);
  /// Queues a switch for the control thread's next step(); `done` runs there.
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

 private:
  struct Token {};

 public:
  SchedulerManager(Token, ReactorPool& pool, GovernorSlot& governor, SchedulerManagerOptions options);

 private:
  Result<std::unique_ptr<SchedulingPolicy>> build(PolicyKind kind, const SchedulerOptions& opts);
  Result<void> switch_locked(PolicyKind target, const PolicyOptionsUpdate& update);
  RoundRecord round_locked();
  PolicyContext context() const;

  ReactorPool& pool_;
  GovernorSlot& governor_;
  size_t history_limit_;
  mutable std::mutex mu_;                    // serializes switches and rounds
  std::unique_ptr<SchedulingPolicy> policy_;
  PolicyKind kind_ = PolicyKind::Static;
  SchedulerOptions options_;
  RestoreReport last_restore_;               // written by the policy's guard
  std::deque<TransitionRecord> transitions_;
  std::deque<RoundRecord> rounds_;
  uint64_t round_seq_ = 0;
  uint64_t transition_seq_ = 0;
  std::chrono::steady_clock::time_point last_round_{};
  bool round_due_now_ = true;

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
