// Twin of SPDK's reactor_perf (test/event/reactor_perf), written against the
// public API: one reactor (core 0 unless -c), one LwThread, -q message chains
// in which every message sends the next one to its own thread. After -t
// seconds the rate is printed in the SPDK tool's form,
// `Performance: X events per second`.
//
//   reactor_perf [-q CHAINS] [-t SECONDS] [-c CORE]   # defaults 1, 1, 0

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "twin_common.hh"

using namespace reactor;

namespace {

struct alignas(64) Chain {
  ThreadRef self;
  const std::atomic<bool>* stop = nullptr;
  std::atomic<uint64_t> count{0};  // written only by the reactor
};

struct Next {
  Chain* c;
  void operator()() const {
    c->count.store(c->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (c->stop->load(std::memory_order_relaxed)) return;
    (void)twin::send_while_full(c->self, Next{c});
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* tool = "reactor_perf";
  uint64_t chains = 1;
  uint64_t seconds = 1;
  uint64_t core = 0;
  int opt;
  while ((opt = getopt(argc, argv, "q:t:c:")) != -1) {
    switch (opt) {
      case 'q': chains = twin::parse_uint(tool, "-q", optarg); break;
      case 't': seconds = twin::parse_uint(tool, "-t", optarg); break;
      case 'c': core = twin::parse_uint(tool, "-c", optarg); break;
      default: std::fprintf(stderr, "usage: %s [-q CHAINS] [-t SECONDS] [-c CORE]\n", tool); return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "%s: unexpected argument '%s'\n", tool, argv[optind]);
    return 2;
  }
  if (chains == 0 || chains > 4000) {
    std::fprintf(stderr, "%s: -q %ju: chains must be 1..4000 (the ring holds 4095)\n", tool,
                 static_cast<uintmax_t>(chains));
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
  auto pool = twin::pool_on(tool, CpuSet{static_cast<uint32_t>(core)});
  std::atomic<bool> stop{false};
  Chain chain;
  chain.stop = &stop;
  auto t = pool->spawn(ThreadOptions{.name = "reactor_perf", .ring_size = 4096});
  if (!t) {
    std::fprintf(stderr, "%s: %s\n", tool, t.error().message.c_str());
    return 1;
  }
  chain.self = *t;
  for (uint64_t q = 0; q < chains; ++q)
    if (!twin::send_while_full(chain.self, Next{&chain})) {
      std::fprintf(stderr, "%s: could not start a chain\n", tool);
      return 1;
    }
  const CoreId c{static_cast<uint32_t>(core)};
  const uint64_t c0 = chain.count.load(std::memory_order_relaxed);
  const uint64_t cpu0 = pool->reactor_cpu_ns(c);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const uint64_t c1 = chain.count.load(std::memory_order_relaxed);
  const uint64_t cpu1 = pool->reactor_cpu_ns(c);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop.store(true, std::memory_order_relaxed);
  std::printf("Performance: %8ju events per second\n", static_cast<uintmax_t>(static_cast<double>(c1 - c0) / dt));
  // On a shared machine the reactor may get less than a whole CPU: the rate
  // per CPU-second of the reactor thread (and ns per event) is the steadier figure.
  twin::print_cpu_line(c1 - c0, cpu1 - cpu0, dt, "events");
  pool->stop();
  return 0;
}
