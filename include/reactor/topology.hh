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

class Topology {
 public:
  /// Discovers this machine (allowed cpuset only). Thread-safe; cheap to copy.
  static Result<Topology> discover();
  /// Loads a synthetic hwloc description such as "package:2 core:8 pu:2" or
  /// "numa:2 core:32 pu:2". Binding on it does nothing: use it only for
  /// policy tests and the deterministic harness.
  static Result<Topology> synthetic(std::string_view description);
  /// A flat topology of `n` single-PU cores on one NUMA node (tests).
  static Topology flat(uint32_t n);

  const std::vector<CpuInfo>& cpus() const noexcept { return cpus_; }
  /// Every core of the topology.
  const CpuSet& all() const noexcept { return all_; }
  /// The CpuInfo of `core`, or nullptr when the core is not in the topology.
  const CpuInfo* find(CoreId core) const noexcept;
  bool is_synthetic() const noexcept { return synthetic_; }
  /// Human description ("2 cores, 1 NUMA node, real").
  std::string describe() const;

  /// Pins the calling OS thread to exactly `core` (hwloc, strict). Fails with a
  /// message naming the core on a real topology; succeeds and does nothing on a
  /// synthetic one.
  Result<void> bind_current_thread(CoreId core) const;

 private:
  std::vector<CpuInfo> cpus_;
  CpuSet all_;
  bool synthetic_ = false;
  std::shared_ptr<void> hw_;  // hwloc_topology_t, shared by copies
};

}  // namespace reactor
