#pragma once
// Not API. A posted message: one heap object holding the user's callable. The
// message ring carries pointers to these; the receiver runs and deletes them.

#include <utility>

namespace reactor::detail {

struct Message {
  virtual ~Message() = default;
  /// Runs the callable; may throw (the thread boundary catches).
  virtual void run() = 0;
};

template <class F>
struct MessageImpl final : Message {
  explicit MessageImpl(F&& f) : fn(std::move(f)) {}
  explicit MessageImpl(const F& f) : fn(f) {}
  void run() override { fn(); }
  F fn;
};

}  // namespace reactor::detail
