#pragma once
// Exit safety for the ring path of a send, without a shared counter.
//
// A sender announces "I am about to enqueue into thread T" in a slot of its
// own OS thread (one cache line, written by that OS thread only), then reads
// T's state, enqueues, and clears the slot. The reactor retiring T (state
// already Exiting) waits while any slot names T. The two sides are a Dekker
// pair: sender "store slot; load state", retirer "store state; load slots".
//
// Where the kernel offers it (membarrier PRIVATE_EXPEDITED), the sender's
// half costs no fence at all: the retirer, once per exiting thread, runs
// membarrier(), which makes every other CPU running this process execute a
// full barrier; so either a sender's slot store is visible to the retirer's
// scan, or that sender's state load comes after the Exiting store and fails.
// Elsewhere (old kernels, seccomp filters, ThreadSanitizer builds) both sides
// use a seq_cst fence. The mode is chosen once, when the first pool is
// created, before any thread exists to send to.

#include <atomic>
#include <cstdint>

#include "reactor/detail/message.hh"

namespace reactor::detail {

struct alignas(kCacheLine) SendSlot {
  std::atomic<const void*> target{nullptr};  // the thread being sent to, or nullptr
  std::atomic<bool> claimed{true};           // owned by a live OS thread
  SendSlot* next = nullptr;                  // global list, append-only
};

/// Chooses the barrier mode (idempotent, thread-safe). ReactorPool::create calls it.
void init_send_guard() noexcept;

/// The calling OS thread's slot (claimed on first use, released when the OS
/// thread ends), or nullptr if none could be allocated.
SendSlot* claim_send_slot() noexcept;

namespace send_guard_detail {
extern bool g_asymmetric;  // written once by init_send_guard, before any send
// __thread, not thread_local: no dynamic initialisation, so no TLS wrapper call per send.
extern __thread SendSlot* t_slot __attribute__((tls_model("initial-exec")));
}  // namespace send_guard_detail

inline SendSlot* my_send_slot() noexcept {
  SendSlot* s = send_guard_detail::t_slot;
  return s != nullptr ? s : claim_send_slot();
}

/// Sender side: between the slot store and the state load.
inline void sender_barrier() noexcept {
  if (send_guard_detail::g_asymmetric)
    std::atomic_signal_fence(std::memory_order_seq_cst);  // compiler only; see the header
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// Retirer side, after it has seen the Exiting state and before it scans the
/// slots. Returns true if one call covers every later scan (membarrier: any
/// sender that announces itself afterwards reads the Exiting state), false
/// if the retirer must call it again before each scan.
bool retirer_barrier() noexcept;

/// True if any OS thread's slot names `target` (a send to it in progress).
bool sending_to(const void* target) noexcept;

}  // namespace reactor::detail
