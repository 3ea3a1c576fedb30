#pragma once
// reactor-bench --plot (not API): the run as one SVG through reactor_plot:
// IOPS and p99 latency per 100 ms, CPU per reactor, and each switch as a
// vertical line labelled with its stall.

#include <string>
#include <vector>

#include <reactor/error.hh>

#include "tools/reactor_bench.hh"
#include "tools/reactor_bench_monitor.hh"
#include "tools/reactor_bench_options.hh"

namespace reactor::bench {

/// Checks, before the run, that `path` can take the picture: not empty, not a
/// directory, in a directory that exists and that we may write in. Errors
/// (invalid_argument) are one line starting with "--plot PATH: ". Any thread.
Result<void> check_plot_file(const std::string& path);

/// Writes the SVG of a finished run: `points` from Monitor::plot_points(),
/// the cores and switches from `s`. Errors are reactor_plot's (Errc::io when
/// the file cannot be written). Any thread.
Result<void> write_bench_plot(const std::string& path, const Options& o, const Summary& s,
                              const std::vector<PlotPoint>& points);

}  // namespace reactor::bench
