#pragma once
/// SimGovernor: a Governor over an in-memory frequency ladder per core. It
/// stands in for rte_power on machines without cpufreq (VMs, CI) and lets
/// tests see exactly which frequency requests a policy or a lease made.

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/governor.hh>
#include <reactor/ids.hh>
#include <reactor/load_snapshot.hh>

namespace reactor {

/// Simulated per-core frequency control. Every core starts at its baseline,
/// the middle of the ladder (2.0 GHz on the default one), which differs from
/// both Max and Min so that a restore can be told from a policy's request. Requests are recorded in order, including those that
/// changed nothing (a step up at the top), so tests can assert on them.
///
/// Thread safety: every member may be called from any thread (a mutex guards
/// the state), so a test may read requests() while the control thread steps.
class SimGovernor final : public Governor {
 public:
  /// One request the governor received, with the frequency before and after.
  struct Request {
    CoreId core;
    FrequencyAction action = FrequencyAction::Baseline;
    uint32_t before_khz = 0;
    uint32_t after_khz = 0;
  };

  /// Requests kept by requests(); older ones are dropped (total_requests()
  /// still counts them). A tool that falls back to the simulation runs a
  /// policy for hours: one request per core per period must not grow forever.
  static constexpr size_t kMaxRecordedRequests = 65536;

  /// 3.0 GHz down to 1.0 GHz in 100 MHz steps (21 levels, kHz, highest first):
  /// a plausible server ladder with enough levels for step up/down tests.
  static std::vector<uint32_t> default_ladder();

  /// Governs `cores` with the same ladder each. `ladder_khz` is normalised:
  /// zeros dropped, sorted highest first, duplicates removed; empty (before or
  /// after that) means default_ladder(). Never fails.
  explicit SimGovernor(const CpuSet& cores, std::vector<uint32_t> ladder_khz = {});

  /// "sim_governor".
  std::string name() const override;
  /// "sim".
  std::string environment() const override;
  /// Per core, no turbo.
  GovernorCapabilities capabilities() const override;
  CpuSet cores() const override;
  /// The ladder (highest first) for a governed core; empty for any other core.
  std::vector<uint32_t> available_frequencies(CoreId core) const override;
  /// Current frequency in kHz; 0 for a core that is not governed.
  uint32_t current_frequency(CoreId core) const override;
  /// One level up; at the top it stays there (recorded, not an error).
  /// Errors: core not governed (Errc::invalid_argument, naming the core).
  Result<void> step_up(CoreId core) override;
  /// One level down; at the bottom it stays there. Errors as step_up.
  Result<void> step_down(CoreId core) override;
  /// Top of the ladder. Errors as step_up.
  Result<void> set_max(CoreId core) override;
  /// Bottom of the ladder. Errors as step_up.
  Result<void> set_min(CoreId core) override;
  /// Back to the baseline (the middle of the ladder). Errors as step_up.
  Result<void> restore_baseline(CoreId core) override;

  /// Baseline frequency of a governed core (kHz); 0 for any other core.
  uint32_t baseline_frequency(CoreId core) const;
  /// The last kMaxRecordedRequests requests, oldest first (a copy).
  std::vector<Request> requests() const;
  /// Every request received since construction or clear_requests().
  uint64_t total_requests() const;
  /// Forgets the recorded requests (frequencies are unchanged).
  void clear_requests();

 private:
  Result<void> apply(CoreId core, FrequencyAction action);

  const CpuSet cores_;
  const std::vector<uint32_t> ladder_;  // highest first, never empty
  mutable std::mutex mu_;
  size_t baseline_level_ = 0;           // index of the baseline (middle of the ladder)
  std::vector<size_t> level_;           // per core value: index into ladder_ (0 = top)
  std::deque<Request> requests_;
  uint64_t total_requests_ = 0;
};

/// Short name of a frequency action: "min", "max", "step_up", "step_down", "baseline".
std::string_view frequency_action_name(FrequencyAction action) noexcept;

}  // namespace reactor
