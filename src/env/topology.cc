// Topology: hwloc's view of the machine, flattened into one CpuInfo per PU.
//
// - Cores are PU os_index values, the numbers operators see in /proc/cpuinfo
//   and type in core masks. Logical indexes appear only as the package and
//   physical-core ids, which exist to group PUs.
// - A real topology covers only the PUs this process may run on: hwloc is
//   asked to restrict discovery to the process's CPU binding (the union over
//   its threads), so call discover() before threads are pinned. It is also
//   told never to rebind the caller while discovering (x86 backend), because
//   discover() may run while reactors are live.
// - The hwloc handle stays alive (shared by copies) because binding needs it.
//   A loaded hwloc topology is read-only and safe to use from many threads.
// - Synthetic and flat topologies never bind: they describe machines the
//   process does not run on (policy tests, the deterministic harness).

#include <reactor/topology.hh>

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include <reactor/log.hh>

namespace reactor {
namespace {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

hwloc_topology_t as_hwloc(const std::shared_ptr<void>& hw) noexcept {
  return static_cast<hwloc_topology_t>(hw.get());
}

/// Owns a freshly initialised hwloc topology until it is loaded.
Result<std::shared_ptr<void>> new_hwloc_topology() {
  hwloc_topology_t topo = nullptr;
  if (hwloc_topology_init(&topo) != 0)
    return make_error(Errc::internal, fmt::format("hwloc_topology_init failed: {}", errno_text(errno)));
  return std::shared_ptr<void>(topo, [](void* p) { hwloc_topology_destroy(static_cast<hwloc_topology_t>(p)); });
}

/// Bitmap wrapper so that every exit path frees it.
struct Bitmap {
  hwloc_bitmap_t b = hwloc_bitmap_alloc();
  Bitmap() = default;
  Bitmap(const Bitmap&) = delete;
  Bitmap& operator=(const Bitmap&) = delete;
  ~Bitmap() { hwloc_bitmap_free(b); }
};

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

Result<Topology> Topology::from_hwloc(std::shared_ptr<void> hw, bool synthetic, std::string source) {
  hwloc_topology_t topo = as_hwloc(hw);
  const int n_pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  if (n_pus <= 0) return make_error(Errc::internal, fmt::format("hwloc found no PU in the {}", source));
  const int n_cores = std::max(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE), 0);

  Topology t;
  t.synthetic_ = synthetic;
  t.source_ = std::move(source);
  t.cpus_.reserve(static_cast<size_t>(n_pus));
  for (int i = 0; i < n_pus; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    if (pu == nullptr) return make_error(Errc::internal, fmt::format("hwloc lost PU #{} of the {}", i, t.source_));
    if (pu->os_index >= CpuSet::kMaxCores)
      return make_error(Errc::unsupported, fmt::format("PU {} of the {} is beyond the {}-core limit",
                                                       pu->os_index, t.source_, CpuSet::kMaxCores));
    CpuInfo info;
    info.id = CoreId{pu->os_index};

    // NUMA nodes hang off the tree as memory children; the PU's node is the
    // first one whose cpuset covers it (the DRAM node comes first; extra
    // memory-only tiers have empty or wider cpusets and come later).
    for (hwloc_obj_t node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nullptr); node != nullptr;
         node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)) {
      if (node->cpuset != nullptr && hwloc_bitmap_isset(node->cpuset, pu->os_index)) {
        info.numa_node = node->os_index == HWLOC_UNKNOWN_INDEX ? static_cast<int>(node->logical_index)
                                                               : static_cast<int>(node->os_index);
        break;
      }
    }
    if (hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu); pkg != nullptr)
      info.package = pkg->logical_index;

    if (hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu); core != nullptr) {
      info.physical_core = core->logical_index;
      unsigned sib = 0;
      hwloc_bitmap_foreach_begin(sib, core->cpuset) {
        // A core's cpuset only holds PUs of the (restricted) topology, all of
        // which are checked against kMaxCores in this same loop.
        if (sib < CpuSet::kMaxCores) info.smt_siblings.set(CoreId{sib});
      }
      hwloc_bitmap_foreach_end();
    } else {
      // No Core object above this PU (e.g. synthetic "pu:4"): it is its own
      // physical core, numbered after the real Core objects so ids stay unique.
      info.physical_core = static_cast<uint32_t>(n_cores) + pu->logical_index;
      info.smt_siblings.set(info.id);
    }
    t.all_.set(info.id);
    t.cpus_.push_back(std::move(info));
  }
  std::sort(t.cpus_.begin(), t.cpus_.end(), [](const CpuInfo& a, const CpuInfo& b) { return a.id < b.id; });
  t.hw_ = std::move(hw);
  return t;
}

Result<Topology> Topology::discover() {
  auto hw = new_hwloc_topology();
  if (!hw) return tl::unexpected(std::move(hw.error()));
  hwloc_topology_t topo = as_hwloc(*hw);
  const unsigned long flags = HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM | HWLOC_TOPOLOGY_FLAG_RESTRICT_TO_CPUBINDING |
                              HWLOC_TOPOLOGY_FLAG_DONT_CHANGE_BINDING;
  if (hwloc_topology_set_flags(topo, flags) != 0)
    return make_error(Errc::internal, fmt::format("hwloc_topology_set_flags failed: {}", errno_text(errno)));
  // PCI and OS devices are not used; skipping them keeps discovery short.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  if (hwloc_topology_load(topo) != 0)
    return make_error(Errc::io, fmt::format("hwloc could not discover this machine's topology: {}",
                                            errno_text(errno)));
  return from_hwloc(std::move(*hw), false, "real topology");
}

Result<Topology> Topology::synthetic(std::string_view description) {
  auto hw = new_hwloc_topology();
  if (!hw) return tl::unexpected(std::move(hw.error()));
  hwloc_topology_t topo = as_hwloc(*hw);
  const std::string desc(description);  // hwloc wants a NUL-terminated string
  if (hwloc_topology_set_synthetic(topo, desc.c_str()) != 0)
    return make_error(Errc::invalid_argument,
                      fmt::format("bad synthetic topology '{}': hwloc rejected it (expected e.g. "
                                  "'package:2 core:8 pu:2' or 'numa:2 core:4 pu:2')",
                                  desc));
  if (hwloc_topology_load(topo) != 0)
    return make_error(Errc::invalid_argument,
                      fmt::format("bad synthetic topology '{}': hwloc could not load it: {}", desc,
                                  errno_text(errno)));
  return from_hwloc(std::move(*hw), true, fmt::format("synthetic topology '{}'", desc));
}

Topology Topology::flat(uint32_t n) {
  REACTOR_ASSERT(n <= CpuSet::kMaxCores);
  Topology t;
  t.synthetic_ = true;
  t.source_ = "flat topology";
  t.cpus_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    CpuInfo info;
    info.id = CoreId{i};
    info.numa_node = 0;
    info.package = 0;
    info.physical_core = i;
    info.smt_siblings.set(CoreId{i});
    t.all_.set(CoreId{i});
    t.cpus_.push_back(std::move(info));
  }
  return t;
}

const CpuInfo* Topology::find(CoreId core) const noexcept {
  auto it = std::lower_bound(cpus_.begin(), cpus_.end(), core,
                             [](const CpuInfo& c, CoreId id) { return c.id < id; });
  return it != cpus_.end() && it->id == core ? &*it : nullptr;
}

std::string Topology::describe() const {
  std::set<uint32_t> cores;
  std::set<int> nodes;
  for (const CpuInfo& c : cpus_) {
    cores.insert(c.physical_core);
    if (c.numa_node >= 0) nodes.insert(c.numa_node);
  }
  return fmt::format("{} ({}), {}, {}", plural(cores.size(), "core", "cores"),
                     plural(cpus_.size(), "PU", "PUs"), plural(nodes.size(), "NUMA node", "NUMA nodes"),
                     source_);
}

Result<void> Topology::bind_current_thread(CoreId core) const {
  if (find(core) == nullptr) {
    const std::string where = synthetic_ ? fmt::format("the {}", source_) : "this machine's topology";
    return make_error(Errc::not_found, fmt::format("core {} is not in {} (cores {})", core.value, where,
                                                   all_.empty() ? std::string("none") : all_.to_list()));
  }
  if (synthetic_ || !hw_) return {};
  Bitmap set;
  if (set.b == nullptr) return make_error(Errc::internal, "hwloc_bitmap_alloc failed");
  hwloc_bitmap_only(set.b, core.value);
  if (hwloc_set_cpubind(as_hwloc(hw_), set.b, HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT) != 0) {
    const int err = errno;
    return make_error(Errc::io, fmt::format("cannot pin the current thread to core {}: {}", core.value,
                                            errno_text(err)));
  }
  return {};
}

}  // namespace reactor
