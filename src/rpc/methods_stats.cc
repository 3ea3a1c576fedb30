// Read-only views of the runtime (rpc-compat.md §3.6-§3.9): reactors,
// governor, thread statistics and pollers; and reactor's own
// reactor_get_reactor_stats (not SPDK: the counters framework_get_reactors
// cannot carry, since spdk_top decodes that reply strictly).
//
// SPDK builds these replies by visiting every reactor or thread with a
// message and answers when the last visit ends. Here every figure is already
// published (atomics in ReactorStats, LwThread::stats() and pollers()), so the
// control thread reads them directly and answers at once: no reactor is
// messaged or woken to answer a monitoring request, and a sleeping reactor
// stays asleep.
//
// Where the published data cannot say what SPDK says:
//   - lw_threads and threads are listed in thread id order (SPDK: the
//     reactor's own list order);
//   - timed_pollers are listed in registration order (SPDK: by next expiry);
//   - irq/sys/usr are /proc/stat per-CPU deltas since the control plane was
//     built (process start in reactord): usr = user + nice, sys = system,
//     irq = irq + softirq, in USER_HZ ticks.

#include <charconv>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "rpc/methods.hh"
#include "rpc/methods_internal.hh"

namespace reactor::rpc {

using json = nlohmann::json;
using methods_detail::ojson;
using methods_detail::require_no_params;
using methods_detail::thread_mask_hex;

namespace {

constexpr std::size_t kMaxFrequencies = 64;  // SPDK reports at most 64 per core

bool next_number(std::string_view& s, uint64_t& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{}) return false;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  return true;
}

uint64_t delta(uint64_t now, uint64_t then) { return now >= then ? now - then : 0; }

}  // namespace

std::map<uint32_t, CpuTimes> parse_proc_stat(std::string_view text) {
  std::map<uint32_t, CpuTimes> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // "cpuN user nice system idle iowait irq softirq ..."; the aggregate
    // "cpu " line has no number and is skipped.
    if (line.substr(0, 3) != "cpu" || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    line.remove_prefix(3);
    uint64_t cpu = 0;
    uint64_t f[7] = {};
    if (!next_number(line, cpu)) continue;
    bool ok = true;
    for (uint64_t& v : f) ok = ok && next_number(line, v);
    if (!ok || cpu >= CpuSet::kMaxCores) continue;
    out[static_cast<uint32_t>(cpu)] = CpuTimes{f[0] + f[1], f[2], f[5] + f[6]};
  }
  return out;
}

std::map<uint32_t, CpuTimes> read_proc_stat() {
  std::ifstream in("/proc/stat");
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_proc_stat(ss.str());
}

// ---- framework_get_reactors (§3.7) ----

void ControlPlane::get_reactors(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "`framework_get_reactors` requires no arguments")) return;
  ReactorPool& pool = runtime_->pool();
  const Clock& clock = pool.clock();
  const uint64_t now = clock.now();
  const std::map<uint32_t, CpuTimes> cpu_now = read_proc_stat();

  // A frequency only while a policy holds the governor (SPDK: "when a
  // governor is active").
  const Governor* governor = nullptr;
  if (SchedulerManager* m = runtime_->scheduler(); m != nullptr && !m->status().governor_name.empty())
    governor = runtime_->governor().peek();

  const std::vector<ThreadRef> threads = pool.threads();
  std::vector<ThreadStats> stats;
  stats.reserve(threads.size());
  for (const ThreadRef& t : threads) stats.push_back(t->stats());

  ojson reactors = ojson::array();
  for (const auto& reactor : pool.reactors()) {  // ascending core order
    const ReactorStats rs = reactor->stats();
    const CpuInfo* info = pool.topology().find(rs.core);
    ojson j;
    j["lcore"] = rs.core.value;
    j["numa_id"] = info != nullptr ? info->numa_node : -1;
    j["tid"] = rs.tid;
    j["busy"] = rs.busy;
    // Sleep is idle time for SPDK's tools (an asleep reactor is not busy);
    // reactor_get_reactor_stats keeps the two apart.
    j["idle"] = rs.idle + rs.sleep + rs.asleep_at(now);
    j["in_interrupt"] = rs.mode == ReactorMode::Interrupt;
    CpuTimes now_t;
    CpuTimes base_t;
    if (auto it = cpu_now.find(rs.core.value); it != cpu_now.end()) now_t = it->second;
    if (auto it = cpu_baseline_.find(rs.core.value); it != cpu_baseline_.end()) base_t = it->second;
    j["irq"] = delta(now_t.irq, base_t.irq);
    j["sys"] = delta(now_t.sys, base_t.sys);
    j["usr"] = delta(now_t.usr, base_t.usr);
    if (governor != nullptr) j["core_freq"] = governor->current_frequency(rs.core) / 1000;
    ojson lw = ojson::array();
    for (const ThreadStats& ts : stats) {
      if (ts.core != rs.core) continue;
      ojson t;
      t["name"] = ts.name;
      t["id"] = ts.id.value;
      t["cpumask"] = thread_mask_hex(ts.cpumask, pool.cores());
      t["elapsed"] = delta(now, ts.placed_at);
      lw.push_back(std::move(t));
    }
    j["lw_threads"] = std::move(lw);
    reactors.push_back(std::move(j));
  }
  ojson out;
  out["tick_rate"] = clock.tick_rate();
  out["pid"] = static_cast<uint64_t>(::getpid());
  out["reactors"] = std::move(reactors);
  r.result(std::move(out));
}

// ---- reactor_get_reactor_stats (reactor's own, not SPDK) ----

void ControlPlane::get_reactor_stats(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'reactor_get_reactor_stats' requires no arguments")) return;
  ReactorPool& pool = runtime_->pool();
  ojson reactors = ojson::array();
  for (const auto& reactor : pool.reactors()) {  // ascending core order
    const ReactorStats rs = reactor->stats();
    ojson j;
    j["lcore"] = rs.core.value;
    j["busy"] = rs.busy;
    j["idle"] = rs.idle;
    j["sleep"] = rs.sleep;
    j["overhead"] = rs.overhead;
    j["loops"] = rs.loops;
    j["wakeups"] = rs.wakeups;
    j["stalls"] = rs.stalls;
    j["current_thread"] = rs.current_thread;
    reactors.push_back(std::move(j));
  }
  ojson out;
  out["tick_rate"] = pool.clock().tick_rate();
  out["reactors"] = std::move(reactors);
  r.result(std::move(out));
}

// ---- framework_get_governor (§3.6) ----

void ControlPlane::get_governor(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'rpc_get_governor' requires no arguments")) return;
  ojson out = ojson::object();
  SchedulerManager* m = runtime_->scheduler();
  const Governor* g = runtime_->governor().peek();
  if (m == nullptr || g == nullptr || m->status().governor_name.empty()) {
    r.result(std::move(out));  // no policy holds a governor: {}
    return;
  }
  out["governor_name"] = g->name();
  out["module_specific"] = ojson{{"env", g->environment()}};
  ojson cores = ojson::array();
  for (CoreId c : runtime_->pool().cores().cores()) {
    std::vector<uint32_t> freqs = g->available_frequencies(c);
    if (freqs.size() > kMaxFrequencies) freqs.resize(kMaxFrequencies);
    ojson cj;
    cj["lcore_id"] = c.value;
    cj["available_frequencies"] = freqs;
    cj["current_frequency"] = g->current_frequency(c);
    cores.push_back(std::move(cj));
  }
  out["cores"] = std::move(cores);
  r.result(std::move(out));
}

// ---- thread_get_stats (§3.8) ----

void ControlPlane::get_thread_stats(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'thread_get_stats' requires no arguments")) return;
  ReactorPool& pool = runtime_->pool();
  ojson threads = ojson::array();
  const uint64_t now = pool.clock().now();
  for (const ThreadRef& t : pool.threads()) {
    const ThreadStats s = t->stats();
    if (s.state != ThreadState::Running) continue;
    // Counted as the scheduler counts it: a thread on a sleeping reactor has
    // been idle since the sleep began (its counters grow when it ends).
    const uint64_t asleep = pool.asleep_since(s, now);
    ojson j;
    j["name"] = s.name;
    j["id"] = s.id.value;
    j["cpumask"] = thread_mask_hex(s.cpumask, pool.cores());
    j["busy"] = s.busy;
    j["idle"] = s.idle + asleep;
    j["active_pollers_count"] = uint64_t{s.active_pollers};
    j["timed_pollers_count"] = uint64_t{s.timed_pollers};
    j["paused_pollers_count"] = uint64_t{s.paused_pollers};
    threads.push_back(std::move(j));
  }
  ojson out;
  out["tick_rate"] = pool.clock().tick_rate();
  out["threads"] = std::move(threads);
  r.result(std::move(out));
}

// ---- thread_get_pollers (§3.9) ----

void ControlPlane::get_pollers(const json* params, RpcResponder r) {
  if (!require_no_params(params, r, "'thread_get_pollers' requires no arguments")) return;
  ReactorPool& pool = runtime_->pool();
  ojson threads = ojson::array();
  for (const ThreadRef& t : pool.threads()) {
    if (t->state() != ThreadState::Running) continue;
    ojson active = ojson::array();
    ojson timed = ojson::array();
    ojson paused = ojson::array();
    for (const PollerStats& p : t->pollers()) {
      ojson pj;
      pj["name"] = p.name;
      pj["id"] = p.id.value;
      pj["state"] = std::string(to_string(p.state));
      pj["run_count"] = p.run_count;
      pj["busy_count"] = p.busy_count;
      const bool is_timed = p.period_us != 0 || p.period_ticks != 0;
      if (is_timed) pj["period_ticks"] = p.period_ticks;
      if (p.state == PollerState::Paused) paused.push_back(std::move(pj));
      else if (is_timed) timed.push_back(std::move(pj));
      else active.push_back(std::move(pj));
    }
    ojson j;
    j["name"] = t->name();
    j["id"] = t.id().value;
    j["active_pollers"] = std::move(active);
    j["timed_pollers"] = std::move(timed);
    j["paused_pollers"] = std::move(paused);
    threads.push_back(std::move(j));
  }
  ojson out;
  out["tick_rate"] = pool.clock().tick_rate();
  out["threads"] = std::move(threads);
  r.result(std::move(out));
}

}  // namespace reactor::rpc
