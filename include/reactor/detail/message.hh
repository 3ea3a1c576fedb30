#pragma once
// Not API. A posted message travels in a 16-byte ring slot, in one of two forms:
//  - inline: a callable that is trivially copyable and fits one word (a
//    lambda capturing one pointer, a function pointer) is copied into the
//    slot next to the function that runs it: no allocation, and the receiver
//    touches no cache line besides the slot;
//  - object: anything else becomes a Message object; the slot carries its
//    pointer, and the receiver runs and destroys it.
//
// Storage comes from the message pool (src/thread/message_pool.cc) when the
// callable fits one block: a per-OS-thread cache of cache-line-aligned blocks,
// so a send costs no malloc and a receive no free into another thread's arena.
// A block freed on another OS thread is reused there for its next send; past a
// bound, such blocks go back to their owner in one lock-free push per batch.
// Larger or over-aligned callables use the heap.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace reactor::detail {

/// Cache-line size assumed for padding shared fields apart.
inline constexpr std::size_t kCacheLine = 64;

/// Pool block size: a message whose object fits is pooled.
inline constexpr std::size_t kMessageBlockBytes = 128;

/// A pool block, or nullptr when memory is exhausted. Any OS thread.
void* message_block_alloc() noexcept;
/// Returns a block from message_block_alloc(). Any OS thread.
void message_block_free(void* block) noexcept;

/// Runs an inline message from its payload word.
using InlineRun = void (*)(std::uintptr_t payload);

template <class F>
inline constexpr bool kInlineMessage = std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F> &&
                                       sizeof(F) <= sizeof(std::uintptr_t) &&
                                       alignof(F) <= alignof(std::uintptr_t);

/// The payload word of an inline callable: its bytes.
template <class F>
std::uintptr_t inline_payload(const F& f) noexcept {
  static_assert(kInlineMessage<F>);
  std::uintptr_t p = 0;
  std::memcpy(&p, &f, sizeof(F));
  return p;
}

/// Recreates the callable from its bytes (trivially copyable: the copy is the
/// value) and runs it; may throw (the thread boundary catches).
template <class F>
void run_inline(std::uintptr_t payload) {
  alignas(F) unsigned char buf[sizeof(F)];
  std::memcpy(buf, &payload, sizeof(F));
  (*std::launder(reinterpret_cast<F*>(buf)))();
}

struct Message {
  /// Runs the callable; may throw (the thread boundary catches).
  virtual void run() = 0;
  /// Destroys the callable and releases the storage (pool block or heap).
  virtual void destroy() noexcept = 0;

 protected:
  ~Message() = default;
};

/// Size of MessageImpl<F> (a vtable pointer, then F), computable before the type is complete.
constexpr std::size_t message_object_bytes(std::size_t size, std::size_t align) noexcept {
  const std::size_t a = align > alignof(void*) ? align : alignof(void*);
  const std::size_t off = (sizeof(void*) + align - 1) / align * align;
  return (off + size + a - 1) / a * a;
}

template <class F>
struct MessageImpl final : Message {
  static constexpr bool kPooled =
      alignof(F) <= kCacheLine && message_object_bytes(sizeof(F), alignof(F)) <= kMessageBlockBytes;

  template <class A>
  explicit MessageImpl(A&& f) : fn(std::forward<A>(f)) {}
  void run() override { fn(); }
  void destroy() noexcept override {
    if constexpr (kPooled) {
      this->~MessageImpl();
      message_block_free(this);
    } else {
      delete this;
    }
  }
  F fn;
};

/// Builds the message for `f`. Throws std::bad_alloc when no memory is left,
/// or whatever copying/moving the callable throws.
template <class F, class A>
Message* make_message(A&& f) {
  using M = MessageImpl<F>;
  if constexpr (M::kPooled) {
    static_assert(sizeof(M) <= kMessageBlockBytes && alignof(M) <= kCacheLine);
    void* p = message_block_alloc();
    if (p == nullptr) throw std::bad_alloc();
    try {
      return ::new (p) M(std::forward<A>(f));
    } catch (...) {
      message_block_free(p);
      throw;
    }
  } else {
    return new M(std::forward<A>(f));
  }
}

}  // namespace reactor::detail
