// Pass timing on a real polling reactor (reactor.cc, "Cycle-timed passes"):
// where the clock is CLOCK_MONOTONIC, a reactor polling one thread with
// nothing else to do times its passes with the cycle counter and reads the
// clock once per span. These pin what must not change with it: an idle
// thread is never charged busy, an always-busy one never idle, messages
// arriving between idle passes run exactly once, in order, and are charged
// busy, and leaving the cycle-timed path (a timed poller, a stop) works.
// Waits are bounded loops on what the reactor did, never on elapsed time.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <reactor/pool.hh>

using namespace reactor;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ReactorPool> polling_pool() {
  PoolOptions o;
  const unsigned n = std::thread::hardware_concurrency();
  o.cores = CpuSet{n > 1 ? n - 1 : 0};
  o.baseline = ReactorMode::Poll;
  auto p = ReactorPool::create(std::move(o));
  if (!p) ADD_FAILURE() << p.error().message;
  return p ? std::move(*p) : nullptr;
}

// Waits (bounded, 30 s) until `done`; false on timeout.
template <class F>
bool wait_until(F&& done) {
  for (int i = 0; i < 30000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

}  // namespace

TEST(PassTiming, IdleThreadIsNeverChargedBusyAndBusyThreadNeverIdle) {
  auto pool = polling_pool();
  ASSERT_TRUE(pool);
  ThreadRef idle = *pool->spawn(ThreadOptions{.name = "idle"});
  std::atomic<bool> registered{false};
  ThreadRef busy = *pool->spawn(ThreadOptions{.name = "busy"}, [&] {
    (void)current_thread()->register_poller("spin", [] { return PollStatus::Busy; });
    registered = true;
  });
  ASSERT_TRUE(wait_until([&] { return registered.load() && idle->stats().idle > 1'000'000; }));
  const ThreadStats b0 = busy->stats();
  const uint64_t i0 = idle->stats().idle;
  ASSERT_TRUE(wait_until([&] { return idle->stats().idle > i0 + 2'000'000 && busy->stats().busy > b0.busy; }));
  // Two threads on one reactor take the clock-timed path; with the busy one
  // gone, the idle thread is alone (cycle-timed) again.
  EXPECT_EQ(idle->stats().busy, 0u);
  const ThreadStats b1 = busy->stats();
  EXPECT_GT(b1.busy, b0.busy);
  ASSERT_TRUE(busy.send([] { current_thread()->exit(); }));
  ASSERT_TRUE(wait_until([&] { return busy->state() == ThreadState::Exited; }));
  const uint64_t idle_before = idle->stats().idle;
  ASSERT_TRUE(wait_until([&] { return idle->stats().idle > idle_before + 1'000'000; }));
  EXPECT_EQ(idle->stats().busy, 0u) << "an idle thread alone on its reactor was charged busy";
  pool->stop();
}

TEST(PassTiming, AloneAlwaysBusyThreadIsNeverChargedIdle) {
  auto pool = polling_pool();
  ASSERT_TRUE(pool);
  std::atomic<bool> registered{false};
  ThreadRef busy = *pool->spawn(ThreadOptions{.name = "busy"}, [&] {
    (void)current_thread()->register_poller("spin", [] { return PollStatus::Busy; });
    registered = true;
  });
  ASSERT_TRUE(wait_until([&] { return registered.load() && busy->stats().busy > 1'000'000; }));
  const ThreadStats s0 = busy->stats();
  ASSERT_TRUE(wait_until([&] { return busy->stats().busy > s0.busy + 2'000'000; }));
  EXPECT_EQ(busy->stats().idle, s0.idle) << "a thread whose every poll did work was charged idle";
  pool->stop();
}

TEST(PassTiming, MessagesBetweenIdlePassesRunOnceInOrderAndAreChargedBusy) {
  auto pool = polling_pool();
  ASSERT_TRUE(pool);
  ThreadRef t = *pool->spawn(ThreadOptions{.name = "sink", .ring_size = 1024});
  ASSERT_TRUE(wait_until([&] { return t->stats().idle > 1'000'000; }));
  ASSERT_EQ(t->stats().busy, 0u);
  constexpr uint64_t kMessages = 20000;
  struct Sink {
    uint64_t next = 0;
    uint64_t out_of_order = 0;
    std::atomic<uint64_t> ran{0};
  } sink;
  for (uint64_t i = 0; i < kMessages; ++i) {
    struct Msg {
      Sink* s;
      uint64_t seq;
      void operator()() const {
        if (seq != s->next) ++s->out_of_order;
        s->next = seq + 1;
        s->ran.fetch_add(1, std::memory_order_release);
      }
    };
    while (!t.send(Msg{&sink, i})) std::this_thread::yield();
    if (i % 64 == 0) std::this_thread::sleep_for(10us);  // let idle passes run in between
  }
  ASSERT_TRUE(wait_until([&] { return sink.ran.load(std::memory_order_acquire) == kMessages; }));
  ASSERT_TRUE(wait_until([&] { return t->stats().messages == kMessages; }));
  EXPECT_EQ(sink.out_of_order, 0u);
  EXPECT_EQ(sink.ran.load(), kMessages);
  // Charged once the span that ran them closes (at most 64 passes later).
  ASSERT_TRUE(wait_until([&] { return t->stats().busy > 0; })) << "passes that ran messages were not charged busy";
  pool->stop();
}

TEST(PassTiming, TimedPollerLeavesTheCycleTimedPathAndRuns) {
  auto pool = polling_pool();
  ASSERT_TRUE(pool);
  ThreadRef t = *pool->spawn(ThreadOptions{.name = "timer"});
  ASSERT_TRUE(wait_until([&] { return t->stats().idle > 1'000'000; }));
  std::atomic<int> runs{0};
  ASSERT_TRUE(t.send([&] {
    (void)current_thread()->register_poller("tick", [&] {
      runs.fetch_add(1);
      return PollStatus::Busy;
    }, 100us);
  }));
  ASSERT_TRUE(wait_until([&] { return runs.load() >= 20; }));
  pool->stop();
  const ThreadStats s = t->stats();
  EXPECT_GT(s.busy, 0u);
  EXPECT_GT(s.idle, 0u);
}
