#pragma once
/// Private: pieces of the DPDK governor that tests exercise without cpufreq.

#include <string>
#include <string_view>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>

namespace reactor::detail {

/// Where Linux exposes the CPUs; tests pass a fake tree instead.
inline constexpr std::string_view kSysCpuRoot = "/sys/devices/system/cpu";

/// Checks that `<root>/cpu<N>/cpufreq/scaling_driver` exists for every core,
/// touching nothing else (no EAL, no writes). Returns the scaling driver of the
/// lowest core ("acpi-cpufreq", "intel_pstate", ...). Errors
/// (Errc::unsupported): the first core without cpufreq, with the path that is
/// missing and the way out ("use --governor sim to simulate").
/// Any thread.
Result<std::string> probe_cpufreq(const CpuSet& cores, std::string_view root = kSysCpuRoot);

/// Checks that `cores` never splits a physical core: for every core, all of
/// its SMT siblings (`<root>/cpu<N>/topology/thread_siblings_list`) are in
/// `cores` too. Otherwise down-clocking one would slow a sibling CPU outside
/// the pool. Errors (Errc::unsupported): the siblings cannot be read, or the
/// first core whose sibling is missing, naming both.
Result<void> check_smt_siblings(const CpuSet& cores, std::string_view root = kSysCpuRoot);

}  // namespace reactor::detail
