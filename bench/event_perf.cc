// Twin of SPDK's event_perf (test/event/event_perf), written against the
// public API: one LwThread per core of -m, -q message chains started on each;
// every message counts itself on its core and sends the next message of its
// chain to the thread on the next core of the mask (round robin), so with two
// cores every hop crosses cores. After -t seconds each core's count is printed
// per second in the SPDK tool's form, `lcore N: X`, so that anyone with SPDK
// built can run both on the same machine and compare line by line.
//
//   event_perf [-m MASK] [-q CHAINS_PER_CORE] [-t SECONDS]   # defaults 0x3, 4, 1

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "twin_common.hh"

using namespace reactor;

namespace {

struct alignas(64) Lane {
  ThreadRef self;
  Lane* next = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::atomic<uint64_t> count{0};  // written only by the lane's reactor
};

// One hop: a trivially copyable one-pointer callable, carried inline in the slot.
struct Hop {
  Lane* lane;
  void operator()() const {
    lane->count.store(lane->count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (lane->stop->load(std::memory_order_relaxed)) return;
    Lane* n = lane->next;
    (void)twin::send_while_full(n->self, Hop{n});
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* tool = "event_perf";
  std::string mask = "0x3";
  uint64_t chains = 4;
  uint64_t seconds = 1;
  int opt;
  while ((opt = getopt(argc, argv, "m:q:t:")) != -1) {
    switch (opt) {
      case 'm': mask = optarg; break;
      case 'q': chains = twin::parse_uint(tool, "-q", optarg); break;
      case 't': seconds = twin::parse_uint(tool, "-t", optarg); break;
      default:
        std::fprintf(stderr, "usage: %s [-m MASK] [-q CHAINS_PER_CORE] [-t SECONDS]\n", tool);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "%s: unexpected argument '%s'\n", tool, argv[optind]);
    return 2;
  }
  if (chains == 0 || chains > 1024) {
    std::fprintf(stderr, "%s: -q %ju: chains per core must be 1..1024\n", tool, static_cast<uintmax_t>(chains));
    return 2;
  }
  if (seconds == 0 || seconds > 3600) {
    std::fprintf(stderr, "%s: -t %ju: seconds must be 1..3600\n", tool, static_cast<uintmax_t>(seconds));
    return 2;
  }
  auto cores = CpuSet::parse(mask);
  if (!cores || cores->empty()) {
    std::fprintf(stderr, "%s: -m %s: %s\n", tool, mask.c_str(), cores ? "empty core mask" : cores.error().message.c_str());
    return 2;
  }
  auto pool = twin::pool_on(tool, *cores);
  std::atomic<bool> stop{false};
  std::vector<CoreId> ids;
  for (CoreId c : cores->cores()) ids.push_back(c);
  std::vector<std::unique_ptr<Lane>> lanes;
  for (CoreId c : ids) {
    auto lane = std::make_unique<Lane>();
    lane->stop = &stop;
    auto t = pool->spawn(ThreadOptions{.name = fmt::format("event_perf_{}", c.value), .cpumask = CpuSet{c.value},
                                       .ring_size = 4096});
    if (!t) {
      std::fprintf(stderr, "%s: %s\n", tool, t.error().message.c_str());
      return 1;
    }
    lane->self = *t;
    lanes.push_back(std::move(lane));
  }
  for (size_t i = 0; i < lanes.size(); ++i) lanes[i]->next = lanes[(i + 1) % lanes.size()].get();
  std::printf("Running I/O for %ju seconds...\n", static_cast<uintmax_t>(seconds));
  std::fflush(stdout);
  for (auto& l : lanes)
    for (uint64_t q = 0; q < chains; ++q)
      if (!twin::send_while_full(l->self, Hop{l.get()})) {
        std::fprintf(stderr, "%s: could not start a chain on core %u\n", tool, l->self->current_core().value);
        return 1;
      }
  // Counts from the moment every chain is started; the main thread sleeps
  // (it must not take a CPU from the reactors).
  std::vector<uint64_t> start(lanes.size()), cpu0(lanes.size()), cpu1(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) cpu0[i] = pool->reactor_cpu_ns(ids[i]);
  for (size_t i = 0; i < lanes.size(); ++i) start[i] = lanes[i]->count.load(std::memory_order_relaxed);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  std::vector<uint64_t> end(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) end[i] = lanes[i]->count.load(std::memory_order_relaxed);
  for (size_t i = 0; i < lanes.size(); ++i) cpu1[i] = pool->reactor_cpu_ns(ids[i]);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop.store(true, std::memory_order_relaxed);
  for (size_t i = 0; i < lanes.size(); ++i)
    std::printf("lcore %2u: %8ju\n", ids[i].value, static_cast<uintmax_t>(static_cast<double>(end[i] - start[i]) / dt));
  // The steadier figure on a shared machine: per CPU-second of each reactor.
  for (size_t i = 0; i < lanes.size(); ++i) {
    std::printf("lcore %2u ", ids[i].value);
    twin::print_cpu_line(end[i] - start[i], cpu1[i] - cpu0[i], dt, "events");
  }
  pool->stop();
  return 0;
}
