#pragma once
// `reactorctl top` (not API): a live view of reactors, threads and pollers,
// refreshed every --interval ms, like spdk_top. The frame is a pure function
// of two samples (unit-tested from fixed JSON); the terminal handling (raw
// keys, alternate screen, restore on q / Ctrl-C) lives in run_top.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace reactor::ctl {

/// Sort keys of the threads and pollers tables.
enum class TopSort { Busy, Id, Name, Core, Runs };

/// Parses "busy|id|name|core|runs".
std::optional<TopSort> parse_top_sort(std::string_view text);
std::string_view top_sort_name(TopSort s);

/// One sample: framework_get_reactors, thread_get_stats, thread_get_pollers
/// (each may be null: "not available") and framework_get_scheduler (optional).
struct TopSample {
  nlohmann::json reactors;
  nlohmann::json threads;
  nlohmann::json pollers;
  nlohmann::json scheduler;
};

struct TopOptions {
  TopSort sort = TopSort::Busy;
  uint64_t interval_ms = 1000;
  /// Rows of each table at most (0: all). The live view fits the terminal.
  std::size_t max_rows = 0;
  std::string socket;
};

/// A control character (and DEL) in a name as "\xNN", a backslash as "\\":
/// a thread named by a client cannot move the cursor or clear the screen.
std::string escape_control(std::string_view name);

/// One frame: a header (socket, policy, interval, sort key), the CORES table
/// (busy % over the interval, mode, threads), the THREADS table (busy %,
/// core, pollers) and the POLLERS table (runs and busy runs per second over
/// the interval), sorted by `opt.sort`. `before` null: percentages since start
/// and no rates.
std::string format_top_frame(const TopSample& now, const TopSample* before, const TopOptions& opt);

/// The run loop. `sample` fetches one sample (false: it failed and reported
/// the failure). Interactive (a terminal, !once): redraws every interval on
/// the alternate screen until q, Q or Ctrl-C (SIGINT/SIGTERM), then restores
/// the terminal; 's' cycles the sort key. Otherwise prints one frame made of
/// two samples `interval_ms` apart and returns. Returns the exit status.
int run_top(const std::function<bool(TopSample&)>& sample, TopOptions opt, bool interactive, std::ostream& out);

}  // namespace reactor::ctl
