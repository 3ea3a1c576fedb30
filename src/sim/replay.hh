#pragma once
/// Replaying a recorded load trace (src/sim/trace.hh) on the production code.
///
/// replay_recorded(): the validation replay. The trace's own policy and
/// options run on a ManualPool shaped like the recorded daemon (reactor
/// cores, isolated cores, main core, baseline mode; the trace's synthetic
/// topology when it has one, else a flat one of its cores), with its threads
/// (names, cpumasks, home cores) spawned when they first appear and exited
/// when they disappear. Each sample advances the manual clock by its ticks;
/// each sample that carries a round runs one round whose snapshot is exactly
/// what the recorded round balanced (every core's and thread's busy/idle and
/// stall from the sample, through SchedulerManagerOptions::load_source; the
/// placement, modes and rounds_since_move are the replay pool's own, and are
/// compared with the sample's). The moves the replay's round plans are
/// compared with the recorded round's, round by round.
///
/// TraceDemand: a DemandSource for the modelled replay through any policy
/// (reactor-sim --trace FILE --policy ...): every thread the trace ever
/// lists, its recorded busy time per sample as its demand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <reactor/error.hh>
#include <reactor/topology.hh>

#include "sim/simulation.hh"
#include "sim/trace.hh"

namespace reactor::sim {

struct ReplayCheck {
  uint64_t samples = 0;
  uint64_t rounds = 0;            ///< recorded rounds replayed and compared
  uint64_t rounds_matched = 0;    ///< same moves (thread, from, to, in order) and same placement before
  uint64_t moves_recorded = 0;
  uint64_t moves_replayed = 0;
  uint64_t threads_spawned = 0;
  uint64_t threads_exited = 0;
  /// One line per divergence, first kMaxDivergences: "round 15 (sample 13):
  /// recorded moves [8: 1->0], replayed []" or a placement that differs.
  std::vector<std::string> divergences;
  uint64_t divergence_count = 0;
  bool ok() const noexcept { return divergence_count == 0; }
  static constexpr size_t kMaxDivergences = 20;
};

/// The topology a trace replays on: its synthetic string when it has one,
/// else a flat topology covering its highest core id.
Result<Topology> trace_topology(const TraceHeader& header);

/// The validation replay (see the header comment). Errors: the pool cannot
/// be built as recorded, the recorded policy cannot be switched to (its
/// message), a thread cannot be spawned.
Result<ReplayCheck> replay_recorded(const Trace& trace);

/// Demand from a trace for the modelled replay: thread i is the i-th distinct
/// thread id of the trace (ascending); its demand in a sample is its recorded
/// busy ticks, in microseconds. Samples are taken in order, one per round of
/// the header's interval.
class TraceDemand final : public DemandSource {
 public:
  explicit TraceDemand(std::shared_ptr<const Trace> trace);
  uint32_t threads() const override { return static_cast<uint32_t>(ids_.size()); }
  void demand(double t_s, double period_s, std::vector<double>& out_us) override;
  /// Thread ids (ascending), their cpumask and home as first recorded.
  const std::vector<uint64_t>& ids() const { return ids_; }
  static std::vector<uint64_t> thread_ids(const Trace& trace);

 private:
  std::shared_ptr<const Trace> trace_;
  std::vector<uint64_t> ids_;
  size_t next_ = 0;
};

}  // namespace reactor::sim
