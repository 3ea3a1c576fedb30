#pragma once
// reactor-bench's monitor (not API): the main thread during a run. 100 ms
// IOPS samples, a progress line per second, the ramp cut, and the scheduled
// switches (blocking, through the SwitchDriver) with a measurement window of
// 0.5 s on either side: largest completion gap, p99 inside vs outside, lowest
// 100 ms IOPS sample, workers whose core changed. It reads the workers'
// published counters only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <reactor/pool.hh>

#include "tools/reactor_bench.hh"
#include "tools/reactor_bench_options.hh"
#include "tools/reactor_bench_workers.hh"

namespace reactor::bench {

struct Totals {
  uint64_t ios = 0, reads = 0, writes = 0, bytes = 0, errors = 0, lat_sum = 0, lat_max = 0;
  Histogram::Snapshot hist;
  std::vector<uint64_t> cpu_ns;
  std::chrono::steady_clock::time_point at;
};

/// The workers' counters now (and their histograms with `with_hist`), with
/// the CPU time of every reactor.
Totals collect(const std::vector<std::unique_ptr<Worker>>& ws, const ReactorPool& pool, bool with_hist);
inline double secs(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Sample {
  double t_s;   // seconds since start (end of the sample)
  double iops;
};

/// One 100 ms point of --plot.
struct PlotPoint {
  double t_s = 0;               ///< seconds since the start (ramp included), end of the interval
  double iops = 0;              ///< completions / the interval's measured length
  double p99_us = 0;            ///< p99 latency of the I/Os completed in it; NaN when none completed
  std::vector<double> cpu_pct;  ///< CPU % of each reactor, in the pool's core order
};

struct Window {
  SwitchReport rep;
  double start_s = 0, end_s = 0;
  Histogram::Snapshot h0, h1;
  uint64_t err0 = 0, err1 = 0;
  std::vector<uint32_t> cores_before;
  bool switched = false;
};

class Monitor {
 public:
  /// `take_signal` returns true once SIGINT/SIGTERM arrived (polled every 10 ms).
  Monitor(const Options& o, ReactorPool& pool, SwitchDriver& driver, Shared& sh,
          std::vector<std::unique_ptr<Worker>>& ws, std::function<bool()> take_signal)
      : o_(o), pool_(pool), driver_(driver), sh_(sh), ws_(ws), take_signal_(std::move(take_signal)) {}

  // Runs until the end, SIGINT or a fatal error. Returns the measured totals.
  void run();

  Summary summary(const std::string& registered) const;

  bool interrupted() const { return interrupted_; }

  /// The --plot points (empty without --plot): every 100 ms from the start.
  const std::vector<PlotPoint>& plot_points() const { return plot_; }

 private:
  void progress(const Totals& a, const Totals& b, double now_s, bool ramped);

  void open_window(double now_s, const SwitchStep& st);

  void plot_point(const Totals& a, const Totals& b, double now_s);

  void do_switch(Window& w);

  void close_window();

  // A second of the measured run with no switch window in it: records its
  // largest completion gap and lowest 100 ms sample, then starts the next.
  void close_quiet_second(double now_s);

  const Options& o_;
  ReactorPool& pool_;
  SwitchDriver& driver_;
  Shared& sh_;
  std::vector<std::unique_ptr<Worker>>& ws_;
  std::chrono::steady_clock::time_point start_;
  Totals base_, end_;
  std::vector<Sample> samples_;
  std::function<bool()> take_signal_;
  std::vector<Window> windows_;
  bool open_ = false;  // windows_.back() is still measuring
  SwitchDriver::Counters sched_base_, sched_end_;  // at the ramp cut and at the end
  bool interrupted_ = false;
  bool measured_ = true;   // false: the run ended before the ramp cut
  double ramped_s_ = 0;    // warm-up seconds done, when !measured_
  std::vector<PlotPoint> plot_;  // --plot only
  // The seconds without a switch (the reference the windows are read against).
  double quiet_start_s_ = -1;      // start of the current one; < 0: none open
  std::vector<double> quiet_gap_ms_, quiet_min_iops_;
};

}  // namespace reactor::bench
