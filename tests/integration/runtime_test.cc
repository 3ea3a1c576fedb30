// Real reactors on real OS threads (this machine's CPUs): exactly-once
// delivery under moves, sleeping reactors' CPU use and wake-ups.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <reactor/pool.hh>

#include "support/real_pool.hh"
#include "support/scale.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

// Up to two real reactors (this suite must pass on 2 vCPUs), a long max_sleep.
using reactor::test::make_pool;

using reactor::test::eventually;

}  // namespace

struct MoveState {
  uint64_t next[2] = {0, 0};
  uint64_t received = 0;
  uint64_t order_errors = 0;

  void deliver(int p, uint64_t i) {
    if (next[p] != i) ++order_errors;
    next[p] = i + 1;
    ++received;
  }
};
// Inline messages carry one word: they reach the state through a global.
MoveState* g_move_state = nullptr;

// 1,000,000 messages from two producer OS threads to one LwThread that is
// moved between reactors 10,000 times meanwhile: each delivered exactly once,
// per-producer order kept. Each producer alternates the two message forms
// (inline in the ring slot, and a pooled object), so order holds across both.
TEST(Runtime, ExactlyOnceWhileMoving) {
  auto pool = make_pool(ReactorMode::Interrupt);
  const uint64_t per_producer = test::scaled(500'000);
  const uint64_t moves = test::scaled(10'000);
  using State = MoveState;
  auto st = std::make_shared<State>();
  g_move_state = st.get();
  ThreadOptions opts;
  opts.name = "sink";
  opts.ring_size = 1 << 14;
  auto sink = pool->spawn(std::move(opts));
  ASSERT_TRUE(sink) << sink.error().message;
  ThreadRef t = *sink;

  std::atomic<bool> producing{true};
  std::atomic<uint64_t> full_retries{0};
  auto producer = [&](int p) {
    for (uint64_t i = 0; i < per_producer; ++i) {
      for (;;) {
        Result<void> r;
        if (i % 2 == 0) {
          r = t.send([st, p, i] { st->deliver(p, i); });  // three words: a pooled object
        } else {
          const uint64_t word = (static_cast<uint64_t>(p) << 48) | i;
          auto one_word = [word] { g_move_state->deliver(static_cast<int>(word >> 48), word & ((1ull << 48) - 1)); };
          static_assert(detail::kInlineMessage<decltype(one_word)>);
          r = t.send(one_word);  // inline in the ring slot
        }
        if (r) break;
        ASSERT_EQ(r.error().code, Errc::full) << r.error().message;
        full_retries.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();
      }
    }
  };
  uint64_t landed = 0, skipped = 0;
  std::thread mover([&] {
    auto cores = pool->cores().cores();
    for (uint64_t m = 0; m < moves; ++m) {
      CoreId to = cores[m % cores.size()];
      auto tk = pool->move(t.id(), to);
      ASSERT_TRUE(tk) << tk.error().message;
      ASSERT_TRUE(eventually([&] { return (*tk)->done(); }, 10s)) << "move " << m << " never acknowledged";
      ((*tk)->result.load() == MoveResult::Landed ? landed : skipped)++;
    }
    producing.store(false);
  });
  std::thread p0(producer, 0), p1(producer, 1);
  p0.join();
  p1.join();
  mover.join();
  // Read the counters on the thread itself (no data race with the sink).
  std::atomic<uint64_t> received{0}, errors{0}, n0{0}, n1{0};
  std::atomic<bool> read{false};
  ASSERT_TRUE(eventually([&] {
    if (read.exchange(false) && received.load() == 2 * per_producer) return true;
    (void)t.send([&, st] {
      received = st->received;
      errors = st->order_errors;
      n0 = st->next[0];
      n1 = st->next[1];
      read = true;
    });
    std::this_thread::sleep_for(5ms);
    return false;
  }, 60s));
  EXPECT_EQ(received.load(), 2 * per_producer);
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(n0.load(), per_producer);
  EXPECT_EQ(n1.load(), per_producer);
  EXPECT_EQ(landed + skipped, moves);
  EXPECT_GT(landed, moves / 2);
  RecordProperty("full_retries", static_cast<int>(full_retries.load()));
  auto rep = pool->stop();
  EXPECT_TRUE(rep.stragglers.empty());
}

// An idle reactor in Interrupt mode sleeps: < 5 % of a CPU over 1 s,
// measured from its OS thread's own CPU clock.
TEST(Runtime, SleepingReactorBurnsAlmostNoCpu) {
  auto pool = make_pool(ReactorMode::Interrupt);
  // A thread with only a slow timed poller: the reactor hosts a thread yet sleeps.
  auto t = pool->spawn(ThreadOptions{.name = "slow"}, [] {
    (void)current_thread()->register_poller("slow", [] { return PollStatus::Idle; }, 200ms);
  });
  ASSERT_TRUE(t);
  CoreId c = (*t)->home_core();
  ASSERT_TRUE(eventually([&] { return pool->reactor(c)->stats().sleeping; }));
  uint64_t cpu0 = pool->reactor_cpu_ns(c);
  auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1s);
  uint64_t cpu1 = pool->reactor_cpu_ns(c);
  auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - w0).count();
  double pct = 100.0 * static_cast<double>(cpu1 - cpu0) / static_cast<double>(wall);
  RecordProperty("sleeping_reactor_cpu_pct_x1000", static_cast<int>(pct * 1000));
  EXPECT_LT(pct, 5.0) << "sleeping reactor used " << pct << "% of a CPU";
  EXPECT_GT(pool->reactor(c)->stats().sleep, 0u);
}

TEST(Runtime, SleepingReactorWakesForMessageMoveAndTimer) {
  auto pool = make_pool(ReactorMode::Interrupt);
  if (pool->cores().count() < 2) GTEST_SKIP() << "needs two cores";
  auto cores = pool->cores().cores();
  auto a = *pool->spawn(ThreadOptions{.name = "a", .cpumask = pool->cores(), .home = cores[0]});
  ASSERT_TRUE(eventually([&] { return pool->reactor(cores[0])->stats().sleeping; }));
  // 1. a message wakes it
  std::atomic<int> got{0};
  ASSERT_TRUE(a.send([&] { got = 1; }));
  ASSERT_TRUE(eventually([&] { return got.load() == 1; }, 10s));
  // 2. a move onto the sleeping core 1 wakes core 1
  ASSERT_TRUE(eventually([&] { return pool->reactor(cores[1])->stats().sleeping; }));
  auto tk = pool->move(a.id(), cores[1]);
  ASSERT_TRUE(tk);
  ASSERT_TRUE(eventually([&] { return (*tk)->done(); }, 10s));
  EXPECT_EQ((*tk)->result.load(), MoveResult::Landed);
  ASSERT_TRUE(a.send([&] { got = current_thread()->current_core().value + 10; }));
  ASSERT_TRUE(eventually([&] { return got.load() == static_cast<int>(cores[1].value) + 10; }, 10s));
  // 3. a timer wakes it: 50 ms poller on a sleeping reactor runs several times
  std::atomic<int> ticks{0};
  ASSERT_TRUE(a.send([&] {
    (void)current_thread()->register_poller("t", [&] { ++ticks; return PollStatus::Busy; }, 50ms);
  }));
  ASSERT_TRUE(eventually([&] { return ticks.load() >= 3; }, 10s));
  EXPECT_GT(pool->reactor(cores[1])->stats().wakeups, 0u);
  pool->stop();
}

TEST(Runtime, ReactorsArePinnedAndNamed) {
  auto pool = make_pool(ReactorMode::Interrupt);
  for (auto& r : pool->reactors()) {
    uint64_t tid = r->stats().tid;
    ASSERT_NE(tid, 0u);
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/task/%llu/comm", static_cast<unsigned long long>(tid));
    FILE* f = std::fopen(path, "r");
    ASSERT_NE(f, nullptr);
    char name[32] = {};
    ASSERT_NE(std::fgets(name, sizeof name, f), nullptr);
    std::fclose(f);
    EXPECT_EQ(std::string(name), "reactor_" + std::to_string(r->core().value) + "\n");
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(static_cast<pid_t>(tid), sizeof set, &set), 0);
    EXPECT_EQ(CPU_COUNT(&set), 1);
    EXPECT_TRUE(CPU_ISSET(r->core().value, &set));
  }
}

TEST(Runtime, PollModeSpawnSendStop) {
  auto pool = make_pool(ReactorMode::Poll);
  std::atomic<int> n{0};
  std::vector<ThreadRef> ts;
  for (int i = 0; i < 8; ++i) ts.push_back(*pool->spawn(ThreadOptions{}));
  for (auto& t : ts)
    for (int k = 0; k < 100; ++k) ASSERT_TRUE(t.send([&] { n.fetch_add(1); }));
  ASSERT_TRUE(eventually([&] { return n.load() == 800; }));
  auto rep = pool->stop();
  EXPECT_EQ(rep.exited, 8u);
  EXPECT_TRUE(rep.stragglers.empty());
}

// Sends racing a thread's exit, through the ring: a send that returned
// success ran exactly once, and a send that failed with Errc::exited never
// ran. Three producer OS threads send to T (a 64-slot ring, so full rings
// and retries happen too) while T exits from a message of its own; a fresh T
// each round, the exit sent after a delay that varies by round so the exit
// lands at different points of the producers' sends.
TEST(Runtime, SendsRacingExitRunExactlyWhenAccepted) {
  auto pool = make_pool(ReactorMode::Poll);
  const int rounds = static_cast<int>(reactor::test::scaled(150));
  for (int round = 0; round < rounds; ++round) {
    struct Counts {
      std::atomic<uint64_t> ran{0};
      std::atomic<uint64_t> accepted{0};
      std::atomic<bool> retired{false};
    };
    auto counts = std::make_shared<Counts>();
    Counts* c = counts.get();
    ThreadOptions o;
    o.name = "target";
    o.ring_size = 64;
    o.on_exit = [c] { c->retired.store(true); };
    auto spawned = pool->spawn(std::move(o));
    ASSERT_TRUE(spawned) << spawned.error().message;
    ThreadRef t = *spawned;
    std::atomic<int> started{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < 3; ++p) {
      producers.emplace_back([&, c] {
        started.fetch_add(1);
        for (;;) {
          auto r = t.send([c] { c->ran.fetch_add(1, std::memory_order_relaxed); });
          if (r) {
            c->accepted.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          if (r.error().code == Errc::exited) return;
          ASSERT_EQ(r.error().code, Errc::full) << r.error().message;
        }
      });
    }
    while (started.load() < 3) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds((round % 20) * 25));
    for (;;) {
      auto r = t.send([] { current_thread()->exit(); });
      if (r) break;
      ASSERT_EQ(r.error().code, Errc::full) << r.error().message;
    }
    for (auto& p : producers) p.join();
    ASSERT_TRUE(eventually([&] { return c->retired.load(); })) << "round " << round;
    ASSERT_EQ(c->ran.load(), c->accepted.load()) << "round " << round << ": accepted sends that never ran";
  }
  EXPECT_TRUE(pool->stop().stragglers.empty());
}

// The reactor-local queue under real moves: thread a streams numbered
// messages to b and a chain of numbered messages to itself, an outside OS
// thread streams to b through the ring, and a mover moves a and b between
// the two reactors meanwhile, so each of a's messages to b goes local (same
// reactor, ring idle) or through the ring depending on where both are at that
// instant. Every message runs exactly once and each sender's order holds.
namespace {
struct LocalMoveState {
  // Written only on the thread that owns the field (a or b); atomics so the
  // test thread can read them at the end.
  std::atomic<uint64_t> self_next{0}, self_errors{0};
  std::atomic<uint64_t> from_a_next{0}, from_out_next{0}, b_errors{0};
  uint64_t sent_to_b = 0;  // a only
  uint64_t total = 0;
  ThreadRef a, b;
  std::atomic<uint64_t> full_retries{0};
  std::atomic<uint64_t> chain_end{0};  // the last self seq + 1, once the chain stopped
};
LocalMoveState* g_local = nullptr;

void on_b(uint64_t word) {
  auto& s = *g_local;
  auto& next = (word >> 63) != 0 ? s.from_out_next : s.from_a_next;
  const uint64_t seq = word & ~(1ull << 63);
  if (next.load(std::memory_order_relaxed) != seq) s.b_errors.fetch_add(1, std::memory_order_relaxed);
  next.store(seq + 1, std::memory_order_relaxed);
}

void pump(uint64_t self_seq) {
  auto& s = *g_local;
  if (s.self_next.load(std::memory_order_relaxed) != self_seq) s.self_errors.fetch_add(1, std::memory_order_relaxed);
  s.self_next.store(self_seq + 1, std::memory_order_relaxed);
  for (int k = 0; k < 8 && s.sent_to_b < s.total; ++k) {
    const uint64_t seq = s.sent_to_b;
    if (!s.b.send([seq] { on_b(seq); })) {
      s.full_retries.fetch_add(1, std::memory_order_relaxed);
      break;  // b's ring is full: let it drain (it may be on this reactor)
    }
    ++s.sent_to_b;
  }
  if (s.sent_to_b < s.total || self_seq < s.total) {
    const uint64_t next = self_seq + 1;
    auto r = s.a.send([next] { pump(next); });
    if (!r) s.self_errors.fetch_add(1000000, std::memory_order_relaxed);  // a chain of one never fills a ring
  } else {
    s.chain_end.store(self_seq + 1, std::memory_order_relaxed);
  }
}
}  // namespace

TEST(Runtime, LocalQueueKeepsOrderAndExactlyOnceWhileMoving) {
  auto pool = make_pool(ReactorMode::Interrupt);
  if (pool->cores().cores().size() < 2) GTEST_SKIP() << "needs two cores";
  const uint64_t n = test::scaled(200'000);
  const uint64_t moves = test::scaled(4'000);
  auto st = std::make_unique<LocalMoveState>();
  g_local = st.get();
  st->total = n;
  auto cores = pool->cores().cores();
  auto a = pool->spawn(ThreadOptions{.name = "a", .home = cores[0], .ring_size = 1 << 10});
  auto b = pool->spawn(ThreadOptions{.name = "b", .home = cores[0], .ring_size = 1 << 10});
  ASSERT_TRUE(a && b);
  st->a = *a;
  st->b = *b;
  std::atomic<bool> stop_moving{false};
  std::thread mover([&] {
    for (uint64_t m = 0; m < moves && !stop_moving.load(); ++m) {
      ThreadRef who = m % 3 == 0 ? st->a : st->b;
      auto tk = pool->move(who.id(), cores[(m / 2) % 2]);
      ASSERT_TRUE(tk) << tk.error().message;
      ASSERT_TRUE(eventually([&] { return (*tk)->done(); }, 10s)) << "move " << m << " never acknowledged";
    }
  });
  ASSERT_TRUE(st->a.send([] { pump(0); }));
  // The outside sender: ring path always (not on a reactor).
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t word = i | (1ull << 63);
    while (!st->b.send([word] { on_b(word); })) std::this_thread::yield();
  }
  const bool finished = eventually([&] {
    return st->from_a_next.load() == n && st->from_out_next.load() == n && st->chain_end.load() != 0;
  }, 120s);
  stop_moving = true;
  mover.join();
  ASSERT_TRUE(finished) << "from a " << st->from_a_next.load() << ", from outside " << st->from_out_next.load()
                        << ", self " << st->self_next.load();
  EXPECT_EQ(st->self_next.load(), st->chain_end.load());
  EXPECT_GE(st->chain_end.load(), n + 1);
  EXPECT_EQ(st->b_errors.load(), 0u);
  EXPECT_EQ(st->self_errors.load(), 0u);
  RecordProperty("full_retries", static_cast<int>(st->full_retries.load()));
  auto rep = pool->stop();
  EXPECT_TRUE(rep.stragglers.empty());
  g_local = nullptr;
}
