// reactor-bench --plot: checks the path before the run and draws the run
// after it. Values are placed in the middle of their 100 ms interval (the
// monitor samples at 0.1, 0.2, ... s), switches at the time they started,
// the end of --ramp as a marker of its own.

#include "tools/reactor_bench_plot.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sim/plot.hh"

namespace reactor::bench {

Result<void> check_plot_file(const std::string& path) {
  auto bad = [&](std::string why) {
    return make_error(Errc::invalid_argument, fmt::format("--plot {}: {}", path, why));
  };
  if (path.empty()) return make_error(Errc::invalid_argument, "--plot needs a file name (e.g. --plot run.svg)");
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return bad("is a directory, not a file");
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::stat(dir.c_str(), &st) != 0) return bad(fmt::format("the directory {} does not exist", dir));
  if (!S_ISDIR(st.st_mode)) return bad(fmt::format("{} is not a directory", dir));
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return bad(fmt::format("cannot write in {}: {}", dir, std::strerror(errno)));
  return {};
}

Result<void> write_bench_plot(const std::string& path, const Options& o, const Summary& s,
                              const std::vector<PlotPoint>& points) {
  namespace plot = reactor::sim::plot;
  plot::LineChart ch;
  std::string policies = o.scheduler;
  for (const auto& w : s.switches) policies += " -> " + w.step.policy;
  ch.title = fmt::format("reactor-bench: {} {} -q {}, {} worker{} on cores {} ({} mode), {} s{}; policy {}",
                         s.workload, format_size(s.io_size), s.queue_depth, s.workers, s.workers == 1 ? "" : "s",
                         s.cores, s.mode, o.time_s, o.ramp_s > 0 ? fmt::format(" after --ramp {} s", o.ramp_s) : "",
                         policies);
  ch.t0_s = 0.05;  // the middle of the first 100 ms interval
  ch.dt_s = 0.1;
  plot::Panel iops{"IOPS", {{"IOPS per 100 ms", {}}}};
  // Log scale: a switch's stall is 1000 times the usual p99 and would flatten it.
  plot::Panel p99{"p99 latency (us)", {{"p99 per 100 ms", {}, plot::Aggregate::max}}, true};
  plot::Panel cpu{"CPU (% of a core)", {}};
  for (const auto& c : s.cpu) cpu.series.push_back({fmt::format("reactor {}", c.core), {}});
  for (const auto& p : points) {
    iops.series[0].values.push_back(p.iops);
    p99.series[0].values.push_back(p.p99_us);
    for (size_t i = 0; i < cpu.series.size(); ++i)
      cpu.series[i].values.push_back(i < p.cpu_pct.size() ? p.cpu_pct[i] : std::nan(""));
  }
  if (cpu.series.empty()) cpu.series.push_back({"no reactor", {}});
  ch.panels = {std::move(iops), std::move(p99), std::move(cpu)};
  if (o.ramp_s > 0) ch.markers.push_back({o.ramp_s, "end of --ramp: measuring"});
  for (const auto& w : s.switches)
    ch.markers.push_back({w.at_s, fmt::format("{} -> {}: stall {:.2f} ms{}", w.from, w.step.policy, w.max_gap_ms,
                                              w.outcome.ok ? "" : " (FAILED)")});
  return plot::write_line_chart_svg(ch, path);
}

}  // namespace reactor::bench
