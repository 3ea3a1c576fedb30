// reactor-bench's monitor: sampling, progress, the ramp cut, switch windows
// and the summary of the measured part of the run.

#include "tools/reactor_bench_monitor.hh"

#include <algorithm>
#include <limits>
#include <thread>

#include <fmt/format.h>

namespace reactor::bench {
namespace {

constexpr auto kSample = std::chrono::milliseconds(100);
constexpr double kWindowHalf_s = 0.5;  // "the second around the switch"

std::string human(double v) {
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

}  // namespace

Totals collect(const std::vector<std::unique_ptr<Worker>>& ws, const ReactorPool& pool, bool with_hist) {
  Totals t;
  t.at = std::chrono::steady_clock::now();
  for (const auto& w : ws) {
    t.ios += w->ios.load(std::memory_order_relaxed);
    t.reads += w->reads.load(std::memory_order_relaxed);
    t.writes += w->writes.load(std::memory_order_relaxed);
    t.bytes += w->bytes.load(std::memory_order_relaxed);
    t.errors += w->errors.load(std::memory_order_relaxed);
    t.lat_sum += w->lat_sum.load(std::memory_order_relaxed);
    t.lat_max = std::max(t.lat_max, w->lat_max.load(std::memory_order_relaxed));
    if (with_hist) w->hist.add_to(t.hist);
  }
  for (CoreId c : pool.cores().cores()) t.cpu_ns.push_back(pool.reactor_cpu_ns(c));
  return t;
}

void Monitor::run() {
  using clock = std::chrono::steady_clock;
  start_ = clock::now();
  const double end_s = o_.ramp_s + o_.time_s;
  base_ = collect(ws_, pool_, true);
  base_.at = start_;
  Totals last_sec = base_;
  // --plot: every 100 ms sample also takes the histograms (1920 buckets per
  // worker) and the reactors' CPU time; without --plot only the I/O count.
  const bool plotting = !o_.plot_file.empty();
  Totals last_plot = plotting ? base_ : Totals{};
  uint64_t last_ios = 0;
  double next_sample = secs(kSample), next_sec = 1.0;
  bool ramped = o_.ramp_s <= 0;
  size_t next_switch = 0;
  std::string why;
  const bool can_switch = driver_.available(why);
  if (ramped) close_quiet_second(0.0);  // no warm-up: the first reference second starts now
  while (true) {
    if (take_signal_()) {
      interrupted_ = true;
      break;
    }
    if (sh_.fatal.load(std::memory_order_acquire)) break;
    const double now_s = secs(clock::now() - start_);
    if (now_s >= end_s) {
      if (now_s - next_sec < 0.5 && next_sec <= end_s + 1e-9) progress(last_sec, collect(ws_, pool_, true), now_s, ramped);
      break;
    }
    if (now_s >= next_sample) {
      uint64_t ios = 0;
      for (const auto& w : ws_) ios += w->ios.load(std::memory_order_relaxed);
      samples_.push_back({now_s, static_cast<double>(ios - last_ios) / secs(kSample)});
      last_ios = ios;
      next_sample += secs(kSample);
      if (plotting) {
        Totals cur = collect(ws_, pool_, true);
        plot_point(last_plot, cur, now_s);
        last_plot = std::move(cur);
      }
    }
    if (now_s >= next_sec) {
      Totals cur = collect(ws_, pool_, true);
      progress(last_sec, cur, now_s, ramped);
      last_sec = std::move(cur);
      next_sec += 1.0;
    }
    if (!ramped && now_s >= o_.ramp_s) {  // after the progress line: the last ramp second reads "ramp"
      base_ = collect(ws_, pool_, true);
      sched_base_ = driver_.counters();
      ramped = true;
      close_quiet_second(now_s);  // starts the first one
    }
    if (can_switch && next_switch < o_.schedule.size() && !open_) {
      const SwitchStep& st = o_.schedule[next_switch];
      const double win_start = std::max(st.at_s - kWindowHalf_s, windows_.empty() ? 0.0 : windows_.back().end_s);
      if (now_s >= win_start) {
        quiet_start_s_ = -1;  // the second in progress touches a window: not a reference
        open_window(now_s, st);
      }
    }
    if (ramped && !open_ && quiet_start_s_ >= 0 && now_s >= quiet_start_s_ + 2 * kWindowHalf_s)
      close_quiet_second(now_s);
    if (open_) {
      Window& w = windows_.back();
      if (!w.switched && now_s >= w.rep.step.at_s) {
        do_switch(w);
        ++next_switch;
      } else if (w.switched && now_s >= w.end_s) {
        close_window();
        quiet_start_s_ = -1;
        if (ramped) close_quiet_second(now_s);  // starts the next reference second
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (open_) {
    if (windows_.back().switched) close_window();
    else windows_.pop_back();  // the run ended before this switch
    open_ = false;
  }
  end_ = collect(ws_, pool_, true);
  sched_end_ = driver_.counters();
  if (!ramped) {
    // Interrupted (or failed) during the warm-up: nothing was measured. The
    // figures are the empty difference end - end, never the warm-up's data.
    measured_ = false;
    ramped_s_ = secs(end_.at - start_);
    base_ = end_;
    sched_base_ = sched_end_;
  }
}

Summary Monitor::summary(const std::string& registered) const {
  Summary s;
  s.workload = std::string(workload_name(o_.workload));
  if (o_.workload == Workload::RandRw) s.workload += fmt::format(" ({}% reads)", o_.read_pct);
  s.io_size = o_.io_size;
  s.queue_depth = o_.queue_depth;
  s.workers = static_cast<uint32_t>(ws_.size());
  s.cores = pool_.cores().to_list();
  s.mode = o_.poll ? "poll" : "interrupt";
  for (const auto& t : *sh_.targets) s.files.push_back(t.path);
  s.direct = o_.direct;
  s.runtime_s = secs(end_.at - base_.at);
  s.ios = end_.ios - base_.ios;
  s.reads = end_.reads - base_.reads;
  s.writes = end_.writes - base_.writes;
  s.bytes = end_.bytes - base_.bytes;
  s.errors = end_.errors - base_.errors;
  const Clock& ck = pool_.clock();
  auto us = [&](uint64_t ticks) { return static_cast<double>(ck.ticks_to_ns(ticks)) / 1000.0; };
  const Histogram::Snapshot h = end_.hist - base_.hist;
  s.lat_avg_us = s.ios > 0 ? us(end_.lat_sum - base_.lat_sum) / static_cast<double>(s.ios) : 0;
  s.lat_p50_us = us(h.quantile(0.50));
  s.lat_p99_us = us(h.quantile(0.99));
  s.lat_p999_us = us(h.quantile(0.999));
  s.lat_max_us = us(end_.lat_max);
  auto cores = pool_.cores().cores();
  for (size_t i = 0; i < cores.size(); ++i) {
    const double cs = static_cast<double>(end_.cpu_ns[i] - base_.cpu_ns[i]) / 1e9;
    s.cpu.push_back({cores[i].value, s.runtime_s > 0 ? 100.0 * cs / s.runtime_s : 0, cs});
  }
  s.policy = driver_.current_policy();
  s.idle_threads = o_.idle_threads;
  s.period_us = o_.period_us;
  s.rounds = sched_end_.rounds - sched_base_.rounds;
  s.moves = sched_end_.moves - sched_base_.moves;
  std::string why;
  s.switching = driver_.available(why) ? "available" : why;
  s.registered = registered;
  s.ring_flags = describe_ring_flags(sh_.ring_flags.load(std::memory_order_relaxed));
  s.interrupted = interrupted_;
  s.measured = measured_;
  s.ramp_s = o_.ramp_s;
  s.ramped_s = ramped_s_;
  // Outside every window: the whole run minus the windows.
  Histogram::Snapshot outside = end_.hist;
  for (const auto& w : windows_) outside = outside - (w.h1 - w.h0);
  std::vector<double> typical;
  for (const auto& smp : samples_) {
    bool in = false;
    for (const auto& w : windows_) in |= smp.t_s > w.start_s && smp.t_s <= w.end_s + secs(kSample);
    if (!in && smp.t_s > secs(kSample)) typical.push_back(smp.iops);
  }
  std::sort(typical.begin(), typical.end());
  const double median = typical.empty() ? 0 : typical[typical.size() / 2];
  auto median_of = [](std::vector<double> v) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double gap_quiet = median_of(quiet_gap_ms_), min_quiet = median_of(quiet_min_iops_);
  for (const auto& w : windows_) {
    SwitchReport r = w.rep;
    r.p99_window_us = us((w.h1 - w.h0).quantile(0.99));
    r.p99_outside_us = us(outside.quantile(0.99));
    r.iops_typical = median;
    r.max_gap_quiet_ms = gap_quiet;
    r.iops_min_quiet = min_quiet;
    double lo = -1;
    for (const auto& smp : samples_)
      if (smp.t_s > w.start_s && smp.t_s <= w.end_s + secs(kSample)) lo = lo < 0 ? smp.iops : std::min(lo, smp.iops);
    r.iops_min_window = lo < 0 ? 0 : lo;
    r.errors = w.err1 - w.err0;
    s.switches.push_back(std::move(r));
  }
  return s;
}

void Monitor::progress(const Totals& a, const Totals& b, double now_s, bool ramped) {
  const double dt = secs(b.at - a.at);
  if (dt <= 0) return;
  const double iops = static_cast<double>(b.ios - a.ios) / dt;
  const double mib = static_cast<double>(b.bytes - a.bytes) / dt / (1024.0 * 1024.0);
  const Histogram::Snapshot h = b.hist - a.hist;
  const double p99 = static_cast<double>(pool_.clock().ticks_to_ns(h.quantile(0.99))) / 1000.0;
  std::string cpu;
  auto cores = pool_.cores().cores();
  for (size_t i = 0; i < cores.size(); ++i)
    cpu += fmt::format(" {}:{:.0f}%", cores[i].value,
                       100.0 * static_cast<double>(b.cpu_ns[i] - a.cpu_ns[i]) / 1e9 / dt);
  const std::string phase =
      ramped ? fmt::format("{:>3.0f}s", now_s - o_.ramp_s) : fmt::format("ramp {:.0f}s", now_s);
  fmt::print(stderr, "[{}] {:>8} IOPS {:>9.1f} MiB/s  p99 {:>7.1f} us  cpu{}  {}{}\n", phase, human(iops), mib, p99,
             cpu, driver_.current_policy(), b.errors > a.errors ? fmt::format("  {} errors", b.errors - a.errors) : "");
  std::fflush(stderr);
}

void Monitor::plot_point(const Totals& a, const Totals& b, double now_s) {
  const double dt = secs(b.at - a.at);
  if (dt <= 0) return;
  PlotPoint p;
  p.t_s = now_s;
  p.iops = static_cast<double>(b.ios - a.ios) / dt;
  const Histogram::Snapshot h = b.hist - a.hist;
  p.p99_us = h.total() == 0 ? std::numeric_limits<double>::quiet_NaN()
                            : static_cast<double>(pool_.clock().ticks_to_ns(h.quantile(0.99))) / 1000.0;
  for (size_t i = 0; i < b.cpu_ns.size() && i < a.cpu_ns.size(); ++i)
    p.cpu_pct.push_back(100.0 * static_cast<double>(b.cpu_ns[i] - a.cpu_ns[i]) / 1e9 / dt);
  plot_.push_back(std::move(p));
}

void Monitor::open_window(double now_s, const SwitchStep& st) {
  Window& win = windows_.emplace_back();
  open_ = true;
  win.start_s = now_s;
  win.rep.step = st;
  win.rep.from = driver_.current_policy();
  Totals t = collect(ws_, pool_, true);
  win.h0 = std::move(t.hist);
  win.err0 = t.errors;
  for (const auto& w : ws_) {
    win.cores_before.push_back(w->thread->current_core().value);
    w->max_gap.store(0, std::memory_order_relaxed);
  }
}

void Monitor::do_switch(Window& w) {
  w.rep.at_s = secs(std::chrono::steady_clock::now() - start_);
  w.rep.outcome = driver_.switch_to(w.rep.step.policy);
  if (w.rep.outcome.message.empty()) w.rep.outcome.message = w.rep.outcome.ok ? "ok" : "failed";
  w.end_s = secs(std::chrono::steady_clock::now() - start_) + kWindowHalf_s;
  w.switched = true;
  fmt::print(stderr, "switch {} -> {}: {} ({:.2f} ms)\n", w.rep.from, w.rep.step.policy, w.rep.outcome.message,
             w.rep.outcome.duration_ms);
}

void Monitor::close_quiet_second(double now_s) {
  if (quiet_start_s_ >= 0) {
    uint64_t gap = 0;
    for (const auto& w : ws_) gap = std::max(gap, w->max_gap.load(std::memory_order_relaxed));
    quiet_gap_ms_.push_back(static_cast<double>(pool_.clock().ticks_to_ns(gap)) / 1e6);
    double lo = -1;
    for (auto it = samples_.rbegin(); it != samples_.rend() && it->t_s > quiet_start_s_; ++it)
      lo = lo < 0 ? it->iops : std::min(lo, it->iops);
    if (lo >= 0) quiet_min_iops_.push_back(lo);
  }
  for (const auto& w : ws_) w->max_gap.store(0, std::memory_order_relaxed);
  quiet_start_s_ = now_s;
}

void Monitor::close_window() {
  Window& win = windows_.back();
  Totals t = collect(ws_, pool_, true);
  win.h1 = std::move(t.hist);
  win.err1 = t.errors;
  uint64_t gap = 0;
  for (size_t i = 0; i < ws_.size(); ++i) {
    gap = std::max(gap, ws_[i]->max_gap.load(std::memory_order_relaxed));
    if (ws_[i]->thread->current_core().value != win.cores_before[i]) ++win.rep.threads_moved;
  }
  win.rep.max_gap_ms = static_cast<double>(pool_.clock().ticks_to_ns(gap)) / 1e6;
  win.end_s = secs(std::chrono::steady_clock::now() - start_);
  open_ = false;
}

}  // namespace reactor::bench
