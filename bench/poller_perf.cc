// Twin of SPDK's poller_perf (test/event/poller_perf), written against the
// public API: one reactor, one LwThread with -b pollers of period -l
// microseconds (0 = active: every pass) that each return Busy. After -t
// seconds: the thread's busy ticks over the pollers' total run count, printed
// in the SPDK tool's form (`poller_cost: C (cyc), N (nsec)`). Ticks are TSC
// cycles when the runtime clock is the TSC (tsc_hz below); otherwise they
// are nanoseconds and tsc_hz reads 1000000000.
//
//   poller_perf [-b POLLERS] [-l PERIOD_US] [-t SECONDS] [-c CORE]   # defaults 1000, 0, 1, 0

#include <unistd.h>

#include <chrono>
#include <thread>

#include <reactor/clock.hh>

#include "twin_common.hh"

using namespace reactor;

namespace {

struct Totals {
  uint64_t busy = 0;
  uint64_t runs = 0;
};

Totals totals(const ThreadRef& t) {
  Totals x;
  x.busy = t->stats().busy;
  for (const PollerStats& p : t->pollers()) x.runs += p.run_count;
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tool = "poller_perf";
  uint64_t pollers = 1000;
  uint64_t period_us = 0;
  uint64_t seconds = 1;
  uint64_t core = 0;
  int opt;
  while ((opt = getopt(argc, argv, "b:l:t:c:")) != -1) {
    switch (opt) {
      case 'b': pollers = twin::parse_uint(tool, "-b", optarg); break;
      case 'l': period_us = twin::parse_uint(tool, "-l", optarg); break;
      case 't': seconds = twin::parse_uint(tool, "-t", optarg); break;
      case 'c': core = twin::parse_uint(tool, "-c", optarg); break;
      default:
        std::fprintf(stderr, "usage: %s [-b POLLERS] [-l PERIOD_US] [-t SECONDS] [-c CORE]\n", tool);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "%s: unexpected argument '%s'\n", tool, argv[optind]);
    return 2;
  }
  if (pollers == 0 || pollers > 100000) {
    std::fprintf(stderr, "%s: -b %ju: pollers must be 1..100000\n", tool, static_cast<uintmax_t>(pollers));
    return 2;
  }
  if (period_us > 1000000) {
    std::fprintf(stderr, "%s: -l %ju: period must be 0..1000000 us\n", tool, static_cast<uintmax_t>(period_us));
    return 2;
  }
  if (seconds == 0 || seconds > 3600) {
    std::fprintf(stderr, "%s: -t %ju: seconds must be 1..3600\n", tool, static_cast<uintmax_t>(seconds));
    return 2;
  }
  if (core >= CpuSet::kMaxCores) {
    std::fprintf(stderr, "%s: -c %ju: core out of range\n", tool, static_cast<uintmax_t>(core));
    return 2;
  }
  SystemClock clock;
  auto pool = twin::pool_on(tool, CpuSet{static_cast<uint32_t>(core)}, &clock);
  std::atomic<bool> registered{false};
  auto t = pool->spawn(ThreadOptions{.name = "poller_perf"}, [&] {
    for (uint64_t i = 0; i < pollers; ++i) {
      auto r = current_thread()->register_poller(fmt::format("poller_perf_{}", i), [] { return PollStatus::Busy; },
                                                 std::chrono::microseconds(period_us));
      if (!r) {
        std::fprintf(stderr, "%s: %s\n", tool, r.error().message.c_str());
        std::exit(1);
      }
    }
    registered.store(true, std::memory_order_release);
  });
  if (!t) {
    std::fprintf(stderr, "%s: %s\n", tool, t.error().message.c_str());
    return 1;
  }
  while (!registered.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("Running %ju pollers for %ju seconds with %ju microseconds period.\n", static_cast<uintmax_t>(pollers),
              static_cast<uintmax_t>(seconds), static_cast<uintmax_t>(period_us));
  const CoreId c{static_cast<uint32_t>(core)};
  const Totals a = totals(*t);
  const uint64_t cpu0 = pool->reactor_cpu_ns(c);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const Totals b = totals(*t);
  const uint64_t cpu1 = pool->reactor_cpu_ns(c);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t busy = b.busy - a.busy;
  const uint64_t runs = b.runs - a.runs;
  const uint64_t hz = clock.tick_rate();
  const uint64_t cost = runs == 0 ? 0 : busy / runs;
  const uint64_t cost_ns = runs == 0 ? 0 : static_cast<uint64_t>(static_cast<double>(busy) * 1e9 / static_cast<double>(hz) / static_cast<double>(runs));
  std::printf("======================================\n");
  std::printf("busy:%ju (cyc)\n", static_cast<uintmax_t>(busy));
  std::printf("total_run_count: %ju\n", static_cast<uintmax_t>(runs));
  std::printf("tsc_hz: %ju (cyc)\n", static_cast<uintmax_t>(hz));
  std::printf("======================================\n");
  std::printf("poller_cost: %ju (cyc), %ju (nsec)\n", static_cast<uintmax_t>(cost), static_cast<uintmax_t>(cost_ns));
  // busy is wall time (a preempted reactor's pass looks longer); the reactor
  // thread's own CPU time per poller call is the steadier figure here.
  twin::print_cpu_line(runs, cpu1 - cpu0, dt, "poller calls");
  pool->stop();
  return 0;
}
