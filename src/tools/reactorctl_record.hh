#pragma once
// `reactorctl record` (not API): samples a running daemon's load into a trace
// (src/sim/trace.hh, README "Load traces"). The conversion of successive
// scheduler_get_load replies into trace records is a pure class
// (TraceBuilder, unit-tested from fixed JSON); run_record adds the loop, the
// file, the signals and the end record.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <reactor/error.hh>

#include "sim/trace.hh"

namespace reactor::ctl {

/// Shortest sampling interval: 10 ms, the scheduler's shortest period.
inline constexpr uint64_t kMinRecordIntervalMs = 10;

/// Turns scheduler_get_load replies into trace records. Sampling rule: while
/// the daemon runs scheduling rounds, one sample per round, carrying the load
/// that round balanced and its moves (so a replay reproduces them); while it
/// runs none (static), one sample per interval, from the cumulative counters
/// (deltas since the previous sample). An interval sample never shows a core
/// or a thread with busy + idle above the interval's wall time (`ticks`): a
/// reactor counts a pass when it ends, so a pass that straddles the sampling
/// instant lands whole in the next reply; what exceeds the wall time is
/// carried into the following samples (the baselines advance by what was
/// reported), so the sums over the trace stay those of the counters. Round
/// samples carry the daemon's own snapshot, capped the same way there.
/// Single-threaded.
class TraceBuilder {
 public:
  /// From the first reply: the header (`interval_us` asked, `host`, `started`
  /// UTC ISO 8601). Errors (invalid_argument): a reply of an unexpected
  /// shape, or a topology the trace format refuses; the message says which.
  static Result<TraceBuilder> start(const nlohmann::json& first, uint64_t interval_us, std::string host,
                                    std::string started);

  const sim::TraceHeader& header() const noexcept { return header_; }
  /// The since_round to send with the next request.
  uint64_t since_round() const noexcept { return since_round_; }
  /// Whether the daemon ran rounds in the last reply (sample per round).
  bool rounds_mode() const noexcept { return rounds_mode_; }
  /// The daemon's scheduling period in the last reply (0: none).
  uint64_t period_us() const noexcept { return period_us_; }
  /// Rounds the daemon dropped from its bounded history before they were read.
  uint64_t rounds_missed() const noexcept { return rounds_missed_; }
  /// Round samples emitted so far.
  uint64_t rounds() const noexcept { return rounds_; }

  /// The samples a reply adds: one per new round; else, when no rounds run
  /// and `interval_due`, one sample of the deltas since the previous sample.
  /// Errors: a reply of an unexpected shape.
  Result<std::vector<sim::TraceSample>> next(const nlohmann::json& reply, bool interval_due);

 private:
  struct CoreBase {
    uint64_t busy = 0, idle = 0, loops = 0;
  };
  struct ThreadBase {
    uint64_t busy = 0, idle = 0;
    uint32_t core = 0;
    uint32_t samples_since_move = UINT32_MAX;
  };
  uint64_t t_us(uint64_t tick) const noexcept;
  void rebase(const nlohmann::json& reply);

  sim::TraceHeader header_;
  uint64_t start_tick_ = 0;
  uint64_t base_tick_ = 0;
  std::map<uint32_t, CoreBase> core_base_;
  std::map<uint64_t, ThreadBase> thread_base_;
  uint64_t since_round_ = 0;
  uint64_t rounds_missed_ = 0;
  uint64_t rounds_ = 0;
  uint64_t seq_ = 0;
  uint64_t last_t_us_ = 0;
  uint64_t period_us_ = 0;
  bool rounds_mode_ = false;
};

/// `reactorctl record` as parsed.
struct RecordOptions {
  std::string out;               ///< trace file (replaced)
  uint64_t interval_ms = 1000;   ///< sampling interval without rounds
  std::optional<double> duration_s;  ///< stop after this long (default: until a signal or the daemon goes)
};

/// Checks the output path before anything is sent: "" when it can be
/// written, else the problem ("--out /x/t.jsonl: directory /x does not exist").
std::string check_record_path(const std::string& path);

/// One call of scheduler_get_load with `params`: the result, or the error
/// message; `transport` tells a lost daemon from an error answer.
struct LoadCall {
  std::optional<nlohmann::json> result;
  std::string error;
  bool transport = false;
};

/// The loop: first call, header, samples until --duration, SIGINT/SIGTERM or
/// the daemon going away, then the end record with its reason. Prints one
/// summary line to `out` ("recorded 42 samples (40 rounds) to t.jsonl in
/// 4.2 s: duration") and failures as one line "reactorctl: record ..." to
/// `err`. Returns the exit status (0, or 1 when the first call failed or a
/// reply was malformed).
int run_record(const std::function<LoadCall(const nlohmann::json& params)>& call, const RecordOptions& opt,
               std::ostream& out, std::ostream& err);

}  // namespace reactor::ctl
