#pragma once
// Message pool internals visible to tests and benchmarks (the allocation
// entry points are in <reactor/detail/message.hh>).

#include <cstdint>

namespace reactor::detail {

struct MessagePoolStats {
  uint64_t slabs = 0;   // slabs carved so far, all OS threads (never returned)
  uint64_t caches = 0;  // per-OS-thread caches created (an exited thread's cache is reused)
};

/// Process-wide counters. Any OS thread.
MessagePoolStats message_pool_stats() noexcept;

}  // namespace reactor::detail
