// LwThread on the deterministic harness: messages, pollers (active, timed,
// paused, unregistered from inside), exit protocol, exceptions, full rings.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <reactor/thread.hh>

#include "support/harness.hh"

using namespace reactor;
using namespace std::chrono_literals;
using reactor::test::Harness;
using reactor::test::HarnessOptions;

TEST(LwThread, IdsStartAtOneAndHomesRoundRobin) {
  Harness h(HarnessOptions{.cores = 3});
  auto a = h.spawn("a");
  auto b = h.spawn("b");
  auto c = h.spawn("c");
  auto d = h.spawn("d");
  EXPECT_EQ(a.id().value, 1u);
  EXPECT_EQ(d.id().value, 4u);
  EXPECT_EQ(a->home_core().value, 0u);
  EXPECT_EQ(b->home_core().value, 1u);
  EXPECT_EQ(c->home_core().value, 2u);
  EXPECT_EQ(d->home_core().value, 0u);
  auto pinned = h.spawn("pinned", CpuSet{2});
  EXPECT_EQ(pinned->home_core().value, 2u);
  EXPECT_EQ(pinned->current_core().value, 2u);
  EXPECT_EQ(h.pool().reactor(CoreId{2})->stats().thread_count, 2u);
}

TEST(LwThread, MessagesRunOnTheThreadInOrder) {
  Harness h;
  auto t = h.spawn("t");
  const uint64_t before = t->stats().messages;  // the harness's spawn init
  std::vector<int> seen;
  LwThread* where = nullptr;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(t.send([&, i] { seen.push_back(i); where = current_thread(); }));
  EXPECT_TRUE(seen.empty());  // nothing runs until the reactor polls
  h.poll_until_idle();
  ASSERT_EQ(seen.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(where, t.get());
  EXPECT_EQ(t->stats().messages - before, 10u);
}

TEST(LwThread, MoveOnlyCallables) {
  Harness h;
  auto t = h.spawn("t");
  auto p = std::make_unique<int>(42);
  int got = 0;
  ASSERT_TRUE(t.send([&got, p = std::move(p)] { got = *p; }));
  h.poll_until_idle();
  EXPECT_EQ(got, 42);
}

TEST(LwThread, TimedPollerHonoursPeriodOnManualClock) {
  Harness h;
  int runs = 0;
  auto t = h.spawn("t", {}, [&] {
    ASSERT_TRUE(current_thread()->register_poller("tick", [&] { ++runs; return PollStatus::Busy; }, 100us));
  });
  h.poll_all();
  EXPECT_EQ(runs, 0);
  h.advance_us(99);
  h.poll_all();
  EXPECT_EQ(runs, 0);
  h.advance_us(1);
  h.poll_all();
  EXPECT_EQ(runs, 1);
  h.poll_all();
  EXPECT_EQ(runs, 1);  // not due again until another period passes
  h.advance_us(100);
  h.poll_all();
  EXPECT_EQ(runs, 2);
  // A long gap runs it once, not once per missed period.
  h.advance_us(1000);
  h.poll_all();
  h.poll_all();
  EXPECT_EQ(runs, 3);
  auto ps = t->pollers();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].run_count, 3u);
  EXPECT_EQ(ps[0].busy_count, 3u);
  EXPECT_EQ(ps[0].period_us, 100u);
  EXPECT_EQ(ps[0].period_ticks, h.clock().us_to_ticks(100));
  EXPECT_EQ(t->stats().timed_pollers, 1u);
}

TEST(LwThread, ActivePollerPauseResume) {
  Harness h;
  int runs = 0;
  PollerId id;
  auto t = h.spawn("t", {}, [&] {
    id = *current_thread()->register_poller("spin", [&] { ++runs; return PollStatus::Idle; });
  });
  h.poll_all();
  int before = runs;
  EXPECT_GT(before, 0);
  ASSERT_TRUE(t.send([&] { ASSERT_TRUE(current_thread()->pause_poller(id)); }));
  h.poll_all();
  before = runs;
  h.poll_all();
  h.poll_all();
  EXPECT_EQ(runs, before);
  EXPECT_EQ(t->stats().paused_pollers, 1u);
  EXPECT_EQ(t->pollers()[0].state, PollerState::Paused);
  ASSERT_TRUE(t.send([&] { ASSERT_TRUE(current_thread()->resume_poller(id)); }));
  h.poll_all();
  h.poll_all();
  EXPECT_GT(runs, before);
  EXPECT_EQ(t->stats().active_pollers, 1u);
}

TEST(LwThread, PausedTimedPollerDoesNotRun) {
  Harness h;
  int runs = 0;
  PollerId id;
  auto t = h.spawn("t", {}, [&] {
    id = *current_thread()->register_poller("tick", [&] { ++runs; return PollStatus::Idle; }, 10us);
    ASSERT_TRUE(current_thread()->pause_poller(id));
  });
  h.advance_us(100);
  h.poll_all();
  EXPECT_EQ(runs, 0);
  ASSERT_TRUE(t.send([&] { ASSERT_TRUE(current_thread()->resume_poller(id)); }));
  h.poll_all();
  h.advance_us(10);
  h.poll_all();
  EXPECT_EQ(runs, 1);
}

TEST(LwThread, UnregisterFromInsideThePoller) {
  Harness h;
  int runs = 0;
  auto t = h.spawn("t", {}, [&] {
    auto self = std::make_shared<PollerId>();
    *self = *current_thread()->register_poller("once", [&runs, self] {
      ++runs;
      EXPECT_TRUE(current_thread()->unregister_poller(*self));
      return PollStatus::Busy;
    });
  });
  h.poll_all();
  h.poll_all();
  h.poll_all();
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(t->pollers().empty());
  EXPECT_EQ(t->stats().active_pollers, 0u);
}

// The slot of an unregistered poller is freed at the end of the poll pass,
// but for callers it is gone at once: a reply sent right after unregistering
// must not let a reader see the old poller.
TEST(LwThread, UnregisteredPollerIsNotListedEvenBeforeThePassEnds) {
  Harness h;
  PollerId id{};
  auto t = h.spawn("t", {}, [&id] {
    id = *current_thread()->register_poller("timed", [] { return PollStatus::Idle; }, 100us);
  });
  ASSERT_EQ(t->pollers().size(), 1u);
  size_t listed_inside = 99;
  ASSERT_TRUE(t.send([&] {
    EXPECT_TRUE(current_thread()->unregister_poller(id));
    listed_inside = current_thread()->pollers().size();
  }));
  h.poll_until_idle();
  EXPECT_EQ(listed_inside, 0u);
  EXPECT_TRUE(t->pollers().empty());
}

TEST(LwThread, UnknownPollerIsAnError) {
  Harness h;
  auto t = h.spawn("t");
  Result<void> r;
  ASSERT_TRUE(t.send([&] { r = current_thread()->pause_poller(PollerId{99}); }));
  h.poll_until_idle();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_NE(r.error().message.find("no poller 99"), std::string::npos);
}

TEST(LwThread, ExitDrainsPendingMessagesThenRunsOnExit) {
  Harness h;
  int ran = 0;
  bool exited = false;
  int poller_runs = 0;
  ThreadOptions o;
  o.name = "leaver";
  o.on_exit = [&] { exited = true; };
  auto t = *h.pool().spawn(std::move(o), [&] {
    (void)current_thread()->register_poller("p", [&] { ++poller_runs; return PollStatus::Idle; });
  });
  h.poll_until_idle();
  // Three messages queued behind the exit request: all still run.
  ASSERT_TRUE(t.send([&] { current_thread()->exit(); }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t.send([&] { ++ran; }));
  h.poll_all();
  EXPECT_EQ(ran, 3);
  EXPECT_TRUE(exited);
  EXPECT_EQ(t->state(), ThreadState::Exited);
  auto r = t.send([] {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exited);
  EXPECT_FALSE(h.pool().find(t.id()));
  EXPECT_EQ(h.pool().reactor(CoreId{0})->stats().thread_count, 0u);
  // Registering a poller while exiting fails.
  EXPECT_EQ(t->stats().active_pollers, 0u);
}

TEST(LwThread, RegisterWhileExitingFails) {
  Harness h;
  Result<PollerId> r;
  auto t = h.spawn("t");
  ASSERT_TRUE(t.send([&] {
    current_thread()->exit();
    r = current_thread()->register_poller("late", [] { return PollStatus::Idle; });
  }));
  h.poll_until_idle();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::exited);
}

TEST(LwThread, ExceptionsAreCaughtAndCounted) {
  Harness h;
  int after = 0;
  auto t = h.spawn("thrower", {}, [] {
    (void)current_thread()->register_poller("bad", []() -> PollStatus { throw std::runtime_error("poller boom"); });
  });
  ASSERT_TRUE(t.send([] { throw std::runtime_error("message boom"); }));
  ASSERT_TRUE(t.send([&] { ++after; }));
  h.poll_all();
  h.poll_all();
  EXPECT_EQ(after, 1);
  EXPECT_GE(t->stats().exceptions, 3u);  // one message + at least two poller runs
  EXPECT_EQ(t->state(), ThreadState::Running);
  EXPECT_EQ(t->pollers().size(), 1u);  // the poller stays registered
}

TEST(LwThread, FullRingIsReportedNotDropped) {
  Harness h;
  ThreadOptions o;
  o.name = "small";
  o.ring_size = 64;
  auto t = *h.pool().spawn(std::move(o));
  h.poll_until_idle();
  int ran = 0;
  int accepted = 0;
  Result<void> last;
  for (int i = 0; i < 100; ++i) {
    last = t.send([&] { ++ran; });
    if (!last) break;
    ++accepted;
  }
  EXPECT_EQ(accepted, 63);  // capacity is size - 1
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code, Errc::full);
  h.poll_until_idle();
  EXPECT_EQ(ran, accepted);
  EXPECT_TRUE(t.send([&] { ++ran; }));
}

// A failed send names the thread, its id and the ring's slots, every time
// (the message is built once, at spawn), and queues nothing: of 1000 refused
// sends none runs, and each refused callable (inline and pooled) is destroyed
// at once, not kept.
TEST(LwThread, FullRingErrorNamesTheThreadAndQueuesNothing) {
  Harness h;
  ThreadOptions o;
  o.name = "ingest_7";
  o.ring_size = 64;
  auto t = *h.pool().spawn(std::move(o));
  h.poll_until_idle();
  const uint64_t before = t->stats().messages;
  int ran = 0;
  int accepted = 0;
  while (t.send([&] { ++ran; })) ++accepted;
  ASSERT_EQ(accepted, 63);
  const std::string expected =
      "thread 'ingest_7' (id " + std::to_string(t.id().value) + "): message ring full (64 slots); retry later";
  auto token = std::make_shared<int>(0);
  int wide_ran = 0;
  for (int i = 0; i < 1000; ++i) {
    auto inline_send = t.send([&ran, token] { ++ran; });  // two words: inline
    ASSERT_FALSE(inline_send);
    EXPECT_EQ(inline_send.error().code, Errc::full);
    EXPECT_EQ(inline_send.error().message, expected);
    auto pooled_send = t.send([&wide_ran, token, i, &expected] { wide_ran += i + int(expected.size()); });
    ASSERT_FALSE(pooled_send);
    EXPECT_EQ(pooled_send.error().message, expected);
    EXPECT_EQ(token.use_count(), 1);  // both refused callables are gone already
  }
  h.poll_until_idle();
  EXPECT_EQ(ran, 63);
  EXPECT_EQ(wide_ran, 0);
  EXPECT_EQ(t->stats().messages - before, 63u);
  // The ring works as before once drained.
  ASSERT_TRUE(t.send([&] { ++ran; }));
  h.poll_until_idle();
  EXPECT_EQ(ran, 64);
}

// A thread that exits with its ring full refuses sends as exited, not full:
// its first message refills the ring to full from inside (ring path: the ring
// is not idle), sees Errc::full, exits, and then sees Errc::exited for the
// same full ring. Everything accepted before the exit still runs.
TEST(LwThread, AFullRingOfAnExitingThreadReportsExited) {
  Harness h(HarnessOptions{.cores = 1});
  ThreadOptions o;
  o.name = "closing";
  o.ring_size = 64;
  auto t = *h.pool().spawn(std::move(o));
  h.poll_until_idle();
  int ran = 0;
  int refilled = 0;
  Result<void> while_running;
  Result<void> while_exiting;
  ASSERT_TRUE(t.send([&] {
    for (;;) {
      while_running = t.send([&] { ++ran; });
      if (!while_running) break;
      ++refilled;
    }
    current_thread()->exit();
    while_exiting = t.send([&] { ++ran; });
  }));
  for (int i = 0; i < 62; ++i) ASSERT_TRUE(t.send([&] { ++ran; }));
  ASSERT_FALSE(t.send([&] { ++ran; }));  // full: 63 queued
  h.poll_until_idle();
  ASSERT_FALSE(while_running);
  EXPECT_EQ(while_running.error().code, Errc::full) << while_running.error().message;
  EXPECT_GT(refilled, 0);
  ASSERT_FALSE(while_exiting);
  EXPECT_EQ(while_exiting.error().code, Errc::exited) << while_exiting.error().message;
  EXPECT_NE(while_exiting.error().message.find("'closing'"), std::string::npos) << while_exiting.error().message;
  EXPECT_EQ(ran, 62 + refilled);  // accepted before the exit: all ran
  auto after = t.send([] {});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::exited);
}

TEST(LwThread, BusyAndIdleTicks) {
  Harness h;
  bool busy = true;
  auto t = h.spawn("t", {}, [&] {
    (void)current_thread()->register_poller("work", [&] {
      h.clock().advance(1000);  // the poller "takes" 1000 ticks
      return busy ? PollStatus::Busy : PollStatus::Idle;
    });
  });
  auto s0 = t->stats();
  h.poll(t->current_core());
  auto s1 = t->stats();
  EXPECT_EQ(s1.busy - s0.busy, 1000u);
  EXPECT_EQ(s1.idle, s0.idle);
  busy = false;
  h.poll(t->current_core());
  auto s2 = t->stats();
  EXPECT_EQ(s2.idle - s1.idle, 1000u);
  auto rs = h.pool().reactor(t->current_core())->stats();
  EXPECT_GE(rs.busy, 1000u);
  EXPECT_GE(rs.idle, 1000u);
}

// Load is against wall time on the thread's reactor: each hosted thread's
// busy + idle grows by the whole pass; what a poll that did work took is busy,
// the rest (its idle poll, the other thread's poll) idle. Polls are the
// threads' own ticks: nothing is reactor overhead here.
TEST(LwThread, EveryHostedThreadIsChargedThePassInWallTime) {
  Harness h;
  auto a = h.spawn("a", CpuSet{0}, [&] {
    (void)current_thread()->register_poller("a_work", [&] {
      h.clock().advance(300);
      return PollStatus::Busy;
    });
  });
  auto b = h.spawn("b", CpuSet{0}, [&] {
    (void)current_thread()->register_poller("b_idle", [&] {
      h.clock().advance(100);
      return PollStatus::Idle;
    });
  });
  Reactor& r = *h.pool().reactor(CoreId{0});
  const auto a0 = a->stats(), b0 = b->stats();
  const auto r0 = r.stats();
  h.poll(CoreId{0});
  const auto a1 = a->stats(), b1 = b->stats();
  const auto r1 = r.stats();
  EXPECT_EQ(a1.busy - a0.busy, 300u);
  EXPECT_EQ(a1.idle - a0.idle, 100u);
  EXPECT_EQ(b1.busy - b0.busy, 0u);
  EXPECT_EQ(b1.idle - b0.idle, 400u);
  EXPECT_EQ(r1.busy - r0.busy, 400u);
  EXPECT_EQ(r1.idle - r0.idle, 0u);
  EXPECT_EQ(r1.overhead - r0.overhead, 0u);
  // And so on every pass: busy + idle of both grows by the pass.
  h.poll(CoreId{0});
  const auto a2 = a->stats(), b2 = b->stats();
  EXPECT_EQ((a2.busy + a2.idle) - (a1.busy + a1.idle), 400u);
  EXPECT_EQ((b2.busy + b2.idle) - (b1.busy + b1.idle), 400u);
}

TEST(LwThread, IdlePassChargesNothingBusy) {
  Harness h;
  auto t = h.spawn("t", CpuSet{0}, [&] {
    (void)current_thread()->register_poller("idle", [&] {
      h.clock().advance(250);
      return PollStatus::Idle;
    });
  });
  h.poll_until_idle();
  const auto s0 = t->stats();
  const auto r0 = h.pool().reactor(CoreId{0})->stats();
  h.poll(CoreId{0});
  const auto s1 = t->stats();
  const auto r1 = h.pool().reactor(CoreId{0})->stats();
  EXPECT_EQ(s1.busy, s0.busy);
  EXPECT_EQ(s1.idle - s0.idle, 250u);
  EXPECT_EQ(r1.idle - r0.idle, 250u);
  EXPECT_EQ(r1.busy, r0.busy);
  EXPECT_EQ(r1.overhead, r0.overhead);
}

// Stall-detector data: while a poller runs, its reactor names the thread and
// the thread names the poller; both are cleared once it returned.
TEST(LwThread, CurrentThreadAndRunningPollerAreVisibleDuringAPoll) {
  Harness h;
  uint64_t seen_thread = 0;
  std::string seen_poller;
  auto t = h.spawn("stuck_here", CpuSet{1}, [&] {
    (void)current_thread()->register_poller("slow_poller", [&] {
      seen_thread = h.pool().reactor(CoreId{1})->stats().current_thread;
      seen_poller = current_thread()->running_poller();
      return PollStatus::Busy;
    });
  });
  h.poll(CoreId{1});
  EXPECT_EQ(seen_thread, t.id().value);
  EXPECT_EQ(seen_poller, "slow_poller");
  EXPECT_EQ(h.pool().reactor(CoreId{1})->stats().current_thread, 0u);
  EXPECT_EQ(t->running_poller(), "");
}

TEST(LwThread, EmptyRefAndBadSpawnOptions) {
  Harness h;
  ThreadRef empty;
  EXPECT_FALSE(empty.send([] {}));
  ThreadOptions o;
  o.cpumask = CpuSet{5};
  auto r = h.pool().spawn(std::move(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not inside the reactor cores"), std::string::npos) << r.error().message;
  ThreadOptions o2;
  o2.ring_size = 100;
  auto r2 = h.pool().spawn(std::move(o2));
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("power of two"), std::string::npos);
  ThreadOptions o3;
  o3.cpumask = CpuSet{0};
  o3.home = CoreId{1};
  auto r3 = h.pool().spawn(std::move(o3));
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("home core 1 is not in its cpumask"), std::string::npos);
}
