// reactor-bench's workers: request placement (random or per-worker
// sequential slices), submission and completion.

#include "tools/reactor_bench_workers.hh"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace reactor::bench {

Worker::Worker(Shared& s, uint32_t idx, std::byte* buffers)
    : sh(s), index(idx), bufs(buffers), issued_at(s.queue_depth), slot_file(s.queue_depth),
      slot_off(s.queue_depth), slot_write(s.queue_depth), cursor(s.targets->size(), 0),
      lo(s.targets->size()), hi(s.targets->size()) {
  rng = 0x853c49e6748fea9bull ^ (uint64_t{idx + 1} * 0x9e3779b97f4a7c15ull);
  for (size_t f = 0; f < s.targets->size(); ++f) {
    // Sequential workloads: each worker streams through its own slice.
    const uint64_t blocks = (*s.targets)[f].size / s.io_size;
    uint64_t a = blocks * idx / s.workers, b = blocks * (idx + 1) / s.workers;
    if (b <= a) {
      a = 0;
      b = blocks;
    }
    lo[f] = a;
    hi[f] = b;
    cursor[f] = a;
  }
}

void Worker::start() {
  auto c = IoChannel::create({.queue_depth = sh.queue_depth, .registry = sh.registry});
  if (!c) {
    sh.fail(fmt::format("worker {}: {}", index, c.error().message));
    drained.store(true, std::memory_order_release);
    return;
  }
  ch = std::move(*c);
  sh.ring_flags.store(ch.ring_flags(), std::memory_order_relaxed);
  const uint64_t now = sh.clock->now();
  for (uint32_t s = 0; s < sh.queue_depth; ++s) issue(s, now);
  if (ch.in_flight() == 0) drained.store(true, std::memory_order_release);
}

void Worker::issue(uint32_t slot, uint64_t now) {
  const auto& targets = *sh.targets;
  const uint32_t f = targets.size() == 1 ? 0 : static_cast<uint32_t>(next_rand() % targets.size());
  const Target& t = targets[f];
  uint64_t block;
  if (random_access(sh.workload)) {
    const uint64_t blocks = t.size / sh.io_size;
    __extension__ using u128 = unsigned __int128;  // multiply-shift: uniform without a division
    block = static_cast<uint64_t>((static_cast<u128>(next_rand()) * blocks) >> 64);
  } else {
    block = cursor[f];
    cursor[f] = block + 1 >= hi[f] ? lo[f] : block + 1;
  }
  bool write;
  switch (sh.workload) {
    case Workload::RandWrite:
    case Workload::Write: write = true; break;
    case Workload::RandRw: write = next_rand() % 100 >= sh.read_pct; break;
    default: write = false;
  }
  const uint64_t off = block * sh.io_size;
  slot_file[slot] = f;
  slot_off[slot] = off;
  slot_write[slot] = write;
  std::byte* buf = bufs + static_cast<size_t>(slot) * sh.io_size;
  issued_at[slot] = now;
  IoCallback cb = [this, slot](int res) { done(slot, res); };
  auto r = write ? ch.write(t.fd, buf, sh.io_size, off, std::move(cb))
                 : ch.read(t.fd, buf, sh.io_size, off, std::move(cb));
  if (!r) {
    if (r.error().code != Errc::exited) sh.fail(fmt::format("worker {}: {}", index, r.error().message));
    if (ch.in_flight() == 0) drained.store(true, std::memory_order_release);
  }
}

void Worker::done(uint32_t slot, int res) {
  // The reactor's clock read for this batch of completions (one per batch,
  // not per I/O); the resubmission below is stamped with it too.
  const uint64_t now = ch.completion_time();
  const uint64_t lat = now - issued_at[slot];
  if (res == static_cast<int>(sh.io_size)) {
    hist.record(lat);
    bump(ios);
    bump(slot_write[slot] ? writes : reads);
    add(bytes, static_cast<uint64_t>(res));
    add(lat_sum, lat);
    if (lat > lat_max.load(std::memory_order_relaxed)) lat_max.store(lat, std::memory_order_relaxed);
  } else {
    bump(errors);
    const Target& t = (*sh.targets)[slot_file[slot]];
    const char* op = slot_write[slot] ? "write" : "read";
    if (res == -ENOSPC || res == -EDQUOT)
      sh.fail(fmt::format("disk full while writing {}: {}", t.path, std::strerror(-res)));
    else if (res < 0)
      sh.fail(fmt::format("I/O error: {} of {} bytes at offset {} of {}: {}", op, sh.io_size, slot_off[slot],
                          t.path, std::strerror(-res)));
    else
      sh.fail(fmt::format("short {}: {} of {} bytes at offset {} of {} (did the file shrink?)", op, res,
                          sh.io_size, slot_off[slot], t.path));
  }
  if (last_done != 0) {
    const uint64_t gap = now - last_done;
    if (gap > max_gap.load(std::memory_order_relaxed)) max_gap.store(gap, std::memory_order_relaxed);
  }
  last_done = now;
  if (!sh.stop.load(std::memory_order_relaxed) && !sh.fatal.load(std::memory_order_relaxed)) {
    issue(slot, now);
  } else if (ch.in_flight() == 0) {
    drained.store(true, std::memory_order_release);
  }
}

}  // namespace reactor::bench
