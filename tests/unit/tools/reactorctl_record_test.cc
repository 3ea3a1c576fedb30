// reactorctl record's conversion of scheduler_get_load replies into trace
// records, from fixed JSON: the header, interval samples as deltas of the
// cumulative counters (sleep as idle, stalled cores, moved threads), round
// samples carrying the round's load unchanged, missed rounds, bad replies;
// and run_record's loop against a scripted daemon (end reasons, the file).

#include "tools/reactorctl_record.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

namespace reactor::ctl {
namespace {

using json = nlohmann::json;

json reply(uint64_t now, uint64_t busy0, uint64_t idle0, uint64_t sleep0, uint64_t loops1, uint64_t tbusy,
           uint32_t tcore, const std::string& policy = "static", uint64_t period = 0) {
  return json{
      {"tick_rate", 1000},
      {"now", now},
      {"process", {{"name", "reactord"}, {"pid", 77}}},
      {"topology",
       {{"cores",
         {{{"id", 0}, {"package", 0}, {"numa_node", 0}, {"smt_siblings", {0}}},
          {{"id", 1}, {"package", 0}, {"numa_node", 0}, {"smt_siblings", {1}}}}}}},
      {"reactor_cores", {0, 1}},
      {"isolated", json::array()},
      {"main_core", 0},
      {"baseline", "interrupt"},
      {"scheduler",
       {{"policy", policy}, {"period_us", period}, {"load_limit", 20}, {"core_limit", 80}, {"core_busy", 95}}},
      {"cores",
       {{{"id", 0}, {"busy", busy0}, {"idle", idle0}, {"sleep", sleep0}, {"overhead", 0}, {"loops", now},
         {"stalls", 0}, {"mode", "interrupt"}, {"sleeping", false}, {"threads", 1}, {"freq_khz", nullptr}},
        {{"id", 1}, {"busy", 5}, {"idle", 5}, {"sleep", 0}, {"overhead", 0}, {"loops", loops1}, {"stalls", 0},
         {"mode", "poll"}, {"sleeping", false}, {"threads", 0}, {"freq_khz", 2000000}}}},
      {"threads",
       {{{"id", 3}, {"name", "t3"}, {"core", tcore}, {"home", 0}, {"cpumask", {0, 1}}, {"busy", tbusy},
         {"idle", 100}}}},
      {"rounds_total", 4},
      {"rounds_missed", 0},
      {"rounds", json::array()}};
}

TEST(RecordBuilder, HeaderFromTheFirstReply) {
  auto b = TraceBuilder::start(reply(1000, 0, 0, 0, 1, 0, 0), 250'000, "h", "2026-12-01T00:00:00Z");
  ASSERT_TRUE(b.has_value()) << b.error().message;
  const sim::TraceHeader& h = b->header();
  EXPECT_EQ(h.source.tool, "reactord");
  EXPECT_EQ(h.source.pid, 77);
  EXPECT_EQ(h.tick_rate, 1000u);
  EXPECT_EQ(h.interval_us, 250'000u);
  EXPECT_EQ(h.reactor_cores, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(h.baseline, ReactorMode::Interrupt);
  EXPECT_EQ(b->since_round(), 4u);
  EXPECT_FALSE(b->rounds_mode());
}

TEST(RecordBuilder, IntervalSamplesAreDeltasOfTheCounters) {
  auto b = TraceBuilder::start(reply(1000, 100, 50, 10, 7, 40, 0), 100'000, "h", "t");
  ASSERT_TRUE(b.has_value());
  // Not due: nothing.
  auto none = b->next(reply(1050, 120, 60, 10, 7, 45, 0), false);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  // Due: deltas since the first reply (the undue one did not rebase).
  auto s = b->next(reply(1500, 300, 100, 60, 7, 90, 1), true);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_EQ(s->size(), 1u);
  const sim::TraceSample& x = s->front();
  EXPECT_EQ(x.seq, 0u);
  EXPECT_EQ(x.t_us, 500'000u);  // 500 ticks at 1000 ticks/s
  EXPECT_EQ(x.ticks, 500u);
  EXPECT_FALSE(x.round.has_value());
  EXPECT_EQ(x.cores[0].busy, 200u);
  EXPECT_EQ(x.cores[0].idle, 100u);  // idle 50 + sleep 50
  EXPECT_FALSE(x.cores[0].stalled);  // core 0 ran passes (its loops grew)
  EXPECT_TRUE(x.cores[1].stalled);   // core 1's loops stayed at 7 while awake
  EXPECT_EQ(x.cores[1].freq_khz, std::optional<uint64_t>(2'000'000));
  ASSERT_EQ(x.threads.size(), 1u);
  EXPECT_EQ(x.threads[0].busy, 50u);
  EXPECT_EQ(x.threads[0].idle, 0u);
  EXPECT_EQ(x.threads[0].core, 1u);
  EXPECT_EQ(x.threads[0].rounds_since_move, 0u);  // it changed core since the previous sample
  // The next sample is relative to this one.
  auto y = b->next(reply(2000, 310, 100, 60, 8, 95, 1), true);
  ASSERT_TRUE(y.has_value());
  ASSERT_EQ(y->size(), 1u);
  EXPECT_EQ(y->front().seq, 1u);
  EXPECT_EQ(y->front().cores[0].busy, 10u);
  EXPECT_EQ(y->front().threads[0].busy, 5u);
  EXPECT_FALSE(y->front().cores[1].stalled);
  EXPECT_EQ(y->front().threads[0].rounds_since_move, 1u);
}

// A reactor counts a pass when it ends, so a pass that straddles a sampling
// instant lands whole in the next reply. Core 0 runs a pass from tick 1000 to
// 1150 and is idle until 1200: the reply at 1100 shows none of it, the one at
// 1200 all of it (busy 150 + idle 50 in an interval of 100 ticks). Its thread
// t3 is charged the same, and thread 4, spawned at 1050, reaches 1200 with
// busy 120 + idle 30. Every sample stays within its wall time, and what a cap
// held back comes out in the next sample (the core is inside its next pass at
// 1300: its counters did not move), so the sums equal the counters' growth.
TEST(RecordBuilder, APassThatStraddlesASampleIsNeverMoreThanTheWallTime) {
  auto at = [](uint64_t now, uint64_t busy0, uint64_t idle0, uint64_t tbusy, uint64_t tidle,
               std::optional<std::pair<uint64_t, uint64_t>> spawned) {
    json r = reply(now, busy0, idle0, 0, 7, tbusy, 0);
    r["threads"][0]["idle"] = tidle;
    if (spawned)
      r["threads"].push_back(json{{"id", 4}, {"name", "t4"}, {"core", 0}, {"home", 0}, {"cpumask", {0, 1}},
                                  {"busy", spawned->first}, {"idle", spawned->second}});
    return r;
  };
  auto b = TraceBuilder::start(at(1000, 100, 50, 40, 100, std::nullopt), 100'000, "h", "t");
  ASSERT_TRUE(b.has_value()) << b.error().message;
  std::vector<sim::TraceSample> samples;
  for (const json& r : {at(1100, 100, 50, 40, 100, std::nullopt),            // the pass is running
                        at(1200, 250, 100, 190, 150, std::pair{120u, 30u}),  // it ended at 1150
                        at(1300, 250, 100, 190, 150, std::pair{120u, 30u})}) {  // inside the next pass
    auto s = b->next(r, true);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    ASSERT_EQ(s->size(), 1u);
    samples.push_back(s->front());
  }
  uint64_t core_busy = 0, core_idle = 0, t3_busy = 0, t3_idle = 0, t4_busy = 0, t4_idle = 0;
  for (const sim::TraceSample& x : samples) {
    ASSERT_EQ(x.ticks, 100u);
    for (const sim::TraceCoreSample& c : x.cores)
      EXPECT_LE(c.busy + c.idle, x.ticks) << "core " << c.id << " in sample " << x.seq;
    for (const sim::TraceThreadSample& t : x.threads) {
      EXPECT_LE(t.busy + t.idle, x.ticks) << "thread " << t.id << " in sample " << x.seq;
      (t.id == 3 ? t3_busy : t4_busy) += t.busy;
      (t.id == 3 ? t3_idle : t4_idle) += t.idle;
    }
    core_busy += x.cores[0].busy;
    core_idle += x.cores[0].idle;
  }
  EXPECT_EQ(samples[1].cores[0].busy, 100u);  // the busy part first, up to the wall time
  EXPECT_EQ(samples[1].cores[0].idle, 0u);
  EXPECT_EQ(samples[2].cores[0].busy, 50u);   // the rest, one sample later
  EXPECT_EQ(samples[2].cores[0].idle, 50u);
  EXPECT_EQ(core_busy, 150u);
  EXPECT_EQ(core_idle, 50u);
  EXPECT_EQ(t3_busy, 150u);
  EXPECT_EQ(t3_idle, 50u);
  EXPECT_EQ(t4_busy, 120u);
  EXPECT_EQ(t4_idle, 30u);
}

TEST(RecordBuilder, RoundSamplesCarryTheRoundsLoadUnchanged) {
  auto b = TraceBuilder::start(reply(1000, 0, 0, 0, 1, 0, 0, "dynamic", 100'000), 1'000'000, "h", "t");
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->rounds_mode());
  json r = reply(1400, 999, 999, 999, 2, 999, 0, "dynamic", 100'000);
  r["rounds_total"] = 7;
  r["rounds_missed"] = 1;  // round 5 left the history unread
  for (uint64_t seq : {6, 7}) {
    r["rounds"].push_back(json{
        {"seq", seq},
        {"policy", "dynamic"},
        {"at_tick", 1000 + 100 * (seq - 4)},
        {"ticks", 100},
        {"moves", seq == 7 ? json::array({json{{"thread", 3}, {"from", 1}, {"to", 0}, {"reason", "idle"}}})
                           : json::array()},
        {"moves_landed", seq == 7 ? 1 : 0},
        {"moves_skipped", 0},
        {"load",
         {{"cores",
           {{{"id", 0}, {"busy", 11}, {"idle", 89}, {"overhead", 1}, {"mode", "poll"}, {"threads", 0},
             {"stalled", false}},
            {{"id", 1}, {"busy", 2}, {"idle", 98}, {"overhead", 0}, {"mode", "interrupt"}, {"threads", 1},
             {"stalled", true}}}},
          {"threads",
           {{{"id", 3}, {"name", "t3"}, {"core", 1}, {"home", 0}, {"cpumask", {0, 1}}, {"busy", 2}, {"idle", 98},
             {"rounds_since_move", 5}}}}}}});
  }
  auto s = b->next(r, true);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_EQ(s->size(), 2u);  // one per round, no interval sample
  EXPECT_EQ((*s)[0].round->seq, 6u);
  EXPECT_EQ((*s)[0].t_us, 200'000u);
  EXPECT_EQ((*s)[1].round->seq, 7u);
  EXPECT_EQ((*s)[1].seq, 1u);
  ASSERT_EQ((*s)[1].round->moves.size(), 1u);
  EXPECT_EQ((*s)[1].round->moves[0].from, 1u);
  EXPECT_EQ((*s)[1].cores[0].busy, 11u);
  EXPECT_EQ((*s)[1].cores[1].mode, ReactorMode::Interrupt);
  EXPECT_TRUE((*s)[1].cores[1].stalled);
  EXPECT_EQ((*s)[1].cores[1].freq_khz, std::optional<uint64_t>(2'000'000));
  EXPECT_EQ((*s)[1].threads[0].rounds_since_move, 5u);
  EXPECT_EQ((*s)[1].threads[0].busy, 2u);
  EXPECT_EQ(b->since_round(), 7u);
  EXPECT_EQ(b->rounds_missed(), 1u);
  EXPECT_EQ(b->rounds(), 2u);
}

TEST(RecordBuilder, BadRepliesAreNamed) {
  json r = reply(1000, 0, 0, 0, 1, 0, 0);
  r.erase("reactor_cores");
  auto b = TraceBuilder::start(r, 1000, "h", "t");
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find("unexpected reply to scheduler_get_load"), std::string::npos);
  r = reply(1000, 0, 0, 0, 1, 0, 0);
  r["main_core"] = 5;
  b = TraceBuilder::start(r, 1000, "h", "t");
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find("main core 5 is not a reactor core"), std::string::npos) << b.error().message;
  auto ok = TraceBuilder::start(reply(1000, 0, 0, 0, 1, 0, 0), 1000, "h", "t");
  ASSERT_TRUE(ok.has_value());
  json bad = reply(1100, 0, 0, 0, 1, 0, 0);
  bad["cores"][0]["busy"] = -1;
  auto s = ok->next(bad, true);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("'busy' is not a non-negative integer"), std::string::npos) << s.error().message;
}

TEST(RecordLoop, EndsDaemonGoneWithACompleteTrace) {
  char dir[] = "/tmp/record_test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/t.jsonl";
  int calls = 0;
  auto call = [&](const json& params) {
    LoadCall c;
    ++calls;
    if (calls == 1) {
      EXPECT_FALSE(params.contains("since_round"));
      c.result = reply(1000, 0, 0, 0, 1, 0, 0);
    } else if (calls <= 3) {
      EXPECT_EQ(params.value("since_round", uint64_t{0}), 4u);
      c.result = reply(1000 + 100 * static_cast<uint64_t>(calls), 10, 10, 0, static_cast<uint64_t>(calls), 5, 0);
    } else {
      c.error = "cannot receive the reply: Connection reset by peer";
      c.transport = true;
    }
    return c;
  };
  RecordOptions opt;
  opt.out = path;
  opt.interval_ms = 10;
  std::ostringstream out, err;
  EXPECT_EQ(run_record(call, opt, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");
  auto t = sim::read_trace(path);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->end.reason, sim::TraceEndReason::DaemonGone);
  EXPECT_EQ(t->samples.size(), 2u);
  EXPECT_NE(out.str().find("recorded 2 samples (0 rounds)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("daemon-gone (cannot receive the reply: Connection reset by peer)"), std::string::npos);

  // A first call answered with an error: exit 1, one line, no file.
  const std::string none = std::string(dir) + "/none.jsonl";
  opt.out = none;
  std::ostringstream out2, err2;
  auto refuse = [](const json&) {
    LoadCall c;
    c.error = "scheduler_get_load: Method not found (code -32601)";
    return c;
  };
  EXPECT_EQ(run_record(refuse, opt, out2, err2), 1);
  EXPECT_EQ(err2.str(), "reactorctl: record failed: scheduler_get_load: Method not found (code -32601)\n");
  EXPECT_NE(::access(none.c_str(), F_OK), 0) << "a trace without a header was created";
  (void)std::system((std::string("rm -rf ") + dir).c_str());
}

TEST(RecordPath, RefusesWhatCannotBeWritten) {
  EXPECT_EQ(check_record_path(""), "--out is empty");
  EXPECT_EQ(check_record_path("/nonexistent-dir/t.jsonl"),
            "--out /nonexistent-dir/t.jsonl: directory /nonexistent-dir does not exist");
  EXPECT_EQ(check_record_path("/tmp"), "--out /tmp is a directory, not a file");
  EXPECT_EQ(check_record_path("/tmp/new-trace.jsonl"), "");
}

}  // namespace
}  // namespace reactor::ctl
