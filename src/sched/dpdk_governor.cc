// DpdkGovernor: per-core frequency control through DPDK's rte_power.
//
// Creation, in order (each step undoes what the previous ones did on failure):
//   1. probe sysfs: every core needs /sys/devices/system/cpu/cpuN/cpufreq/
//      scaling_driver. Most VMs have none; then we fail here, before EAL is
//      touched, so the process keeps its affinity and no DPDK state exists,
//      and the message tells the operator to use the simulated governor;
//   2. refuse a core set that splits a physical core's SMT siblings (as
//      SPDK's governor does): down-clocking it would slow a CPU outside the
//      pool;
//   3. start EAL once per process (detail::init_eal_once; rte_power needs
//      it). lcore N is CPU N because EAL is started with -l <cores>;
//   4. activate once to prove rte_power can drive every core, then
//      deactivate: the cores go back to their kernel governor until a
//      policy leases this governor.
// Activation (a lease is taken): rte_power_init per core (rte_power picks the
// first environment that works -- acpi, pstate, cppc, then a KVM guest
// channel -- and switches the core's scaling governor to the one it drives);
// enable turbo where available and off (as SPDK's governor does); record each
// core's frequency index as its baseline. Deactivation (the lease ended and
// the baselines were restored) reverses it: turbo off where we turned it on,
// then rte_power_exit, which gives the core back to the cpufreq governor it
// had before (ondemand, schedutil, ...). So while no policy holds the
// governor -- static, or dynamic without one -- the kernel governs again.
//
// Crash safety: activation first records each core's cpufreq governor and
// limits in the state file (/run/reactor/governor.state unless reactord
// --cpufreq-state says otherwise; cpufreq_state.hh); deactivation
// removes the file once rte_power_exit gave the cores back. A daemon killed
// in between leaves it for the next start or `reactord --restore-cpufreq`.
//
// Thread: the control thread only (sysfs writes are slow; never a reactor).

#include "sched/dpdk_governor.hh"

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <rte_power.h>
#include <rte_version.h>

#include <reactor/governor.hh>
#include <reactor/log.hh>

#include "sched/cpufreq_state.hh"
#include "sched/dpdk_eal.hh"

namespace reactor {
namespace detail {

Result<std::string> probe_cpufreq(const CpuSet& cores, std::string_view root) {
  if (cores.empty()) {
    return make_error(Errc::invalid_argument, "the DPDK governor needs at least one core");
  }
  namespace fs = std::filesystem;
  std::string first_driver;
  for (CoreId core : cores.cores()) {
    const fs::path cpufreq = fs::path(root) / fmt::format("cpu{}", core.value) / "cpufreq";
    const fs::path driver = cpufreq / "scaling_driver";
    std::error_code ec;
    if (!fs::exists(driver, ec)) {
      const fs::path& missing = fs::exists(cpufreq, ec) ? driver : cpufreq;
      return make_error(Errc::unsupported,
                        fmt::format("no cpufreq for core {} ({} missing): use --governor sim to simulate",
                                    core.value, missing.string()));
    }
    if (first_driver.empty()) {
      std::ifstream in(driver);
      std::getline(in, first_driver);
      if (first_driver.empty()) first_driver = "unknown";
    }
  }
  return first_driver;
}

Result<void> check_smt_siblings(const CpuSet& cores, std::string_view root) {
  namespace fs = std::filesystem;
  for (CoreId core : cores.cores()) {
    const fs::path file = fs::path(root) / fmt::format("cpu{}", core.value) / "topology" / "thread_siblings_list";
    std::ifstream in(file);
    std::string text;
    if (!in || !std::getline(in, text) || text.empty())
      return make_error(Errc::unsupported,
                        fmt::format("cannot read the SMT siblings of core {} ({}): the governor needs them",
                                    core.value, file.string()));
    auto siblings = CpuSet::parse_list(text);
    if (!siblings)
      return make_error(Errc::unsupported, fmt::format("cannot parse the SMT siblings of core {} ({}: '{}')",
                                                       core.value, file.string(), text));
    for (CoreId s : siblings->cores()) {
      if (!cores.test(s))
        return make_error(Errc::unsupported,
                          fmt::format("core {} shares its physical core with CPU {}, which is not a reactor core: "
                                      "frequency changes would slow CPU {} too; give the pool both SMT siblings "
                                      "(cores {}) or use no governor",
                                      core.value, s.value, s.value, siblings->to_list()));
    }
  }
  return {};
}

}  // namespace detail

namespace {

// rte_power reports at most RTE_MAX_LCORE_FREQS (64) levels; SPDK's
// framework_get_governor lists at most 64 too.
constexpr uint32_t kMaxFrequencies = 64;

std::string environment_name(enum power_management_env env) {
  switch (env) {
    case PM_ENV_ACPI_CPUFREQ: return "acpi-cpufreq";
    case PM_ENV_KVM_VM: return "kvm";
    case PM_ENV_PSTATE_CPUFREQ: return "intel-pstate";
    case PM_ENV_CPPC_CPUFREQ: return "cppc-cpufreq";
#if RTE_VERSION >= RTE_VERSION_NUM(23, 11, 0, 0)
    case PM_ENV_AMD_PSTATE_CPUFREQ: return "amd-pstate";  // not in DPDK 22.11
#endif
    default: return "unknown";
  }
}

class DpdkGovernor final : public Governor {
 public:
  static Result<std::unique_ptr<Governor>> create(const CpuSet& cores, std::string state_path);

  DpdkGovernor(const DpdkGovernor&) = delete;
  DpdkGovernor& operator=(const DpdkGovernor&) = delete;
  ~DpdkGovernor() override { deactivate(); }

  Result<void> on_lease() override { return activate(); }
  void on_release() noexcept override { deactivate(); }

  std::string name() const override { return "dpdk_governor"; }
  std::string environment() const override { return environment_; }
  GovernorCapabilities capabilities() const override {
    return GovernorCapabilities{.per_core = true, .turbo = turbo_};
  }
  CpuSet cores() const override { return cores_; }

  std::vector<uint32_t> available_frequencies(CoreId core) const override {
    if (!cores_.test(core) || !active_) return {};
    std::vector<uint32_t> freqs(kMaxFrequencies);
    const uint32_t n = rte_power_freqs(core.value, freqs.data(), kMaxFrequencies);
    freqs.resize(std::min(n, kMaxFrequencies));
    return freqs;
  }

  uint32_t current_frequency(CoreId core) const override {
    if (!cores_.test(core) || !active_) return 0;
    const uint32_t index = rte_power_get_freq(core.value);
    const std::vector<uint32_t> freqs = available_frequencies(core);
    return index < freqs.size() ? freqs[index] : 0;
  }

  Result<void> step_up(CoreId core) override { return change(core, rte_power_freq_up, "step up"); }
  Result<void> step_down(CoreId core) override { return change(core, rte_power_freq_down, "step down"); }
  Result<void> set_max(CoreId core) override { return change(core, rte_power_freq_max, "set max"); }
  Result<void> set_min(CoreId core) override { return change(core, rte_power_freq_min, "set min"); }

  Result<void> restore_baseline(CoreId core) override {
    if (auto ok = check_core(core); !ok) return ok;
    const std::optional<uint32_t> index = state_[core.value].baseline_index;
    // Without a readable index (a KVM guest channel cannot report one) the
    // baseline is the host's default for a guest: maximum.
    if (!index) return change(core, rte_power_freq_max, "restore baseline (max)");
    if (rte_power_set_freq(core.value, *index) < 0) {
      return make_error(Errc::io, fmt::format("dpdk_governor: cannot restore core {} to frequency index {}",
                                              core.value, *index));
    }
    return {};
  }

 private:
  struct CoreState {
    std::optional<uint32_t> baseline_index;  // empty: rte_power cannot report it
    bool turbo_enabled_here = false;
  };

  DpdkGovernor(const CpuSet& cores, std::string state_path)
      : cores_(cores), state_(cores.cores().back().value + 1), state_path_(std::move(state_path)) {}

  Result<void> check_core(CoreId core) const {
    if (cores_.test(core) && active_) return {};
    if (cores_.test(core))
      return make_error(Errc::busy, fmt::format("dpdk_governor: core {} is not under rte_power (no lease held)",
                                                core.value));
    return make_error(Errc::invalid_argument,
                      fmt::format("core {} is not governed by dpdk_governor (governed cores: {})",
                                  core.value, cores_.to_list()));
  }

  Result<void> change(CoreId core, rte_power_freq_change_t fn, const char* what) {
    if (auto ok = check_core(core); !ok) return ok;
    // 1: changed, 0: already there (top/bottom of the ladder), < 0: failed.
    if (fn(core.value) < 0) {
      return make_error(Errc::io, fmt::format("dpdk_governor: {} failed on core {} (rte_power)", what,
                                              core.value));
    }
    return {};
  }

  // Takes every core from its kernel governor (see the header). On failure
  // the cores taken so far are given back.
  Result<void> activate() {
    if (active_) return {};
    // Crash safety: the originals go to the state file before rte_power
    // changes anything, so the next start can put them back.
    if (auto rec = detail::record_cpufreq_state(cores_, state_path_); !rec)
      log(LogLevel::Warn,
          "dpdk_governor: cannot record the cores' cpufreq settings ({}); if reactord is killed while a policy "
          "holds the governor, they stay under rte_power's settings",
          rec.error().message);
    std::vector<CoreId> controlled;
    for (CoreId core : cores_.cores()) {
      if (rte_power_init(core.value) != 0) {
        shutdown(controlled);
        detail::forget_cpufreq_state(state_path_);
        return make_error(Errc::unsupported,
                          fmt::format("rte_power cannot control core {} (scaling driver '{}'): it needs a "
                                      "supported driver and write access to /sys/devices/system/cpu/cpu{}/"
                                      "cpufreq (see the POWER log lines); use --governor sim to simulate",
                                      core.value, driver_, core.value));
      }
      controlled.push_back(core);
    }
    environment_ = environment_name(rte_power_get_env());
    for (CoreId core : controlled) {
      CoreState& st = state_[core.value];
      st = CoreState{};
      rte_power_core_capabilities caps{};
      if (rte_power_get_capabilities != nullptr && rte_power_get_capabilities(core.value, &caps) == 0 &&
          caps.turbo) {
        turbo_ = true;
        if (rte_power_turbo_status(core.value) == 0) st.turbo_enabled_here = rte_power_freq_enable_turbo(core.value) == 0;
      }
      const uint32_t index = rte_power_get_freq(core.value);
      if (index < kMaxFrequencies) st.baseline_index = index;  // else RTE_POWER_INVALID_FREQ_INDEX or -ENOTSUP
    }
    active_ = true;
    return {};
  }

  // Gives every core back to the kernel governor it had before activate().
  void deactivate() noexcept {
    if (!active_) return;
    shutdown(cores_.cores());
    detail::forget_cpufreq_state(state_path_);  // every core is back with its kernel governor
    active_ = false;
  }

  // Turbo off where we turned it on, then rte_power_exit, for `done`.
  void shutdown(const std::vector<CoreId>& done) noexcept {
    for (CoreId core : done) {
      if (state_[core.value].turbo_enabled_here && rte_power_freq_disable_turbo(core.value) < 0) {
        log(LogLevel::Warn, "dpdk_governor: cannot turn turbo back off on core {}", core.value);
      }
      state_[core.value].turbo_enabled_here = false;
      if (rte_power_exit(core.value) != 0) {
        log(LogLevel::Warn, "dpdk_governor: rte_power_exit failed on core {}", core.value);
      }
    }
  }

  CpuSet cores_;
  std::vector<CoreState> state_;  // indexed by core value
  std::string state_path_;        // the cpufreq state file (crash safety)
  std::string driver_;
  std::string environment_ = "unknown";
  bool turbo_ = false;
  bool active_ = false;  // rte_power controls the cores (a lease is held)
};

Result<std::unique_ptr<Governor>> DpdkGovernor::create(const CpuSet& cores, std::string state_path) {
  auto driver = detail::probe_cpufreq(cores);  // step 1
  if (!driver) return tl::unexpected(driver.error());
  if (auto smt = detail::check_smt_siblings(cores); !smt) return tl::unexpected(smt.error());  // step 2

  if (auto eal = detail::init_eal_once(cores); !eal) {  // step 3
    return make_error(Errc::unsupported,
                      fmt::format("dpdk_governor needs DPDK EAL, which cannot start: {}", eal.error().message));
  }

  std::unique_ptr<DpdkGovernor> gov(new DpdkGovernor(cores, std::move(state_path)));
  gov->driver_ = *driver;
  if (auto ok = gov->activate(); !ok) {  // step 4
    gov->cores_ = CpuSet{};
    return tl::unexpected(ok.error());
  }
  gov->deactivate();
  log(LogLevel::Info, "dpdk_governor: can control cores {} through {} (cpufreq driver {}); the kernel governs "
      "them until a policy leases it", cores.to_list(), gov->environment_, *driver);
  return std::unique_ptr<Governor>(std::move(gov));
}

}  // namespace

Result<std::unique_ptr<Governor>> make_dpdk_governor(const CpuSet& cores) {
  return DpdkGovernor::create(cores, std::string(kDefaultCpufreqStatePath));
}

Result<std::unique_ptr<Governor>> make_dpdk_governor(const CpuSet& cores, const std::string& cpufreq_state_path) {
  return DpdkGovernor::create(cores, cpufreq_state_path);
}

}  // namespace reactor
