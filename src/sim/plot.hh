#pragma once
// Pictures of what a policy did (not API): a heatmap of cores x time, stacked
// line charts sharing a time axis, and a one-page HTML report that puts
// policies side by side. Written as SVG and HTML directly, with no plotting
// library at run time, so reactor-sim and reactor-bench draw on any host.
//
// Every text that goes into a file (titles, labels, series and policy names,
// metric values, file names) is escaped; input is validated in full before a
// file is opened, so bad input changes nothing on disk. Files are written to
// a temporary name beside the target and renamed over it.
//
// Big inputs are downsampled to at most kMaxColumns columns (time buckets);
// the picture's legend says how buckets were aggregated.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <reactor/error.hh>

namespace reactor::sim::plot {

/// At most this many time columns are drawn: about one per pixel of the
/// 900-pixel-wide plot area. 256 cores x 800 columns keeps a heatmap in the
/// low MiB and quick to render in a browser.
inline constexpr std::size_t kMaxColumns = 800;

/// Cores x time: busy % per core per column, sleeping cores, thread moves.
struct Heatmap {
  /// What ran, e.g. "dynamic (load_limit=20) on package:2 core:64 pu:2, bursty, 10000 threads".
  std::string title;
  /// Row labels (core ids), top row first. Must not be empty.
  std::vector<uint32_t> cores;
  /// Time of column 0 and the width of one column, in seconds (dt_s > 0).
  double t0_s = 0, dt_s = 1;
  /// [column][row], 0..100 % busy; above 100 means overloaded (work queued),
  /// drawn in its own colour. Every column has cores.size() values.
  std::vector<std::vector<float>> busy_pct;
  /// [column][row], 1 = the core slept (interrupt mode, no work). Either empty
  /// (no core slept) or the same shape as busy_pct.
  std::vector<std::vector<uint8_t>> sleeping;
  /// One thread move at time t_s from one core to another (both rows of `cores`).
  struct Move {
    double t_s;
    uint32_t from_core, to_core;
  };
  /// Marked on the map where threads arrived; the strip above counts moves per column.
  std::vector<Move> moves;
};

/// How a downsampled line-chart point aggregates the samples of its bucket.
enum class Aggregate {
  mean,  ///< averages (rates, CPU %)
  max,   ///< keeps peaks (latency percentiles, queue depth)
};

/// One line: a value per column (NaN = no value: the line has a gap there).
struct Series {
  std::string name;
  std::vector<double> values;
  Aggregate aggregate = Aggregate::mean;
};

/// One panel of a line chart: its y axis label carries the unit ("IOPS", "p99 latency (us)").
struct Panel {
  std::string y_label;
  std::vector<Series> series;
  /// Logarithmic y axis (latencies whose spikes would flatten the rest);
  /// values <= 0 are then gaps, and the label says "log scale".
  bool log_y = false;
};

/// Panels stacked on a shared time axis, with vertical markers across all of them.
struct LineChart {
  std::string title;
  /// Time of value 0 and the time between values, in seconds (dt_s > 0).
  double t0_s = 0, dt_s = 1;
  std::string x_label = "time (s)";
  /// Top to bottom, e.g. CPU used, queued work, moves. Must not be empty.
  std::vector<Panel> panels;
  /// A vertical line at t_s with its label (a switch and its stall).
  struct Marker {
    double t_s;
    std::string label;
  };
  std::vector<Marker> markers;
};

/// Writes `map` as an SVG file at `path`. Errors (nothing written):
/// Errc::invalid_argument naming the first bad field (no cores, no columns, a
/// column of the wrong size, a NaN or negative busy %, dt_s <= 0, a move to a
/// core that is not a row); Errc::io when the file cannot be written. Any thread.
Result<void> write_heatmap_svg(const Heatmap& map, const std::string& path);

/// Writes `chart` as an SVG file at `path`. Errors (nothing written):
/// Errc::invalid_argument (no panels, a panel without series, dt_s <= 0, an
/// infinite value, a marker time that is not finite); Errc::io. Any thread.
Result<void> write_line_chart_svg(const LineChart& chart, const std::string& path);

/// One policy's column of the report.
struct ReportEntry {
  std::string policy;
  /// Shown in this order; the report's comparison table has one row per name.
  std::vector<std::pair<std::string, std::string>> metrics;
  /// File names relative to the report's directory (may be empty: not shown).
  std::string heatmap_svg, chart_svg;
};

/// Writes a self-contained HTML page: `title`, `subtitle`, a table comparing
/// every entry's metrics side by side, then each policy's pictures side by
/// side (the SVG files are referenced relative to the page). Errors (nothing
/// written): Errc::invalid_argument (no entries, an empty policy name, an
/// absolute picture path or one that climbs out with ".."); Errc::io. Any thread.
Result<void> write_html_report(const std::string& title, const std::string& subtitle,
                               const std::vector<ReportEntry>& entries, const std::string& path);

/// `text` made safe for SVG/HTML text and attribute values: & < > " ' as
/// entities, control characters other than tab and newline dropped, invalid
/// UTF-8 bytes replaced by U+FFFD. Any thread.
std::string escape_xml(std::string_view text);

}  // namespace reactor::sim::plot
