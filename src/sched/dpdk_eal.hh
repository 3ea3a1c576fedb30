#pragma once
/// Private: the process's one DPDK EAL initialisation, shared by the DPDK
/// governor and (later) an EAL lcore launch mode. Not API: no DPDK type leaks
/// out of this header, so it can be included by tests without DPDK headers.

#include <string>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>

namespace reactor::detail {

/// What the process's EAL runs with.
struct EalInstance {
  CpuSet lcores;              ///< enabled lcores; lcore N is CPU N (EAL was started with -l)
  bool started_here = false;  ///< false: the application had started EAL before us
  std::string file_prefix;    ///< our --file-prefix; empty when !started_here
};

/// The arguments init_eal_once passes to rte_eal_init for `cores` in process
/// `pid` (argv[0] included). Exposed so tests can check them.
std::vector<std::string> eal_arguments(const CpuSet& cores, int pid);

/// Initialises DPDK's EAL once per process with `cores` as lcores (the lowest
/// is the main lcore), without hugepages, PCI, shared files or telemetry, and
/// restores the calling thread's CPU affinity afterwards (EAL pins its caller
/// to the main lcore). EAL cannot be initialised twice in a process, even
/// after rte_eal_cleanup, so the first outcome, success or failure, is kept:
/// later calls return it again when `cores` is a subset of the lcores it
/// started. If the application had started EAL itself, that instance is
/// adopted (started_here = false) when its lcores cover `cores`.
///
/// Any thread may call it (serialised by a mutex); it blocks for as long as
/// rte_eal_init takes (tens of milliseconds). Errors: empty `cores` or a core
/// beyond DPDK's RTE_MAX_LCORE (Errc::invalid_argument, not kept: nothing was
/// attempted); EAL refused to start (Errc::unsupported, with rte_errno's text;
/// kept); EAL already runs without some of `cores` (Errc::invalid_argument,
/// naming the missing cores and the lcores it runs).
Result<EalInstance> init_eal_once(const CpuSet& cores);

}  // namespace reactor::detail
