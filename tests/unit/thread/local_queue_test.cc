// The reactor-local message queue (lw_thread.cc): messages a thread sends to
// itself or to another thread on the same reactor skip the ring while the
// ring is idle, and every message still runs exactly once, in the order each
// sender sent it, against messages that came through the ring and across
// moves. Deterministic harness: one OS thread drives every reactor.

#include <gtest/gtest.h>

#include <vector>

#include <reactor/pool.hh>

#include "support/harness.hh"

using namespace reactor;
using reactor::test::Harness;
using reactor::test::HarnessOptions;

namespace {
// A log of (sender tag, seq, core) entries, appended by messages as they run.
struct Entry {
  int tag;
  int seq;
  uint32_t core;
  bool operator==(const Entry&) const = default;
};
}  // namespace

// A ring of 64 slots holds 63 messages. Sends from the thread to itself go to
// the local queue first (63), then to the ring (63): 126 succeed from inside
// one message and run in the order sent. Through the ring alone only 63 could.
TEST(LocalQueue, SelfSendsUseTheLocalQueueThenTheRingInOrder) {
  Harness h(HarnessOptions{.cores = 1});
  std::vector<int> ran;
  int accepted = 0;
  Errc last = Errc::internal;
  auto spawned = h.pool().spawn(ThreadOptions{.name = "small", .ring_size = 64});
  ASSERT_TRUE(spawned) << spawned.error().message;
  ThreadRef small = *spawned;
  h.poll_until_idle();
  ASSERT_TRUE(small.send([&] {
    for (int i = 0; i < 200; ++i) {
      auto r = small.send([&ran, i] { ran.push_back(i); });
      if (!r) {
        last = r.error().code;
        break;
      }
      ++accepted;
    }
  }));
  h.poll_until_idle();
  EXPECT_EQ(accepted, 126);
  EXPECT_EQ(last, Errc::full);
  ASSERT_EQ(ran.size(), 126u);
  for (int i = 0; i < 126; ++i) EXPECT_EQ(ran[i], i);
}

// Messages already in the ring run before a message the thread sends itself
// afterwards, also when the ring holds more than one dequeue burst (32): a
// self-send while ring messages wait takes the ring path behind them.
TEST(LocalQueue, SelfSendRunsAfterRingMessagesSentBeforeIt) {
  for (int ring_msgs : {3, 31, 32, 33, 100, 127, 300}) {
    Harness h(HarnessOptions{.cores = 1});
    auto t = h.spawn("t");
    std::vector<Entry> log;
    ASSERT_TRUE(t.send([&] {
      log.push_back({0, 0, 0});
      // Sent now: after every ring message below (they are queued already).
      ASSERT_TRUE(t.send([&] { log.push_back({1, 0, 0}); }));
    }));
    for (int i = 0; i < ring_msgs; ++i) ASSERT_TRUE(t.send([&, i] { log.push_back({2, i, 0}); }));
    h.poll_until_idle();
    ASSERT_EQ(log.size(), static_cast<size_t>(ring_msgs) + 2) << ring_msgs;
    EXPECT_EQ(log.front(), (Entry{0, 0, 0}));
    for (int i = 0; i < ring_msgs; ++i) EXPECT_EQ(log[1 + i], (Entry{2, i, 0})) << ring_msgs;
    EXPECT_EQ(log.back(), (Entry{1, 0, 0})) << ring_msgs;
  }
}

// Ring messages that arrive after a local send run after it: a chain of
// self-sends interleaved with ring messages from outside keeps each sender's
// order, and the chain's messages run in chain order.
TEST(LocalQueue, RingMessagesSentAfterASelfSendRunAfterIt) {
  Harness h(HarnessOptions{.cores = 1});
  auto t = h.spawn("t");
  std::vector<Entry> log;
  struct Chain {
    ThreadRef t;
    std::vector<Entry>* log;
    int left;
    void step() {
      log->push_back({1, left, 0});
      if (--left > 0) {
        Chain next = *this;
        ASSERT_TRUE(t.send([next]() mutable { next.step(); }));
      }
    }
  };
  Chain c{t, &log, 500};
  ASSERT_TRUE(t.send([c]() mutable { c.step(); }));
  int outside = 0;
  for (int pass = 0; pass < 40; ++pass) {
    for (int k = 0; k < 3; ++k, ++outside) ASSERT_TRUE(t.send([&, s = outside] { log.push_back({2, s, 0}); }));
    h.poll(CoreId{0});
  }
  h.poll_until_idle();
  ASSERT_EQ(log.size(), 500u + static_cast<size_t>(outside));
  int next_chain = 500, next_ring = 0;
  for (const Entry& e : log) {
    if (e.tag == 1) EXPECT_EQ(e.seq, next_chain--);
    else EXPECT_EQ(e.seq, next_ring++);
  }
  EXPECT_EQ(next_chain, 0);
  EXPECT_EQ(next_ring, outside);
}

// Self-sends still queued locally when the thread moves travel with it: they
// run on the new reactor, exactly once, before the messages sent to it while
// it was in transit (which wait in its ring).
TEST(LocalQueue, SelfSendsThenMoveRunOnTheNewReactorFirst) {
  Harness h(HarnessOptions{.cores = 2});
  auto t = h.spawn("t", CpuSet{0, 1});
  ASSERT_EQ(t->current_core().value, 0u);
  const uint64_t messages_before = t->stats().messages;
  std::vector<Entry> log;
  ASSERT_TRUE(t.send([&] {
    // 300 > the per-pass budget (128): most of them are still queued locally
    // when this pass ends.
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(t.send([&, i] { log.push_back({1, i, current_thread()->current_core().value}); }));
  }));
  h.poll(CoreId{0});
  const size_t before_move = log.size();
  ASSERT_LT(before_move, 300u);
  ASSERT_TRUE(h.pool().move(t.id(), CoreId{1}));
  h.poll(CoreId{0});  // the move: t leaves core 0, in transit now
  ASSERT_TRUE(t->stats().in_transit);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t.send([&, i] { log.push_back({2, i, current_thread()->current_core().value}); }));
  h.poll_until_idle();
  EXPECT_EQ(t->current_core().value, 1u);
  ASSERT_EQ(log.size(), 305u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(log[i].tag, 1);
    EXPECT_EQ(log[i].seq, i);
    EXPECT_EQ(log[i].core, static_cast<size_t>(i) < before_move ? 0u : 1u) << i;
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(log[300 + i], (Entry{2, i, 1u}));
  EXPECT_EQ(t->stats().messages - messages_before, 306u);  // the 300, the 5 and the first one
}

// A sends to B on the same reactor (local queue), then B moves; A keeps
// sending while B is in transit and after it landed elsewhere (ring path).
// B runs A's messages exactly once in A's order, the local ones first.
TEST(LocalQueue, SendsToASameReactorThreadThatMovesKeepTheSendersOrder) {
  Harness h(HarnessOptions{.cores = 2});
  auto a = h.spawn("a", CpuSet{0});
  auto spawned = h.pool().spawn(ThreadOptions{.name = "b", .cpumask = CpuSet{0, 1}, .home = CoreId{0}});
  ASSERT_TRUE(spawned) << spawned.error().message;
  ThreadRef b = *spawned;
  h.poll_until_idle();
  ASSERT_EQ(b->current_core().value, 0u);
  std::vector<Entry> log;
  int seq = 0;
  auto burst = [&](int n) {
    ASSERT_TRUE(a.send([&, n] {
      for (int i = 0; i < n; ++i, ++seq)
        ASSERT_TRUE(b.send([&, s = seq] { log.push_back({1, s, current_thread()->current_core().value}); }));
    }));
  };
  burst(400);            // local: b is on a's reactor; more than one pass of b's budget
  h.poll(CoreId{0});
  ASSERT_LT(log.size(), 400u);
  ASSERT_TRUE(h.pool().move(b.id(), CoreId{1}));
  burst(50);             // runs in the pass that moves b: b is in transit -> ring
  h.poll(CoreId{0});
  ASSERT_TRUE(b->stats().in_transit);
  h.poll_until_idle();
  EXPECT_EQ(b->current_core().value, 1u);
  burst(50);             // b elsewhere now: ring
  h.poll_until_idle();
  // And back: a's later messages go local again once b is home and idle.
  ASSERT_TRUE(h.pool().move(b.id(), CoreId{0}));
  h.poll_until_idle();
  burst(200);
  h.poll_until_idle();
  ASSERT_EQ(log.size(), 700u);
  for (int i = 0; i < 700; ++i) EXPECT_EQ(log[i].seq, i);
  EXPECT_EQ(log[650].core, 0u);
  EXPECT_EQ(log[699].core, 0u);
}

// Local messages of a thread that dies before running them are freed, not
// run (as ring messages are), and an exiting thread refuses local sends too.
TEST(LocalQueue, ExitingThreadRefusesLocalSendsAndRetiresWithAnEmptyQueue) {
  Harness h(HarnessOptions{.cores = 1});
  auto t = h.spawn("t");
  int ran = 0;
  Errc refused = Errc::internal;
  ASSERT_TRUE(t.send([&] {
    ASSERT_TRUE(t.send([&] { ++ran; }));  // queued locally before exit: runs
    current_thread()->exit();
    auto r = t.send([&] { ++ran; });
    if (!r) refused = r.error().code;
  }));
  h.poll_until_idle();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(refused, Errc::exited);
  EXPECT_EQ(t->state(), ThreadState::Exited);
}
