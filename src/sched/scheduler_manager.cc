// SchedulerManager. Design notes:
//
// Locks. mu_ serializes switches and rounds, so "no round runs during a
// switch" holds by construction, and there is never more than one policy
// alive: the old one is destroyed (step 3) before the new one is built
// (step 4). It is held across the waits for moves. Readers never take it:
// status(), transitions() and rounds() copy the published state under
// pub_mu_, which is only held to write or copy. The control thread never
// blocks on mu_ either: step() only try-locks it (a blocking switch_to from
// another OS thread may hold it), and its waits serve the control hook (see
// Runtime), so RPC reads are answered while a switch or round is in flight.
//
// A switch (switch_locked):
//   1. plan_switch(): merge and validate (period rule, each policy's option
//      rules, mappings, a governor lease that can be obtained). Failure:
//      nothing changed, nothing recorded;
//   2. no round is in flight (same mutex);
//   3. destroy the current policy: its GovernorLease restores frequencies and
//      frees the governor, then its PlacementGuard brings threads home and
//      reactors to the baseline mode (bounded; a partial restore is named);
//   4. static mappings: all or nothing (a mapped thread that exited since
//      step 1 fails the switch like a failed construction); build the target:
//      the governor lease is taken before the guard exists, so a failed build
//      runs no extra restore; an exception is a failed build. On failure
//      rebuild the previous policy with its previous options; if even that
//      fails, Static, which cannot fail;
//   5. commit the options, publish, record the transition (ok / partial /
//      failed) in the bounded history.
//
// A round: snapshot (deltas since the last one; stuck reactors named) ->
// balance (an exception is a problem of the round, never a crash) -> core
// modes -> moves (acknowledged, bounded by the pool's wait_bound) ->
// frequencies through the policy's lease. Everything a round could not do is
// in its record.

#include <reactor/scheduler_manager.hh>

#include <algorithm>

#include <reactor/log.hh>

#include "env/probes.hh"
#include "sched/placement.hh"
#include "sched/recent_load.hh"

namespace reactor {
namespace {

constexpr auto kIdleStep = std::chrono::milliseconds(100);
// How soon step() tries again when a blocking switch_to from another OS
// thread holds the manager.
constexpr auto kBusyRetry = std::chrono::milliseconds(1);

// Marks the calling OS thread as the holder of mu_ for the scope.
class HolderScope {
 public:
  explicit HolderScope(std::atomic<std::thread::id>& h) : h_(h) { h_.store(std::this_thread::get_id()); }
  ~HolderScope() { h_.store(std::thread::id{}); }
  HolderScope(const HolderScope&) = delete;
  HolderScope& operator=(const HolderScope&) = delete;

 private:
  std::atomic<std::thread::id>& h_;
};

}  // namespace

std::string describe(const PolicyOptionsUpdate& u) {
  std::string s;
  auto add = [&](std::string_view k, const auto& v) {
    if (!s.empty()) s += ' ';
    s += fmt::format("{}={}", k, v);
  };
  if (u.period_us) add("period_us", *u.period_us);
  if (u.load_limit) add("load_limit", *u.load_limit);
  if (u.core_limit) add("core_limit", *u.core_limit);
  if (u.core_busy) add("core_busy", *u.core_busy);
  if (u.numa_local) add("numa_local", *u.numa_local);
  if (u.smt_last) add("smt_last", *u.smt_last);
  if (u.keep_asleep) add("keep_asleep", *u.keep_asleep);
  if (u.main_room) add("main_room", *u.main_room);
  if (u.mappings) add("mappings", *u.mappings);
  return s;
}

Result<SwitchPlan> plan_switch(PolicyKind target, const SchedulerOptions& committed,
                               const PolicyOptionsUpdate& update, const PolicyContext& ctx) {
  if (update.period_us && *update.period_us > kMaxPeriodUs)
    return make_error(Errc::invalid_argument,
                      fmt::format("period {} us is more than one year ({} us)", *update.period_us, kMaxPeriodUs));
  if (update.period_us && *update.period_us != 0 && *update.period_us < kMinPeriodUs)
    return make_error(Errc::invalid_argument,
                      fmt::format("period {} us is below the minimum of {} us (10 ms): rounds that frequent burn "
                                  "CPU and moved threads never settle",
                                  *update.period_us, kMinPeriodUs));
  SwitchPlan plan;
  plan.target = target;
  plan.next = committed;
  if (update.period_us && *update.period_us != 0) plan.next.period_us = *update.period_us;
  else if (plan.next.period_us == 0) plan.next.period_us = kDefaultPeriodUs;
  switch (target) {
    case PolicyKind::Static: {
      auto m = validate_static_options(ctx, update);
      if (!m) return tl::unexpected(m.error());
      plan.mappings = std::move(*m);
      plan.next.period_us = 0;
      break;
    }
    case PolicyKind::Dynamic: {
      auto d = validate_dynamic_options(committed.dynamic, update);
      if (!d) return tl::unexpected(d.error());
      plan.next.dynamic = *d;
      break;
    }
    case PolicyKind::Global: {
      if (auto g = validate_global_options(ctx, update); !g) return tl::unexpected(g.error());
      break;
    }
  }
  return plan;
}

Result<std::unique_ptr<SchedulerManager>> SchedulerManager::create(ReactorPool& pool, GovernorSlot& governor,
                                                                   SchedulerManagerOptions options) {
  PolicyOptionsUpdate initial;
  if (options.options.period_us != 0) initial.period_us = options.options.period_us;
  const PolicyKind kind = options.initial;
  auto m = std::make_unique<SchedulerManager>(Token{}, pool, governor, std::move(options));
  auto r = m->switch_to(kind, initial);
  if (!r) return tl::unexpected(r.error());
  return m;
}

SchedulerManager::SchedulerManager(Token, ReactorPool& pool, GovernorSlot& governor, SchedulerManagerOptions o)
    : pool_(pool),
      governor_(governor),
      history_limit_(std::max<size_t>(1, o.history_limit)),
      before_build_(std::move(o.before_build)),
      before_balance_(std::move(o.before_balance)),
      load_source_(std::move(o.load_source)),
      dynamic_factory_(std::move(o.dynamic_factory)),
      placement_(std::make_unique<detail::PoolPlacement>(pool)),
      recent_(std::make_unique<detail::RecentLoad>()),
      options_(o.options) {
  // Before the first switch the manager runs Static with nothing to restore.
  kind_ = PolicyKind::Static;
  policy_ = make_static_policy(PlacementGuard(*placement_, &last_restore_));
  options_.period_us = 0;
}

SchedulerManager::~SchedulerManager() {
  std::lock_guard lk(mu_);
  policy_.reset();
}

PolicyContext SchedulerManager::context() const {
  PolicyContext ctx;
  ctx.cores = pool_.cores();
  ctx.isolated = pool_.isolated();
  ctx.main_core = pool_.main_core();
  for (auto& t : pool_.threads())
    if (t->state() == ThreadState::Running) ctx.threads.emplace(t.id(), t->cpumask() & pool_.cores());
  // The lease the current policy holds is released in step 3, so it counts
  // as obtainable; a lease held by anyone else does not.
  const bool ours = policy_ != nullptr && policy_->governor() != nullptr;
  ctx.governor_available = governor_.available() && (!governor_.leased() || ours);
  ctx.governor_unavailable_reason =
      !governor_.available() ? governor_.unavailable_reason()
                             : fmt::format("the governor '{}' is leased by another holder (not a scheduling policy)",
                                           governor_.peek()->name());
  return ctx;
}

Result<std::unique_ptr<SchedulingPolicy>> SchedulerManager::build(PolicyKind kind,
                                                                  const SchedulerOptions& opts) noexcept {
  try {
    if (before_build_) {
      if (auto ok = before_build_(kind); !ok) return tl::unexpected(ok.error());
    }
    // The lease first: the guard (whose destructor restores) exists only once
    // nothing else can fail.
    switch (kind) {
      case PolicyKind::Static:
        return make_static_policy(PlacementGuard(*placement_, &last_restore_));
      case PolicyKind::Dynamic: {
        GovernorLease lease;
        if (governor_.available()) {
          auto l = governor_.acquire();
          if (l) lease = std::move(*l);
          else log(LogLevel::Info, "dynamic: running without a governor ({})", l.error().message);
        }
        if (dynamic_factory_)
          return dynamic_factory_(PlacementGuard(*placement_, &last_restore_), opts.dynamic, std::move(lease));
        return make_dynamic_policy(PlacementGuard(*placement_, &last_restore_), opts.dynamic, std::move(lease));
      }
      case PolicyKind::Global: {
        auto l = governor_.acquire();
        if (!l) return make_error(Errc::unsupported, fmt::format("gscheduler needs a governor: {}", l.error().message));
        return make_global_policy(PlacementGuard(*placement_, &last_restore_), std::move(*l));
      }
    }
    return make_error(Errc::internal, "unknown policy kind");
  } catch (const std::exception& e) {
    return make_error(Errc::internal, fmt::format("building {} threw: {}", policy_name(kind), e.what()));
  } catch (...) {
    return make_error(Errc::internal, fmt::format("building {} threw a non-standard exception", policy_name(kind)));
  }
}

Result<void> SchedulerManager::switch_to(std::string_view target, const PolicyOptionsUpdate& update) {
  auto kind = parse_policy_name(target);
  if (!kind) return tl::unexpected(kind.error());
  return switch_to(*kind, update);
}

Result<void> SchedulerManager::switch_to(PolicyKind target, const PolicyOptionsUpdate& update) {
  // On a reactor (its own OS thread or an EAL lcore) the wait for moves would
  // wait on the reactor that is blocked in this call.
  if (pool_.on_reactor_thread())
    return make_error(Errc::wrong_thread,
                      "switch_to called on a reactor thread would wait on the reactors it blocks: use "
                      "switch_async");
  if (holder_.load() == std::this_thread::get_id())
    return make_error(Errc::wrong_thread,
                      "switch_to called while this OS thread is running a switch or a round: use switch_async");
  std::lock_guard lk(mu_);
  HolderScope holder(holder_);
  return switch_locked(target, update);
}

void SchedulerManager::switch_async(PolicyKind target, PolicyOptionsUpdate update,
                                    std::function<void(Result<void>)> done) {
  std::lock_guard lk(queue_mu_);
  queue_.push_back(Pending{target, std::move(update), std::move(done)});
}

void SchedulerManager::publish_policy() {
  std::string gov;
  if (policy_)
    if (Governor* g = policy_->governor()) gov = g->name();
  std::lock_guard lk(pub_mu_);
  governor_name_ = std::move(gov);
}

Result<void> SchedulerManager::switch_locked(PolicyKind target, const PolicyOptionsUpdate& update) {
  const auto t0 = std::chrono::steady_clock::now();
  // 1. Validate everything first: on failure nothing has changed.
  auto plan = plan_switch(target, options_, update, context());
  if (!plan) return tl::unexpected(plan.error());

  TransitionRecord rec;
  rec.at = std::chrono::system_clock::now();
  rec.from = kind_;
  rec.to = target;
  rec.options = describe(update);
  {
    std::lock_guard lk(pub_mu_);
    rec.seq = ++transition_seq_;
    switching_to_ = target;
  }
  REACTOR_PROBE2(switch_begin, policy_name(rec.from).data(), policy_name(rec.to).data());

  // 2. No round is in flight: rounds take the same lock.
  // 3. Destroy the current policy: its lease and guard restore.
  const PolicyKind prev_kind = kind_;
  const SchedulerOptions prev_options = options_;
  last_restore_ = RestoreReport{};
  policy_.reset();
  rec.restore = last_restore_;

  // 4. Mappings (all or nothing), then the target; on failure the previous
  //    policy, else Static.
  Result<std::unique_ptr<SchedulingPolicy>> built = make_error(Errc::internal, "not built");
  if (!plan->mappings.empty()) {
    std::vector<std::pair<ThreadId, CoreId>> homes;
    for (const HomeMapping& m : plan->mappings) homes.emplace_back(m.thread, m.core);
    if (auto ok = pool_.set_homes(homes); !ok)
      built = make_error(Errc::not_found, fmt::format("mappings not applied: {}", ok.error().message));
    else
      built = build(target, plan->next);
  } else {
    built = build(target, plan->next);
  }
  Result<void> outcome;
  PolicyKind now_kind = target;
  SchedulerOptions now_options = plan->next;  // 5. commit
  if (built) {
    policy_ = std::move(*built);
    if (rec.restore.partial()) {
      rec.result = fmt::format("partial: {} runs, but the restore left threads away: {}", policy_name(target),
                               rec.restore.detail);
      outcome = make_error(Errc::timeout, fmt::format("switched to {}, but the restore left threads away: {}",
                                                       policy_name(target), rec.restore.detail));
    } else {
      rec.ok = true;
      rec.result = "ok";
    }
  } else {
    const std::string why = built.error().message;
    auto again = build(prev_kind, prev_options);
    now_kind = prev_kind;
    now_options = prev_options;
    if (again) {
      policy_ = std::move(*again);
      rec.result = fmt::format("failed: {}; {} restored with its previous options", why, policy_name(prev_kind));
    } else {
      policy_ = make_static_policy(PlacementGuard(*placement_, &last_restore_));
      now_kind = PolicyKind::Static;
      now_options.period_us = 0;
      rec.result = fmt::format("failed: {}; {} could not be rebuilt ({}); running static", why,
                               policy_name(prev_kind), again.error().message);
    }
    if (rec.restore.partial()) rec.result += fmt::format("; the restore was partial: {}", rec.restore.detail);
    outcome = make_error(Errc::internal, rec.result);
  }
  {
    std::lock_guard lk(pub_mu_);
    kind_ = now_kind;
    options_ = now_options;
  }
  rec.result_policy = kind_;
  rec.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  log(rec.ok ? LogLevel::Info : LogLevel::Warn, "scheduler: {} -> {} ({}): {} in {} us, {} threads restored home",
      policy_name(rec.from), policy_name(rec.to), rec.options.empty() ? "no options" : rec.options, rec.result,
      rec.duration.count(), rec.restore.moves_done);
  REACTOR_PROBE4(switch_end, policy_name(rec.from).data(), policy_name(rec.to).data(), rec.result.c_str(),
                 static_cast<uint64_t>(rec.duration.count()));
  publish_policy();
  {
    std::lock_guard lk(pub_mu_);
    switching_to_.reset();
    transitions_.push_back(std::move(rec));
    while (transitions_.size() > history_limit_) transitions_.pop_front();
  }
  round_due_now_ = true;
  // Static rounds are one-shot: new homes from `mappings` take effect now.
  if (kind_ == PolicyKind::Static && built && !plan->mappings.empty()) round_locked();
  return outcome;
}

std::chrono::microseconds SchedulerManager::step() {
  // A wait inside this step may serve the control hook; a hook must never
  // step the manager again (it would run a second switch inside the first).
  if (holder_.load() == std::this_thread::get_id()) return kBusyRetry;
  std::unique_lock lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) return kBusyRetry;  // a blocking switch_to on another OS thread
  HolderScope holder(holder_);
  for (;;) {
    Pending p;
    {
      std::lock_guard q(queue_mu_);
      if (queue_.empty()) break;
      p = std::move(queue_.front());
      queue_.pop_front();
    }
    Result<void> r = switch_locked(p.target, p.update);
    if (p.done) p.done(std::move(r));
  }
  if (kind_ == PolicyKind::Static || options_.period_us == 0) return kIdleStep;
  const auto period = std::chrono::microseconds(options_.period_us);
  const auto now = std::chrono::steady_clock::now();
  // The deterministic harness drives time through its manual clock instead.
  if (pool_.launch() == Launch::Manual) {
    round_locked();
    return period;
  }
  if (round_due_now_ || now - last_round_ >= period) {
    round_locked();
    last_round_ = now;
    round_due_now_ = false;
    return period;
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(period - (now - last_round_));
}

RoundRecord SchedulerManager::run_round() {
  std::lock_guard lk(mu_);
  HolderScope holder(holder_);
  return round_locked();
}

RoundRecord SchedulerManager::round_locked() {
  const auto t0 = std::chrono::steady_clock::now();
  RoundRecord rec;
  rec.policy = kind_;
  rec.at_tick = pool_.clock().now();
  LoadSnapshot snap = placement_->snapshot();
  if (load_source_) load_source_(snap);
  recent_->fill(snap);
  if (last_snapshot_tick_ != 0 && rec.at_tick > last_snapshot_tick_) {
    rec.ticks = rec.at_tick - last_snapshot_tick_;
  } else {
    for (const CoreLoad& c : snap.cores) rec.ticks = std::max(rec.ticks, c.busy + c.idle);
  }
  last_snapshot_tick_ = rec.at_tick;
  for (const CoreLoad& c : snap.cores)
    if (c.stalled)
      rec.problems.push_back(fmt::format("core {} counted no ticks since the last round (not a destination): {}",
                                         c.id.value, placement_->describe_block(c.id)));
  Plan plan;
  try {
    if (before_balance_) before_balance_(snap);
    plan = policy_->balance(snap);
  } catch (const std::exception& e) {
    rec.problems.push_back(fmt::format("{} balance threw: {}; nothing applied this round", policy_name(kind_),
                                       e.what()));
  } catch (...) {
    rec.problems.push_back(fmt::format("{} balance threw a non-standard exception; nothing applied this round",
                                       policy_name(kind_)));
  }

  for (const CoreModeRequest& m : plan.modes) {
    Reactor* r = pool_.reactor(m.core);
    if (r == nullptr || r->mode() == m.mode) continue;
    if (auto s = pool_.set_mode(m.core, m.mode); s) ++rec.mode_changes;
    else rec.problems.push_back(s.error().message);
  }
  auto moved = placement_->apply_moves(plan.moves, pool_.wait_bound());
  rec.moves_landed = moved.landed;
  rec.moves_skipped = moved.skipped;
  for (std::string& p : moved.problems) rec.problems.push_back(std::move(p));
  if (Governor* gov = policy_->governor()) {
    for (const FrequencyRequest& f : plan.frequencies) {
      Result<void> r;
      switch (f.action) {
        case FrequencyAction::Min: r = gov->set_min(f.core); break;
        case FrequencyAction::Max: r = gov->set_max(f.core); break;
        case FrequencyAction::StepUp: r = gov->step_up(f.core); break;
        case FrequencyAction::StepDown: r = gov->step_down(f.core); break;
        case FrequencyAction::Baseline: r = gov->restore_baseline(f.core); break;
      }
      ++rec.frequency_requests;
      if (!r) rec.problems.push_back(fmt::format("governor on core {}: {}", f.core.value, r.error().message));
    }
  }
  rec.moves = std::move(plan.moves);
  // The snapshot is no longer needed here: moved, not copied, into the record.
  if (keep_loads_.load(std::memory_order_relaxed)) rec.load = std::make_shared<const LoadSnapshot>(std::move(snap));
  rec.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  std::lock_guard lk(pub_mu_);
  rec.seq = ++round_seq_;
  REACTOR_PROBE4(round, rec.seq, rec.moves_landed, rec.moves_skipped, static_cast<uint64_t>(rec.duration.count()));
  moves_landed_ += rec.moves_landed;
  rounds_.push_back(rec);
  while (rounds_.size() > history_limit_) rounds_.pop_front();
  return rec;
}

std::vector<RoundRecord> SchedulerManager::rounds_since(uint64_t seq) const {
  std::lock_guard lk(pub_mu_);
  auto first = std::find_if(rounds_.begin(), rounds_.end(), [seq](const RoundRecord& r) { return r.seq > seq; });
  return {first, rounds_.end()};
}

SchedulerStatus SchedulerManager::status() const {
  std::lock_guard lk(pub_mu_);
  SchedulerStatus s;
  s.policy = kind_;
  s.options = options_;
  s.period_us = kind_ == PolicyKind::Static ? 0 : options_.period_us;
  s.main_core = pool_.main_core();
  s.isolated = pool_.isolated();
  s.governor_name = governor_name_;
  s.rounds = round_seq_;
  s.transitions = transition_seq_;
  s.moves_landed = moves_landed_;
  if (!rounds_.empty()) s.last_round = rounds_.back();
  s.switching_to = switching_to_;
  return s;
}

std::vector<TransitionRecord> SchedulerManager::transitions() const {
  std::lock_guard lk(pub_mu_);
  return {transitions_.begin(), transitions_.end()};
}

std::vector<RoundRecord> SchedulerManager::rounds() const {
  std::lock_guard lk(pub_mu_);
  return {rounds_.begin(), rounds_.end()};
}

}  // namespace reactor
