#pragma once
/// Governor: per-core frequency control. Implementations: DPDK rte_power on
/// hosts with cpufreq, and a simulated ladder (tests, machines without cpufreq).
/// Policies hold a governor only through an exclusive GovernorLease.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/ids.hh>

namespace reactor {

/// What a governor can do.
struct GovernorCapabilities {
  bool per_core = true;    ///< cores can be set independently
  bool turbo = false;      ///< a turbo frequency exists
};

/// Per-core frequency control. Calls come from the control thread only
/// (sysfs writes are slow: never from a reactor). Implementations are not
/// required to be thread-safe beyond that.
class Governor {
 public:
  virtual ~Governor() = default;
  /// "dpdk_governor" for rte_power (SPDK's name, kept for tool compatibility),
  /// "sim_governor" for the simulation.
  virtual std::string name() const = 0;
  /// SPDK's `module_specific.env`: "acpi-cpufreq", "kvm", "intel-pstate", ..., "sim".
  virtual std::string environment() const = 0;
  virtual GovernorCapabilities capabilities() const = 0;
  /// Cores this governor controls.
  virtual CpuSet cores() const = 0;
  /// Available frequencies in kHz, highest first; empty if unknown.
  virtual std::vector<uint32_t> available_frequencies(CoreId core) const = 0;
  /// Current frequency in kHz; 0 if unknown.
  virtual uint32_t current_frequency(CoreId core) const = 0;
  virtual Result<void> step_up(CoreId core) = 0;
  virtual Result<void> step_down(CoreId core) = 0;
  virtual Result<void> set_max(CoreId core) = 0;
  virtual Result<void> set_min(CoreId core) = 0;
  /// Back to the frequency the core had when the governor took control.
  virtual Result<void> restore_baseline(CoreId core) = 0;
  /// Called by GovernorSlot when a lease is taken, before any request: a
  /// governor that holds platform state only while leased takes it here
  /// (rte_power takes the cores from their kernel cpufreq governor). An
  /// error refuses the lease.
  virtual Result<void> on_lease() { return {}; }
  /// Called by GovernorSlot after a released lease restored the baselines:
  /// give the platform state back (rte_power_exit returns each core to the
  /// cpufreq governor it had before).
  virtual void on_release() noexcept {}
};

class GovernorSlot;

/// Exclusive, RAII access to a Governor. Destroying (or release()-ing) the
/// lease restores every core's baseline frequency and frees the slot.
class GovernorLease {
 public:
  GovernorLease() = default;
  GovernorLease(GovernorLease&&) noexcept;
  GovernorLease& operator=(GovernorLease&&) noexcept;
  GovernorLease(const GovernorLease&) = delete;
  GovernorLease& operator=(const GovernorLease&) = delete;
  ~GovernorLease();

  explicit operator bool() const noexcept { return slot_ != nullptr; }
  Governor& operator*() const;
  Governor* operator->() const;
  /// Restores baselines and frees the slot now; idempotent.
  void release() noexcept;

 private:
  friend class GovernorSlot;
  explicit GovernorLease(GovernorSlot* slot) : slot_(slot) {}
  GovernorSlot* slot_ = nullptr;
};

/// Owns the process's governor (if any) and hands out at most one lease.
/// Lives in the Runtime; must outlive every lease it hands out.
class GovernorSlot {
 public:
  GovernorSlot() = default;
  explicit GovernorSlot(std::unique_ptr<Governor> governor) : governor_(std::move(governor)) {}
  GovernorSlot(const GovernorSlot&) = delete;
  GovernorSlot& operator=(const GovernorSlot&) = delete;
  ~GovernorSlot();

  /// True when a governor is installed.
  bool available() const noexcept { return governor_ != nullptr; }
  /// True while a lease is held.
  bool leased() const noexcept { return leased_; }
  /// The governor for read-only inspection (RPC framework_get_governor); may be null.
  const Governor* peek() const noexcept { return governor_.get(); }
  /// Exclusive lease. Errors: no governor (Errc::unsupported, says why it is
  /// missing), already leased (Errc::busy).
  Result<GovernorLease> acquire();
  /// Why no governor is installed ("no cpufreq in /sys/...", "disabled by --governor none").
  const std::string& unavailable_reason() const noexcept { return reason_; }
  void set_unavailable_reason(std::string reason) { reason_ = std::move(reason); }

 private:
  friend class GovernorLease;
  void on_release() noexcept;
  std::unique_ptr<Governor> governor_;
  bool leased_ = false;
  std::string reason_ = "no governor configured";
};

/// In-memory frequency ladder per core; records every request. Never fails.
/// `ladder_khz` highest first; baseline is the highest frequency.
std::unique_ptr<Governor> make_sim_governor(const CpuSet& cores,
                                            std::vector<uint32_t> ladder_khz = {});

/// Where the DPDK governor records each core's cpufreq governor and limits
/// before it takes the core (crash safety: the next start, or `reactord
/// --restore-cpufreq`, puts them back). reactord --cpufreq-state changes it.
inline constexpr std::string_view kDefaultCpufreqStatePath = "/run/reactor/governor.state";

/// A DPDK rte_power governor. Probes sysfs cpufreq first; fails with a clear
/// reason when the machine has none (this includes most VMs) or EAL cannot start.
/// Records the cores' cpufreq settings in kDefaultCpufreqStatePath.
Result<std::unique_ptr<Governor>> make_dpdk_governor(const CpuSet& cores);
/// The same, recording the cores' cpufreq settings in `cpufreq_state_path`
/// (its directory must exist; see reactord --cpufreq-state).
Result<std::unique_ptr<Governor>> make_dpdk_governor(const CpuSet& cores, const std::string& cpufreq_state_path);

}  // namespace reactor
