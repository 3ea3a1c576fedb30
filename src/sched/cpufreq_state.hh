#pragma once
/// Private: crash safety of the DPDK governor. Before rte_power takes a core
/// from its kernel cpufreq governor, the core's original governor and
/// frequency limits are recorded in a state file; a clean release removes
/// it. A daemon killed while holding the governor leaves the file behind, and
/// the next start (or `reactord --restore-cpufreq`) writes the originals back.
///
/// File format (text, one core a line, written to a temporary file and
/// renamed into place):
///   # reactor cpufreq state v1: core governor min_khz max_khz
///   0 schedutil 800000 3600000
/// Any thread; the control thread in practice (sysfs writes are slow).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/governor.hh>

#include "sched/dpdk_governor.hh"

namespace reactor::detail {

/// Where the state lives by default (root's runtime directory).
inline constexpr std::string_view kGovernorStatePath = kDefaultCpufreqStatePath;

/// Checks a state path an operator chose (reactord --cpufreq-state): absolute,
/// not a directory, in an existing directory where this process can create
/// and remove a file (tried with a uniquely named probe file, so a read-only
/// file system or a directory of another user is found even as root).
/// Errors (invalid_argument), naming the path: "PATH is not an absolute
/// path", "directory DIR of PATH does not exist", "PATH is a directory",
/// "directory DIR of PATH is not writable: <errno text>". Changes nothing.
Result<void> check_cpufreq_state_path(const std::string& state_path);

/// One core's cpufreq settings as found before rte_power changed them.
struct CoreFreqState {
  uint32_t core = 0;
  std::string governor;  ///< scaling_governor ("schedutil", "ondemand", ...)
  std::string min_khz;   ///< scaling_min_freq
  std::string max_khz;   ///< scaling_max_freq
};

/// Reads `<root>/cpu<N>/cpufreq/scaling_{governor,min_freq,max_freq}` of
/// every core of `cores` and records them in `state_path` (its directory is
/// created if missing). Cores already in an existing file keep their entry:
/// it holds the originals of a run that was not restored, and the sysfs now
/// shows what that run left. Errors: io, naming the file.
Result<void> record_cpufreq_state(const CpuSet& cores, const std::string& state_path,
                                  std::string_view root = kSysCpuRoot);

/// Parses a state file. Errors: not_found (no file), invalid_argument (a
/// line that is not "core governor min max", naming the line).
Result<std::vector<CoreFreqState>> read_cpufreq_state(const std::string& state_path);

/// Writes the recorded settings back (governor first, then the limits) and
/// removes the file once every core was restored. Returns the cores
/// restored; an absent file restores nothing (empty). Errors: io or
/// invalid_argument naming the core and file that failed; the file is then
/// kept for another try.
Result<std::vector<CoreFreqState>> restore_cpufreq_state(const std::string& state_path,
                                                         std::string_view root = kSysCpuRoot);

/// Removes the state file after rte_power gave every core back (a clean
/// release). Missing is fine.
void forget_cpufreq_state(const std::string& state_path) noexcept;

}  // namespace reactor::detail
