#pragma once
// Message ring: a DPDK rte_ring built on our own cache-aligned memory (no EAL
// needed), multi-producer RTS enqueue (a preempted producer cannot stall the
// others behind it, which matters on overcommitted vCPUs) and single-consumer
// dequeue (only the hosting reactor drains a thread's ring).
//
// Two element sizes: 8 bytes (a pointer: the classic ring, used by the
// benchmarks' raw reference) and 16 bytes (a Slot: LwThread messages, which
// carry small callables inline).

#include <cstddef>
#include <cstdint>

#include <reactor/error.hh>

struct rte_ring;

namespace reactor::detail {

/// A 16-byte ring element.
struct Slot {
  uint64_t w0;
  uint64_t w1;
};

/// Creates a ring of `size` elements of `esize` bytes (8 or 16; size a power
/// of two; capacity size-1). `mem` receives the allocation to free with
/// free_ring(). Only the ring header is written: slot memory is touched when
/// messages first use it.
Result<rte_ring*> create_ring(const char* name, uint32_t size, uint32_t esize, void** mem);
void free_ring(void* mem) noexcept;

/// 8-byte rings. Enqueue: 0 on success, -ENOBUFS when full; any OS thread.
int ring_enqueue(rte_ring* r, void* obj) noexcept;
/// Dequeues up to n objects; consumer thread only.
unsigned ring_dequeue_burst(rte_ring* r, void** objs, unsigned n) noexcept;

/// 16-byte rings, same contract.
int ring_enqueue(rte_ring* r, const Slot& s) noexcept;
unsigned ring_dequeue_burst(rte_ring* r, Slot* slots, unsigned n) noexcept;

unsigned ring_count(const rte_ring* r) noexcept;
bool ring_empty(const rte_ring* r) noexcept;
/// 16-byte MP-RTS rings, consumer thread only: nothing queued and no enqueue
/// in progress (the producers' head has not passed the consumer's tail). An
/// enqueue that returned, even one not yet visible behind a slower producer,
/// makes it false.
bool ring_idle(const rte_ring* r) noexcept;
/// 16-byte MP-RTS rings, any OS thread: true when an enqueue now would fail
/// for want of room (the producers' head, then the consumer's tail, read as
/// the enqueue reads them). A hint that is exact at the moment it is read:
/// it lets a sender refuse without writing anything the consumer reads.
bool ring_full(const rte_ring* r) noexcept;

}  // namespace reactor::detail
