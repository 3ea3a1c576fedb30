// reactor-sim's engine (design and model in simulation.hh).
//
// One round, in order:
//   1. the source gives every thread's demand for [t, t + period);
//   2. the manual clock advances one period and every reactor runs one pass
//      (so none looks stalled; the threads have no pollers, the pass is cheap);
//   3. SchedulerManager::run_round(): the pool's snapshot (placement, modes)
//      -> load_source runs the model for the round that just ended, with the
//      placement, modes and frequencies that were in force during it, and
//      writes its busy/idle into the snapshot -> the policy's balance -> the
//      manager applies modes, moves (landing through the pool's waits, which
//      drive the reactors) and frequencies (SimGovernor);
//   4. the round's record and the governor's frequencies are counted.

#include "sim/simulation.hh"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>

#include <time.h>

#include <fmt/format.h>

#include <reactor/scheduler_manager.hh>
#include <reactor/sim_governor.hh>

#include "sim/manual_pool.hh"
#include "sim/spdk_dynamic_policy.hh"

namespace reactor::sim {
namespace {

// Delay histogram: bucket 0 holds delays below 1 us; bucket k >= 1 holds
// [2^((k-1)/4), 2^(k/4)) us (four buckets per octave: +-19 % resolution);
// the last bucket is open-ended (~ 2^31 us, 36 minutes).
constexpr int kBuckets = 128;
constexpr int kSamplesPerRound = 4;  // arrival points per round (midpoints of quarters)
constexpr size_t kMaxProblems = 20;
constexpr size_t kMaxMoveMarks = 100000;

int bucket_of(double us) {
  if (!(us >= 1)) return 0;
  const int k = 1 + static_cast<int>(std::floor(4 * std::log2(us)));
  return std::clamp(k, 1, kBuckets - 1);
}
double bucket_upper(int k) { return k == 0 ? 1.0 : std::exp2(k / 4.0); }

template <class F>
double percentile(const F* h, double q) {
  double total = 0;
  for (int k = 0; k < kBuckets; ++k) total += h[k];
  if (total <= 0) return 0;
  const double want = q * total;
  double acc = 0;
  for (int k = 0; k < kBuckets; ++k) {
    acc += h[k];
    if (acc >= want) return k == 0 ? 0.0 : bucket_upper(k);
  }
  return bucket_upper(kBuckets - 1);
}

std::string effective_options(const SchedulerStatus& st, bool dynamic_family, double period_s) {
  std::string s = fmt::format("period_us={}", static_cast<uint64_t>(std::llround(period_s * 1e6)));
  if (dynamic_family)
    s += fmt::format(" load_limit={} core_limit={} core_busy={}", st.options.dynamic.load_limit,
                     st.options.dynamic.core_limit, st.options.dynamic.core_busy);
  return s;
}

/// The model's state across rounds and its per-round step (see simulation.hh).
class Model {
 public:
  Model(const ModelOptions& o, uint32_t threads, const CpuSet& cores, SimGovernor& gov, PolicyResult& res,
        bool keep_series)
      : o_(o), gov_(gov), res_(res), keep_(keep_series) {
    backlog_.assign(threads, 0.0);
    hist_.assign(static_cast<size_t>(threads) * kBuckets, 0.0f);
    for (CoreId c : cores.cores()) core_ids_.push_back(c.value);
    core_slot_.assign(CpuSet::kMaxCores, -1);
    for (size_t i = 0; i < core_ids_.size(); ++i) core_slot_[core_ids_[i]] = static_cast<int32_t>(i);
    per_core_.resize(core_ids_.size());
  }

  void set_round(const std::vector<double>* demand, double period_s) {
    demand_ = demand;
    period_us_ = period_s * 1e6;
  }
  /// Thread id -> index into the demand (spawn order).
  void set_thread_index(std::vector<int32_t> index) { index_ = std::move(index); }
  void set_core_busy(uint32_t pct) { core_busy_ = pct; }

  /// Runs the model for the round that just ended and writes its load into `s`.
  void apply(LoadSnapshot& s) {
    const double P = period_us_;
    const double ticks_per_us = static_cast<double>(s.tick_rate) / 1e6;
    const uint64_t period_ticks = static_cast<uint64_t>(std::llround(P * ticks_per_us));
    for (auto& pc : per_core_) pc = PerCore{};
    // Per core: the backlog and the new demand of its threads.
    thread_slot_.resize(s.threads.size());
    thread_demand_.resize(s.threads.size());
    for (size_t i = 0; i < s.threads.size(); ++i) {
      const ThreadLoad& t = s.threads[i];
      const int32_t ti = t.id.value < index_.size() ? index_[t.id.value] : -1;
      thread_slot_[i] = ti;
      if (ti < 0) continue;
      double d = (*demand_)[static_cast<size_t>(ti)];
      if (t.rounds_since_move == 0) d += o_.move_stall_us;
      thread_demand_[i] = d;
      const int32_t c = core_slot_[t.core.value];
      if (c < 0) continue;
      PerCore& pc = per_core_[static_cast<size_t>(c)];
      pc.backlog += backlog_[static_cast<size_t>(ti)];
      pc.demand += d;
    }
    // Per core: capacity, service, delay at the sample points, accounting.
    double queued = 0, used = 0;
    for (CoreLoad& c : s.cores) {
      const int32_t ci = core_slot_[c.id.value];
      PerCore& pc = per_core_[static_cast<size_t>(ci)];
      const uint32_t base = gov_.baseline_frequency(c.id);
      const double scale = base == 0 ? 1.0 : static_cast<double>(gov_.current_frequency(c.id)) / base;
      pc.scale = scale;
      const double cap = P * scale;
      const double B = pc.backlog, D = pc.demand;
      const double served = std::min(cap, B + D);
      pc.served_old = std::min(B, served);
      pc.served_new = served - pc.served_old;
      pc.left = std::max(0.0, B + D - served);
      const double busy_us = scale > 0 ? served / scale : 0;
      const double rho = cap > 0 ? std::min(1.0, (B + D) / cap) : 1.0;
      const double lambda = D / P, mu = cap / P;
      pc.interrupt = c.in_interrupt;
      double wake_weight = 0;
      if (c.in_interrupt && D > 0) {
        const double bursts = D / std::max(1.0, o_.burst_us);
        double w = bursts * (1 - rho);
        if (B <= 0) w = std::max(1.0, w);
        res_.wakes += w;
        wake_weight = 1 - rho;
      }
      for (int k = 0; k < kSamplesPerRound; ++k) {
        const double x = (k + 0.5) * P / kSamplesPerRound;
        double q = lambda >= mu ? B + (lambda - mu) * x : std::max(0.0, B - (mu - lambda) * x);
        double wait = mu > 0 ? q / mu : 1e12;
        // Work that finds a sleeping core waits for it to wake.
        if (q <= 0 && c.in_interrupt) wait += o_.wake_us * (wake_weight > 0 ? 1.0 : 0.0);
        pc.bucket[k] = bucket_of(wait);
        global_hist_[pc.bucket[k]] += D / kSamplesPerRound;
      }
      const double busy_frac = P > 0 ? busy_us / P : 0;
      if (c.in_interrupt) {
        res_.sleeping_s += (P - busy_us) / 1e6;
        used += busy_us / 1e6;
      } else {
        res_.polling_s += P / 1e6;
        used += P / 1e6;
      }
      res_.busy_s += busy_us / 1e6;
      res_.work_s += served / 1e6;
      res_.demand_s += D / 1e6;
      if (busy_frac * 100 >= core_busy_) res_.above_core_busy_s += P / 1e6;
      queued += pc.left / 1e6;
      c.busy = std::min(period_ticks, static_cast<uint64_t>(std::llround(busy_us * ticks_per_us)));
      c.idle = period_ticks - c.busy;
      c.overhead = 0;
      c.stalled = false;
      pc.busy_pct = static_cast<float>(cap > 0 ? std::max(0.0, 100.0 * (B + D) / cap) : 0.0);
      pc.sleeping = c.in_interrupt && D <= 0 && B <= 0;
    }
    res_.cpu_used_s += used;
    // Per thread: its share of what its core served (old backlog first), its
    // queued rest, its delay samples.
    for (size_t i = 0; i < s.threads.size(); ++i) {
      ThreadLoad& t = s.threads[i];
      const int32_t ti = thread_slot_[i];
      const int32_t c = core_slot_[t.core.value];
      if (ti < 0 || c < 0) {
        t.busy = 0;
        t.idle = period_ticks;
        continue;
      }
      const PerCore& pc = per_core_[static_cast<size_t>(c)];
      double& b = backlog_[static_cast<size_t>(ti)];
      const double d = thread_demand_[i];
      const double served = (pc.backlog > 0 ? b * pc.served_old / pc.backlog : 0) +
                            (pc.demand > 0 ? d * pc.served_new / pc.demand : 0);
      // Left over: old backlog not served, plus the new work not served.
      const double old_left = pc.backlog > 0 ? b * (pc.backlog - pc.served_old) / pc.backlog : 0;
      const double new_left = pc.demand > 0 ? d * (pc.demand - pc.served_new) / pc.demand : 0;
      // Rounding can leave -1e-14 where nothing is left: clamp, so no later
      // sum (queued work, busy %) goes below zero.
      b = std::max(0.0, old_left + new_left);
      if (b < 1e-6) b = 0;  // below a picosecond of work: nothing queued
      const double scale = pc.scale;
      const double busy_us = scale > 0 ? served / scale : 0;
      t.busy = std::min(period_ticks, static_cast<uint64_t>(std::llround(busy_us * ticks_per_us)));
      t.idle = period_ticks - t.busy;
      if (d > 0) {
        float* h = &hist_[static_cast<size_t>(ti) * kBuckets];
        const float w = static_cast<float>(d / kSamplesPerRound);
        for (int k = 0; k < kSamplesPerRound; ++k) h[pc.bucket[k]] += w;
      }
    }
    last_queued_s_ = queued;
    last_used_s_ = used;
  }

  double last_queued_s() const { return last_queued_s_; }
  double last_used_s() const { return last_used_s_; }
  void series_row(std::vector<float>& busy, std::vector<uint8_t>& sleeping) const {
    busy.resize(per_core_.size());
    sleeping.resize(per_core_.size());
    for (size_t i = 0; i < per_core_.size(); ++i) {
      busy[i] = per_core_[i].busy_pct;
      sleeping[i] = per_core_[i].sleeping ? 1 : 0;
    }
  }

  void finish() {
    res_.delay_p50_us = percentile(global_hist_.data(), 0.50);
    res_.delay_p99_us = percentile(global_hist_.data(), 0.99);
    double worst = 0;
    for (size_t t = 0; t < backlog_.size(); ++t) worst = std::max(worst, percentile(&hist_[t * kBuckets], 0.99));
    res_.worst_thread_p99_us = worst;
    res_.queued_end_s = last_queued_s_;
  }

 private:
  struct PerCore {
    double backlog = 0, demand = 0, served_old = 0, served_new = 0, left = 0, scale = 1;
    int bucket[kSamplesPerRound] = {};
    float busy_pct = 0;
    bool interrupt = false, sleeping = false;
  };
  const ModelOptions o_;
  SimGovernor& gov_;
  PolicyResult& res_;
  bool keep_;
  const std::vector<double>* demand_ = nullptr;
  double period_us_ = 1e6;
  uint32_t core_busy_ = 95;
  std::vector<int32_t> index_;
  std::vector<uint32_t> core_ids_;
  std::vector<int32_t> core_slot_;
  std::vector<PerCore> per_core_;
  std::vector<double> backlog_;
  std::vector<float> hist_;
  std::vector<double> global_hist_ = std::vector<double>(kBuckets, 0.0);
  std::vector<int32_t> thread_slot_;
  std::vector<double> thread_demand_;
  double last_queued_s_ = 0, last_used_s_ = 0;
};

}  // namespace

Result<void> validate(const ModelOptions& o) {
  const double min_period = static_cast<double>(kMinPeriodUs) / 1e6;
  if (!std::isfinite(o.period_s) || o.period_s < min_period || o.period_s > 3600)
    return make_error(Errc::invalid_argument,
                      fmt::format("--period {} s is out of range ({} .. 3600 s)", o.period_s, min_period));
  if (!std::isfinite(o.wake_us) || o.wake_us < 0)
    return make_error(Errc::invalid_argument, fmt::format("--wake-us {} must be >= 0", o.wake_us));
  if (!std::isfinite(o.move_stall_us) || o.move_stall_us < 0)
    return make_error(Errc::invalid_argument, fmt::format("--move-stall-us {} must be >= 0", o.move_stall_us));
  if (!std::isfinite(o.burst_us) || o.burst_us < 1)
    return make_error(Errc::invalid_argument, fmt::format("--burst-us {} must be >= 1", o.burst_us));
  return {};
}

Result<PolicySpec> parse_policy_spec(std::string_view text) {
  PolicySpec spec;
  spec.text = std::string(text);
  const size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  if (name == "spdk-dynamic" || name == "spdk_dynamic") {
    spec.name = "spdk-dynamic";
    spec.kind = PolicyKind::Dynamic;
    spec.spdk = true;
  } else {
    auto k = parse_policy_name(name);
    if (!k)
      return make_error(Errc::invalid_argument,
                        fmt::format("--policy '{}': unknown policy '{}' (known: static, dynamic, gscheduler, "
                                    "spdk-dynamic)",
                                    text, name));
    spec.kind = *k;
    spec.name = std::string(policy_name(*k));
  }
  const bool dynamic_family = spec.kind == PolicyKind::Dynamic;
  const std::string known = spec.kind == PolicyKind::Static ? "none"
                            : spec.spdk ? "period_us, load_limit, core_limit, core_busy"
                            : dynamic_family
                                ? "period_us, load_limit, core_limit, core_busy, numa_local, smt_last, keep_asleep, "
                                  "main_room"
                                                           : "period_us";
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty())
    return make_error(Errc::invalid_argument, fmt::format("--policy '{}': empty option list after ':'", text));
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view kv = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return make_error(Errc::invalid_argument,
                        fmt::format("--policy '{}': '{}' is not key=value (keys of {}: {})", text, kv, spec.name,
                                    known));
    const std::string_view key = kv.substr(0, eq), val = kv.substr(eq + 1);
    // The dynamic policy's placement options (our extension; SPDK's
    // algorithm has none): true or false.
    if (dynamic_family && !spec.spdk &&
        (key == "numa_local" || key == "smt_last" || key == "keep_asleep" || key == "main_room")) {
      if (val != "true" && val != "false")
        return make_error(Errc::invalid_argument,
                          fmt::format("--policy '{}': {} '{}' is not true or false", text, key, val));
      const bool on = val == "true";
      if (key == "numa_local") spec.update.numa_local = on;
      if (key == "smt_last") spec.update.smt_last = on;
      if (key == "keep_asleep") spec.update.keep_asleep = on;
      if (key == "main_room") spec.update.main_room = on;
      continue;
    }
    const bool pct_key = key == "load_limit" || key == "core_limit" || key == "core_busy";
    if ((key == "period_us" && spec.kind != PolicyKind::Static) || (pct_key && dynamic_family)) {
      uint64_t v = 0;
      const auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
      if (ec != std::errc{} || p != val.data() + val.size())
        return make_error(Errc::invalid_argument,
                          fmt::format("--policy '{}': {} '{}' is not a non-negative integer", text, key, val));
      if (pct_key && v > 100)
        return make_error(Errc::invalid_argument,
                          fmt::format("--policy '{}': {} {} is out of range (0-100)", text, key, v));
      if (key == "period_us" && (v < kMinPeriodUs || v > 3600ULL * 1'000'000))
        return make_error(Errc::invalid_argument,
                          fmt::format("--policy '{}': period_us {} is out of range ({} .. 3600000000)", text, v,
                                      kMinPeriodUs));
      if (key == "period_us") spec.update.period_us = v;
      if (key == "load_limit") spec.update.load_limit = static_cast<uint32_t>(v);
      if (key == "core_limit") spec.update.core_limit = static_cast<uint32_t>(v);
      if (key == "core_busy") spec.update.core_busy = static_cast<uint32_t>(v);
      continue;
    }
    return make_error(Errc::invalid_argument,
                      fmt::format("--policy '{}': unknown option '{}' for {} (it takes: {})", text, key, spec.name,
                                  known));
  }
  return spec;
}

static double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

Result<PolicyResult> run_policy(const SimSetup& setup, const PolicySpec& spec) {
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_s();
  PolicyResult res;
  res.policy = spec.text;
  std::unique_ptr<DemandSource> source = setup.source();
  const uint32_t n_threads = source->threads();
  res.threads = n_threads;

  ManualPoolOptions mo;
  mo.topology = setup.topology;
  mo.reactor_cores = setup.reactor_cores;
  mo.main_core = setup.main_core;
  mo.seed = 0;
  mo.wait_passes = 1000;
  std::unique_ptr<ManualPool> mp;
  try {
    mp = std::make_unique<ManualPool>(mo);
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, fmt::format("cannot build the pool: {}", e.what()));
  }
  ReactorPool& pool = mp->pool();
  res.cores = pool.cores().count();
  const CpuSet mask = setup.thread_mask.empty() ? pool.cores() : setup.thread_mask;

  std::vector<ThreadOptions> to(n_threads);
  for (uint32_t i = 0; i < n_threads; ++i) {
    to[i].name = fmt::format("t{}", i);
    to[i].cpumask = mask;
    to[i].ring_size = 64;  // the smallest ring: nothing is sent to them (10,000 x 4096 slots would be 320 MiB)
    if (setup.thread_options) setup.thread_options(i, to[i]);
  }
  std::vector<ThreadRef> threads;
  try {
    threads = mp->spawn_many(std::move(to));
  } catch (const std::exception& e) {
    return make_error(Errc::invalid_argument, fmt::format("cannot spawn the threads: {}", e.what()));
  }
  std::vector<int32_t> index;
  for (uint32_t i = 0; i < n_threads; ++i) {
    const uint64_t id = threads[i].id().value;
    if (index.size() <= id) index.resize(id + 1, -1);
    index[id] = static_cast<int32_t>(i);
  }

  auto gov_owned = std::make_unique<SimGovernor>(pool.cores());
  SimGovernor& gov = *gov_owned;
  GovernorSlot slot(std::move(gov_owned));
  Model model(setup.model, n_threads, pool.cores(), gov, res, setup.keep_series);
  model.set_thread_index(std::move(index));

  SchedulerManagerOptions so;
  so.history_limit = 1;
  so.load_source = [&model](LoadSnapshot& s) { model.apply(s); };
  if (spec.spdk) so.dynamic_factory = make_spdk_dynamic_policy;
  auto mgr = SchedulerManager::create(pool, slot, std::move(so));
  if (!mgr) return tl::unexpected(mgr.error());
  if (auto ok = (*mgr)->switch_to(spec.kind, spec.update); !ok)
    return make_error(Errc::invalid_argument, fmt::format("--policy '{}': {}", spec.text, ok.error().message));
  const SchedulerStatus st = (*mgr)->status();
  const double period_s =
      spec.kind != PolicyKind::Static && spec.update.period_us ? *spec.update.period_us / 1e6 : setup.model.period_s;
  res.period_s = period_s;
  res.core_busy = st.options.dynamic.core_busy;
  model.set_core_busy(res.core_busy);
  res.options = effective_options(st, spec.kind == PolicyKind::Dynamic, period_s);

  const uint64_t rounds = static_cast<uint64_t>(std::ceil(setup.duration_s / period_s - 1e-9));
  const uint64_t period_ticks = mp->clock().us_to_ticks(static_cast<uint64_t>(std::llround(period_s * 1e6)));
  std::vector<double> demand;
  const std::vector<CoreId> cores = pool.cores().cores();
  std::vector<uint32_t> freq_before(cores.size());
  if (setup.keep_series)
    for (CoreId c : cores) res.series.cores.push_back(c.value);
  for (uint64_t r = 0; r < rounds; ++r) {
    const double t_s = static_cast<double>(r) * period_s;
    source->demand(t_s, period_s, demand);
    demand.resize(n_threads, 0.0);
    model.set_round(&demand, period_s);
    mp->clock().advance(period_ticks);
    mp->poll_all();
    for (size_t i = 0; i < cores.size(); ++i) freq_before[i] = gov.current_frequency(cores[i]);
    RoundRecord rec = (*mgr)->run_round();
    uint32_t fchanges = 0;
    for (size_t i = 0; i < cores.size(); ++i) fchanges += gov.current_frequency(cores[i]) != freq_before[i];
    res.moves += rec.moves_landed;
    res.moves_skipped += rec.moves_skipped;
    res.mode_changes += rec.mode_changes;
    res.frequency_changes += fchanges;
    for (std::string& p : rec.problems)
      if (res.problems.size() < kMaxProblems) res.problems.push_back(std::move(p));
    if (rec.moves_landed > 0 || rec.mode_changes > 0) {
      ++res.deciding_rounds;
      if (res.deciding.size() < PolicyResult::kMaxDecidingListed)
        res.deciding.push_back(DecidingRound{r + 1, t_s + period_s, rec.moves_landed, rec.mode_changes, fchanges,
                                             rec.moves.empty() ? std::string{} : rec.moves.front().reason});
    }
    if (setup.keep_series) {
      SimSeries& ss = res.series;
      ss.busy_pct.emplace_back();
      ss.sleeping.emplace_back();
      model.series_row(ss.busy_pct.back(), ss.sleeping.back());
      ss.cpu_used_s.push_back(model.last_used_s());
      ss.queued_s.push_back(model.last_queued_s());
      ss.moves.push_back(rec.moves_landed);
      for (const ThreadMove& m : rec.moves)
        if (ss.move_list.size() < kMaxMoveMarks) ss.move_list.push_back({t_s + period_s, m.from.value, m.to.value});
    }
  }
  model.finish();
  res.rounds = rounds;
  res.simulated_s = static_cast<double>(rounds) * period_s;
  res.moves_per_thread_hour =
      n_threads == 0 || res.simulated_s <= 0 ? 0 : static_cast<double>(res.moves) / n_threads / (res.simulated_s / 3600);
  mgr->reset();
  res.passes = mp->passes();
  res.real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  res.cpu_s = process_cpu_s() - cpu0;
  return res;
}

}  // namespace reactor::sim
