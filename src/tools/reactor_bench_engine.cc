// reactor-bench's engine: the one place that decides how the runtime is
// built (reactors, scheduler, governor, control thread, RPC) and how policies
// are switched under load.

#include "tools/reactor_bench_engine.hh"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <reactor/policy.hh>
#include <reactor/scheduler_manager.hh>

namespace reactor::bench {
namespace {

// Switches through the Runtime's SchedulerManager (blocking; the monitor is
// not a reactor). Transition time and restore moves come from the manager's
// transition record.
class RuntimeSwitchDriver final : public SwitchDriver {
 public:
  RuntimeSwitchDriver(Runtime& rt, std::string initial, std::vector<std::string> notes, uint64_t period_us)
      : rt_(rt), current_(std::move(initial)), notes_(std::move(notes)), period_us_(period_us) {}
  Counters counters() const override {
    const SchedulerManager* m = rt_.scheduler();
    if (m == nullptr) return {};
    const SchedulerStatus st = m->status();
    return {st.rounds, st.moves_landed};
  }
  bool available(std::string& why) const override {
    if (rt_.scheduler() != nullptr) return true;
    why = "the scheduler manager is not running";
    return false;
  }
  // Asks the manager, so that switches made over --rpc-socket show as well.
  std::string current_policy() const override {
    if (const SchedulerManager* m = rt_.scheduler(); m != nullptr) return std::string(policy_name(m->status().policy));
    std::lock_guard lk(mu_);
    return current_;
  }
  SwitchOutcome switch_to(const std::string& policy) override {
    SwitchOutcome out;
    SchedulerManager* m = rt_.scheduler();
    if (m == nullptr) {
      out.message = "the scheduler manager is not running";
      out.policy_after = current_policy();
      return out;
    }
    const auto t0 = std::chrono::steady_clock::now();
    PolicyOptionsUpdate u;
    if (period_us_ != 0 && policy != "static") u.period_us = period_us_;
    auto r = m->switch_to(policy, u);
    out.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    out.ok = r.has_value();
    auto history = m->transitions();
    if (!history.empty()) {
      const TransitionRecord& rec = history.back();
      out.duration_ms = static_cast<double>(rec.duration.count()) / 1000.0;
      out.restore_moves = rec.restore.moves_done;
      out.policy_after = std::string(policy_name(rec.result_policy));
      out.message = rec.result;
    }
    if (!r) out.message = r.error().message;
    if (out.policy_after.empty()) out.policy_after = out.ok ? policy : current_policy();
    std::lock_guard lk(mu_);
    current_ = out.policy_after;
    return out;
  }
  std::vector<std::string> notes() const override { return notes_; }

 private:
  Runtime& rt_;
  mutable std::mutex mu_;
  std::string current_;
  std::vector<std::string> notes_;
  uint64_t period_us_ = 0;
};

}  // namespace

// `server`: the started RPC server of --rpc-socket, or null.
Result<Engine> make_engine(const Options& o, const CpuSet& cores, std::unique_ptr<rpc::RpcServer> server) {
  const bool needs_global =
      o.scheduler == "gscheduler" ||
      std::any_of(o.schedule.begin(), o.schedule.end(), [](const SwitchStep& s) { return s.policy == "gscheduler"; });
  auto kind = parse_policy_name(o.scheduler);
  if (!kind) return tl::unexpected(kind.error());
  Engine e;
  e.server = std::move(server);
  auto options = [&](GovernorChoice g) {
    RuntimeOptions ro;
    ro.pool.cores = cores;
    ro.pool.baseline = o.poll ? ReactorMode::Poll : ReactorMode::Interrupt;
    // Only global needs a governor; DPDK's EAL (behind the real one) narrows
    // the process's CPU affinity, so do not start it for nothing.
    ro.governor = g;
    // Without RPC the scheduler starts once the governor is settled (below).
    // A ControlPlane always starts it: global waits for a governor that may
    // not exist, so that build starts static and switches once it has one.
    ro.scheduler.initial = *kind == PolicyKind::Global && g != GovernorChoice::Sim ? PolicyKind::Static : *kind;
    ro.scheduler.options.period_us = o.period_us;
    ro.start_scheduler = false;
    ro.control_thread = true;
    return ro;
  };
  // Builds the Runtime: through a ControlPlane when serving RPC (it owns the
  // Runtime its methods act on), else directly.
  auto build = [&](GovernorChoice g) -> Result<void> {
    if (e.server) {
      rpc::ControlPlaneOptions po;
      po.runtime = options(g);
      po.scheduler_chosen = true;
      e.plane = std::make_unique<rpc::ControlPlane>(std::move(po));
      if (auto r = e.plane->initialize(); !r) {
        e.plane.reset();
        return r;
      }
      e.rt = e.plane->runtime();
    } else {
      auto rt = Runtime::create(options(g));
      if (!rt) return tl::unexpected(rt.error());
      e.runtime = std::move(*rt);
      e.rt = e.runtime.get();
    }
    return {};
  };
  std::vector<std::string> notes;
  // --governor as given; under auto, none unless global is in the plan (DPDK's
  // EAL narrows the process's affinity: not started for nothing).
  const GovernorChoice first = o.governor != GovernorChoice::Auto ? o.governor
                               : needs_global                      ? GovernorChoice::Auto
                                                                   : GovernorChoice::None;
  if (auto r = build(first); !r) return tl::unexpected(r.error());
  if (needs_global && o.governor == GovernorChoice::Auto && !e.rt->governor().available()) {
    // No cpufreq here (most VMs): global runs with the simulated governor.
    // The reason ends with reactord's way out ("use --governor sim"), which
    // is what happens here anyway: the note says so instead.
    std::string why = e.rt->governor().unavailable_reason();
    for (const std::string_view tail : {": use --governor sim to simulate", "; use --governor sim to simulate"})
      if (why.size() >= tail.size() && why.compare(why.size() - tail.size(), tail.size(), tail) == 0)
        why.resize(why.size() - tail.size());
    e.plane.reset();  // stops its runtime
    if (e.runtime) e.runtime->stop();
    e.runtime.reset();
    if (auto r = build(GovernorChoice::Sim); !r) return tl::unexpected(r.error());
    notes.push_back(fmt::format("no real governor ({}): global uses the simulated governor (--governor dpdk makes "
                                "this an error)",
                                why));
  }
  if (!e.rt->scheduler_started()) {
    e.rt->pending_scheduler_options().initial = *kind;
    if (auto r = e.rt->start_scheduler(); !r) return tl::unexpected(r.error());
  } else if (e.rt->scheduler()->status().policy != *kind) {
    PolicyOptionsUpdate u;
    if (o.period_us != 0 && *kind != PolicyKind::Static) u.period_us = o.period_us;
    if (auto r = e.rt->scheduler()->switch_to(*kind, u); !r) return tl::unexpected(r.error());
  }
  if (e.plane) {
    // Registered on the final plane only (a method name registers once); the
    // control thread steps the server from here on.
    if (auto r = e.plane->register_methods(e.server->engine()); !r) return tl::unexpected(r.error());
    rpc::RpcServer* srv = e.server.get();
    e.rt->set_control_hook([srv](std::chrono::milliseconds wait) { srv->poll(wait); }, [srv] { srv->wake(); });
  }
  e.driver = std::make_unique<RuntimeSwitchDriver>(*e.rt, o.scheduler, std::move(notes), o.period_us);
  return e;
}

}  // namespace reactor::bench
