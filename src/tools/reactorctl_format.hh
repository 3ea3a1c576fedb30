#pragma once
// reactorctl's human output (not API): pure functions from JSON-RPC results
// (shapes of rpc-compat.md §3 plus reactor's scheduler_get_history) to text,
// so every table is unit-tested from fixed JSON without a daemon.
//
// The formatters are total: a member that is missing or has an unexpected
// type prints as "-" rather than failing, because an operator looking at a
// daemon of another version still wants the rest of the table. Only the
// top-level type is checked by the caller (reactorctl_cli.cc).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace reactor::ctl {

using json = nlohmann::json;

/// Column alignment of a Table.
enum class Align { Left, Right };

/// A text table: a header row and rows of cells, columns separated by two
/// spaces and padded to the widest cell; no trailing spaces. Plain value.
class Table {
 public:
  struct Column {
    std::string header;
    Align align = Align::Left;
  };

  explicit Table(std::vector<Column> columns);
  /// Adds a row; missing cells print empty, extra cells are ignored.
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const noexcept { return rows_.size(); }
  /// The header line and one line per row, each ending in '\n'.
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

/// `s` made safe to print on a terminal: control characters (C0, DEL and
/// the C1 range U+0080-U+009F) are written as escapes (\n, \r, \t, \e,
/// else \xHH or \uHHHH) and a backslash as \\, so that a name sent by a
/// client can neither break a table into forged rows nor send terminal
/// commands. Everything else (UTF-8 text included) is kept. Every table cell
/// goes through it (Table::add_row).
std::string printable(std::string_view s);

/// busy / (busy + idle) in percent; nullopt when both are 0 (no samples).
std::optional<double> busy_percent(uint64_t busy, uint64_t idle) noexcept;
/// "12.5" (one decimal) or "-" for nullopt.
std::string format_percent(std::optional<double> pct);
/// An SPDK hex mask string ("3", "f0") as a core list ("0-1", "4-7"); "none"
/// for "0"; the input itself when it is not a mask.
std::string mask_to_list(std::string_view hex);
/// A duration in microseconds for people: "850 us", "12.3 ms", "1.5 s".
std::string format_duration_us(uint64_t us);

/// What the tables need besides the JSON.
struct FormatOptions {
  /// USER_HZ of the daemon's host (sysconf(_SC_CLK_TCK)): the unit of the
  /// reactors' usr/sys/irq counters.
  uint64_t clock_ticks_per_s = 100;
  /// Milliseconds between the two samples when busy % is a delta; 0: the
  /// percentages are cumulative since start.
  uint64_t interval_ms = 0;
};

/// `reactorctl status`: framework_get_scheduler (required) plus, when the
/// daemon answered them, framework_get_governor, framework_get_reactors and
/// scheduler_get_history (nullptr: not available).
std::string format_status(const json& scheduler, const json* governor, const json* reactors,
                          const json* history);

/// Samples of reactor_get_reactor_stats (reactor's own method, not SPDK's):
/// nullptr when the daemon does not provide it (SPDK, older reactord).
struct ReactorStatsSamples {
  const json* now = nullptr;
  const json* before = nullptr;  ///< the earlier sample, with an interval
};

/// `reactorctl reactors`: one row per reactor (core, mode, busy %, overhead %,
/// threads, usr/sys/irq CPU seconds, frequency, tid), then the thread
/// placement table (thread, id, current core, home core, cpumask, time on the
/// core). With `before` (an earlier framework_get_reactors) busy % is the
/// delta between the samples; without, cumulative. `stats` (thread_get_stats,
/// optional) supplies home cores when the reactor listing does not carry them.
/// The OVERHEAD% column (overhead / (busy + idle), delta or cumulative like
/// BUSY%) appears only when `extra.now` is given.
std::string format_reactors(const json& reactors, const json* before, const json* stats,
                            const FormatOptions& opt, ReactorStatsSamples extra = {});

/// `reactorctl threads`: thread_get_stats as a table (id, name, core, home,
/// cpumask, busy %, active/timed/paused poller counts). `reactors`
/// (framework_get_reactors, optional) supplies the current core; `before`
/// (an earlier thread_get_stats) turns busy % into a delta.
std::string format_threads(const json& stats, const json* before, const json* reactors,
                           const FormatOptions& opt);

/// `reactorctl pollers`: thread_get_pollers, one row per poller (thread,
/// poller name and id, type, state, runs, busy runs, period).
std::string format_pollers(const json& pollers);

/// `reactorctl governor`: framework_get_governor ({} means none is active).
std::string format_governor(const json& governor);

/// `reactorctl history`: scheduler_get_history: the transitions (from -> to,
/// result, duration, threads restored, options) and the last `max_rounds`
/// rounds (policy, duration, moves planned/landed/skipped, mode and
/// frequency changes, problems).
std::string format_history(const json& history, std::size_t max_rounds);

/// One line after a successful `reactorctl switch`: the policy now running
/// and its options (from framework_get_scheduler), plus the transition's
/// result, duration and restored threads when `transition` (the newest
/// scheduler_get_history entry) is given.
std::string format_switch_summary(const json& scheduler, const json* transition);

/// The newest transition of a scheduler_get_history result, or nullptr.
const json* last_transition(const json& history);

}  // namespace reactor::ctl
