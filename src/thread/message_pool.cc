// Message pool: fixed-size, cache-line-aligned blocks for posted messages.
//
// Each OS thread that sends or receives owns a Cache. Blocks are carved from
// slabs of kSlabBytes aligned to their size, so a block finds its owning cache
// from its address (the slab header), without a per-block header.
//
//   alloc:  pop the foreign list (blocks of other caches freed here, still
//           hot in this core's cache), else the own list; if both are empty,
//           take the whole remote list with one exchange; else carve a slab.
//   free:   own block -> own list; another cache's block -> foreign list
//           (no atomics either way). Past kMaxForeign foreign blocks, they go
//           back to their owners' remote lists, one CAS per owner run. Pops
//           only ever take a whole remote list, so the push-only stack has no
//           ABA problem.
//
// A request/reply pair therefore reuses the request's block for the reply
// (one cache-line transfer per hop), and a one-way stream costs the producer
// one exchange and the consumer one CAS per kMaxForeign messages: no malloc,
// no free into another thread's arena, no lock. Memory is bounded by the most
// messages a thread ever had in flight plus kMaxForeign per thread.
//
// Caches are never destroyed: blocks of an exited thread may still sit in
// rings. At thread exit the cache is parked on a global list, and the next
// OS thread that needs one adopts it (with whatever was returned to it
// meanwhile). A thread that sends during its own thread_local teardown
// allocates from a parked cache under the global lock and frees straight to
// the owner's remote list.
//
// Under AddressSanitizer a free block is poisoned except for its first word
// (the free-list link), so a message used after it ran is reported.

#include <sanitizer/asan_interface.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <reactor/detail/message.hh>

#include "thread/message_pool.hh"

namespace reactor::detail {
namespace {

constexpr size_t kSlabBytes = 16 * 1024;
constexpr uint32_t kBlocksPerSlab = kSlabBytes / kMessageBlockBytes - 1;  // block 0 is the header
// Foreign blocks a thread keeps for reuse before giving them back.
constexpr uint32_t kMaxForeign = 256;
static_assert((kSlabBytes & (kSlabBytes - 1)) == 0);
static_assert(kMessageBlockBytes % kCacheLine == 0);

struct FreeBlock {
  FreeBlock* next;
};

void poison(void* b) noexcept {
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(b) + sizeof(FreeBlock), kMessageBlockBytes - sizeof(FreeBlock));
}
void unpoison(void* b) noexcept { ASAN_UNPOISON_MEMORY_REGION(b, kMessageBlockBytes); }

std::atomic<uint64_t> g_slabs{0};
std::atomic<uint64_t> g_caches{0};

struct Cache;

struct SlabHeader {
  Cache* owner;
};

struct Cache {
  // Owner OS thread only.
  FreeBlock* own = nullptr;      // free blocks carved from this cache's slabs
  FreeBlock* foreign = nullptr;  // free blocks of other caches, freed on this thread
  uint32_t foreign_count = 0;
  // Pushed by other OS threads, taken whole by the owner.
  alignas(kCacheLine) std::atomic<FreeBlock*> remote{nullptr};

  void* alloc() noexcept {
    // A block freed here most recently is still in this core's cache: a
    // request/reply pair reuses the request's block for the reply, so a
    // block crosses between two cores once per hop.
    FreeBlock* b = foreign;
    if (b != nullptr) {
      foreign = b->next;
      --foreign_count;
    } else {
      if (own == nullptr) {
        own = remote.exchange(nullptr, std::memory_order_acquire);
        if (own == nullptr && !grow()) return nullptr;
      }
      b = own;
      own = b->next;
      // Blocks given back by a consumer are still in its core's cache, and
      // popping a list is a chain of dependent loads: fetch the next block
      // (for writing) now, not when the next send needs it.
      if (own != nullptr) __builtin_prefetch(own, 1);
    }
    unpoison(b);
    return b;
  }

  void free_block(void* p, Cache* owner) noexcept {
    auto* b = static_cast<FreeBlock*>(p);
    poison(b);
    if (owner == this) {
      b->next = own;
      own = b;
      return;
    }
    b->next = foreign;
    foreign = b;
    if (++foreign_count > kMaxForeign) return_foreign();
  }

  // Gives the foreign blocks back to their owners: one CAS per run of
  // blocks with the same owner (usually the whole list is one run).
  void return_foreign() noexcept {
    FreeBlock* b = foreign;
    foreign = nullptr;
    foreign_count = 0;
    while (b != nullptr) {
      Cache* owner = owner_of_block(b);
      FreeBlock* first = b;
      FreeBlock* last = b;
      b = b->next;
      while (b != nullptr && owner_of_block(b) == owner) {
        last = b;
        b = b->next;
      }
      owner->push_remote(first, last);
    }
  }

  // Pushes the chain first..last (linked through next) onto the remote list.
  void push_remote(FreeBlock* first, FreeBlock* last) noexcept {
    FreeBlock* head = remote.load(std::memory_order_relaxed);
    do {
      last->next = head;
    } while (!remote.compare_exchange_weak(head, first, std::memory_order_release, std::memory_order_relaxed));
  }

  bool grow() noexcept {
    // Never freed: every block of a slab is always on a free list or in a
    // message, so the slab stays reachable through its blocks.
    void* slab = std::aligned_alloc(kSlabBytes, kSlabBytes);
    if (slab == nullptr) return false;
    static_cast<SlabHeader*>(slab)->owner = this;
    char* base = static_cast<char*>(slab);
    // Carve back to front so blocks are handed out in address order.
    for (uint32_t i = kBlocksPerSlab; i >= 1; --i) free_block(base + i * kMessageBlockBytes, this);
    g_slabs.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  static Cache* owner_of_block(void* block) noexcept {
    auto slab = reinterpret_cast<uintptr_t>(block) & ~static_cast<uintptr_t>(kSlabBytes - 1);
    return reinterpret_cast<SlabHeader*>(slab)->owner;
  }
};

// Parked caches of exited OS threads. Never destroyed: memory reachable from
// here is not a leak.
struct Parked {
  std::mutex mu;
  std::vector<Cache*> caches;
};
Parked& parked() noexcept {
  static Parked* p = new Parked;
  return *p;
}

// initial-exec: one TLS load on the fast path, no __tls_get_addr call.
__attribute__((tls_model("initial-exec"))) thread_local Cache* t_cache = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local bool t_torn_down = false;

struct ThreadExit {
  ~ThreadExit() {
    if (Cache* c = t_cache) {
      t_cache = nullptr;
      Parked& p = parked();
      std::lock_guard lk(p.mu);
      p.caches.push_back(c);  // within the reservation made at creation: cannot throw
    }
    t_torn_down = true;
  }
};

// Creates a cache, first reserving a parking slot for every cache in
// existence so that parking at thread exit never allocates. Lock held.
Cache* create_locked(Parked& p) noexcept {
  try {
    p.caches.reserve(g_caches.load(std::memory_order_relaxed) + 1);
  } catch (...) {
    return nullptr;
  }
  auto* c = new (std::nothrow) Cache;
  if (c != nullptr) g_caches.fetch_add(1, std::memory_order_relaxed);
  return c;
}

Cache* adopt_or_create() noexcept {
  Parked& p = parked();
  std::lock_guard lk(p.mu);
  if (!p.caches.empty()) {
    Cache* c = p.caches.back();
    p.caches.pop_back();
    return c;
  }
  return create_locked(p);
}

// The calling thread's cache, created or adopted on first use; nullptr during
// its thread_local teardown.
Cache* thread_cache() noexcept {
  if (Cache* c = t_cache) return c;
  if (t_torn_down) return nullptr;
  static thread_local ThreadExit exit_hook;  // registers the parking at thread exit
  (void)exit_hook;
  t_cache = adopt_or_create();
  return t_cache;
}

// A thread in teardown: borrow a parked cache under the lock.
void* alloc_in_teardown() noexcept {
  Parked& p = parked();
  std::lock_guard lk(p.mu);
  if (p.caches.empty()) {
    Cache* c = create_locked(p);
    if (c == nullptr) return nullptr;
    p.caches.push_back(c);  // within the reservation
  }
  return p.caches.back()->alloc();
}

}  // namespace

void* message_block_alloc() noexcept {
  if (Cache* c = thread_cache()) return c->alloc();
  return alloc_in_teardown();
}

void message_block_free(void* block) noexcept {
  Cache* owner = Cache::owner_of_block(block);
  if (Cache* mine = thread_cache()) {
    mine->free_block(block, owner);
  } else {
    // A thread in teardown: straight back to the owner (parked or adopted,
    // the remote list is safe in every case).
    auto* b = static_cast<FreeBlock*>(block);
    poison(b);
    owner->push_remote(b, b);
  }
}

MessagePoolStats message_pool_stats() noexcept {
  return {g_slabs.load(std::memory_order_relaxed), g_caches.load(std::memory_order_relaxed)};
}

}  // namespace reactor::detail
