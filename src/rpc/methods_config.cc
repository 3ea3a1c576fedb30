// ControlPlane: the configuration methods. save_config / framework_get_config
// describe the running process as the methods that rebuild it, and
// reactor_set_options is the one such method SPDK has no equivalent for.
//
// The configuration is SPDK's save_config document:
//   {"subsystems": [{"subsystem": "framework", "config": [...]},
//                   {"subsystem": "governor",  "config": null},
//                   {"subsystem": "scheduler", "config": [...]}]}
// where each config entry is {"method": ..., "params": {...}}, in the order
// framework_get_subsystems lists the subsystems:
//   framework: scheduler_set_options {scheduling_core, isolated_core_mask}
//              reactor_set_options   {mode}            (both STARTUP only)
//   governor:  null (chosen on the command line, reactord --governor)
//   scheduler: framework_set_scheduler {name, period (not for static),
//              load_limit, core_limit, core_busy, numa_local, smt_last,
//              keep_asleep, main_room (dynamic only)}
// Replaying the entries in order on a process in STARTUP (reactord --config,
// or SPDK's `rpc.py load_config` against reactord --wait-for-rpc) rebuilds
// the same main core, isolated cores, baseline mode, policy, period and
// limits. Static mappings are not saved: they name thread ids, which do not
// survive a restart. The reactor cores (-m) stay on the command line, as in
// SPDK.

#include <fmt/format.h>

#include "rpc/methods.hh"
#include "rpc/methods_internal.hh"
#include "rpc/params.hh"

namespace reactor::rpc {

using json = nlohmann::json;
using methods_detail::ojson;
using methods_detail::require_no_params;
using methods_detail::with_detail;

namespace {

constexpr std::string_view kSubsystems[] = {"framework", "governor", "scheduler"};

std::string_view mode_name(ReactorMode m) { return m == ReactorMode::Poll ? "poll" : "interrupt"; }

ojson entry(std::string_view method, ojson params) {
  ojson e;
  e["method"] = std::string(method);
  e["params"] = std::move(params);
  return e;
}

}  // namespace

ojson ControlPlane::subsystem_config(std::string_view name) const {
  if (!runtime_) return nullptr;  // RUNTIME-only methods: not reached before init
  const SchedulerManager* m = runtime_->scheduler();
  if (name == "framework") {
    const ReactorPool& pool = runtime_->pool();
    ojson sched;
    sched["scheduling_core"] = pool.main_core().value;
    sched["isolated_core_mask"] = pool.isolated().to_hex();
    ojson reactor;
    reactor["mode"] = std::string(mode_name(pool.baseline()));
    ojson config = ojson::array();
    config.push_back(entry("scheduler_set_options", std::move(sched)));
    config.push_back(entry("reactor_set_options", std::move(reactor)));
    return config;
  }
  if (name == "scheduler" && m != nullptr) {
    // The committed policy and options (a switch in flight is not committed).
    const SchedulerStatus s = m->status();
    ojson p;
    p["name"] = std::string(policy_name(s.policy));
    if (s.policy != PolicyKind::Static && s.period_us != 0) p["period"] = s.period_us;
    if (s.policy == PolicyKind::Dynamic) methods_detail::add_dynamic_options(p, s.options.dynamic);
    ojson config = ojson::array();
    config.push_back(entry("framework_set_scheduler", std::move(p)));
    return config;
  }
  return nullptr;  // governor (SPDK writes null for a subsystem without config)
}

// ---- save_config (RUNTIME) ----

void ControlPlane::save_config(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'save_config' requires no arguments")) return;
  ojson subsystems = ojson::array();
  for (std::string_view name : kSubsystems) {
    ojson s;
    s["subsystem"] = std::string(name);
    s["config"] = subsystem_config(name);
    subsystems.push_back(std::move(s));
  }
  ojson out;
  out["subsystems"] = std::move(subsystems);
  r.result(std::move(out));
}

// ---- framework_get_config (RUNTIME; SPDK's, what rpc.py save_config calls) ----

void ControlPlane::get_config(const json* params, RpcResponder r) {
  std::optional<std::string> name;
  auto ok = decode_object(params, {field("name", name, Presence::required)}, Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail("Invalid parameters", ok.error()));
  for (std::string_view known : kSubsystems)
    if (*name == known) return r.result(subsystem_config(known));
  r.error(error_code::invalid_params,
          fmt::format("Subsystem '{}' not found (subsystems: framework, governor, scheduler)", *name));
}

// ---- reactor_set_options (STARTUP; reactor's own) ----

void ControlPlane::set_reactor_options(const json* params, RpcResponder r) {
  std::optional<std::string> mode;
  auto ok = decode_object(params, {field("mode", mode)}, Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail("Invalid parameters", ok.error()));
  if (mode) {
    if (*mode == "poll") opts_.runtime.pool.baseline = ReactorMode::Poll;
    else if (*mode == "interrupt") opts_.runtime.pool.baseline = ReactorMode::Interrupt;
    else
      return r.error(error_code::invalid_params,
                     fmt::format("Invalid parameters: 'mode' must be \"poll\" or \"interrupt\", got {}",
                                 describe_value(params->at("mode"))));
  }
  r.result(true);
}

}  // namespace reactor::rpc
