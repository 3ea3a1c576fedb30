// Ring wrappers. DPDK stays inside this file (and the governor): no public
// header includes rte_ring.h. Under ThreadSanitizer the hand-off is annotated
// on the ring (release before each enqueue, acquire after each dequeue that
// got something) because TSan cannot see the ordering rte_ring's head/tail
// protocol provides; a message carried by value has no object address of its
// own to annotate. Only rte_ring internals are suppressed (tests/tsan.supp).

#include "thread/ring.hh"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#if defined(REACTOR_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define REACTOR_TSAN_RELEASE(p) __tsan_release(p)
#define REACTOR_TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define REACTOR_TSAN_RELEASE(p) (void)(p)
#define REACTOR_TSAN_ACQUIRE(p) (void)(p)
#endif

namespace reactor::detail {

static_assert(sizeof(Slot) == 16);

Result<rte_ring*> create_ring(const char* name, uint32_t size, uint32_t esize, void** mem) {
  if (size < 2 || (size & (size - 1)) != 0)
    return make_error(Errc::invalid_argument, fmt::format("ring size {} is not a power of two", size));
  if (esize != 8 && esize != 16)
    return make_error(Errc::invalid_argument, fmt::format("ring element size {} is not 8 or 16", esize));
  ssize_t bytes = rte_ring_get_memsize_elem(esize, size);
  if (bytes < 0) return make_error(Errc::invalid_argument, fmt::format("ring size {} is not supported", size));
  // rte_ring wants cache-line alignment; 128 also keeps adjacent-line prefetch apart.
  void* p = std::aligned_alloc(128, (static_cast<size_t>(bytes) + 127) & ~size_t{127});
  if (p == nullptr) return make_error(Errc::internal, "out of memory allocating a message ring");
  std::memset(p, 0, sizeof(rte_ring));
  auto* r = static_cast<rte_ring*>(p);
  int rc = rte_ring_init(r, name, size, RING_F_MP_RTS_ENQ | RING_F_SC_DEQ);
  if (rc != 0) {
    std::free(p);
    return make_error(Errc::internal, fmt::format("rte_ring_init failed: {}", std::strerror(-rc)));
  }
  *mem = p;
  return r;
}

void free_ring(void* mem) noexcept { std::free(mem); }

int ring_enqueue(rte_ring* r, void* obj) noexcept {
  REACTOR_TSAN_RELEASE(r);
  return rte_ring_enqueue(r, obj);
}

unsigned ring_dequeue_burst(rte_ring* r, void** objs, unsigned n) noexcept {
  unsigned got = rte_ring_dequeue_burst(r, objs, n, nullptr);
  if (got != 0) REACTOR_TSAN_ACQUIRE(r);
  return got;
}

int ring_enqueue(rte_ring* r, const Slot& s) noexcept {
  REACTOR_TSAN_RELEASE(r);
  return rte_ring_enqueue_elem(r, const_cast<Slot*>(&s), sizeof(Slot));
}

unsigned ring_dequeue_burst(rte_ring* r, Slot* slots, unsigned n) noexcept {
  unsigned got = rte_ring_dequeue_burst_elem(r, slots, sizeof(Slot), n, nullptr);
  if (got != 0) REACTOR_TSAN_ACQUIRE(r);
  return got;
}

unsigned ring_count(const rte_ring* r) noexcept { return rte_ring_count(r); }
bool ring_empty(const rte_ring* r) noexcept { return rte_ring_empty(r) != 0; }

bool ring_idle(const rte_ring* r) noexcept {
  // A producer moves the RTS head (CAS) before writing its slot; the tail
  // follows only when every producer in flight is done. The consumer's tail is
  // ours (single consumer).
  const uint32_t head = __atomic_load_n(&r->rts_prod.head.val.pos, __ATOMIC_ACQUIRE);
  return head == r->cons.tail;
}

bool ring_full(const rte_ring* r) noexcept {
  // The order of the RTS enqueue's own check: the head first, then the
  // consumer's tail (which only grows). A ring seen full this way was full
  // when the tail was read: the head had reached it by then.
  const uint32_t head = __atomic_load_n(&r->rts_prod.head.val.pos, __ATOMIC_ACQUIRE);
  const uint32_t cons_tail = __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
  return r->capacity + cons_tail - head == 0;
}

}  // namespace reactor::detail
