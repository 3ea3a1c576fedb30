#pragma once
// reactor-bench's workers (not API): one per lightweight thread, each keeping
// -q requests in flight on its own IoChannel. Every completion callback
// records the latency and submits the next request from the same slot (no
// allocation per I/O). Workers touch only their own state and publish
// counters through relaxed single-writer atomics; the monitor reads them.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <reactor/clock.hh>
#include <reactor/io.hh>
#include <reactor/thread.hh>

#include "tools/reactor_bench.hh"

namespace reactor::bench {

/// What every worker reads; `stop`, `fatal` and the first error are written
/// by any of them or by the monitor.
struct Shared {
  const Clock* clock = nullptr;
  const std::vector<Target>* targets = nullptr;
  Workload workload = Workload::RandRead;
  uint32_t read_pct = 50;
  uint64_t io_size = 0;
  uint32_t queue_depth = 0;
  uint32_t workers = 0;
  const IoRegistry* registry = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<bool> fatal{false};
  std::atomic<uint32_t> ring_flags{0};
  std::mutex err_mu;
  std::string first_error;

  void fail(std::string msg) {
    std::lock_guard lk(err_mu);
    if (first_error.empty()) first_error = std::move(msg);
    fatal.store(true, std::memory_order_release);
  }
};

struct Worker {
  Worker(Shared& s, uint32_t idx, std::byte* buffers);

  uint64_t next_rand() noexcept {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
  }

  void start();

  // `now`: the submission time (a completion passes the reactor's clock read
  // of its batch, IoChannel::completion_time: no clock read per I/O).
  void issue(uint32_t slot, uint64_t now);

  void done(uint32_t slot, int res);

  static void bump(std::atomic<uint64_t>& c) noexcept { add(c, 1); }
  static void add(std::atomic<uint64_t>& c, uint64_t v) noexcept {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  Shared& sh;
  const uint32_t index;
  std::byte* const bufs;
  ThreadRef thread;
  IoChannel ch;
  std::vector<uint64_t> issued_at;
  std::vector<uint32_t> slot_file;
  std::vector<uint64_t> slot_off;
  std::vector<uint8_t> slot_write;
  std::vector<uint64_t> cursor, lo, hi;
  uint64_t rng = 0;
  uint64_t last_done = 0;
  // Published (single writer: the worker's thread).
  std::atomic<uint64_t> ios{0}, reads{0}, writes{0}, bytes{0}, errors{0}, lat_sum{0}, lat_max{0}, max_gap{0};
  std::atomic<bool> drained{false};
  Histogram hist;
};

}  // namespace reactor::bench
