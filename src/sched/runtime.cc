// Runtime: construction order governor -> pool -> scheduler -> control thread;
// stop() and the destructor go in reverse so every layer is torn down while
// the layers it uses still exist. The control thread owns all slow work
// (scheduling rounds, governor sysfs writes, RPC); reactors never wait on it.

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
      auto g = make_dpdk_governor(o.pool.cores);
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

Runtime::~Runtime() { stop(); }

SchedulerManager* Runtime::scheduler() noexcept {
  std::lock_guard lk(sched_mu_);
  return scheduler_.get();
}

bool Runtime::scheduler_started() const noexcept {
  std::lock_guard lk(sched_mu_);
  return scheduler_ != nullptr;
}

Result<void> Runtime::start_scheduler() {
  std::lock_guard lk(sched_mu_);
  if (scheduler_) return {};
  auto m = SchedulerManager::create(*pool_, *governor_, sched_opts_);
  if (!m) return tl::unexpected(m.error());
  scheduler_ = std::move(*m);
  return {};
}

void Runtime::set_control_hook(std::function<void(std::chrono::milliseconds)> poll, std::function<void()> wake) {
  std::lock_guard lk(ctl_mu_);
  hook_poll_ = std::move(poll);
  hook_wake_ = std::move(wake);
  ctl_cv_.notify_all();
}

void Runtime::post_to_control(std::function<void()> task) {
  std::function<void()> wake;
  {
    std::lock_guard lk(ctl_mu_);
    ctl_tasks_.push_back(std::move(task));
    wake = hook_wake_;
    ctl_cv_.notify_all();
  }
  if (wake) wake();
}

void Runtime::step_control(std::chrono::milliseconds max_wait) {
  std::deque<std::function<void()>> tasks;
  std::function<void(std::chrono::milliseconds)> poll;
  {
    std::lock_guard lk(ctl_mu_);
    tasks.swap(ctl_tasks_);
    poll = hook_poll_;
  }
  for (auto& t : tasks) {
    try {
      t();
    } catch (const std::exception& e) {
      log(LogLevel::Error, "control task threw: {}", e.what());
    }
  }
  std::chrono::microseconds next = max_wait;
  if (SchedulerManager* m = scheduler()) next = std::min<std::chrono::microseconds>(next, m->step());
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next);
  if (poll) {
    poll(wait);
  } else if (wait.count() > 0) {
    std::unique_lock lk(ctl_mu_);
    ctl_cv_.wait_for(lk, wait, [this] { return ctl_stop_ || !ctl_tasks_.empty() || hook_poll_; });
  }
}

void Runtime::control_loop() {
  pthread_setname_np(pthread_self(), "reactor_ctl");
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
    scheduler_.reset();  // the policy's destructor restores placement
  }
  return pool_ ? pool_->stop() : StopReport{};
}

}  // namespace reactor
