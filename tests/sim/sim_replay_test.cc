// Trace replay validation: the trace recorded from a real reactor-bench run
// under dynamic (tests/data/traces/bench_dynamic_2cores.jsonl), replayed on
// the production pool and manager with the policy and options it was
// recorded under, reproduces its placements and moves round by round; and a
// replay of a trace whose load was altered diverges and says where.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "sim/replay.hh"
#include "sim/trace.hh"

using namespace reactor;
using namespace reactor::sim;

namespace {

const std::string kTrace = std::string(REACTOR_SOURCE_DIR) + "/tests/data/traces/bench_dynamic_2cores.jsonl";

TEST(SimReplay, RecordedDynamicRunReplaysRoundByRound) {
  auto t = read_trace(kTrace);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->header.scheduler.policy, "dynamic");
  auto r = replay_recorded(*t);
  ASSERT_TRUE(r) << r.error().message;
  for (const std::string& d : r->divergences) ADD_FAILURE() << d;
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->samples, t->samples.size());
  uint64_t rounds = 0, moves = 0;
  for (const TraceSample& s : t->samples)
    if (s.round) {
      ++rounds;
      moves += s.round->moves.size();
    }
  EXPECT_EQ(r->rounds, rounds);
  EXPECT_EQ(r->rounds_matched, rounds);
  EXPECT_EQ(r->moves_recorded, moves);
  EXPECT_EQ(r->moves_replayed, moves);
  EXPECT_GE(moves, 2u);
  EXPECT_GE(r->threads_spawned, 6u);  // 4 at the start, 2 created during the recording
}

TEST(SimReplay, AlteredLoadDiverges) {
  auto t = read_trace(kTrace);
  ASSERT_TRUE(t) << t.error().message;
  // Make every idle thread look busy (60 %) in the first round that moved
  // one: dynamic no longer consolidates it on main.
  TraceSample* moved = nullptr;
  for (TraceSample& s : t->samples)
    if (s.round && !s.round->moves.empty()) {
      moved = &s;
      break;
    }
  ASSERT_NE(moved, nullptr);
  for (TraceThreadSample& th : moved->threads) {
    const uint64_t total = th.busy + th.idle;
    th.busy = total * 6 / 10;
    th.idle = total - th.busy;
  }
  auto r = replay_recorded(*t);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->ok());
  ASSERT_FALSE(r->divergences.empty());
  EXPECT_NE(r->divergences.front().find(fmt::format("round {} (sample {})", moved->round->seq, moved->seq)),
            std::string::npos)
      << r->divergences.front();
}

}  // namespace
