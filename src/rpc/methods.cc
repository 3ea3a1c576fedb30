// ControlPlane: registration, framework init and the scheduler methods
// (rpc-compat.md §3.1-§3.5, §3.10, §3.11, plus scheduler_get_history).
//
// Two phases. Before init (reactord --wait-for-rpc) there is no Runtime: the
// methods edit the options the Runtime will be built from, so that
// scheduler_set_options can still choose the main core and the isolated cores
// (a ReactorPool fixes both when it is created). framework_start_init builds
// the Runtime; from then on the methods act on it. Whichever thread steps the
// engine runs the methods (reactord's main thread before init, the control
// thread after it), so no member needs a lock.
//
// Errors. Codes are SPDK's. Messages always start with SPDK's text, so
// scripts matching it keep working: the "requires no arguments" family is
// verbatim; the scheduler_set_options checks are followed by the values
// involved (SPDK's trailing newline dropped: a message is one line); generic
// texts ("Invalid parameters", "framework_initialization failed") are
// followed by ": " and what exactly is wrong. The one exception is SPDK's
// errno artifact "Unknown error -22", replaced by the manager's message.
//
// framework_set_scheduler is all-or-nothing. The order:
//   1. decode (relaxed: unknown keys ignored) -> -32602, naming the key.
//      numa_local/smt_last/keep_asleep/main_room (our dynamic extension) must be JSON
//      booleans -> -32602 naming the key.
//      Also -32602: load_limit/core_limit/core_busy above 100 (SPDK accepts
//      0-255 and misbehaves), a period above one year (kMaxPeriodUs; the
//      manager's time arithmetic would overflow) or below 10 ms
//      (kMinPeriodUs: SPDK takes 1 us and burns a CPU on rounds);
//   2. the name -> -32603 "unknown scheduler 'foo'; known: ...";
//   3. the switch, queued on the manager (switch_async) and answered when it
//      has finished: the manager validates everything with plan_switch()
//      (mappings malformed or invalid, options the target does not take,
//      gscheduler without a governor it can lease) before changing anything
//      -> -32603 with its message. Mapping errors stay -32603 like SPDK's (it
//      answers -32603 for every mapping problem); only decoding errors are
//      -32602. A failed construction is -32603 too, and the manager has
//      rebuilt the previous policy with its previous options; a partial
//      restore is -32603 naming the threads left away. Other requests are
//      answered while the switch runs; a second switch waits for it.
// As SPDK, a 0 for a gscheduler percentage means "not given" (rpc-compat.md
// §3.4 step 4); any other value the target does not take is refused. Before
// init the same rules (plan_switch() on Runtime::planned_context()) run
// against the pending options (the mappings always fail then: no thread
// exists yet).

#include "rpc/methods.hh"

#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <reactor/log.hh>

#include "rpc/methods_internal.hh"
#include "rpc/params.hh"

#ifndef REACTOR_VERSION_MAJOR
#define REACTOR_VERSION_MAJOR 0
#endif
#ifndef REACTOR_VERSION_MINOR
#define REACTOR_VERSION_MINOR 0
#endif
#ifndef REACTOR_VERSION_PATCH
#define REACTOR_VERSION_PATCH 0
#endif
#ifndef REACTOR_VERSION_SUFFIX
#define REACTOR_VERSION_SUFFIX ""
#endif

namespace reactor::rpc {

using json = nlohmann::json;
using methods_detail::add_dynamic_options;
using methods_detail::ojson;
using methods_detail::require_no_params;
using methods_detail::with_detail;

namespace methods_detail {

bool require_no_params(const json* params, RpcResponder& r, std::string_view message) {
  if (params == nullptr || params->is_null()) return true;
  r.error(error_code::invalid_params, std::string(message));
  return false;
}

std::string with_detail(std::string_view prefix, const Error& e) {
  constexpr std::string_view kLead = "invalid parameters: ";
  std::string_view m = e.message;
  if (m.substr(0, kLead.size()) == kLead) m.remove_prefix(kLead.size());
  return fmt::format("{}: {}", prefix, m);
}

}  // namespace methods_detail

namespace {

// What framework_set_scheduler accepts as 'period', in every message about it.
constexpr std::string_view kPeriodAccepts =
    "0 (keep the current one) or 10000-31536000000000 microseconds (10 ms to one year)";
static_assert(kMinPeriodUs == 10'000 && kMaxPeriodUs == 31'536'000'000'000ULL, "update kPeriodAccepts");

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

ojson transition_json(const TransitionRecord& t) {
  ojson j;
  j["seq"] = t.seq;
  j["time"] = iso_time(t.at);
  j["from"] = std::string(policy_name(t.from));
  j["to"] = std::string(policy_name(t.to));
  j["result_policy"] = std::string(policy_name(t.result_policy));
  j["ok"] = t.ok;
  j["result"] = t.result;
  j["options"] = t.options;
  j["duration_us"] = static_cast<uint64_t>(t.duration.count());
  ojson r;
  r["moves_requested"] = t.restore.moves_requested;
  r["moves_done"] = t.restore.moves_done;
  r["moves_skipped"] = t.restore.moves_skipped;
  r["timed_out"] = t.restore.timed_out;
  r["detail"] = t.restore.detail;
  j["restore"] = std::move(r);
  return j;
}

ojson round_json(const RoundRecord& rr) {
  ojson j;
  j["seq"] = rr.seq;
  j["policy"] = std::string(policy_name(rr.policy));
  j["duration_us"] = static_cast<uint64_t>(rr.duration.count());
  ojson moves = ojson::array();
  for (const ThreadMove& m : rr.moves) {
    ojson mj;
    mj["thread"] = m.thread.value;
    mj["from"] = m.from.value;
    mj["to"] = m.to.value;
    mj["reason"] = m.reason;
    moves.push_back(std::move(mj));
  }
  j["moves"] = std::move(moves);
  j["moves_landed"] = rr.moves_landed;
  j["moves_skipped"] = rr.moves_skipped;
  j["mode_changes"] = rr.mode_changes;
  j["frequency_requests"] = rr.frequency_requests;
  ojson problems = ojson::array();
  for (const std::string& p : rr.problems) problems.push_back(p);
  j["problems"] = std::move(problems);
  return j;
}

}  // namespace

VersionInfo reactor_version() {
  VersionInfo v;
  v.major = REACTOR_VERSION_MAJOR;
  v.minor = REACTOR_VERSION_MINOR;
  v.patch = REACTOR_VERSION_PATCH;
  v.suffix = REACTOR_VERSION_SUFFIX;
  v.version = fmt::format("reactor v{}.{}.{}{}", v.major, v.minor, v.patch, v.suffix);
  return v;
}

ControlPlane::ControlPlane(ControlPlaneOptions options) : opts_(std::move(options)) {
  opts_.runtime.start_scheduler = true;
  opts_.runtime.control_thread = true;
  cpu_baseline_ = read_proc_stat();
}

ControlPlane::~ControlPlane() { stop(); }

Result<void> ControlPlane::register_methods(RpcEngine& engine) {
  using H = void (ControlPlane::*)(const json*, RpcResponder);
  struct Entry {
    const char* name;
    MethodStates states;
    H handler;
  };
  const Entry entries[] = {
      {"spdk_get_version", MethodStates::both, &ControlPlane::get_version},
      {"framework_get_scheduler", MethodStates::both, &ControlPlane::get_scheduler},
      {"framework_set_scheduler", MethodStates::both, &ControlPlane::set_scheduler},
      {"scheduler_set_options", MethodStates::startup_only, &ControlPlane::set_options},
      {"framework_start_init", MethodStates::startup_only, &ControlPlane::start_init},
      {"framework_wait_init", MethodStates::both, &ControlPlane::wait_init},
      {"framework_get_subsystems", MethodStates::runtime_only, &ControlPlane::get_subsystems},
      {"framework_get_reactors", MethodStates::runtime_only, &ControlPlane::get_reactors},
      {"reactor_get_reactor_stats", MethodStates::runtime_only, &ControlPlane::get_reactor_stats},
      {"framework_get_governor", MethodStates::runtime_only, &ControlPlane::get_governor},
      {"thread_get_stats", MethodStates::runtime_only, &ControlPlane::get_thread_stats},
      {"thread_get_pollers", MethodStates::runtime_only, &ControlPlane::get_pollers},
      {"scheduler_get_history", MethodStates::both, &ControlPlane::get_history},
      {"scheduler_thread_create", MethodStates::runtime_only, &ControlPlane::load_create},
      {"scheduler_thread_set_active", MethodStates::runtime_only, &ControlPlane::load_set_active},
      {"scheduler_thread_delete", MethodStates::runtime_only, &ControlPlane::load_delete},
      {"reactor_set_options", MethodStates::startup_only, &ControlPlane::set_reactor_options},
      {"save_config", MethodStates::runtime_only, &ControlPlane::save_config},
      {"framework_get_config", MethodStates::runtime_only, &ControlPlane::get_config},
      {"scheduler_get_load", MethodStates::runtime_only, &ControlPlane::get_load},
  };
  for (const Entry& e : entries) {
    MethodSpec spec;
    spec.states = e.states;
    spec.handler = [this, h = e.handler](const json* params, RpcResponder r) { (this->*h)(params, std::move(r)); };
    if (auto ok = engine.add_method(e.name, std::move(spec)); !ok) return ok;
  }
  engine_ = &engine;
  engine.set_state(initialized() ? AppState::runtime : AppState::startup);
  return {};
}

Result<void> ControlPlane::initialize() {
  if (runtime_) return {};
  if (stopped_) return make_error(Errc::exited, "the control plane is stopped");
  auto rt = Runtime::create(opts_.runtime, opts_.cpufreq_state_path);
  if (!rt) return tl::unexpected(rt.error());
  runtime_ = std::move(*rt);
  ReactorPool& pool = runtime_->pool();
  const GovernorSlot& slot = runtime_->governor();
  const std::string governor = slot.available()
                                   ? fmt::format("{} ({})", slot.peek()->name(), slot.peek()->environment())
                                   : fmt::format("none ({})", slot.unavailable_reason());
  const SchedulerManager* m = runtime_->scheduler();
  log(LogLevel::Info, "framework initialized: reactors on cores {} (main core {}, isolated [{}], {} mode), "
      "scheduler {}, governor {}",
      pool.cores().to_list(), pool.main_core().value, pool.isolated().to_list(),
      pool.baseline() == ReactorMode::Poll ? "poll" : "interrupt",
      m != nullptr ? policy_name(m->status().policy) : std::string_view("none"), governor);
  if (engine_ != nullptr) engine_->set_state(AppState::runtime);
  for (RpcResponder& w : init_waiters_) w.result(true);
  init_waiters_.clear();
  return {};
}

StopReport ControlPlane::stop() {
  if (stopped_) return {};
  stopped_ = true;
  StopReport report;
  // The runtime first: joining its control thread guarantees no method runs
  // any more, so the members below may be torn down from this thread.
  if (runtime_) report = runtime_->stop();
  loads_.clear();
  init_waiters_.clear();
  runtime_.reset();
  return report;
}

// ---- spdk_get_version (§3.1) ----

void ControlPlane::get_version(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "spdk_get_version method requires no parameters")) return;
  const VersionInfo v = reactor_version();
  ojson fields;
  fields["major"] = v.major;
  fields["minor"] = v.minor;
  fields["patch"] = v.patch;
  fields["suffix"] = v.suffix;
  ojson out;
  out["version"] = v.version;
  out["fields"] = std::move(fields);
  r.result(std::move(out));
}

// ---- framework_get_scheduler (§3.3) ----

namespace methods_detail {

void add_dynamic_options(ojson& out, const DynamicOptions& d) {
  out["load_limit"] = d.load_limit;
  out["core_limit"] = d.core_limit;
  out["core_busy"] = d.core_busy;
  // Our extension (README "Placement options of the dynamic policy").
  out["numa_local"] = d.numa_local;
  out["smt_last"] = d.smt_last;
  out["keep_asleep"] = d.keep_asleep;
  out["main_room"] = d.main_room;
}

}  // namespace methods_detail

void ControlPlane::get_scheduler(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'rpc_get_scheduler' requires no arguments")) return;
  ojson out;
  SchedulerManager* m = runtime_ ? runtime_->scheduler() : nullptr;
  if (m == nullptr) {
    // Before init: what init will build.
    const RuntimeOptions& o = opts_.runtime;
    const PolicyKind kind = o.scheduler.initial;
    if (opts_.scheduler_chosen) out["scheduler_name"] = std::string(policy_name(kind));
    out["scheduler_period"] = opts_.scheduler_chosen ? o.scheduler.options.period_us : uint64_t{0};
    out["isolated_core_mask"] = o.pool.isolated.to_hex();
    out["scheduling_core"] = o.pool.main_core ? o.pool.main_core->value
                             : o.pool.cores.empty() ? 0U
                                                    : o.pool.cores.first().value;
    if (opts_.scheduler_chosen && kind == PolicyKind::Dynamic) add_dynamic_options(out, o.scheduler.options.dynamic);
    r.result(std::move(out));
    return;
  }
  const SchedulerStatus s = m->status();
  out["scheduler_name"] = std::string(policy_name(s.policy));
  out["scheduler_period"] = s.period_us;
  out["isolated_core_mask"] = s.isolated.to_hex();
  out["scheduling_core"] = s.main_core.value;
  if (!s.governor_name.empty()) out["governor_name"] = s.governor_name;
  if (s.policy == PolicyKind::Dynamic) add_dynamic_options(out, s.options.dynamic);
  r.result(std::move(out));
}

// ---- framework_set_scheduler (§3.4) ----

void ControlPlane::set_scheduler(const json* params, RpcResponder r) {
  std::optional<std::string> name;
  std::optional<uint64_t> period;
  std::optional<std::string> mappings;
  auto ok = decode_object(params,
                          {field("name", name, Presence::required),
                           field("period", period, Presence::optional, kPeriodAccepts), field("mappings", mappings)},
                          Decoding::relaxed, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail("Invalid parameters", ok.error()));
  if (period && (*period > kMaxPeriodUs || (*period != 0 && *period < kMinPeriodUs)))
    return r.error(error_code::invalid_params,
                   fmt::format("Invalid parameters: 'period' must be {}, got {}", kPeriodAccepts, *period));
  PolicyOptionsUpdate update;
  if (period && *period != 0) update.period_us = *period;
  update.mappings = std::move(mappings);
  const std::pair<const char*, std::optional<uint32_t>*> percents[] = {
      {"load_limit", &update.load_limit}, {"core_limit", &update.core_limit}, {"core_busy", &update.core_busy}};
  for (const auto& [key, out] : percents) {
    const auto it = params->find(key);
    if (it == params->end()) continue;
    auto v = decode_unsigned(*it, key, 100);
    if (!v) return r.error(error_code::invalid_params, with_detail("Invalid parameters", v.error()));
    *out = static_cast<uint32_t>(*v);
  }
  const std::pair<const char*, std::optional<bool>*> flags[] = {
      {"numa_local", &update.numa_local}, {"smt_last", &update.smt_last}, {"keep_asleep", &update.keep_asleep},
      {"main_room", &update.main_room}};
  for (const auto& [key, out] : flags) {
    const auto it = params->find(key);
    if (it == params->end()) continue;
    auto v = decode_bool(*it, key);
    if (!v) return r.error(error_code::invalid_params, with_detail("Invalid parameters", v.error()));
    *out = *v;
  }

  auto kind = parse_policy_name(*name);
  if (!kind) return r.error(error_code::internal_error, kind.error().message);
  if (*kind == PolicyKind::Global) {
    // SPDK: for gscheduler a percentage of 0 counts as "not given".
    for (const auto& [key, out] : percents)
      if (*out && **out == 0) out->reset();
  }

  if (SchedulerManager* m = runtime_ ? runtime_->scheduler() : nullptr) {
    // Queued on the manager and run by the control thread's next step; the
    // answer goes out when the switch has finished (ok, partial or failed).
    // Reads are answered meanwhile, and a second switch waits its turn.
    auto responder = std::make_shared<RpcResponder>(std::move(r));
    m->switch_async(*kind, std::move(update), [responder](Result<void> s) {
      if (!s) responder->error(error_code::internal_error, s.error().message);
      else responder->result(true);
    });
    return;
  }

  // Before init: the manager's switch rules against the pending options
  // (mappings always fail: no thread exists yet), then commit them.
  RuntimeOptions& o = opts_.runtime;
  SchedulerOptions committed = o.scheduler.options;
  if (!opts_.scheduler_chosen) committed.period_us = 0;
  auto plan = plan_switch(*kind, committed, update, Runtime::planned_context(o));
  if (!plan) return r.error(error_code::internal_error, plan.error().message);
  o.scheduler.initial = *kind;
  o.scheduler.options = plan->next;
  opts_.scheduler_chosen = true;
  r.result(true);
}

// ---- scheduler_set_options (§3.5; STARTUP only) ----

void ControlPlane::set_options(const json* params, RpcResponder r) {
  std::optional<uint32_t> core;
  std::optional<std::string> mask;
  auto ok = decode_object(params, {field("scheduling_core", core), field("isolated_core_mask", mask)},
                          Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail("Invalid parameters", ok.error()));
  PoolOptions& pool = opts_.runtime.pool;
  CpuSet isolated = pool.isolated;
  if (mask) {
    // SPDK silently keeps whatever part of a bad mask it parsed; we refuse it.
    auto parsed = CpuSet::parse(*mask);
    if (!parsed)
      return r.error(error_code::invalid_params, fmt::format("Invalid isolated core mask: {}", parsed.error().message));
    isolated = *parsed;
  }
  const CoreId sched = core ? CoreId{*core} : (pool.main_core ? *pool.main_core : pool.cores.first());
  if (isolated.test(sched))
    return r.error(error_code::invalid_params,
                   fmt::format("Scheduling core cannot be included in isolated core mask. (core {} is in [{}])",
                               sched.value, isolated.to_list()));
  if (!isolated.is_subset_of(pool.cores))
    return r.error(error_code::invalid_params,
                   fmt::format("Invalid isolated core mask: [{}] is not inside the reactor cores [{}]",
                               isolated.to_list(), pool.cores.to_list()));
  if (!pool.cores.test(sched))
    return r.error(error_code::invalid_params,
                   fmt::format("Invalid scheduling core. (core {} is not a reactor core; reactors: [{}])",
                               sched.value, pool.cores.to_list()));
  pool.isolated = isolated;
  pool.main_core = sched;
  r.result(true);
}

// ---- framework_start_init / framework_wait_init (§3.11) ----

void ControlPlane::start_init(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "framework_start_init requires no parameters")) return;
  if (auto ok = initialize(); !ok)
    return r.error(error_code::internal_error, "framework_initialization failed: " + ok.error().message);
  r.result(true);
}

void ControlPlane::wait_init(const json* /*params: ignored, as SPDK*/, RpcResponder r) {
  if (initialized()) {
    r.result(true);
    return;
  }
  init_waiters_.push_back(std::move(r));
}

// ---- framework_get_subsystems (§3.10) ----

void ControlPlane::get_subsystems(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'framework_get_subsystems' requires no arguments")) return;
  // In initialization order: the reactors (main core, isolated cores, mode),
  // the governor slot, then the scheduler that leases it.
  ojson out = ojson::array();
  out.push_back(ojson{{"subsystem", "framework"}, {"depends_on", ojson::array()}});
  out.push_back(ojson{{"subsystem", "governor"}, {"depends_on", ojson::array()}});
  out.push_back(ojson{{"subsystem", "scheduler"}, {"depends_on", ojson::array({"governor"})}});
  r.result(std::move(out));
}

// ---- scheduler_get_history (reactor's own) ----

void ControlPlane::get_history(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'scheduler_get_history' requires no arguments")) return;
  ojson out;
  ojson transitions = ojson::array();
  ojson rounds = ojson::array();
  uint64_t transitions_total = 0;
  uint64_t rounds_total = 0;
  if (SchedulerManager* m = runtime_ ? runtime_->scheduler() : nullptr) {
    const SchedulerStatus s = m->status();
    transitions_total = s.transitions;
    rounds_total = s.rounds;
    for (const TransitionRecord& t : m->transitions()) transitions.push_back(transition_json(t));
    for (const RoundRecord& rr : m->rounds()) rounds.push_back(round_json(rr));
  }
  out["transitions_total"] = transitions_total;
  out["rounds_total"] = rounds_total;
  out["transitions"] = std::move(transitions);
  out["rounds"] = std::move(rounds);
  r.result(std::move(out));
}

}  // namespace reactor::rpc
