// SchedulerManager. Design notes:
//
// One mutex serializes switches and rounds, so "no round runs during a
// switch" holds by construction, and there is never more than one policy
// alive: the old one is destroyed (step 3) before the new one is built
// (step 4). A policy's destructor is the restore (PlacementGuard: threads home,
// reactors to baseline; GovernorLease: baseline frequencies, lease freed).
//
// Options: one committed set (period + dynamic limits) in the manager. A
// request merges into a copy; the copy is committed only after the target
// policy was built. Period rules follow SPDK: a non-zero period replaces the
// current one; none given and current 0 -> 1 s; static commits 0 (its single
// restore happens when the previous policy is destroyed).
//
// A round: snapshot (deltas since the last one) -> balance (pure) -> core
// modes -> moves (acknowledged, bounded wait) -> frequencies through the
// policy's lease. Everything a round could not do is in its record.

#include <reactor/scheduler_manager.hh>

#include <algorithm>

#include <reactor/log.hh>

namespace reactor {
namespace {

constexpr uint64_t kDefaultPeriodUs = 1'000'000;  // SPDK's default balancing period (1 s)
constexpr auto kIdleStep = std::chrono::milliseconds(100);

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
  if (u.mappings) add("mappings", *u.mappings);
  return s;
}

Result<std::unique_ptr<SchedulerManager>> SchedulerManager::create(ReactorPool& pool, GovernorSlot& governor,
                                                                   SchedulerManagerOptions options) {
  auto m = std::make_unique<SchedulerManager>(Token{}, pool, governor, options);
  PolicyOptionsUpdate initial;
  if (options.options.period_us != 0) initial.period_us = options.options.period_us;
  auto r = m->switch_to(options.initial, initial);
  if (!r) return tl::unexpected(r.error());
  return m;
}

SchedulerManager::SchedulerManager(Token, ReactorPool& pool, GovernorSlot& governor, SchedulerManagerOptions o)
    : pool_(pool), governor_(governor), history_limit_(std::max<size_t>(1, o.history_limit)), options_(o.options) {
  // Before the first switch the manager runs Static with nothing to restore.
  kind_ = PolicyKind::Static;
  policy_ = make_static_policy(PlacementGuard(pool_, &last_restore_));
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
  // The lease held by the current policy is released in step 3, so a leased
  // governor still counts as available.
  ctx.governor_available = governor_.available();
  ctx.governor_unavailable_reason = governor_.unavailable_reason();
  return ctx;
}

Result<std::unique_ptr<SchedulingPolicy>> SchedulerManager::build(PolicyKind kind, const SchedulerOptions& opts) {
  PlacementGuard guard(pool_, &last_restore_);
  switch (kind) {
    case PolicyKind::Static:
      return make_static_policy(std::move(guard));
    case PolicyKind::Dynamic: {
      GovernorLease lease;
      if (governor_.available()) {
        auto l = governor_.acquire();
        if (l) lease = std::move(*l);
        else log(LogLevel::Info, "dynamic: running without a governor ({})", l.error().message);
      }
      return make_dynamic_policy(std::move(guard), opts.dynamic, std::move(lease));
    }
    case PolicyKind::Global: {
      auto l = governor_.acquire();
      if (!l) {
        return make_error(Errc::unsupported, fmt::format("gscheduler needs a governor: {}", l.error().message));
      }
      return make_global_policy(std::move(guard), std::move(*l));
    }
  }
  return make_error(Errc::internal, "unknown policy kind");
}

Result<void> SchedulerManager::switch_to(std::string_view target, const PolicyOptionsUpdate& update) {
  auto kind = parse_policy_name(target);
  if (!kind) return tl::unexpected(kind.error());
  return switch_to(*kind, update);
}

Result<void> SchedulerManager::switch_to(PolicyKind target, const PolicyOptionsUpdate& update) {
  if (pool_.launch() == Launch::OsThreads && pool_.on_reactor_thread())
    return make_error(Errc::wrong_thread,
                      "switch_to called on a reactor thread would wait on the reactors it blocks: use "
                      "switch_async");
  std::lock_guard lk(mu_);
  return switch_locked(target, update);
}

void SchedulerManager::switch_async(PolicyKind target, PolicyOptionsUpdate update,
                                    std::function<void(Result<void>)> done) {
  std::lock_guard lk(queue_mu_);
  queue_.push_back(Pending{target, std::move(update), std::move(done)});
}

Result<void> SchedulerManager::switch_locked(PolicyKind target, const PolicyOptionsUpdate& update) {
  const auto t0 = std::chrono::steady_clock::now();
  // 1. Validate everything first: on failure nothing has changed.
  SchedulerOptions next = options_;
  if (update.period_us && *update.period_us != 0) next.period_us = *update.period_us;
  else if (next.period_us == 0) next.period_us = kDefaultPeriodUs;
  std::vector<HomeMapping> mappings;
  const PolicyContext ctx = context();
  switch (target) {
    case PolicyKind::Static: {
      auto m = validate_static_options(ctx, update);
      if (!m) return tl::unexpected(m.error());
      mappings = std::move(*m);
      next.period_us = 0;
      break;
    }
    case PolicyKind::Dynamic: {
      auto d = validate_dynamic_options(options_.dynamic, update);
      if (!d) return tl::unexpected(d.error());
      next.dynamic = *d;
      break;
    }
    case PolicyKind::Global: {
      auto g = validate_global_options(ctx, update);
      if (!g) return tl::unexpected(g.error());
      break;
    }
  }

  TransitionRecord rec;
  rec.seq = ++transition_seq_;
  rec.at = std::chrono::system_clock::now();
  rec.from = kind_;
  rec.to = target;
  rec.options = describe(update);

  // 2. No round is in flight: rounds take the same lock.
  // 3. Destroy the current policy: its guard and lease restore.
  const PolicyKind prev_kind = kind_;
  const SchedulerOptions prev_options = options_;
  last_restore_ = RestoreReport{};
  policy_.reset();
  rec.restore = last_restore_;

  for (const HomeMapping& m : mappings) {
    if (auto r = pool_.set_home(m.thread, m.core); !r)
      log(LogLevel::Warn, "mapping {}:{} not applied: {}", m.thread.value, m.core.value, r.error().message);
  }

  // 4. Build the target; on failure rebuild the previous policy, else Static.
  Result<void> outcome;
  auto built = build(target, next);
  if (built) {
    policy_ = std::move(*built);
    kind_ = target;
    options_ = next;  // 5. commit
    rec.ok = true;
    rec.result = "ok";
  } else {
    std::string why = built.error().message;
    auto again = build(prev_kind, prev_options);
    if (again) {
      policy_ = std::move(*again);
      kind_ = prev_kind;
      options_ = prev_options;
      rec.result = fmt::format("failed: {}; {} restored with its previous options", why, policy_name(prev_kind));
    } else {
      policy_ = make_static_policy(PlacementGuard(pool_, &last_restore_));
      kind_ = PolicyKind::Static;
      options_ = prev_options;
      options_.period_us = 0;
      rec.result = fmt::format("failed: {}; {} could not be rebuilt ({}); running static", why,
                               policy_name(prev_kind), again.error().message);
    }
    outcome = make_error(Errc::internal, rec.result);
  }
  rec.result_policy = kind_;
  rec.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  log(rec.ok ? LogLevel::Info : LogLevel::Warn, "scheduler: {} -> {} ({}): {} in {} us, {} threads restored home",
      policy_name(rec.from), policy_name(rec.to), rec.options.empty() ? "no options" : rec.options, rec.result,
      rec.duration.count(), rec.restore.moves_done);
  transitions_.push_back(std::move(rec));
  while (transitions_.size() > history_limit_) transitions_.pop_front();
  round_due_now_ = true;
  // Static rounds are one-shot: new homes from `mappings` take effect now.
  if (kind_ == PolicyKind::Static && !mappings.empty()) round_locked();
  return outcome;
}

std::chrono::microseconds SchedulerManager::step() {
  std::deque<Pending> todo;
  {
    std::lock_guard lk(queue_mu_);
    todo.swap(queue_);
  }
  for (auto& p : todo) {
    Result<void> r;
    {
      std::lock_guard lk(mu_);
      r = switch_locked(p.target, p.update);
    }
    if (p.done) p.done(std::move(r));
  }
  std::lock_guard lk(mu_);
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
  return round_locked();
}

RoundRecord SchedulerManager::round_locked() {
  const auto t0 = std::chrono::steady_clock::now();
  RoundRecord rec;
  rec.seq = ++round_seq_;
  rec.policy = kind_;
  LoadSnapshot snap = pool_.snapshot();
  Plan plan = policy_->balance(snap);

  for (const CoreModeRequest& m : plan.modes) {
    Reactor* r = pool_.reactor(m.core);
    if (r == nullptr || r->mode() == m.mode) continue;
    if (auto s = pool_.set_mode(m.core, m.mode); s) ++rec.mode_changes;
    else rec.problems.push_back(s.error().message);
  }
  std::vector<MoveTicket> tickets;
  for (const ThreadMove& mv : plan.moves) {
    auto tk = pool_.move(mv.thread, mv.to);
    if (!tk) {
      ++rec.moves_skipped;
      rec.problems.push_back(fmt::format("move of thread {} to core {}: {}", mv.thread.value, mv.to.value,
                                         tk.error().message));
      continue;
    }
    tickets.push_back(*tk);
  }
  pool_.wait_for(
      [&] {
        return std::all_of(tickets.begin(), tickets.end(), [](const MoveTicket& t) { return t->done(); });
      },
      std::chrono::seconds(5));
  for (auto& t : tickets) {
    MoveResult res = t->result.load(std::memory_order_acquire);
    if (res == MoveResult::Landed) {
      ++rec.moves_landed;
    } else {
      ++rec.moves_skipped;
      rec.problems.push_back(res == MoveResult::Skipped ? t->skip_reason : "move not acknowledged in time");
    }
  }
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
  rec.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  rounds_.push_back(rec);
  while (rounds_.size() > history_limit_) rounds_.pop_front();
  return rec;
}

SchedulerStatus SchedulerManager::status() const {
  std::lock_guard lk(mu_);
  SchedulerStatus s;
  s.policy = kind_;
  s.options = options_;
  s.period_us = kind_ == PolicyKind::Static ? 0 : options_.period_us;
  s.main_core = pool_.main_core();
  s.isolated = pool_.isolated();
  if (policy_)
    if (Governor* g = policy_->governor()) s.governor_name = g->name();
  s.rounds = round_seq_;
  s.transitions = transition_seq_;
  if (!rounds_.empty()) s.last_round = rounds_.back();
  return s;
}

std::vector<TransitionRecord> SchedulerManager::transitions() const {
  std::lock_guard lk(mu_);
  return {transitions_.begin(), transitions_.end()};
}

std::vector<RoundRecord> SchedulerManager::rounds() const {
  std::lock_guard lk(mu_);
  return {rounds_.begin(), rounds_.end()};
}

}  // namespace reactor
