// Coroutines on lightweight threads with real reactors on real OS threads:
// results and exceptions travel to the awaiter, every resumption happens on
// the task's own LwThread (also while the test moves it between reactors in
// the middle of its I/O), sleeps, yields, calls to other threads, when_all,
// timeouts and cancellation, and a thread that exits under a sleeping task.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <reactor/io.hh>
#include <reactor/pool.hh>
#include <reactor/task.hh>

#include "support/real_pool.hh"
#include "support/wait.hh"

using namespace reactor;
using namespace std::chrono_literals;

namespace {

using reactor::test::make_pool;
using reactor::test::spawn_thread;

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit = 30s) {
  return reactor::test::eventually(f, limit);
}

Task<int> add_later(int a, int b) {
  co_await yield();
  co_return a + b;
}

Task<int> thrower() {
  co_await yield();
  throw std::runtime_error("boom from a child");
}

TEST(TaskTest, ResultsAndExceptionsReachTheAwaiterOnItsOwnThread) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_basic");
  std::atomic<int> sum{0};
  std::atomic<bool> caught{false}, on_thread{true};
  auto body = [&]() -> Task<void> {
    LwThread* self = current_thread();
    int s = co_await add_later(2, 3);
    s += co_await add_later(10, 20);
    on_thread = on_thread && current_thread() == self;
    try {
      (void)co_await thrower();
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "boom from a child";
    }
    on_thread = on_thread && current_thread() == self && self == t.get();
    sum = s;
  };
  auto h = spawn(t, body());
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_EQ(sum.load(), 35);
  EXPECT_TRUE(caught.load());
  EXPECT_TRUE(on_thread.load());
  EXPECT_FALSE(h->failed());
  EXPECT_EQ(t->stats().exceptions, 0u);
}

TEST(TaskTest, AnUnobservedExceptionIsCountedAgainstTheThread) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_throw");
  auto body = []() -> Task<void> {
    co_await yield();
    throw std::runtime_error("nobody awaits me");
  };
  auto h = spawn(t, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_TRUE(h->failed());
  EXPECT_TRUE(eventually([&] { return t->stats().exceptions == 1; }));
}

TEST(TaskTest, SpawnErrorsNameTheProblem) {
  auto pool = make_pool();
  auto empty = spawn(ThreadRef{}, []() -> Task<void> { co_return; }());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);
  auto off = co_spawn([]() -> Task<void> { co_return; }());
  ASSERT_FALSE(off);
  EXPECT_EQ(off.error().code, Errc::wrong_thread);

  ThreadRef t = spawn_thread(*pool, "co_gone");
  std::atomic<bool> exited{false};
  ASSERT_TRUE(t.send([&] {
    current_thread()->exit();
    exited = true;
  }));
  ASSERT_TRUE(eventually([&] { return exited.load(); }));
  auto late = spawn(t, []() -> Task<void> { co_return; }());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::exited);
}

TEST(TaskTest, YieldLetsOtherTasksOfTheThreadRun) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_yield");
  auto trace = std::make_shared<std::string>();
  std::atomic<int> finished{0};
  auto worker = [&](char c) -> Task<void> {
    for (int i = 0; i < 3; ++i) {
      *trace += c;
      co_await yield();
    }
    ++finished;
  };
  // Both start in one message (co_spawn runs each to its first yield).
  ASSERT_TRUE(t.send([&] {
    ASSERT_TRUE(co_spawn(worker('a')));
    ASSERT_TRUE(co_spawn(worker('b')));
  }));
  ASSERT_TRUE(eventually([&] { return finished.load() == 2; }));
  EXPECT_EQ(*trace, "ababab");
}

TEST(TaskTest, SleepWaitsAtLeastItsDelayOnTheTickClock) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_sleep");
  std::atomic<int64_t> slept_us{-1};
  std::atomic<bool> ok{false};
  auto body = [&]() -> Task<void> {
    auto start = std::chrono::steady_clock::now();
    auto r = co_await sleep_for(30ms);
    ok = r.has_value();
    slept_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  };
  auto h = spawn(t, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_TRUE(ok.load());
  EXPECT_GE(slept_us.load(), 29'000);  // a lower bound only: never earlier than asked
  // The one-shot timer is gone once it fired.
  EXPECT_TRUE(eventually([&] { return t->pollers().empty(); }));
}

TEST(TaskTest, RequestStopEndsASleepEarlyWithCancelled) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_stop");
  std::atomic<int> rounds{0};
  std::atomic<bool> saw_cancel{false};
  auto body = [&]() -> Task<void> {
    while (!co_await cancelled()) {
      auto r = co_await sleep_for(10min);
      if (!r) saw_cancel = r.error().code == Errc::cancelled;
      ++rounds;
    }
  };
  auto h = spawn(t, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return t->pollers().size() == 1; }));  // asleep
  h->request_stop();
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_EQ(rounds.load(), 1);
}

TEST(TaskTest, AThreadExitingUnderASleepingTaskCancelsItAndRetires) {
  auto pool = make_pool();
  std::atomic<bool> on_exit_ran{false};
  ThreadOptions o;
  o.name = "co_exit";
  o.on_exit = [&] { on_exit_ran = true; };
  auto t = pool->spawn(std::move(o));
  ASSERT_TRUE(t);
  std::atomic<int> code{-1};
  auto body = [&]() -> Task<void> {
    auto r = co_await sleep_for(10min);
    code = r ? 0 : static_cast<int>(r.error().code);
  };
  auto h = spawn(*t, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return (*t)->pollers().size() == 1; }));
  ASSERT_TRUE(t->send([] { current_thread()->exit(); }));
  ASSERT_TRUE(eventually([&] { return on_exit_ran.load(); }));
  EXPECT_TRUE(h->done());
  EXPECT_EQ(code.load(), static_cast<int>(Errc::cancelled));
}

TEST(TaskTest, CallRunsOnTheTargetAndResumesOnTheCaller) {
  auto pool = make_pool();
  ThreadRef a = spawn_thread(*pool, "co_caller");
  ThreadRef b = spawn_thread(*pool, "co_callee");
  std::atomic<bool> ok{false};
  auto body = [&]() -> Task<void> {
    LwThread* self = current_thread();
    auto where = co_await call(b, [] { return current_thread()->id().value; });
    bool good = where && *where == b.id().value && current_thread() == self;
    auto v = co_await call(b, [] {});
    good = good && v.has_value();
    try {
      (void)co_await call(b, []() -> int { throw std::runtime_error("callee threw"); });
      good = false;
    } catch (const std::runtime_error& e) {
      good = good && std::string(e.what()) == "callee threw";
    }
    ok = good && current_thread() == self;
  };
  auto h = spawn(a, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_TRUE(ok.load());
  EXPECT_FALSE(h->failed());

  // A call to a thread that has exited is an error, not a hang.
  std::atomic<bool> gone{false};
  ASSERT_TRUE(b.send([&] {
    current_thread()->exit();
    gone = true;
  }));
  ASSERT_TRUE(eventually([&] { return gone.load(); }));
  std::atomic<int> code{-1};
  auto late = [&]() -> Task<void> {
    auto r = co_await call(b, [] { return 1; });
    code = r ? 0 : static_cast<int>(r.error().code);
  };
  auto h2 = spawn(a, late());
  ASSERT_TRUE(h2);
  ASSERT_TRUE(eventually([&] { return h2->done(); }));
  EXPECT_EQ(code.load(), static_cast<int>(Errc::exited));
}

Task<int> nap_then(int v, std::chrono::milliseconds d) {
  (void)co_await sleep_for(d);
  co_return v;
}

TEST(TaskTest, WhenAllAndWithTimeout) {
  auto pool = make_pool();
  ThreadRef t = spawn_thread(*pool, "co_join");
  std::atomic<bool> ok{false};
  std::atomic<bool> child_cancelled{false};
  auto slow = [&]() -> Task<int> {
    auto r = co_await sleep_for(10min);
    child_cancelled = !r && r.error().code == Errc::cancelled;
    co_return 7;
  };
  auto body = [&]() -> Task<void> {
    auto [x, y, z] = co_await when_all(nap_then(1, 20ms), nap_then(2, 5ms), add_later(3, 4));
    std::vector<Task<int>> many;
    for (int i = 0; i < 5; ++i) many.push_back(nap_then(i, std::chrono::milliseconds(5 - i)));
    auto v = co_await when_all(std::move(many));
    auto quick = co_await with_timeout(nap_then(9, 1ms), 10s);
    auto late = co_await with_timeout(slow(), 20ms);
    ok = x == 1 && y == 2 && z == 7 && v == std::vector<int>{0, 1, 2, 3, 4} && quick && *quick == 9 && !late &&
         late.error().code == Errc::timeout;
  };
  auto h = spawn(t, body());
  ASSERT_TRUE(h);
  ASSERT_TRUE(eventually([&] { return h->done(); }));
  EXPECT_TRUE(ok.load());
  EXPECT_FALSE(h->failed());
  // The abandoned child saw the timeout's stop and ended its sleep.
  EXPECT_TRUE(eventually([&] { return child_cancelled.load(); }));
}

// A coroutine read loop keeps QD requests in flight over a patterned file
// while the test moves its thread between the reactors as fast as moves land:
// every block reads back as written and every resumption is on the thread.
TEST(TaskTest, IoAwaitsFollowTheThreadAcrossMoves) {
  auto pool = make_pool();
  const char* base = std::getenv("TMPDIR");
  std::string path = std::string(base && *base ? base : "/var/tmp") + "/task_test.XXXXXX";
  int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::unlink(path.c_str());
  constexpr size_t kBlock = 4096, kBlocks = 256;
  std::vector<uint32_t> pattern(kBlock / 4 * kBlocks);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint32_t>(i * 2654435761u);
  ASSERT_EQ(::pwrite(fd, pattern.data(), kBlock * kBlocks, 0), static_cast<ssize_t>(kBlock * kBlocks));

  ThreadRef t = spawn_thread(*pool, "co_io");
  std::atomic<uint64_t> reads{0}, bad{0}, off_thread{0};
  std::atomic<uint32_t> cores_seen{0};
  constexpr int kQd = 8;
  constexpr uint64_t kReadsPerWorker = 3000;
  auto worker = [&](IoChannel& ch, int w) -> Task<void> {
    LwThread* self = current_thread();
    std::vector<uint32_t> buf(kBlock / 4);
    for (uint64_t i = 0; i < kReadsPerWorker; ++i) {
      size_t blk = (i * 7 + static_cast<uint64_t>(w) * 13) % kBlocks;
      auto r = co_await co_read(ch, fd, buf.data(), kBlock, blk * kBlock);
      if (current_thread() != self) ++off_thread;
      cores_seen |= 1u << (self->current_core().value % 32);
      if (!r || *r != kBlock || std::memcmp(buf.data(), &pattern[blk * kBlock / 4], kBlock) != 0) ++bad;
      ++reads;
    }
  };
  auto root = [&]() -> Task<void> {
    auto ch = IoChannel::create({.queue_depth = kQd});
    if (!ch) throw std::runtime_error(ch.error().message);
    std::vector<Task<void>> ws;
    for (int w = 0; w < kQd; ++w) ws.push_back(worker(*ch, w));
    co_await when_all(std::move(ws));
  };
  auto h = spawn(t, root());
  ASSERT_TRUE(h);
  std::vector<CoreId> cores = pool->cores().cores();
  size_t moves = 0;
  while (!h->done() && moves < 100000) {
    CoreId to = cores[moves % cores.size()];
    auto ticket = pool->move(t.id(), to);
    if (!ticket) break;  // the thread may be between states at the very end
    ++moves;
    MoveTicket tk = *ticket;
    pool->wait_for([&] { return tk->done(); }, 5s);
  }
  ASSERT_TRUE(eventually([&] { return h->done(); }, 60s));
  ::close(fd);
  EXPECT_FALSE(h->failed());
  EXPECT_EQ(reads.load(), kReadsPerWorker * kQd);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(off_thread.load(), 0u);
  if (cores.size() > 1) {
    EXPECT_GT(moves, 1u);
    EXPECT_EQ(__builtin_popcount(cores_seen.load()), static_cast<int>(cores.size()));
  }
}

TEST(TaskTest, FramesAreReusedFromThePool) {
  void* a = detail::alloc_frame(200);
  detail::free_frame(a, 200);
  void* b = detail::alloc_frame(250);  // same 64-byte class (193..256)
  EXPECT_EQ(a, b);
  detail::free_frame(b, 250);
  void* big = detail::alloc_frame(1 << 20);  // beyond the pool: the heap
  detail::free_frame(big, 1 << 20);
}

}  // namespace
