// reactorctl's formatters: fixed JSON results (shaped like rpc-compat.md §3)
// in, exact text out; plus tolerance of members that are missing or of the
// wrong type, and the switch request built from the command line.

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <algorithm>
#include <string>

#include "tools/reactorctl_cli.hh"
#include "tools/reactorctl_format.hh"
#include "unit/tools/reactorctl_fixtures.hh"

namespace reactor::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ReactorctlTable, AlignsColumnsAndTrimsTrailingSpaces) {
  Table t({{"NAME", Align::Left}, {"N", Align::Right}, {"NOTE", Align::Left}});
  t.add_row({"a", "1", ""});
  t.add_row({"longer", "12345", "x"});
  t.add_row({"short"});  // missing cells print empty
  EXPECT_EQ(t.render(),
            "NAME        N  NOTE\n"
            "a           1\n"
            "longer  12345  x\n"
            "short\n");
  EXPECT_EQ(t.rows(), 3U);
}

TEST(ReactorctlHelpers, PercentMaskDuration) {
  EXPECT_EQ(busy_percent(0, 0), std::nullopt);
  EXPECT_DOUBLE_EQ(*busy_percent(1, 3), 25.0);
  EXPECT_DOUBLE_EQ(*busy_percent(UINT64_MAX, 0), 100.0);
  EXPECT_EQ(format_percent(std::nullopt), "-");
  EXPECT_EQ(format_percent(12.345), "12.3");
  EXPECT_EQ(mask_to_list("3"), "0-1");
  EXPECT_EQ(mask_to_list("f0"), "4-7");
  EXPECT_EQ(mask_to_list("100"), "8");
  EXPECT_EQ(mask_to_list("0"), "none");
  EXPECT_EQ(mask_to_list("zz"), "zz");
  EXPECT_EQ(format_duration_us(999), "999 us");
  EXPECT_EQ(format_duration_us(1500), "1.5 ms");
  EXPECT_EQ(format_duration_us(2500000), "2.50 s");
}

TEST(ReactorctlStatus, DynamicWithGovernorReactorsAndHistory) {
  const auto sched = test::scheduler_dynamic();
  const auto gov = test::governor_sample();
  const auto reactors = test::reactors_sample();
  const auto history = test::history_sample();
  EXPECT_EQ(format_status(sched, &gov, &reactors, &history),
            "scheduler       dynamic\n"
            "period          1000000 us (1.00 s)\n"
            "options         load_limit=20 core_limit=80 core_busy=95\n"
            "governor        sim_governor (env simulated)\n"
            "main core       0\n"
            "isolated cores  none\n"
            "reactors        2 on cores 0-1: 1 polling, 1 in interrupt mode\n"
            "threads         2\n"
            "last switch     #2 dynamic -> gscheduler: gscheduler needs a governor: none "
            "configured; dynamic runs, took 1.5 ms, threads restored 1/2, 1 skipped, timed out\n");
}

TEST(ReactorctlStatus, BeforeInitWithoutExtras) {
  EXPECT_EQ(format_status(test::scheduler_startup(), nullptr, nullptr, nullptr),
            "scheduler       none (framework not initialized)\n"
            "period          0 (no periodic rounds)\n"
            "options         -\n"
            "governor        none\n"
            "main core       1\n"
            "isolated cores  2-3\n");
}

TEST(ReactorctlStatus, EmptyHistorySaysSo) {
  const auto h = nlohmann::json::parse(R"({"transitions":[],"rounds":[]})");
  EXPECT_THAT(format_status(test::scheduler_dynamic(), nullptr, nullptr, &h),
              HasSubstr("last switch     none since start\n"));
}

TEST(ReactorctlReactors, CumulativeBusyAndPlacement) {
  EXPECT_EQ(format_reactors(test::reactors_sample(), nullptr, nullptr, FormatOptions{}),
            "reactors: 2; busy % since start (busy / (busy + idle) ticks)\n"
            "CORE  MODE       BUSY%  THREADS  USR s  SYS s  IRQ s   TID\n"
            "   0  poll        25.0        2   3.45   0.12   0.00  4242\n"
            "   1  interrupt      -        0   0.00   0.00   0.01  4243\n"
            "\n"
            "threads: 2 (PLACED: at its home core, or moved away by the policy)\n"
            "THREAD  ID  CORE  HOME  PLACED  CPUMASK  ON CORE s\n"
            "load50   2     0     0  home    0-1            2.5\n"
            "idle0    3     0     1  away    0-1            1.0\n");
}

TEST(ReactorctlReactors, DeltaOverIntervalAndFrequencyColumn) {
  const auto before = test::reactors_sample();
  auto now = test::reactors_sample(300, 100);  // 300 busy + 100 idle ticks since
  now["reactors"][1]["core_freq"] = 2400;
  now["reactors"][0]["core_freq"] = 3000;
  FormatOptions fo;
  fo.interval_ms = 500;
  const auto text = format_reactors(now, &before, nullptr, fo);
  EXPECT_THAT(text, HasSubstr("reactors: 2; busy % over the last 500 ms\n"));
  EXPECT_THAT(text, HasSubstr("CORE  MODE       BUSY%  THREADS  USR s  SYS s  IRQ s   MHz   TID\n"
                              "   0  poll        75.0        2   3.45   0.12   0.00  3000  4242\n"
                              "   1  interrupt      -        0   0.00   0.00   0.01  2400  4243\n"));
}

TEST(ReactorctlReactors, CounterGoingBackwardsOrNewCoreIsNotADelta) {
  auto before = test::reactors_sample(1000, 0);  // "before" larger than now: a restarted daemon
  FormatOptions fo;
  fo.interval_ms = 100;
  const auto text = format_reactors(test::reactors_sample(), &before, nullptr, fo);
  EXPECT_THAT(text, HasSubstr("   0  poll           -        2"));
  auto partial = test::reactors_sample();
  partial["reactors"].erase(0);  // core 0 absent from the first sample
  EXPECT_THAT(format_reactors(test::reactors_sample(), &partial, nullptr, fo),
              HasSubstr("   0  poll           -        2"));
}

// reactor_get_reactor_stats (reactor's own method) adds OVERHEAD%:
// overhead / (busy + idle), cumulative or over the window like BUSY%.
TEST(ReactorctlReactors, OverheadColumnFromReactorStats) {
  const auto extra = test::reactor_stats_sample();
  const auto text = format_reactors(test::reactors_sample(), nullptr, nullptr, FormatOptions{},
                                    ReactorStatsSamples{&extra, nullptr});
  EXPECT_THAT(text, HasSubstr("CORE  MODE       BUSY%  OVERHEAD%  THREADS  USR s  SYS s  IRQ s   TID\n"
                              "   0  poll        25.0        5.0        2   3.45   0.12   0.00  4242\n"
                              "   1  interrupt      -          -        0   0.00   0.00   0.01  4243\n"));

  const auto before = test::reactors_sample();
  const auto now = test::reactors_sample(300, 100);
  const auto extra_now = test::reactor_stats_sample(300, 100, 20);  // 20 of 400 ticks
  FormatOptions fo;
  fo.interval_ms = 500;
  EXPECT_THAT(format_reactors(now, &before, nullptr, fo, ReactorStatsSamples{&extra_now, &extra}),
              HasSubstr("   0  poll        75.0        5.0        2"));
  // A window without the first sample of the overhead is no delta.
  EXPECT_THAT(format_reactors(now, &before, nullptr, fo, ReactorStatsSamples{&extra_now, nullptr}),
              HasSubstr("   0  poll        75.0          -        2"));
  // A counter going backwards (restarted daemon) is no delta either.
  const auto restarted = test::reactor_stats_sample(0, 0, 100);
  EXPECT_THAT(format_reactors(now, &before, nullptr, fo, ReactorStatsSamples{&extra_now, &restarted}),
              HasSubstr("   0  poll        75.0          -        2"));
}

TEST(ReactorctlReactors, NoOverheadColumnWithoutReactorStats) {
  const auto text = format_reactors(test::reactors_sample(), nullptr, nullptr, FormatOptions{});
  EXPECT_THAT(text, Not(HasSubstr("OVERHEAD%")));
}

TEST(ReactorctlReactors, HomeFromThreadStatsWhenTheListingHasNone) {
  auto r = test::reactors_sample();
  for (auto& th : r["reactors"][0]["lw_threads"]) th.erase("home_lcore");
  auto stats = test::stats_sample();
  stats["threads"][0]["home_lcore"] = 1;  // thread 2 only
  const auto text = format_reactors(r, nullptr, &stats, FormatOptions{});
  EXPECT_THAT(text, HasSubstr("load50   2     0     1  away    0-1            2.5\n"));
  EXPECT_THAT(text, HasSubstr("idle0    3     0     -  -       0-1            1.0\n"));
}

TEST(ReactorctlReactors, NoHomeColumnsWhenTheDaemonReportsNone) {
  auto r = test::reactors_sample();
  for (auto& th : r["reactors"][0]["lw_threads"]) th.erase("home_lcore");
  const auto stats = test::stats_sample();
  const auto text = format_reactors(r, nullptr, &stats, FormatOptions{});
  EXPECT_THAT(text, HasSubstr("threads: 2\n"
                              "THREAD  ID  CORE  CPUMASK  ON CORE s\n"
                              "load50   2     0  0-1            2.5\n"));
  EXPECT_THAT(format_threads(stats, nullptr, &r, FormatOptions{}),
              HasSubstr("ID  NAME    CORE  CPUMASK  BUSY%  ACTIVE  TIMED  PAUSED\n"));
}

TEST(ReactorctlReactors, NoThreads) {
  auto r = test::reactors_sample();
  r["reactors"][0]["lw_threads"] = nlohmann::json::array();
  EXPECT_THAT(format_reactors(r, nullptr, nullptr, FormatOptions{}), HasSubstr("\nthreads: none\n"));
}

TEST(ReactorctlThreads, CoreFromReactorsAndDeltaBusy) {
  const auto before = test::stats_sample();
  const auto now = test::stats_sample(100, 300);
  const auto reactors = test::reactors_sample();
  FormatOptions fo;
  fo.interval_ms = 500;
  EXPECT_EQ(format_threads(now, &before, &reactors, fo),
            "threads: 2; busy % over the last 500 ms\n"
            "ID  NAME    CORE  HOME  CPUMASK  BUSY%  ACTIVE  TIMED  PAUSED\n"
            " 2  load50     0     0  0-1       25.0       0      1       0\n"
            " 3  idle0      0     1  0-1          -       0      0       0\n");
}

TEST(ReactorctlThreads, CumulativeWithoutReactors) {
  EXPECT_EQ(format_threads(test::stats_sample(), nullptr, nullptr, FormatOptions{}),
            "threads: 2; busy % since start (busy / (busy + idle) ticks)\n"
            "ID  NAME    CORE  CPUMASK  BUSY%  ACTIVE  TIMED  PAUSED\n"
            " 2  load50     -  0-1       50.0       0      1       0\n"
            " 3  idle0      -  0-1          -       0      0       0\n");
  EXPECT_EQ(format_threads(nlohmann::json::parse(R"({"tick_rate":1,"threads":[]})"), nullptr,
                           nullptr, FormatOptions{}),
            "threads: none\n");
}

TEST(ReactorctlPollers, TypesStatesAndPeriods) {
  EXPECT_EQ(format_pollers(test::pollers_sample()),
            "pollers: 3\n"
            "THREAD  TID  POLLER   ID  TYPE    STATE     RUNS  BUSY    PERIOD\n"
            "load50    2  load50    1  timed   waiting    120   118  100.0 ms\n"
            "io        4  io_poll   1  active  running  99999     7         -\n"
            "io        4  flush     2  paused  paused       3     0    500 us\n");
  EXPECT_EQ(format_pollers(nlohmann::json::parse(R"({"tick_rate":1,"threads":[]})")),
            "pollers: none\n");
}

TEST(ReactorctlGovernor, NoneAndPerCoreFrequencies) {
  EXPECT_THAT(format_governor(nlohmann::json::object()), HasSubstr("governor: none active"));
  EXPECT_EQ(format_governor(test::governor_sample()),
            "governor: sim_governor (env simulated)\n"
            "CORE  CURRENT MHz  MIN MHz  MAX MHz  STEPS\n"
            "   0         2400     1200     3000      4\n"
            "   1            -   1200.5     3000      2\n");
}

TEST(ReactorctlHistory, TransitionsAndLastRounds) {
  EXPECT_EQ(format_history(test::history_sample(), 2),
            "transitions: 2 (RESTORED: threads the old policy brought home / had to bring "
            "home)\n"
            "SEQ  FROM     TO          RUNNING    TOOK  RESTORED                   OPTIONS    "
            "        RESULT\n"
            "  1  static   dynamic     dynamic  420 us  0/0                        "
            "period_us=1000000  ok\n"
            "  2  dynamic  gscheduler  dynamic  1.5 ms  1/2, 1 skipped, timed out  -         "
            "         gscheduler needs a governor: none configured; dynamic runs\n"
            "\n"
            "rounds: the last 2 of 3 kept\n"
            "SEQ  POLICY     TOOK  MOVES  LANDED  SKIPPED  MODES  FREQ  PROBLEMS\n"
            "  8  dynamic   80 us      1       1        0      1     0  -\n"
            "  9  dynamic  2.50 s      0       0        1      0     2  thread 5 in transit; "
            "governor: EBUSY\n");
}

TEST(ReactorctlHistory, AllRoundsEmptyAndAlternativeShapes) {
  EXPECT_THAT(format_history(test::history_sample(), 100), HasSubstr("rounds: 3\n"));
  EXPECT_EQ(format_history(nlohmann::json::parse(R"({"transitions":[],"rounds":[]})"), 10),
            "transitions: none since start\n\nrounds: none kept\n");
  // reactord's shape: a time per transition and totals since start.
  auto h = test::history_sample();
  h["transitions"][0]["time"] = "2025-11-25T21:40:12.345Z";
  h["transitions_total"] = 9;
  h["rounds_total"] = 57;
  const auto timed = format_history(h, 1);
  EXPECT_THAT(timed, HasSubstr("transitions: the last 2 of 9 since start (RESTORED"));
  EXPECT_THAT(timed, HasSubstr("SEQ  TIME UTC  FROM     TO  "));
  EXPECT_THAT(timed, HasSubstr("  1  21:40:12  static   dynamic  "));
  EXPECT_THAT(timed, HasSubstr("  2  -         dynamic  gscheduler  "));
  EXPECT_THAT(timed, HasSubstr("rounds: the last 1 of 57 since start\n"));
  EXPECT_THAT(format_status(test::scheduler_dynamic(), nullptr, nullptr, &h),
              HasSubstr("rounds          57 since start\n"));
  // A bare array of transitions with object options and a move count.
  const auto arr = nlohmann::json::parse(
      R"([{"seq":4,"from":"dynamic","to":"static","options":{"period_us":0},"moves":3,"ok":true}])");
  const auto text = format_history(arr, 10);
  EXPECT_THAT(text, HasSubstr("  4  dynamic  static  -           -  3 moved   period_us=0  ok\n"));
  EXPECT_THAT(text, Not(HasSubstr("rounds")));
  EXPECT_EQ(last_transition(arr), &arr[0]);
  EXPECT_EQ(last_transition(nlohmann::json::object()), nullptr);
}

TEST(ReactorctlSwitch, SummaryLine) {
  const auto h = test::history_sample();
  auto t = h["transitions"][0];
  EXPECT_EQ(format_switch_summary(test::scheduler_dynamic(), &t),
            "switched to dynamic (period 1000000 us, load_limit 20, core_limit 80, core_busy 95); "
            "transition #1 static -> dynamic took 420 us, threads restored 0/0\n");
  const auto g = nlohmann::json::parse(
      R"({"scheduler_name":"gscheduler","scheduler_period":5000,"isolated_core_mask":"0",
          "scheduling_core":0,"governor_name":"sim_governor"})");
  EXPECT_EQ(format_switch_summary(g, nullptr),
            "switched to gscheduler (period 5000 us, governor sim_governor)\n");
}

// A daemon of another version: wrong types and missing members print "-"
// instead of throwing.
TEST(ReactorctlEscaping, ControlCharactersAndBackslashAreEscaped) {
  EXPECT_EQ(printable("plain name-1 \xc3\xa9t\xc3\xa9"), "plain name-1 \xc3\xa9t\xc3\xa9") << "UTF-8 is kept";
  EXPECT_EQ(printable("a\nb\rc\td\x1b[2Je\\f"), "a\\nb\\rc\\td\\e[2Je\\\\f");
  EXPECT_EQ(printable(std::string("x\0y\x7f\x01", 5)), "x\\x00y\\x7f\\x01");
  EXPECT_EQ(printable("csi\xc2\x9b" "31m"), "csi\\u009b31m") << "C1 control U+009B";
}

// Issue: a thread name with ESC or a newline forged rows in every table.
TEST(ReactorctlEscaping, ThreadNameCannotForgeARowInAnyTable) {
  const std::string evil = "x\n 9  root_thread     0  0-1      99.0       0      0       0\x1b[31m";
  auto stats = test::stats_sample();
  stats["threads"][0]["name"] = evil;
  const std::string threads = format_threads(stats, nullptr, nullptr, FormatOptions{});
  EXPECT_EQ(std::count(threads.begin(), threads.end(), '\n'), 4) << threads;  // title, header, 2 rows
  EXPECT_EQ(threads.find('\x1b'), std::string::npos);
  EXPECT_THAT(threads, HasSubstr("x\\n 9  root_thread"));

  auto pollers = test::pollers_sample();
  pollers["threads"][0]["name"] = evil;
  pollers["threads"][0]["timed_pollers"][0]["name"] = evil;
  const std::string p = format_pollers(pollers);
  EXPECT_EQ(std::count(p.begin(), p.end(), '\n'), 5) << p;
  EXPECT_EQ(p.find('\x1b'), std::string::npos);

  auto r = test::reactors_sample();
  r["reactors"][0]["lw_threads"][0]["name"] = evil;
  const std::string reactors = format_reactors(r, nullptr, nullptr, FormatOptions{});
  EXPECT_EQ(reactors.find('\x1b'), std::string::npos) << reactors;
  EXPECT_EQ(reactors.find("\n 9  root_thread"), std::string::npos) << reactors;

  auto g = test::governor_sample();
  g["governor_name"] = "gov\nforged line\x1b[0m";
  const std::string gov = format_governor(g);
  EXPECT_THAT(gov, HasSubstr("governor: gov\\nforged line\\e[0m"));
  EXPECT_EQ(gov.find("\nforged"), std::string::npos);
}

TEST(ReactorctlTolerance, WrongTypesNeverThrow) {
  const auto junk = nlohmann::json::parse(R"({
    "tick_rate": "fast", "scheduler_name": 5, "scheduler_period": -1,
    "reactors": [{"lcore": "zero", "busy": -3, "lw_threads": [7, {"id": "x"}]}, 3],
    "threads": [null, {"id": 1.5, "active_pollers": "none", "timed_pollers": [1]}],
    "cores": [{"available_frequencies": ["x"]}],
    "transitions": [{"seq": "a", "restore": 1}], "rounds": [5, {"moves": "many"}]})");
  FormatOptions fo;
  EXPECT_NO_THROW({
    (void)format_status(junk, &junk, &junk, &junk);
    (void)format_reactors(junk, &junk, &junk, fo, ReactorStatsSamples{&junk, &junk});
    (void)format_threads(junk, &junk, &junk, fo);
    (void)format_pollers(junk);
    (void)format_governor(junk);
    (void)format_history(junk, 5);
    (void)format_switch_summary(junk, &junk);
  });
  const auto scalar = nlohmann::json(42);
  EXPECT_NO_THROW({
    (void)format_status(scalar, &scalar, &scalar, &scalar);
    (void)format_reactors(scalar, &scalar, &scalar, fo, ReactorStatsSamples{&scalar, &scalar});
    (void)format_threads(scalar, &scalar, &scalar, fo);
    (void)format_history(scalar, 5);
  });
  EXPECT_THAT(format_threads(junk, nullptr, nullptr, fo), HasSubstr(" -  -"));
}

// ---- the switch request ----

TEST(ReactorctlSwitchParams, CanonicalNamesAndOnlyGivenOptions) {
  SwitchRequest r;
  r.policy = "global";
  r.period_us = 5000;
  auto p = switch_params(r);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, nlohmann::json::parse(R"({"name":"gscheduler","period":5000})"));

  SwitchRequest d;
  d.policy = "dynamic";
  d.load_limit = 0;
  d.core_busy = 100;
  p = switch_params(d);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, nlohmann::json::parse(R"({"name":"dynamic","load_limit":0,"core_busy":100})"));

  SwitchRequest s;
  s.policy = "static";
  s.mappings = "2:0,3:1";
  p = switch_params(s);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, nlohmann::json::parse(R"({"name":"static","mappings":"2:0,3:1"})"));
}

TEST(ReactorctlSwitchParams, RejectsWhatTheDaemonWouldReject) {
  auto msg = [](SwitchRequest r) {
    auto p = switch_params(r);
    EXPECT_FALSE(p);
    return p ? std::string() : p.error().message;
  };
  SwitchRequest r;
  r.policy = "fifo";
  EXPECT_EQ(msg(r), "unknown policy 'fifo'; known: static, dynamic, global (alias of gscheduler)");
  r.policy = "dynamic";
  r.core_limit = 101;
  EXPECT_EQ(msg(r), "--core-limit 101 is not a percentage (0..100)");
  r.core_limit = -1;
  EXPECT_EQ(msg(r), "--core-limit -1 is not a percentage (0..100)");
  r.core_limit.reset();
  r.mappings = "1:0";
  EXPECT_EQ(msg(r), "--mappings applies to the static policy only, not dynamic");
  r.mappings.reset();
  r.policy = "gscheduler";
  r.load_limit = 10;
  EXPECT_EQ(msg(r), "--load-limit applies to the dynamic policy only, not gscheduler");
  SwitchRequest s;
  s.policy = "static";
  s.mappings = "1-0";
  EXPECT_THAT(msg(s), HasSubstr("--mappings: "));
}

TEST(ReactorctlSwitchParams, PlacementOptionsAreOnOffBooleansForDynamicOnly) {
  SwitchRequest d;
  d.policy = "dynamic";
  d.numa_local = "on";
  d.smt_last = "false";
  d.keep_asleep = "true";
  auto p = switch_params(d);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, nlohmann::json::parse(R"({"name":"dynamic","numa_local":true,"smt_last":false,"keep_asleep":true})"));
  d.numa_local = "off";
  d.smt_last.reset();
  d.keep_asleep.reset();
  p = switch_params(d);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, nlohmann::json::parse(R"({"name":"dynamic","numa_local":false})"));

  auto msg = [](SwitchRequest r) {
    auto q = switch_params(r);
    EXPECT_FALSE(q);
    return q ? std::string() : q.error().message;
  };
  SwitchRequest bad;
  bad.policy = "dynamic";
  bad.keep_asleep = "yes";
  EXPECT_EQ(msg(bad), "--keep-asleep 'yes' is not on, off, true or false");
  bad.keep_asleep = "ON";
  EXPECT_EQ(msg(bad), "--keep-asleep 'ON' is not on, off, true or false");
  bad.keep_asleep = "";
  EXPECT_EQ(msg(bad), "--keep-asleep '' is not on, off, true or false");
  bad.keep_asleep = "o\nff";
  EXPECT_EQ(msg(bad), "--keep-asleep 'o\\nff' is not on, off, true or false");
  SwitchRequest st;
  st.policy = "static";
  st.smt_last = "on";
  EXPECT_EQ(msg(st), "--smt-last applies to the dynamic policy only, not static");
  st.policy = "global";
  EXPECT_EQ(msg(st), "--smt-last applies to the dynamic policy only, not gscheduler");
}

TEST(ReactorctlStatus, ShowsThePlacementOptionsWhenTheDaemonReportsThem) {
  nlohmann::json sched = test::scheduler_dynamic();
  sched["numa_local"] = true;
  sched["smt_last"] = false;
  sched["keep_asleep"] = true;
  EXPECT_THAT(format_status(sched, nullptr, nullptr, nullptr),
              HasSubstr("options         load_limit=20 core_limit=80 core_busy=95 numa_local=on smt_last=off "
                        "keep_asleep=on\n"));
  EXPECT_EQ(format_switch_summary(sched, nullptr),
            "switched to dynamic (period 1000000 us, load_limit 20, core_limit 80, core_busy 95, numa_local on, "
            "smt_last off, keep_asleep on)\n");
}

}  // namespace
}  // namespace reactor::ctl
