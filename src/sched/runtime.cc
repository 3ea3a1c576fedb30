// Runtime: construction order governor -> pool -> scheduler -> control thread;
// stop() and the destructor go in reverse so every layer is torn down while
// the layers it uses still exist. The control thread owns all slow work
// (scheduling rounds, governor sysfs writes, RPC); reactors never wait on it.
//
// The pool's waits (moves of a switch or a round, the restore) go through
// Runtime::wait. Off the control thread it naps. On the control thread it
// also calls the control hook with a zero timeout between checks, so the RPC
// server keeps answering reads while a switch waits for its moves; a switch
// requested meanwhile is queued by the manager and runs after this one. The
// hook is never entered twice (in_hook_).

#include <reactor/runtime.hh>

#include <pthread.h>

#include <reactor/log.hh>

namespace reactor {

Result<GovernorChoice> parse_governor_choice(std::string_view t) {
  if (t == "auto") return GovernorChoice::Auto;
  if (t == "dpdk") return GovernorChoice::Dpdk;
  if (t == "sim") return GovernorChoice::Sim;
  if (t == "none") return GovernorChoice::None;
  return make_error(Errc::invalid_argument, fmt::format("unknown governor '{}'; known: auto, dpdk, sim, none", t));
}

Result<std::unique_ptr<Runtime>> Runtime::create(RuntimeOptions o) {
  return create(std::move(o), std::string(kDefaultCpufreqStatePath));
}

Result<std::unique_ptr<Runtime>> Runtime::create(RuntimeOptions o, const std::string& cpufreq_state_path) {
  auto rt = std::make_unique<Runtime>(Token{});
  switch (o.governor) {
    case GovernorChoice::None:
      rt->governor_ = std::make_unique<GovernorSlot>();
      rt->governor_->set_unavailable_reason("disabled (--governor none)");
      break;
    case GovernorChoice::Sim:
      rt->governor_ = std::make_unique<GovernorSlot>(make_sim_governor(o.pool.cores));
      break;
    case GovernorChoice::Dpdk:
    case GovernorChoice::Auto: {
      auto g = make_dpdk_governor(o.pool.cores, cpufreq_state_path);
      if (g) {
        rt->governor_ = std::make_unique<GovernorSlot>(std::move(*g));
      } else if (o.governor == GovernorChoice::Dpdk) {
        return make_error(g.error().code, "dpdk governor: " + g.error().message);
      } else {
        log(LogLevel::Info, "no governor: {}", g.error().message);
        rt->governor_ = std::make_unique<GovernorSlot>();
        rt->governor_->set_unavailable_reason(g.error().message);
      }
      break;
    }
  }
  if (!o.pool.wait && o.pool.launch != Launch::Manual) {
    Runtime* self = rt.get();
    o.pool.wait = [self](const std::function<bool()>& done, std::chrono::nanoseconds timeout) {
      return self->wait(done, timeout);
    };
  }
  auto pool = ReactorPool::create(std::move(o.pool));
  if (!pool) return tl::unexpected(pool.error());
  rt->pool_ = std::move(*pool);
  rt->sched_opts_ = o.scheduler;
  if (o.start_scheduler) {
    if (auto s = rt->start_scheduler(); !s) return tl::unexpected(s.error());
  }
  if (o.control_thread) rt->control_ = std::thread([p = rt.get()] { p->control_loop(); });
  return rt;
}

PolicyContext Runtime::planned_context(const RuntimeOptions& o) {
  PolicyContext ctx;
  ctx.cores = o.pool.cores;
  ctx.isolated = o.pool.isolated;
  ctx.main_core = o.pool.main_core ? *o.pool.main_core : (o.pool.cores.empty() ? CoreId{} : o.pool.cores.first());
  // Auto may still find none (no cpufreq): the switch after init says so then.
  ctx.governor_available = o.governor != GovernorChoice::None;
  ctx.governor_unavailable_reason = "disabled (--governor none)";
  return ctx;
}

Runtime::~Runtime() {
  stop();
  pool_.reset();  // its wait function points here: gone before the members it uses
}

bool Runtime::wait(const std::function<bool()>& done, std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool serve = std::this_thread::get_id() == control_id_.load() && !in_hook_;
  auto nap = std::chrono::microseconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    if (serve) {
      std::function<void(std::chrono::milliseconds)> poll;
      {
        std::lock_guard lk(ctl_mu_);
        poll = hook_poll_;
      }
      if (poll) {
        in_hook_ = true;
        try {
          poll(std::chrono::milliseconds(0));
        } catch (const std::exception& e) {
          log(LogLevel::Error, "control hook threw while a switch waited: {}", e.what());
        }
        in_hook_ = false;
      }
    }
    std::this_thread::sleep_for(nap);
    nap = std::min<std::chrono::microseconds>(nap * 2, std::chrono::microseconds(1000));
  }
  return true;
}

SchedulerManager* Runtime::scheduler() noexcept {
  return scheduler_ptr_.load(std::memory_order_acquire);
}

bool Runtime::scheduler_started() const noexcept {
  return scheduler_ptr_.load(std::memory_order_acquire) != nullptr;
}

Result<void> Runtime::start_scheduler() {
  std::lock_guard lk(sched_mu_);
  if (scheduler_) return {};
  auto m = SchedulerManager::create(*pool_, *governor_, sched_opts_);
  if (!m) return tl::unexpected(m.error());
  scheduler_ = std::move(*m);
  scheduler_ptr_.store(scheduler_.get(), std::memory_order_release);
  return {};
}

void Runtime::set_control_hook(std::function<void(std::chrono::milliseconds)> poll, std::function<void()> wake) {
  std::lock_guard lk(ctl_mu_);
  hook_poll_ = std::move(poll);
  hook_wake_ = std::move(wake);
  ctl_cv_.notify_all();
}

void Runtime::step_control(std::chrono::milliseconds max_wait) {
  std::function<void(std::chrono::milliseconds)> poll;
  {
    std::lock_guard lk(ctl_mu_);
    poll = hook_poll_;
  }
  std::chrono::microseconds next = max_wait;
  if (SchedulerManager* m = scheduler()) next = std::min<std::chrono::microseconds>(next, m->step());
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next);
  if (poll) {
    in_hook_ = true;
    poll(wait);
    in_hook_ = false;
  } else if (wait.count() > 0) {
    std::unique_lock lk(ctl_mu_);
    ctl_cv_.wait_for(lk, wait, [this] { return ctl_stop_ || static_cast<bool>(hook_poll_); });
  }
}

void Runtime::control_loop() {
  pthread_setname_np(pthread_self(), "reactor_ctl");
  control_id_.store(std::this_thread::get_id());
  for (;;) {
    {
      std::lock_guard lk(ctl_mu_);
      if (ctl_stop_) break;
    }
    // Wake at least every 100 ms (stop requests, a hook attached later).
    step_control(std::chrono::milliseconds(100));
  }
}

StopReport Runtime::stop() {
  if (stopped_) return {};
  stopped_ = true;
  std::function<void()> wake;
  {
    std::lock_guard lk(ctl_mu_);
    ctl_stop_ = true;
    wake = hook_wake_;
    ctl_cv_.notify_all();
  }
  if (wake) wake();
  if (control_.joinable()) control_.join();
  {
    std::lock_guard lk(sched_mu_);
    scheduler_ptr_.store(nullptr, std::memory_order_release);
    scheduler_.reset();  // the policy's destructor restores placement
  }
  return pool_ ? pool_->stop() : StopReport{};
}

}  // namespace reactor
