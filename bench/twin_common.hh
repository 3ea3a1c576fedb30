#pragma once
// Shared by the SPDK-tool twins (event_perf, reactor_perf, poller_perf): option
// parsing in the SPDK tools' spelling and a pool on a given core set. The twins
// use the public API only, so they measure what a daemon linking libreactor gets.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <reactor/pool.hh>

namespace twin {

// Parses a non-negative integer (decimal, or hex with 0x); exits 2 with one
// line naming the option on anything else.
inline uint64_t parse_uint(const char* tool, const char* opt, const char* s) {
  char* end = nullptr;
  errno = 0;
  const int base = (std::strncmp(s, "0x", 2) == 0 || std::strncmp(s, "0X", 2) == 0) ? 16 : 10;
  unsigned long long v = std::strtoull(s, &end, base);
  if (*s == '\0' || *s == '-' || end == nullptr || *end != '\0' || errno != 0) {
    std::fprintf(stderr, "%s: %s: '%s' is not a non-negative integer\n", tool, opt, s);
    std::exit(2);
  }
  return v;
}

inline std::unique_ptr<reactor::ReactorPool> pool_on(const char* tool, reactor::CpuSet cores,
                                                     const reactor::Clock* clock = nullptr) {
  reactor::PoolOptions o;
  o.cores = cores;
  o.baseline = reactor::ReactorMode::Poll;  // SPDK's reactors poll
  o.clock = clock;
  auto p = reactor::ReactorPool::create(std::move(o));
  if (!p) {
    std::fprintf(stderr, "%s: %s\n", tool, p.error().message.c_str());
    std::exit(1);
  }
  return std::move(*p);
}

// Sends `fn` to `t`, retrying while the ring is full (the receiver drains it).
// Any other error ends the chain: a thread that exited (the pool is stopping,
// possibly while this message was in flight) will never accept it, and
// retrying would spin forever. Returns whether it was queued.
template <class F>
inline bool send_while_full(const reactor::ThreadRef& t, F fn) noexcept {
  for (;;) {
    auto r = t.send(fn);
    if (r) return true;
    if (r.error().code != reactor::Errc::full) return false;
  }
}

// Prints "cpu: X <what> per reactor CPU-second, N ns each (reactor on CPU P % of
// the wall time)": a reactor preempted by other processes does fewer events
// per second of wall time, not per second of its own CPU.
inline void print_cpu_line(uint64_t count, uint64_t cpu_ns, double wall_s, const char* what) {
  if (cpu_ns == 0 || count == 0) {
    std::printf("cpu: not measured (no reactor CPU time or no %s)\n", what);
    return;
  }
  const double per_cpu_s = static_cast<double>(count) * 1e9 / static_cast<double>(cpu_ns);
  std::printf("cpu: %.0f %s per reactor CPU-second, %.1f ns each (reactor on CPU %.0f %% of the wall time)\n",
              per_cpu_s, what, 1e9 / per_cpu_s, static_cast<double>(cpu_ns) / 1e7 / wall_s);
}

}  // namespace twin
