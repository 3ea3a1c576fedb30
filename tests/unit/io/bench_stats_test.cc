// reactor-bench's pure parts: size, workload and switch-schedule parsing, the
// log-linear latency histogram and the JSON report's shape.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tools/reactor_bench.hh"

using namespace reactor;
using namespace reactor::bench;

TEST(BenchParse, SizesAcceptFioStyleSuffixes) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("4k"), 4096u);
  EXPECT_EQ(*parse_size("4KiB"), 4096u);
  EXPECT_EQ(*parse_size("64M"), 64u << 20);
  EXPECT_EQ(*parse_size(" 1g "), 1u << 30);
  EXPECT_FALSE(parse_size("4x"));
  EXPECT_FALSE(parse_size("k"));
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("99999999999999t"));
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(64u << 20), "64 MiB");
  EXPECT_EQ(format_size(1000), "1000 B");
}

TEST(BenchParse, Workloads) {
  EXPECT_EQ(*parse_workload("randrw"), Workload::RandRw);
  EXPECT_EQ(workload_name(Workload::Read), "read");
  auto bad = parse_workload("rw");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("randread"), std::string::npos);
  EXPECT_TRUE(writes(Workload::RandRw) && reads(Workload::RandRw));
  EXPECT_FALSE(random_access(Workload::Write));
}

TEST(BenchParse, SwitchSchedule) {
  auto s = parse_schedule("5:dynamic,10:global,15:static");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].at_s, 5);
  EXPECT_EQ((*s)[0].policy, "dynamic");
  EXPECT_EQ((*s)[1].policy, "gscheduler");  // "global" is an alias
  EXPECT_EQ((*s)[2].policy, "static");
  EXPECT_TRUE(parse_schedule("0.5:gscheduler"));
  for (const char* bad : {"", "5", "5:", ":static", "x:static", "0:static", "-1:static", "5:static,5:dynamic",
                          "5:static,4:dynamic", "5:fast", "5:static,", "inf:static"}) {
    auto r = parse_schedule(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("--switch-at"), std::string::npos) << r.error().message;
    }
  }
}

TEST(BenchHistogram, BucketsAreContiguousAndTight) {
  for (uint64_t v : {0ull, 1ull, 31ull, 32ull, 33ull, 63ull, 64ull, 1000ull, 123456789ull, ~0ull}) {
    const uint32_t i = Histogram::index(v);
    ASSERT_LT(i, Histogram::kBuckets) << v;
    EXPECT_LE(Histogram::lower(i), v) << v;
    if (v == ~0ull) {
      EXPECT_EQ(Histogram::upper(i), ~0ull);  // saturated
    } else {
      EXPECT_GT(Histogram::upper(i), v) << v;
    }
    // Relative width under 1/32 (exact below 32).
    EXPECT_LE(static_cast<double>(Histogram::upper(i) - Histogram::lower(i)),
              std::max(1.0, static_cast<double>(Histogram::lower(i)) / 32.0))
        << v;
  }
  for (uint32_t i = 1; i + 1 < Histogram::kBuckets; ++i)
    if (Histogram::lower(i) != 0) {
      EXPECT_EQ(Histogram::upper(i), Histogram::lower(i + 1)) << i;
    }
}

TEST(BenchHistogram, QuantilesMatchASortedSample) {
  Histogram h;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(10.0, 1.0);
  std::vector<uint64_t> v;
  for (int i = 0; i < 100000; ++i) {
    v.push_back(static_cast<uint64_t>(d(rng)));
    h.record(v.back());
  }
  std::sort(v.begin(), v.end());
  Histogram::Snapshot s;
  h.add_to(s);
  EXPECT_EQ(s.total(), v.size());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = static_cast<double>(v[static_cast<size_t>(std::ceil(q * v.size())) - 1]);
    EXPECT_NEAR(static_cast<double>(s.quantile(q)), exact, exact / 32 + 1) << q;
  }
  Histogram::Snapshot empty;
  EXPECT_EQ(empty.quantile(0.99), 0u);
  // Interval histograms: a later snapshot minus an earlier one.
  Histogram::Snapshot before = s;
  h.record(1'000'000'000);
  Histogram::Snapshot after;
  h.add_to(after);
  Histogram::Snapshot delta = after - before;
  EXPECT_EQ(delta.total(), 1u);
  EXPECT_NEAR(static_cast<double>(delta.quantile(0.5)), 1e9, 1e9 / 32);
}

TEST(BenchReport, JsonStartsWithIopsAndCarriesSwitches) {
  Summary s;
  s.workload = "randread";
  s.runtime_s = 2;
  s.ios = 1000;
  s.reads = 1000;
  s.bytes = 1000 * 4096;
  s.cpu = {{0, 50, 1.0}};
  SwitchReport w;
  w.step = {1.0, "dynamic"};
  w.from = "static";
  w.outcome.ok = true;
  w.outcome.message = "ok";
  w.max_gap_ms = 3.5;
  s.switches.push_back(w);
  auto j = to_json(s);
  EXPECT_EQ(j.begin().key(), "iops");
  EXPECT_DOUBLE_EQ(j["iops"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(j["iops_per_cpu_second"].get<double>(), 1000);
  ASSERT_EQ(j["switches"].size(), 1u);
  EXPECT_EQ(j["switches"][0]["to"], "dynamic");
  EXPECT_DOUBLE_EQ(j["switches"][0]["stall_ms"].get<double>(), 3.5);
  const std::string text = format_text(s);
  EXPECT_NE(text.find("IOPS       500"), std::string::npos) << text;
  EXPECT_NE(text.find("stall 3.50 ms"), std::string::npos) << text;
}
