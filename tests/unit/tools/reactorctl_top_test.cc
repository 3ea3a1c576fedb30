// reactorctl top's frame from fixed JSON: busy % and poller rates over the
// interval, the sort keys, escaped names, the row limit and missing fields.

#include "tools/reactorctl_top.hh"

#include <string>

#include <gtest/gtest.h>

namespace {

using reactor::ctl::escape_control;
using reactor::ctl::format_top_frame;
using reactor::ctl::parse_top_sort;
using reactor::ctl::TopOptions;
using reactor::ctl::TopSample;
using reactor::ctl::TopSort;
using json = nlohmann::json;

json thread(uint64_t id, const std::string& name, uint64_t busy, uint64_t idle) {
  return {{"id", id}, {"name", name}, {"busy", busy}, {"idle", idle}, {"active_pollers_count", 1},
          {"timed_pollers_count", 0}, {"paused_pollers_count", 0}};
}

// Two threads on core 0, one on core 1; `scale` multiplies the counters.
TopSample sample(uint64_t t, uint64_t hot_busy, uint64_t runs) {
  TopSample s;
  s.reactors = {{"tick_rate", 1000},
                {"reactors",
                 {{{"lcore", 0}, {"busy", t / 2}, {"idle", t / 2}, {"in_interrupt", false},
                   {"lw_threads", {{{"id", 1}, {"name", "hot"}}, {{"id", 2}, {"name", "b\x1b[2J"}}}}},
                  {{"lcore", 1}, {"busy", 0}, {"idle", t}, {"in_interrupt", true},
                   {"lw_threads", {{{"id", 3}, {"name", "a_idle"}}}}}}}};
  s.threads = {{"threads",
                {thread(1, "hot", hot_busy, t - hot_busy), thread(2, "b\x1b[2J", t / 10, t - t / 10),
                 thread(3, "a_idle", 0, t)}}};
  s.pollers = {{"threads",
                {{{"id", 1}, {"name", "hot"},
                  {"active_pollers", {{{"id", 7}, {"name", "spin"}, {"state", "running"}, {"run_count", runs},
                                       {"busy_count", runs / 2}}}}}}}};
  s.scheduler = {{"scheduler_name", "dynamic"}, {"scheduler_period", 1000000}};
  return s;
}

TEST(ReactorctlTop, BusyAndRatesAreOverTheInterval) {
  const TopSample before = sample(1000, 100, 100);
  const TopSample now = sample(2000, 1000, 600);  // hot: 900 of 1000 ticks; spin: 500 runs in 0.5 s
  TopOptions opt;
  opt.interval_ms = 500;
  opt.socket = "/run/x.sock";
  const std::string f = format_top_frame(now, &before, opt);
  EXPECT_NE(f.find("reactorctl top  /run/x.sock  policy dynamic (period 1.00 s)  busy % over 500 ms  sort busy"),
            std::string::npos)
      << f;
  EXPECT_NE(f.find("CORES 2"), std::string::npos) << f;
  EXPECT_NE(f.find("   0  poll        50.0        2"), std::string::npos) << f;
  EXPECT_NE(f.find("   1  interrupt    0.0        1"), std::string::npos) << f;
  EXPECT_NE(f.find("THREADS 3"), std::string::npos) << f;
  EXPECT_NE(f.find(" 1  hot        0   90.0"), std::string::npos) << f;
  EXPECT_NE(f.find("hot       1  spin     7  active  running   600    1000     500"), std::string::npos) << f;
  // Sorted by busy: hot, then b (10 %), then a_idle.
  EXPECT_LT(f.find(" hot "), f.find("b\\e[2J"));
  EXPECT_LT(f.find("b\\e[2J"), f.find("a_idle"));
  // No raw escape byte from a name.
  EXPECT_EQ(f.find('\x1b'), std::string::npos) << f;
}

TEST(ReactorctlTop, SortKeysAndRowLimit) {
  const TopSample before = sample(1000, 100, 100);
  const TopSample now = sample(2000, 1000, 600);
  TopOptions opt;
  opt.sort = TopSort::Name;
  std::string f = format_top_frame(now, &before, opt);
  EXPECT_LT(f.find("a_idle"), f.find("b\\e[2J"));
  EXPECT_LT(f.find("b\\e[2J"), f.find(" hot "));
  opt.sort = TopSort::Core;
  f = format_top_frame(now, &before, opt);
  EXPECT_LT(f.find(" hot "), f.find("a_idle"));
  opt.sort = TopSort::Busy;
  opt.max_rows = 1;
  f = format_top_frame(now, &before, opt);
  EXPECT_NE(f.find("... 2 more"), std::string::npos) << f;
  EXPECT_EQ(f.find("a_idle "), std::string::npos) << f;
}

TEST(ReactorctlTop, WithoutAnEarlierSampleAndWithMissingFields) {
  TopSample now = sample(2000, 1000, 600);
  now.threads["threads"][0].erase("busy");
  now.pollers = json();  // a daemon without thread_get_pollers
  now.scheduler = json();
  const std::string f = format_top_frame(now, nullptr, TopOptions{});
  EXPECT_NE(f.find("policy -  busy % since start"), std::string::npos) << f;
  EXPECT_NE(f.find(" 1  hot        0      -"), std::string::npos) << f;
  EXPECT_NE(f.find("POLLERS 0"), std::string::npos) << f;
}

TEST(ReactorctlTop, EscapeAndSortNames) {
  EXPECT_EQ(escape_control("plain"), "plain");
  EXPECT_EQ(escape_control("a\x1b[2Jb"), "a\\e[2Jb");
  EXPECT_EQ(escape_control(std::string("n\0l\n\x7f\\", 6)), "n\\x00l\\n\\x7f\\\\");
  EXPECT_EQ(escape_control("é"), "é");  // UTF-8 passes
  EXPECT_EQ(parse_top_sort("runs"), TopSort::Runs);
  EXPECT_FALSE(parse_top_sort("cpu"));
}

}  // namespace
