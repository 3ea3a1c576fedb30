// Cross-core messaging against its references, measured in the same run:
//   - raw rte_ring, burst 1, same flags as the LwThread ring (MP RTS / SC),
//     producer pinned to one core, consumer to another;
//   - a cache-line ping-pong between two pinned threads (the floor for any
//     cross-core round trip);
//   - LwThread messages: 1 producer OS thread -> a thread on a polling reactor
//     on another core; 2 producers when the machine has a third CPU;
//   - LwThread round trip: A on core X sends to B on core Y, which answers.
//   - send() that fails on a full ring against a send() that succeeds, both
//     timed in the same iteration (one OS thread, a Manual pool).
//   - interleaved pairs of the raw references and the runtime (see
//     BM_InterleavedRoundTrip): the ratios the targets are read from; and the
//     raw ring round trip echoed by pollers inside the reactor loop against
//     the same between spinning threads (BM_InterleavedReactorRingRoundTrip):
//     how much of the runtime's round trip is the loop, how much the message
//     path.
// Ratios are printed by bench/run_micro.sh from the JSON output.

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <reactor/pool.hh>

#include "thread/ring.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

void pin(unsigned cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

// Pins the benchmark's own thread for one benchmark and restores its
// affinity afterwards: a pool created later validates its cores against the
// process's affinity.
class MainPin {
 public:
  explicit MainPin(unsigned cpu) {
    pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_);
    pin(cpu);
  }
  ~MainPin() { pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_); }
  MainPin(const MainPin&) = delete;
  MainPin& operator=(const MainPin&) = delete;

 private:
  cpu_set_t saved_;
};

unsigned ncpu() { return std::thread::hardware_concurrency(); }

// Raw ring: producer (pinned cpu 0) enqueues burst-1, consumer (cpu 1) dequeues burst-1.
void BM_RawRteRingBurst1(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  void* mem = nullptr;
  auto* r = *detail::create_ring("bench", 4096, sizeof(void*), &mem);
  for (auto _ : state) {
    std::thread consumer([&] {
      pin(1);
      uint64_t got = 0;
      void* obj;
      while (got < n)
        if (detail::ring_dequeue_burst(r, &obj, 1) == 1) ++got;
    });
    MainPin main_pin(0);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i)
      while (detail::ring_enqueue(r, reinterpret_cast<void*>(i + 1)) != 0) {
      }
    consumer.join();
    auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(dt);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  detail::free_ring(mem);
}
BENCHMARK(BM_RawRteRingBurst1)->Arg(1 << 20)->UseManualTime()->Unit(benchmark::kMillisecond);

// Cache-line ping-pong: round trip of one cache line between two cores.
void BM_CacheLinePingPong(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  alignas(64) std::atomic<uint64_t> ball{0};
  for (auto _ : state) {
    ball.store(0);
    std::thread other([&] {
      pin(1);
      for (uint64_t i = 0; i < n; ++i) {
        while (ball.load(std::memory_order_acquire) != 2 * i + 1) {
        }
        ball.store(2 * i + 2, std::memory_order_release);
      }
    });
    MainPin main_pin(0);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      ball.store(2 * i + 1, std::memory_order_release);
      while (ball.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    other.join();
    state.SetIterationTime(dt / static_cast<double>(n));  // seconds per round trip
  }
}
// Per-round-trip manual time: fix the iteration count, or the library would
// keep adding 200k-round-trip iterations to reach its minimum time.
BENCHMARK(BM_CacheLinePingPong)->Arg(200000)->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(3);

// Raw ring round trip: the floor for a ring-based round trip. Two rings with
// the LwThread flags; cpu 0 enqueues a pointer into one and spins on the
// other, cpu 1 echoes. No allocation, no reactor.
// The echo side: `n` times, take one pointer from `in` and put it into `out`.
void raw_echo(rte_ring* in, rte_ring* out, uint64_t n) {
  void* obj;
  for (uint64_t i = 0; i < n; ++i) {
    while (detail::ring_dequeue_burst(in, &obj, 1) != 1) {
    }
    while (detail::ring_enqueue(out, obj) != 0) {
    }
  }
}

// The driving side: `n` round trips through the echo; seconds per round trip.
double raw_round_trips(rte_ring* to_b, rte_ring* to_a, uint64_t n) {
  void* obj;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    while (detail::ring_enqueue(to_b, reinterpret_cast<void*>(i + 1)) != 0) {
    }
    while (detail::ring_dequeue_burst(to_a, &obj, 1) != 1) {
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n);
}

void BM_RawRteRingRoundTrip(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  void* mem_a = nullptr;
  void* mem_b = nullptr;
  auto* to_b = *detail::create_ring("rt_b", 4096, sizeof(void*), &mem_b);
  auto* to_a = *detail::create_ring("rt_a", 4096, sizeof(void*), &mem_a);
  for (auto _ : state) {
    std::thread echo([&] {
      pin(1);
      raw_echo(to_b, to_a, n);
    });
    MainPin main_pin(0);
    const double per_rt = raw_round_trips(to_b, to_a, n);
    echo.join();
    state.SetIterationTime(per_rt);
  }
  detail::free_ring(mem_a);
  detail::free_ring(mem_b);
}
BENCHMARK(BM_RawRteRingRoundTrip)->Arg(200000)->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(3);

std::unique_ptr<ReactorPool> pool_on(CpuSet cores, ReactorMode mode) {
  PoolOptions o;
  o.cores = cores;
  o.baseline = mode;
  auto p = ReactorPool::create(std::move(o));
  if (!p) std::abort();
  return std::move(*p);
}

// LwThread messages: `producers` OS threads (pinned from cpu 0 up) -> one
// LwThread on a polling reactor pinned to the last cpu. Form 0: the message
// captures one pointer (the common `[ctx] {...}` shape, carried inline in the
// ring slot); form 1: it captures three words (a pooled message object).
struct Sink {
  alignas(64) std::atomic<uint64_t> received{0};
  alignas(64) std::atomic<bool> finished{false};
  uint64_t total = 0;
  void deliver() {
    const uint64_t v = received.load(std::memory_order_relaxed) + 1;
    received.store(v, std::memory_order_relaxed);
    if (v == total) {
      finished.store(true, std::memory_order_release);
      finished.notify_one();
    }
  }
};

void BM_LwThreadMessages(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const uint64_t n = static_cast<uint64_t>(state.range(1));
  const bool pooled = state.range(2) != 0;
  if (ncpu() < static_cast<unsigned>(producers) + 1) {
    state.SkipWithError("not measured here: needs producers + 1 CPUs");
    return;
  }
  CoreId sink_core{ncpu() - 1};
  auto pool = pool_on(CpuSet{sink_core.value}, ReactorMode::Poll);
  ThreadOptions to;
  to.name = "sink";
  to.ring_size = 4096;
  ThreadRef sink_thread = *pool->spawn(std::move(to));
  Sink sink;
  sink.total = n * static_cast<uint64_t>(producers);
  Sink* s = &sink;
  for (auto _ : state) {
    sink.received.store(0);
    sink.finished.store(false);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ps;
    for (int p = 0; p < producers; ++p) {
      ps.emplace_back([&, p] {
        pin(static_cast<unsigned>(p));
        for (uint64_t i = 0; i < n; ++i) {
          if (pooled) {
            while (!sink_thread.send([s, i, p] { s->deliver(); (void)i; (void)p; })) {
            }
          } else {
            while (!sink_thread.send([s] { s->deliver(); })) {
            }
          }
        }
      });
    }
    for (auto& t : ps) t.join();
    // Block until the last message runs: this thread must not steal a CPU
    // from the producers or the reactor. Periodic naps are not enough: on 2
    // vCPUs a wake-up every 50-200 us made every message measurably slower.
    sink.finished.wait(false, std::memory_order_acquire);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n * static_cast<uint64_t>(producers)));
  state.SetLabel(pooled ? "pooled object" : "inline");
}
BENCHMARK(BM_LwThreadMessages)
    ->ArgNames({"producers", "n", "pooled"})
    ->Args({1, 1 << 20, 0})
    ->Args({1, 1 << 20, 1})
    ->Args({2, 1 << 20, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Runs `fn` on `t` and waits for it (set-up outside the timed
// window: arming a round-trip chain, pausing and resuming pollers).
// The flag is shared: the waiter may see it set and return before the
// message's notify_one() has run, so the flag must outlive this call.
template <class F>
void on_thread(const ThreadRef& t, F fn) {
  auto ran = std::make_shared<std::atomic<bool>>(false);
  while (!t.send([&fn, ran] {
    fn();
    ran->store(true, std::memory_order_release);
    ran->notify_one();
  })) {
  }
  ran->wait(false, std::memory_order_acquire);
}

// Round trip between two LwThreads: Ping runs on a, counts a round and
// sends the pong to b, which sends the next Ping back. The refs are read by
// both sides on every hop; the counter is written by a on every round:
// separate lines, or the benchmark measures its own false sharing.
struct RtCtx {
  ThreadRef a, b;
  alignas(64) uint64_t left = 0;
  alignas(64) std::atomic<bool> done{false};
};
struct Ping {
  RtCtx* c;
  void operator()() const {
    if (c->left == 0) {
      c->done.store(true, std::memory_order_release);
      c->done.notify_one();
      return;
    }
    --c->left;
    RtCtx* cc = c;
    while (!cc->b.send([cc] { while (!cc->a.send(Ping{cc})) {} })) {
    }
  }
};

// `n` round trips a -> b -> a; seconds per round trip.
double lw_round_trips(RtCtx& ctx, uint64_t n) {
  ctx.done.store(false);
  // left is only touched on thread a; set it there.
  on_thread(ctx.a, [&] { ctx.left = n; });
  auto t0 = std::chrono::steady_clock::now();
  while (!ctx.a.send(Ping{&ctx})) {
  }
  // The benchmark thread blocks until the last hop (no periodic naps: they
  // steal a CPU from the reactors and slowed every hop several times over).
  ctx.done.wait(false, std::memory_order_acquire);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n);
}

// Round trip between two LwThreads on two polling reactors (cpus 0 and 1).
void BM_LwThreadRoundTrip(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  if (ncpu() < 2) {
    state.SkipWithError("not measured here: needs 2 CPUs");
    return;
  }
  auto pool = pool_on(CpuSet{0, 1}, ReactorMode::Poll);
  ThreadRef a = *pool->spawn(ThreadOptions{.name = "a", .cpumask = CpuSet{0}});
  ThreadRef b = *pool->spawn(ThreadOptions{.name = "b", .cpumask = CpuSet{1}});
  RtCtx ctx;
  ctx.a = a;
  ctx.b = b;
  for (auto _ : state) state.SetIterationTime(lw_round_trips(ctx, n));
  pool->stop();
}
BENCHMARK(BM_LwThreadRoundTrip)->Arg(100000)->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(3);

// Interleaved references. On this kind of VM the cost of a cross-core line
// transfer switches between levels from one second to the next (vCPU
// placement on the host), so a reference measured seconds apart from the
// runtime can be 3x off in either direction. These two benchmarks alternate
// short chunks of the raw reference and of the runtime (order ABBA, so a
// drift favours neither) and report the median of the ratios of adjacent
// chunks: `ratio` (runtime / raw: messages per second, or round-trip time).
// While the raw chunk runs the reactors are in Interrupt mode and asleep;
// while the runtime's runs, the raw threads block on a futex: the two never
// compete for a CPU.
namespace interleave {

// Waits until every reactor of `pool` on `cores` is asleep (`asleep`: Interrupt
// mode, nothing to do) or awake and polling; a reactor that does not get
// there within 10 s ends the process with one line (a benchmark must not hang).
void set_modes(ReactorPool& pool, std::initializer_list<uint32_t> cores, bool asleep) {
  for (uint32_t c : cores) (void)pool.set_mode(CoreId{c}, asleep ? ReactorMode::Interrupt : ReactorMode::Poll);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (uint32_t c : cores)
    while (pool.reactor(CoreId{c})->stats().sleeping != asleep) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "message_bench: reactor %u did not %s within 10 s\n", c, asleep ? "fall asleep" : "wake up");
        std::exit(1);
      }
      std::this_thread::sleep_for(asleep ? 50us : 10us);
    }
}
void wait_asleep(ReactorPool& pool, std::initializer_list<uint32_t> cores) { set_modes(pool, cores, true); }
void set_poll(ReactorPool& pool, std::initializer_list<uint32_t> cores) { set_modes(pool, cores, false); }

// A helper OS thread pinned to `cpu` that runs `job` once per go() and
// blocks on a futex in between.
class Worker {
 public:
  Worker(unsigned cpu, std::function<void()> job) : job_(std::move(job)), t_([this, cpu] { loop(cpu); }) {}
  ~Worker() {
    quit_ = true;
    gen_.fetch_add(1);
    gen_.notify_one();
    t_.join();
  }
  void go() {
    done_.store(false);
    gen_.fetch_add(1);
    gen_.notify_one();
  }
  void wait() { done_.wait(false); }

 private:
  void loop(unsigned cpu) {
    pin(cpu);
    uint64_t seen = 0;
    for (;;) {
      gen_.wait(seen);
      seen = gen_.load();
      if (quit_) return;
      job_();
      done_.store(true);
      done_.notify_one();
    }
  }
  std::function<void()> job_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<bool> done_{true};
  std::atomic<bool> quit_{false};
  std::thread t_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Each chunk's figure (raw and runtime) and the runtime / raw ratio of each pair.
struct Pairs {
  std::vector<double> raw, lw, ratio;
};

// `chunks` pairs of a raw chunk and a runtime chunk, in ABBA order.
template <class Raw, class Lw>
Pairs alternate(int chunks, Raw&& raw_chunk, Lw&& lw_chunk) {
  Pairs p;
  for (int c = 0; c < chunks; ++c) {
    double raw, lw;
    if (c % 2 == 0) {
      raw = raw_chunk();
      lw = lw_chunk();
    } else {
      lw = lw_chunk();
      raw = raw_chunk();
    }
    p.raw.push_back(raw);
    p.lw.push_back(lw);
    p.ratio.push_back(lw / raw);
  }
  return p;
}

}  // namespace interleave

// What the interleaved round-trip benchmarks share: an Interrupt pool on cpus
// 0 and 1 with thread a on 0 and b on 1, the two raw rings, the raw echo on a
// worker pinned to cpu 1, and the raw chunk (`per` round trips between
// spinning threads while both reactors sleep).
struct RoundTripRig {
  explicit RoundTripRig(uint64_t n) : per(n), echo(1, [this] { raw_echo(to_b, to_a, per); }) {}
  ~RoundTripRig() {
    pool->stop();
    detail::free_ring(mem_a);
    detail::free_ring(mem_b);
  }
  RoundTripRig(const RoundTripRig&) = delete;
  RoundTripRig& operator=(const RoundTripRig&) = delete;
  double raw_chunk() {
    interleave::wait_asleep(*pool, {0, 1});
    echo.go();
    const double per_rt = raw_round_trips(to_b, to_a, per);
    echo.wait();
    return per_rt;
  }

  std::unique_ptr<ReactorPool> pool = pool_on(CpuSet{0, 1}, ReactorMode::Interrupt);
  ThreadRef a = *pool->spawn(ThreadOptions{.name = "a", .cpumask = CpuSet{0}});
  ThreadRef b = *pool->spawn(ThreadOptions{.name = "b", .cpumask = CpuSet{1}});
  void* mem_a = nullptr;
  void* mem_b = nullptr;
  rte_ring* to_b = *detail::create_ring("rt_b", 4096, sizeof(void*), &mem_b);
  rte_ring* to_a = *detail::create_ring("rt_a", 4096, sizeof(void*), &mem_a);
  uint64_t per;
  interleave::Worker echo;
};

// Both interleaved round-trip benchmarks: args {chunks, round trips per chunk};
// the ABBA alternation of the raw chunk and `other`, reported as the median
// `other` chunk (iteration time), the median ratio other / raw, and both
// medians in ns (`other_ns`: the counter naming the `other` side).
template <class Other>
void run_round_trip_pairs(benchmark::State& state, RoundTripRig& rig, Other&& other, const char* other_ns) {
  const int chunks = static_cast<int>(state.range(0));
  MainPin main_pin(0);
  auto raw_chunk = [&] { return rig.raw_chunk(); };
  for (auto _ : state) {
    const interleave::Pairs p = interleave::alternate(chunks, raw_chunk, other);
    state.SetIterationTime(interleave::median(p.lw));
    state.counters["ratio"] = interleave::median(p.ratio);
    state.counters["raw_ns"] = interleave::median(p.raw) * 1e9;
    state.counters[other_ns] = interleave::median(p.lw) * 1e9;
  }
}

// False (the benchmark skipped, one line) where there are not 2 CPUs.
bool two_cpus(benchmark::State& state) {
  if (ncpu() >= 2) return true;
  state.SkipWithError("not measured here: needs 2 CPUs");
  return false;
}

// Round trip: raw rte_ring (two rings, spinning threads on cpus 0 and 1)
// against LwThreads a (cpu 0) and b (cpu 1) on polling reactors, alternating
// chunks of `per` round trips. ratio = LwThread round trip / raw round trip.
void BM_InterleavedRoundTrip(benchmark::State& state) {
  if (!two_cpus(state)) return;
  const uint64_t per = static_cast<uint64_t>(state.range(1));
  RoundTripRig rig(per);
  RtCtx ctx;
  ctx.a = rig.a;
  ctx.b = rig.b;
  run_round_trip_pairs(
      state, rig,
      [&] {
        interleave::set_poll(*rig.pool, {0, 1});
        return lw_round_trips(ctx, per);
      },
      "lw_ns");
}
BENCHMARK(BM_InterleavedRoundTrip)->Args({21, 20000})->UseManualTime()->Unit(benchmark::kNanosecond)->Iterations(1);

// Where the round trip's extra time goes: the same raw rings, echoed by active
// pollers of LwThreads a (cpu 0) and b (cpu 1) on polling reactors instead of
// by two spinning OS threads. No message, no send(): a's poller enqueues a
// pointer into to_b and waits (in later passes) for it in to_a; b's poller
// echoes. ratio = (raw ring round trip inside the reactor loop) / (raw ring
// round trip between spinning threads): the part of the runtime's round trip
// that is the reactor loop; BM_InterleavedRoundTrip's ratio over this one is
// the part that is the message path (send, the thread's ring, the call).
struct PollerEcho {
  rte_ring* to_b = nullptr;
  rte_ring* to_a = nullptr;
  alignas(128) uint64_t left = 0;  // a's poller only
  bool pending = false;            // a's poller only
  alignas(128) std::atomic<bool> done{false};
  PollerId pa{}, pb{};
};

void BM_InterleavedReactorRingRoundTrip(benchmark::State& state) {
  if (!two_cpus(state)) return;
  const uint64_t per = static_cast<uint64_t>(state.range(1));
  RoundTripRig rig(per);
  const ThreadRef& a = rig.a;
  const ThreadRef& b = rig.b;
  PollerEcho e;
  e.to_b = rig.to_b;
  e.to_a = rig.to_a;
  PollerEcho* ep = &e;
  on_thread(a, [ep] {
    ep->pa = *current_thread()->register_poller("ring_driver", [ep] {
      void* obj;
      if (ep->left == 0) return PollStatus::Idle;
      if (!ep->pending) {
        while (detail::ring_enqueue(ep->to_b, reinterpret_cast<void*>(ep->left)) != 0) {
        }
        ep->pending = true;
        return PollStatus::Busy;
      }
      if (detail::ring_dequeue_burst(ep->to_a, &obj, 1) != 1) return PollStatus::Idle;
      ep->pending = false;
      if (--ep->left == 0) {
        ep->done.store(true, std::memory_order_release);
        ep->done.notify_one();
      }
      return PollStatus::Busy;
    });
    (void)current_thread()->pause_poller(ep->pa);
  });
  on_thread(b, [ep] {
    ep->pb = *current_thread()->register_poller("ring_echo", [ep] {
      void* obj;
      if (detail::ring_dequeue_burst(ep->to_b, &obj, 1) != 1) return PollStatus::Idle;
      while (detail::ring_enqueue(ep->to_a, obj) != 0) {
      }
      return PollStatus::Busy;
    });
    (void)current_thread()->pause_poller(ep->pb);
  });
  auto reactor_chunk = [&] {
    interleave::set_poll(*rig.pool, {0, 1});
    on_thread(b, [ep] { (void)current_thread()->resume_poller(ep->pb); });
    on_thread(a, [ep] {
      ep->left = 0;  // armed below, once the clock runs
      ep->pending = false;
      (void)current_thread()->resume_poller(ep->pa);
    });
    e.done.store(false);
    auto t0 = std::chrono::steady_clock::now();
    while (!a.send([ep, per] { ep->left = per; })) {
    }
    e.done.wait(false, std::memory_order_acquire);
    const double per_rt =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(per);
    on_thread(a, [ep] { (void)current_thread()->pause_poller(ep->pa); });
    on_thread(b, [ep] { (void)current_thread()->pause_poller(ep->pb); });
    return per_rt;
  };
  run_round_trip_pairs(state, rig, reactor_chunk, "reactor_ns");
}
BENCHMARK(BM_InterleavedReactorRingRoundTrip)
    ->Args({21, 20000})
    ->UseManualTime()
    ->Unit(benchmark::kNanosecond)
    ->Iterations(1);

// Throughput: 1 producer on cpu 0 -> raw rte_ring burst-1 consumer on cpu 1,
// against the same producer -> an LwThread on a polling reactor on cpu 1
// (one-pointer inline message), alternating chunks of `per` messages.
// ratio = LwThread messages per second / raw messages per second.
void BM_InterleavedMessages(benchmark::State& state) {
  if (!two_cpus(state)) return;
  const int chunks = static_cast<int>(state.range(0));
  const uint64_t per = static_cast<uint64_t>(state.range(1));
  auto pool = pool_on(CpuSet{1}, ReactorMode::Interrupt);
  ThreadOptions to;
  to.name = "sink";
  to.ring_size = 4096;
  ThreadRef sink_thread = *pool->spawn(std::move(to));
  Sink sink;
  sink.total = per;
  Sink* s = &sink;
  void* mem = nullptr;
  auto* r = *detail::create_ring("bench", 4096, sizeof(void*), &mem);
  interleave::Worker consumer(1, [&] {
    uint64_t got = 0;
    void* obj;
    while (got < per)
      if (detail::ring_dequeue_burst(r, &obj, 1) == 1) ++got;
  });
  MainPin main_pin(0);
  auto raw_chunk = [&] {
    interleave::wait_asleep(*pool, {1});
    auto t0 = std::chrono::steady_clock::now();
    consumer.go();
    for (uint64_t i = 0; i < per; ++i)
      while (detail::ring_enqueue(r, reinterpret_cast<void*>(i + 1)) != 0) {
      }
    consumer.wait();
    return static_cast<double>(per) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto lw_chunk = [&] {
    interleave::set_poll(*pool, {1});
    sink.received.store(0);
    sink.finished.store(false);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < per; ++i)
      while (!sink_thread.send([s] { s->deliver(); })) {
      }
    sink.finished.wait(false, std::memory_order_acquire);
    return static_cast<double>(per) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (auto _ : state) {
    const interleave::Pairs p = interleave::alternate(chunks, raw_chunk, lw_chunk);
    state.SetIterationTime(static_cast<double>(per) / interleave::median(p.lw));
    state.counters["ratio"] = interleave::median(p.ratio);
    state.counters["raw_mps"] = interleave::median(p.raw) * 1e-6;
    state.counters["lw_mps"] = interleave::median(p.lw) * 1e-6;
  }
  pool->stop();
  detail::free_ring(mem);
}
BENCHMARK(BM_InterleavedMessages)->Args({21, 262144})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

// One run_once on a Manual pool hosting one thread with `n` idle active pollers.
void BM_RunOnceIdlePollers(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  ManualClock clock;
  PoolOptions o;
  o.cores = CpuSet{0};
  o.topology = Topology::flat(1);
  o.launch = Launch::Manual;
  o.clock = &clock;
  auto pool = std::move(*ReactorPool::create(std::move(o)));
  (void)*pool->spawn(ThreadOptions{.name = "idle"}, [n] {
    for (int i = 0; i < n; ++i) (void)current_thread()->register_poller("idle", [] { return PollStatus::Idle; });
  });
  Reactor& r = *pool->reactor(CoreId{0});
  for (int i = 0; i < 4; ++i) r.run_once(clock.now());
  for (auto _ : state) benchmark::DoNotOptimize(r.run_once(clock.now()));
  state.counters["ns_per_poller"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  pool->stop(0ms);
}
BENCHMARK(BM_RunOnceIdlePollers)->Arg(1)->Arg(100)->Arg(10000);

// The cost of a send() that fails because the ring is full, next to the cost
// of one that succeeds, timed in the same iteration: a producer told
// Errc::full retries, and each retry must cost about what a send costs, not
// a formatted message. One OS thread, a Manual pool (no reactor thread): the
// bench thread fills the ring (ring path: it is not a reactor), then sends
// into the full ring, then drains it with run_once (not timed).
void BM_SendToFullRing(benchmark::State& state) {
  const uint32_t ring = static_cast<uint32_t>(state.range(0));
  const uint32_t capacity = ring - 1;
  ManualClock clock;
  PoolOptions o;
  o.cores = CpuSet{0};
  o.topology = Topology::flat(1);
  o.launch = Launch::Manual;
  o.clock = &clock;
  auto pool = std::move(*ReactorPool::create(std::move(o)));
  ThreadOptions to;
  to.name = "full_ring_target";
  to.ring_size = ring;
  ThreadRef t = *pool->spawn(std::move(to));
  Reactor& r = *pool->reactor(CoreId{0});
  for (int i = 0; i < 4; ++i) r.run_once(clock.now());
  uint64_t ran = 0;
  uint64_t* ranp = &ran;
  double ok_s = 0;
  double full_s = 0;
  uint64_t rounds = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < capacity; ++i)
      if (!t.send([ranp] { ++*ranp; })) std::abort();  // the ring had room
    auto t1 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < capacity; ++i) {
      auto res = t.send([ranp] { ++*ranp; });
      if (res || res.error().code != Errc::full) std::abort();  // the ring was full
      benchmark::DoNotOptimize(res);
    }
    auto t2 = std::chrono::steady_clock::now();
    const double ok = std::chrono::duration<double>(t1 - t0).count();
    const double full = std::chrono::duration<double>(t2 - t1).count();
    ok_s += ok;
    full_s += full;
    ++rounds;
    state.SetIterationTime(ok + full);
    while (ran < rounds * capacity) r.run_once(clock.now());
  }
  if (ran != rounds * capacity) std::abort();  // a failed send queued something
  const double n = static_cast<double>(rounds) * capacity;
  state.counters["ok_ns"] = ok_s / n * 1e9;
  state.counters["full_ns"] = full_s / n * 1e9;
  state.counters["full_over_ok"] = full_s / ok_s;
  pool->stop(0ms);
}
BENCHMARK(BM_SendToFullRing)->Arg(4096)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
