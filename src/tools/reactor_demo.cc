// reactor-demo: the smallest complete use of the runtime. Starts a reactor per
// core, spawns lightweight threads with pollers, passes messages around a
// ring of threads, moves every thread to another core mid-flight, then prints
// per-reactor and per-thread statistics. Exit code 0 when every message
// arrived exactly once.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <reactor/pool.hh>

using namespace reactor;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  std::string mask = argc > 1 ? argv[1] : "";
  auto topo = Topology::discover();
  if (!topo) {
    fmt::print(stderr, "reactor-demo: {}\n", topo.error().message);
    return 1;
  }
  PoolOptions o;
  o.topology = *topo;
  if (mask.empty()) {
    o.cores = topo->all();
  } else {
    auto c = CpuSet::parse(mask);
    if (!c) {
      fmt::print(stderr, "reactor-demo: {}\n", c.error().message);
      return 2;
    }
    o.cores = *c;
  }
  o.baseline = ReactorMode::Interrupt;  // idle reactors sleep
  auto pool_r = ReactorPool::create(std::move(o));
  if (!pool_r) {
    fmt::print(stderr, "reactor-demo: {}\n", pool_r.error().message);
    return 1;
  }
  ReactorPool& pool = **pool_r;
  fmt::print("reactor-demo: {} reactors on cores {} ({})\n", pool.reactors().size(), pool.cores().to_list(),
             pool.topology().describe());

  constexpr int kThreads = 8;
  constexpr int kHops = 20000;
  std::vector<ThreadRef> ring;
  std::atomic<uint64_t> timer_runs{0};
  for (int i = 0; i < kThreads; ++i) {
    auto t = pool.spawn(ThreadOptions{.name = fmt::format("worker_{}", i)}, [&timer_runs] {
      (void)current_thread()->register_poller("heartbeat", [&timer_runs] {
        timer_runs.fetch_add(1, std::memory_order_relaxed);
        return PollStatus::Busy;
      }, 10ms);
    });
    if (!t) {
      fmt::print(stderr, "reactor-demo: spawn: {}\n", t.error().message);
      return 1;
    }
    ring.push_back(*t);
  }

  // A token travels around the ring of threads kHops times.
  std::atomic<int> hops{0};
  std::function<void(int)> pass = [&](int at) {
    if (hops.fetch_add(1) + 1 >= kHops) return;
    int next = (at + 1) % kThreads;
    for (;;) {
      auto r = ring[next].send([&pass, next] { pass(next); });
      if (r) break;
      std::this_thread::yield();
    }
  };
  auto start = std::chrono::steady_clock::now();
  (void)ring[0].send([&pass] { pass(0); });

  // Meanwhile move every thread to the next core, twice.
  auto cores = pool.cores().cores();
  uint64_t moved = 0;
  for (int round = 0; round < 2; ++round) {
    for (auto& t : ring) {
      CoreId to = cores[(t->current_core().value + 1) % cores.size()];
      auto tk = pool.move(t.id(), cores.size() > 1 ? to : t->current_core());
      if (tk && pool.wait_for([&] { return (*tk)->done(); }, 5s) && (*tk)->result == MoveResult::Landed) ++moved;
    }
  }
  bool ok = pool.wait_for([&] { return hops.load() >= kHops; }, 30s);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(100ms);

  fmt::print("token hops: {} of {} in {:.3f} s ({:.0f} hops/s); moves landed: {}; heartbeat runs: {}\n",
             hops.load(), kHops, secs, hops.load() / secs, moved, timer_runs.load());
  fmt::print("\n{:>6} {:>8} {:>12} {:>12} {:>12} {:>8} {:>10}\n", "core", "threads", "busy_ticks", "idle_ticks",
             "sleep_ticks", "wakeups", "cpu_ms");
  for (auto& r : pool.reactors()) {
    auto s = r->stats();
    fmt::print("{:>6} {:>8} {:>12} {:>12} {:>12} {:>8} {:>10.1f}\n", s.core.value, s.thread_count, s.busy, s.idle,
               s.sleep, s.wakeups, pool.reactor_cpu_ns(s.core) / 1e6);
  }
  fmt::print("\n{:>4} {:<10} {:>5} {:>5} {:>10} {:>12} {:>12}\n", "id", "name", "home", "core", "messages",
             "busy_ticks", "idle_ticks");
  for (auto& t : pool.threads()) {
    auto s = t->stats();
    fmt::print("{:>4} {:<10} {:>5} {:>5} {:>10} {:>12} {:>12}\n", s.id.value, s.name, s.home.value, s.core.value,
               s.messages, s.busy, s.idle);
  }
  auto rep = pool.stop();
  fmt::print("\nstopped: {} threads exited, {} stragglers\n", rep.exited, rep.stragglers.size());
  return ok && rep.stragglers.empty() ? 0 : 1;
}
