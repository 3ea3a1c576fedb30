#pragma once
// Not API. A move-only std::function replacement (C++23's move_only_function is
// not in C++20): user callables that own move-only state can be posted.
//
// The call is one indirect call through a function pointer stored in the
// object itself, with a pointer to the callable (SPDK's fn + ctx shape): no
// vtable load. A callable of at most two words that is trivially copyable and
// trivially destructible (a lambda capturing a pointer or two) lives inside
// the object, so calling it touches no other cache line; anything else lives
// on the heap and the object holds its address.

#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace reactor::detail {

template <class Sig>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
  static constexpr size_t kInlineBytes = 2 * sizeof(void*);
  template <class F>
  static constexpr bool kInline = sizeof(F) <= kInlineBytes && alignof(F) <= alignof(void*) &&
                                  std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>;

 public:
  UniqueFunction() = default;
  UniqueFunction(std::nullptr_t) {}
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
                                              std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
  UniqueFunction(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (kInline<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      invoke_ = [](void* p, Args... args) -> R {
        return std::invoke(*std::launder(static_cast<D*>(p)), std::forward<Args>(args)...);
      };
    } else {
      D* heap = new D(std::forward<F>(f));
      std::memcpy(buf_, &heap, sizeof heap);
      invoke_ = [](void* p, Args... args) -> R {
        D* d;
        std::memcpy(&d, p, sizeof d);
        return std::invoke(*d, std::forward<Args>(args)...);
      };
      destroy_ = [](void* p) noexcept {
        D* d;
        std::memcpy(&d, p, sizeof d);
        delete d;
      };
    }
  }
  // Both forms relocate by copying the bytes: an inline callable is trivially
  // copyable, a heap one is a pointer.
  UniqueFunction(UniqueFunction&& o) noexcept : invoke_(o.invoke_), destroy_(o.destroy_) {
    std::memcpy(buf_, o.buf_, sizeof buf_);
    o.invoke_ = nullptr;
    o.destroy_ = nullptr;
  }
  UniqueFunction& operator=(UniqueFunction&& o) noexcept {
    if (this != &o) {
      reset();
      std::memcpy(buf_, o.buf_, sizeof buf_);
      invoke_ = o.invoke_;
      destroy_ = o.destroy_;
      o.invoke_ = nullptr;
      o.destroy_ = nullptr;
    }
    return *this;
  }
  UniqueFunction& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  ~UniqueFunction() { reset(); }

  explicit operator bool() const noexcept { return invoke_ != nullptr; }
  R operator()(Args... args) { return invoke_(buf_, std::forward<Args>(args)...); }

 private:
  void reset() noexcept {
    if (destroy_ != nullptr) destroy_(buf_);
    invoke_ = nullptr;
    destroy_ = nullptr;
  }

  alignas(void*) unsigned char buf_[kInlineBytes];
  R (*invoke_)(void*, Args...) = nullptr;
  void (*destroy_)(void*) noexcept = nullptr;
};

}  // namespace reactor::detail
