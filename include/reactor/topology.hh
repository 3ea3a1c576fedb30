#pragma once
/// Topology: the machine's cores as hwloc sees them (real or synthetic).
/// Cores are hwloc PU `os_index` values; real topologies are restricted to the
/// process's allowed cpuset.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/ids.hh>

namespace reactor {

/// One logical CPU (hwloc PU) and where it sits.
struct CpuInfo {
  CoreId id;             ///< PU os_index
  int numa_node = -1;    ///< NUMA node os_index, -1 if unknown
  uint32_t package = 0;  ///< package (socket) logical index
  uint32_t physical_core = 0;  ///< hwloc Core logical index (SMT siblings share it)
  CpuSet smt_siblings;   ///< PUs of the same physical core, including this one
};

/// The cores a process can use and how they group into physical cores, NUMA
/// nodes and packages. Immutable once built: any thread may read it; copies
/// are cheap and share the hwloc handle.
class Topology {
 public:
  /// Discovers this machine, restricted to the process's CPU binding (the
  /// union over its threads): cores outside our affinity are not listed, so
  /// call it before pinning threads. Any thread. Errors: Errc::io when hwloc
  /// cannot read the machine, Errc::unsupported for a PU os_index beyond
  /// CpuSet::kMaxCores.
  static Result<Topology> discover();
  /// Loads a synthetic hwloc description such as "package:2 core:8 pu:2" or
  /// "numa:2 core:4 pu:2" (PU os_index = logical index, 0..N-1). Binding on it
  /// does nothing: use it only for policy tests and the deterministic harness.
  /// Errors: Errc::invalid_argument naming the description hwloc rejected.
  static Result<Topology> synthetic(std::string_view description);
  /// A flat topology of `n` single-PU cores on NUMA node 0 (tests). Binding on
  /// it does nothing, like a synthetic one. REACTOR_ASSERTs n <= kMaxCores.
  static Topology flat(uint32_t n);

  /// One entry per PU, in ascending core id.
  const std::vector<CpuInfo>& cpus() const noexcept { return cpus_; }
  /// Every core of the topology.
  const CpuSet& all() const noexcept { return all_; }
  /// The CpuInfo of `core`, or nullptr when the core is not in the topology.
  const CpuInfo* find(CoreId core) const noexcept;
  /// True for synthetic and flat topologies (binding is a no-op on them).
  bool is_synthetic() const noexcept { return synthetic_; }
  /// Human description: "2 cores (2 PUs), 1 NUMA node, real topology",
  /// "16 cores (32 PUs), 1 NUMA node, synthetic topology 'package:2 core:8 pu:2'",
  /// "4 cores (4 PUs), 1 NUMA node, flat topology". "cores" counts physical cores.
  std::string describe() const;

  /// Pins the calling OS thread to exactly `core` (hwloc, thread, strict).
  /// Any thread, for itself. Errors: Errc::not_found when `core` is not in the
  /// topology ("core 7 is not in this machine's topology (cores 0-1)"),
  /// Errc::io naming the core and the OS error when the kernel refuses. On a
  /// synthetic or flat topology it checks the core and then does nothing.
  Result<void> bind_current_thread(CoreId core) const;

 private:
  /// Builds the CpuInfo table from a loaded hwloc topology (topology.cc).
  static Result<Topology> from_hwloc(std::shared_ptr<void> hw, bool synthetic, std::string source);

  std::vector<CpuInfo> cpus_;
  CpuSet all_;
  bool synthetic_ = false;
  std::string source_ = "empty topology";  // "real topology", "synthetic topology '...'", "flat topology"
  std::shared_ptr<void> hw_;  // hwloc_topology_t, shared by copies; null for flat
};

}  // namespace reactor
