#pragma once
// Message ring: a DPDK rte_ring built on our own cache-aligned memory (no EAL
// needed), multi-producer RTS enqueue (a preempted producer cannot stall the
// others behind it, which matters on overcommitted vCPUs) and single-consumer
// dequeue (only the hosting reactor drains a thread's ring).

#include <cstddef>
#include <cstdint>

#include <reactor/error.hh>

struct rte_ring;

namespace reactor::detail {

/// Creates a ring of `size` slots (power of two; capacity size-1). `mem` receives
/// the allocation to free with free_ring().
Result<rte_ring*> create_ring(const char* name, uint32_t size, void** mem);
void free_ring(void* mem) noexcept;
/// 0 on success, -ENOBUFS when full. Any OS thread.
int ring_enqueue(rte_ring* r, void* obj) noexcept;
/// Dequeues up to n objects; consumer thread only.
unsigned ring_dequeue_burst(rte_ring* r, void** objs, unsigned n) noexcept;
unsigned ring_count(const rte_ring* r) noexcept;
bool ring_empty(const rte_ring* r) noexcept;

}  // namespace reactor::detail
