#pragma once
/// Generated workloads for reactor-sim: per thread, the work that arrives in
/// each round, in microseconds of one core at its baseline frequency.
/// Deterministic: the same kind, sizes and seed give the same demand on every
/// machine (own generator and distributions, no std:: distribution objects).
///
/// Every kind starts from per-thread shares of a core (the thread's mean
/// demand per second of wall time). A storage daemon has a few busy I/O
/// threads and many nearly idle ones: active_threads() of them carry the
/// total `load` x cores (each 0.5..1.5 x their mean, never above
/// kMaxThreadShare), chosen at random but as evenly over the round-robin
/// homes (thread index mod cores) as a daemon starting its I/O threads per
/// core spreads them; every other thread asks for `idle_share` x 0.5..1.5
/// (default 0.01 % of a core: a timed poller finding nothing to do):
///   steady   each round: share x (1 +- 10 % uniform noise);
///   bursty   active threads are on/off Markov chains (per second: on -> off
///            0.2, off -> on 0.2, so on half of the time) demanding twice
///            their share while on; idle threads steady;
///   diurnal  steady x f(t), f a 24 h day compressed into the duration:
///            f = 0.1 + 0.9 (1 - cos(2 pi t / duration)) / 2 (night 10 %,
///            noon 100 %; `load` is the noon peak);
///   skewed   Zipf demand: share of the thread of rank k proportional to
///            1 / k^1.1 (ranks shuffled from the seed), capped at
///            kMaxThreadShare, the uncapped ones scaled up so that the total
///            is still `load` x cores; steady noise.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/error.hh>

#include "sim/simulation.hh"

namespace reactor::sim {

enum class WorkloadKind { Steady, Bursty, Diurnal, Skewed };

/// "steady", "bursty", "diurnal", "skewed"; the error lists them.
Result<WorkloadKind> parse_workload_kind(std::string_view name);
std::string_view workload_name(WorkloadKind kind) noexcept;

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::Steady;
  uint32_t threads = 1;
  uint32_t cores = 1;       ///< reactor cores the load is sized for
  double load = 0.5;        ///< total demand as a fraction of cores (mean; diurnal: peak)
  double active = 0.05;     ///< fraction of threads that are busy (at least one)
  double idle_share = 0.0001;  ///< mean share of a core of each other thread
  double duration_s = 3600; ///< diurnal: the length of the compressed day
  uint64_t seed = 1;
};

/// No generated thread asks for more than this of a core in any round: its
/// mean share, its 0.5-1.5 spread and its bursts stay below it, so that the
/// +-10 % noise keeps it within one core (a thread is one OS thread's worth
/// of work at most; more would queue under every policy).
inline constexpr double kMaxThreadShare = 0.9;

/// How many threads carry the load: `active` x threads (at least one),
/// raised until the busiest one's peak (1.5 x the mean; twice that while a
/// bursty thread is on) stays within kMaxThreadShare. Skewed: all of them.
uint32_t active_threads(const WorkloadOptions& options);

/// Checks the options; errors name the bad one (also: too few threads to
/// carry the load under kMaxThreadShare).
Result<void> validate(const WorkloadOptions& options);

/// A generated load, as the simulation's demand source.
class Workload final : public DemandSource {
 public:
  /// `options` must have passed validate().
  explicit Workload(const WorkloadOptions& options);

  uint32_t threads() const override { return o_.threads; }
  /// Demand of every thread (index = thread number, 0-based) for the round
  /// that covers [t_s, t_s + period_s), in microseconds of baseline core time.
  /// Rounds must be asked for in order (bursty keeps Markov state).
  void demand(double t_s, double period_s, std::vector<double>& out_us) override;

  /// Per-thread mean share of a core (before noise and shape), for tests.
  const std::vector<double>& shares() const { return share_; }

 private:
  double uniform();  // [0, 1)

  WorkloadOptions o_;
  std::mt19937_64 rng_;
  std::vector<double> share_;
  std::vector<uint8_t> active_;
  std::vector<uint8_t> on_;
};

}  // namespace reactor::sim
