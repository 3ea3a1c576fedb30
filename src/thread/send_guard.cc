// See send_guard.hh for the protocol.

#include "thread/send_guard.hh"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <new>

namespace reactor::detail {

namespace send_guard_detail {
bool g_asymmetric = false;
__thread SendSlot* t_slot __attribute__((tls_model("initial-exec"))) = nullptr;
}  // namespace send_guard_detail

namespace {

using send_guard_detail::g_asymmetric;
using send_guard_detail::t_slot;

std::atomic<SendSlot*> g_slots{nullptr};
std::once_flag g_init;

long membarrier(int cmd) noexcept { return ::syscall(__NR_membarrier, cmd, 0U, 0); }

// Releases the OS thread's slot when it ends, for the next OS thread to claim.
// `armed` is only written, by adopt(): that first use of the thread_local is
// what constructs it and so registers its destructor for this OS thread.
struct SlotReleaser {
  bool armed = false;
  ~SlotReleaser() {
    if (SendSlot* s = t_slot) {
      t_slot = nullptr;
      s->target.store(nullptr, std::memory_order_release);
      s->claimed.store(false, std::memory_order_release);
    }
  }
};
thread_local SlotReleaser t_releaser;

// Makes `s` the calling OS thread's slot.
SendSlot* adopt(SendSlot* s) noexcept {
  t_slot = s;
  t_releaser.armed = true;
  return s;
}

}  // namespace

void init_send_guard() noexcept {
  std::call_once(g_init, [] {
#if defined(REACTOR_TSAN)
    // ThreadSanitizer cannot see what membarrier orders: fences on both sides.
    g_asymmetric = false;
#else
    const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    g_asymmetric = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                   membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
  });
}

SendSlot* claim_send_slot() noexcept {
  for (SendSlot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    bool free = false;
    if (!s->claimed.load(std::memory_order_relaxed) &&
        s->claimed.compare_exchange_strong(free, true, std::memory_order_acquire))
      return adopt(s);
  }
  auto* s = new (std::nothrow) SendSlot;
  if (s == nullptr) return nullptr;
  SendSlot* head = g_slots.load(std::memory_order_relaxed);
  do {
    s->next = head;
  } while (!g_slots.compare_exchange_weak(head, s, std::memory_order_release, std::memory_order_relaxed));
  return adopt(s);
}

bool retirer_barrier() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!g_asymmetric) return false;
  // Registered in init_send_guard, so this does not fail; the global command
  // (every CPU, slower) is the same barrier should it ever.
  return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 || membarrier(MEMBARRIER_CMD_GLOBAL) == 0;
}

bool sending_to(const void* target) noexcept {
  for (SendSlot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next)
    if (s->target.load(std::memory_order_acquire) == target) return true;
  return false;
}

}  // namespace reactor::detail
