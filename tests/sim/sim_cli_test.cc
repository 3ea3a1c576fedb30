// reactor-sim's command line, in-process (run_cli): the side-by-side table,
// --json with one entry per --policy, and bad input of every kind refused
// with one line naming the problem, exit status 2, nothing run.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/sim_cli.hh"

namespace {

struct CliRun {
  int status;
  std::string out, err;
};

CliRun run(std::vector<std::string> args) {
  args.insert(args.begin(), "reactor-sim");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int st = reactor::sim::run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
  return {st, out.str(), err.str()};
}

const std::vector<std::string> kSmall = {"--workload", "bursty", "--threads", "200", "--topology",
                                         "package:2 core:4 pu:2", "--duration", "30"};

std::vector<std::string> small(std::vector<std::string> more) {
  std::vector<std::string> a = kSmall;
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

TEST(SimCli, JsonHasOnePolicyEntryPerPolicyOption) {
  const CliRun r = run(small({"--policy", "dynamic:load_limit=30", "--policy", "static", "--policy", "spdk-dynamic",
                           "--json"}));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["policies"].size(), 3u);
  EXPECT_EQ(j["policies"][0]["policy"], "dynamic:load_limit=30");
  EXPECT_NE(j["policies"][0]["options"].get<std::string>().find("load_limit=30"), std::string::npos);
  EXPECT_EQ(j["policies"][1]["policy"], "static");
  EXPECT_EQ(j["policies"][2]["policy"], "spdk-dynamic");
  for (const auto& p : j["policies"]) {
    EXPECT_EQ(p["rounds"], 30);
    EXPECT_EQ(p["threads"], 200);
    EXPECT_EQ(p["cores"], 16);
    for (const char* k : {"polling_s", "sleeping_s", "above_core_busy_s", "delay_p50_us", "delay_p99_us",
                          "moves", "moves_per_thread_hour", "frequency_changes", "deciding_rounds", "deciding"})
      EXPECT_TRUE(p.contains(k)) << k;
  }
  EXPECT_EQ(j["policies"][1]["moves"], 0);
  EXPECT_GT(j["policies"][0]["moves"].get<int>(), 0);
  EXPECT_EQ(j["policies"][1]["sleeping_s"], 0.0);  // static polls
  EXPECT_GT(j["policies"][0]["sleeping_s"].get<double>(), 0.0);
}

TEST(SimCli, TableHasAColumnPerPolicy) {
  const CliRun r = run(small({"--policy", "static", "--policy", "gscheduler"}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("bursty workload, 200 threads"), std::string::npos) << r.out;
  std::istringstream in(r.out);
  std::string line;
  bool header = false;
  while (std::getline(in, line))
    if (line.rfind("metric", 0) == 0) {
      header = true;
      EXPECT_NE(line.find("static"), std::string::npos);
      EXPECT_NE(line.find("gscheduler"), std::string::npos);
    }
  EXPECT_TRUE(header) << r.out;
  for (const char* row : {"polling (core-s)", "sleeping (core-s)", "above core_busy", "queued delay p99",
                          "moves/thread/hour", "frequency changes", "deciding rounds"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row;
}

const std::string kTrace = std::string(REACTOR_SOURCE_DIR) + "/tests/data/traces/bench_dynamic_2cores.jsonl";

TEST(SimCli, TraceVerifyReproducesTheRecordedRounds) {
  const CliRun r = run({"--trace", kTrace, "--verify", "--json"});
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["rounds"], j["rounds_matched"]);
  EXPECT_EQ(j["moves_recorded"], j["moves_replayed"]);
  EXPECT_GT(j["moves_recorded"].get<int>(), 0);
}

TEST(SimCli, TraceReplaysThroughEachPolicy) {
  const CliRun r = run({"--trace", kTrace, "--policy", "static", "--policy", "dynamic", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["policies"].size(), 2u);
  EXPECT_EQ(j["policies"][1]["period_s"], 0.1);  // the trace's interval
  EXPECT_GT(j["policies"][1]["demand_s"].get<double>(), 0.0);
  EXPECT_EQ(j["policies"][0]["threads"], 6);      // every thread the trace lists
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(SimCli, PlotWritesAHeatmapAndAChartPerPolicyAndTheReport) {
  const std::string dir = ::testing::TempDir() + "/sim_plot";
  std::filesystem::remove_all(dir);
  const CliRun r = run(small({"--policy", "static", "--policy", "dynamic", "--plot", dir}));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("pictures: " + dir + "/report.html"), std::string::npos) << r.out;
  for (const char* f : {"1-static-heatmap.svg", "1-static-chart.svg", "2-dynamic-heatmap.svg", "2-dynamic-chart.svg"}) {
    const std::string svg = slurp(dir + "/" + f);
    ASSERT_FALSE(svg.empty()) << f;
    EXPECT_NE(svg.find("<svg"), std::string::npos) << f;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << f;
    EXPECT_NE(svg.find(std::string(f).find("static") != std::string::npos ? "static" : "dynamic"), std::string::npos)
        << f << ": the title says what ran";
  }
  const std::string html = slurp(dir + "/report.html");
  EXPECT_NE(html.find("</html>"), std::string::npos);
  for (const char* f : {"1-static-heatmap.svg", "2-dynamic-chart.svg"}) EXPECT_NE(html.find(f), std::string::npos) << f;
  // A directory that cannot be created is refused before anything runs.
  const CliRun bad = run(small({"--plot", "/proc/no/such"}));
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--plot /proc/no/such"), std::string::npos) << bad.err;
}

TEST(SimCli, BadTraceIsOneLineNamingTheFile) {
  const std::string bad = ::testing::TempDir() + "/bad.jsonl";
  {
    std::ofstream f(bad);
    f << "{\"format\":\"reactor-trace\",\"version\":2}\n";
  }
  for (const auto& [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--trace", bad}, "bad.jsonl:1: "},
           {{"--trace", "/nonexistent/t.jsonl"}, "cannot open /nonexistent/t.jsonl"},
           {{"--trace", kTrace, "--workload", "steady"}, "does not take --workload"},
           {{"--workload", "steady", "--threads", "3", "--verify"}, "--verify needs --trace"}}) {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << want;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(SimCli, BadInputIsOneLineExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {small({"--policy", "dynamic:bogus=1"}), "unknown option 'bogus' for dynamic"},
      {small({"--policy", "nosuch"}), "unknown policy 'nosuch'"},
      {small({"--policy", "dynamic:core_busy=101"}), "core_busy 101 is out of range"},
      {{"--workload", "bursty", "--threads", "10", "--topology", "package:2 frobs:3"}, "bad synthetic topology"},
      {{"--workload", "bursty", "--threads", "0"}, "--threads must be at least 1"},
      {{"--workload", "bursty"}, "--workload needs --threads"},
      {{"--threads", "10"}, "give --workload"},
      {{"--workload", "spiky", "--threads", "10"}, "unknown workload 'spiky'"},
      {small({"--cpumask", "0-40"}), "--cpumask 0-40 is outside the reactor cores (0-15): cores 16-40"},
      {small({"--cores", "99"}), "--cores 99 is more than the 16 PUs"},
      {small({"--main-core", "20"}), "--main-core 20 is not a reactor core"},
      {{"--workload", "steady", "--threads", "10", "--duration", "-5"}, "--duration -5"},
      {small({"--period", "0.001"}), "--period 0.001 s is out of range"},
      {small({"--load", "0"}), "--load 0 is out of range"},
      {small({"--bogus"}), "--bogus"},
  };
  for (const auto& [args, want] : cases) {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << want;
    EXPECT_TRUE(r.out.empty()) << want << ": " << r.out;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("reactor-sim: ", 0), 0u) << r.err;
  }
}

}  // namespace
