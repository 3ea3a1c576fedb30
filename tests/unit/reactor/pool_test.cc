// ReactorPool on the deterministic harness: moves (acknowledged, nothing lost,
// cpumask and isolation respected), restore_placement, for_each_thread,
// snapshots, stop with stragglers, option validation.

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include <reactor/pool.hh>

#include "support/harness.hh"

using namespace reactor;
using reactor::test::Harness;
using reactor::test::HarnessOptions;

TEST(Pool, MoveLandsAndIsAcknowledged) {
  Harness h(HarnessOptions{.cores = 4});
  auto t = h.spawn("t");
  ASSERT_EQ(t->current_core().value, 0u);
  auto tk = h.pool().move(t.id(), CoreId{3});
  ASSERT_TRUE(tk);
  EXPECT_FALSE((*tk)->done());
  h.poll_until_idle();
  EXPECT_EQ((*tk)->result.load(), MoveResult::Landed);
  EXPECT_EQ(t->current_core().value, 3u);
  EXPECT_EQ(t->home_core().value, 0u);
  EXPECT_EQ(h.pool().reactor(CoreId{3})->stats().thread_count, 1u);
  EXPECT_EQ(h.pool().reactor(CoreId{0})->stats().thread_count, 0u);
}

TEST(Pool, MessagesSentInTransitArriveAfterLandingInOrder) {
  Harness h(HarnessOptions{.cores = 3});
  auto t = h.spawn("t");
  std::vector<std::pair<int, uint32_t>> seen;  // (seq, core it ran on)
  int seq = 0;
  for (int round = 0; round < 50; ++round) {
    CoreId to{static_cast<uint32_t>((round + 1) % 3)};
    ASSERT_TRUE(h.pool().move(t.id(), to));
    // Poll only the source: the thread leaves and is in transit now.
    h.poll(t->current_core());
    for (int k = 0; k < 5; ++k) {
      int s = seq++;
      ASSERT_TRUE(t.send([&, s] { seen.emplace_back(s, current_thread()->current_core().value); }));
    }
    h.poll_until_idle();
    EXPECT_EQ(t->current_core(), to);
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(seq));
  for (int i = 0; i < seq; ++i) EXPECT_EQ(seen[i].first, i);
}

TEST(Pool, MoveValidation) {
  Harness h(HarnessOptions{.cores = 4});
  auto t = h.spawn("pinned", CpuSet{0, 1});
  auto r = h.pool().move(t.id(), CoreId{2});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("outside thread 1's cpumask 0-1"), std::string::npos) << r.error().message;
  r = h.pool().move(t.id(), CoreId{9});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("core 9 has no reactor"), std::string::npos) << r.error().message;
  r = h.pool().move(ThreadId{77}, CoreId{1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
}

TEST(Pool, MovesTouchingIsolatedCoresAreSkipped) {
  Harness h(HarnessOptions{.cores = 3, .isolated = CpuSet{2}});
  auto t = h.spawn("t", CpuSet{0, 2});
  auto tk = h.pool().move(t.id(), CoreId{2});
  ASSERT_TRUE(tk);
  h.poll_until_idle();
  EXPECT_EQ((*tk)->result.load(), MoveResult::Skipped);
  EXPECT_NE((*tk)->skip_reason.find("isolated"), std::string::npos);
  EXPECT_EQ(t->current_core().value, 0u);
}

TEST(Pool, SecondMoveWhileInTransitIsSkippedNotLost) {
  Harness h(HarnessOptions{.cores = 3});
  auto t = h.spawn("t");
  auto a = h.pool().move(t.id(), CoreId{1});
  h.poll(CoreId{0});  // leaves core 0, arrival queued on core 1
  auto b = h.pool().move(t.id(), CoreId{2});  // posted to core 1 (its reactor pointer is still 0)
  h.poll_until_idle();
  EXPECT_EQ((*a)->result.load(), MoveResult::Landed);
  EXPECT_NE((*b)->result.load(), MoveResult::Pending);
}

TEST(Pool, ForEachThreadVisitsEveryThreadOnItsReactor) {
  Harness h(HarnessOptions{.cores = 2});
  for (int i = 0; i < 5; ++i) h.spawn("t");
  std::map<uint64_t, uint32_t> visited;
  bool done = false;
  h.pool().for_each_thread([&](LwThread& t) { visited[t.id().value] = t.current_core().value; },
                           [&] { done = true; });
  h.poll_until_idle();
  EXPECT_TRUE(done);
  EXPECT_EQ(visited.size(), 5u);
  for (auto& [id, core] : visited) EXPECT_EQ(core, (id - 1) % 2);
}

TEST(Pool, StopExitsThreadsAndReportsStragglers) {
  Harness h(HarnessOptions{.cores = 2});
  int exits = 0;
  for (int i = 0; i < 4; ++i) {
    ThreadOptions o;
    o.on_exit = [&] { ++exits; };
    ASSERT_TRUE(h.pool().spawn(std::move(o)));
  }
  StopReport rep = h.pool().stop();
  EXPECT_EQ(rep.exited, 4u);
  EXPECT_TRUE(rep.stragglers.empty());
  EXPECT_EQ(exits, 4);
  EXPECT_FALSE(h.pool().spawn(ThreadOptions{}));
}

TEST(Pool, CreateValidatesOptions) {
  PoolOptions o;
  o.topology = Topology::flat(2);
  o.launch = Launch::Manual;
  auto r = ReactorPool::create(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("empty"), std::string::npos);
  o.cores = CpuSet{0, 5};
  r = ReactorPool::create(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cores 5 are not available"), std::string::npos) << r.error().message;
  o.cores = CpuSet{0, 1};
  o.isolated = CpuSet{0};
  r = ReactorPool::create(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("main core 0 cannot be isolated"), std::string::npos) << r.error().message;
  o.isolated = CpuSet{};
  o.main_core = CoreId{4};
  r = ReactorPool::create(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("main core 4 is not in the core set"), std::string::npos);
}

TEST(Pool, ThreadAndPollerNamesAreBounded) {
  Harness h(HarnessOptions{.cores = 1});
  auto too_long = h.pool().spawn(ThreadOptions{.name = std::string(kMaxNameBytes + 1, 't')});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, Errc::invalid_argument);
  EXPECT_EQ(too_long.error().message, "thread name of 129 bytes: at most 128 bytes");
  EXPECT_TRUE(h.pool().threads().empty()) << "nothing was spawned";
  Result<PollerId> long_poller = make_error(Errc::internal, "not run");
  Result<PollerId> max_poller = make_error(Errc::internal, "not run");
  auto t = h.spawn(std::string(kMaxNameBytes, 't'), {}, [&] {
    long_poller = current_thread()->register_poller(std::string(kMaxNameBytes + 1, 'p'), [] { return PollStatus::Idle; });
    max_poller = current_thread()->register_poller(std::string(kMaxNameBytes, 'p'), [] { return PollStatus::Idle; });
  });
  EXPECT_EQ(t->name().size(), kMaxNameBytes);
  ASSERT_FALSE(long_poller);
  EXPECT_EQ(long_poller.error().message, "poller name of 129 bytes: at most 128 bytes");
  EXPECT_TRUE(max_poller) << max_poller.error().message;
}
