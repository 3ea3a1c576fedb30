// Generated workloads: deterministic from the seed, sized to the asked load,
// and each kind has the shape README states.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/workload.hh"

using namespace reactor::sim;

namespace {

WorkloadOptions opts(WorkloadKind k, uint32_t threads = 1000, uint32_t cores = 16, uint64_t seed = 7) {
  WorkloadOptions o;
  o.kind = k;
  o.threads = threads;
  o.cores = cores;
  o.seed = seed;
  o.duration_s = 100;
  return o;
}

double total(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

TEST(Workload, SameSeedSameDemandOtherSeedOther) {
  for (auto k : {WorkloadKind::Steady, WorkloadKind::Bursty, WorkloadKind::Diurnal, WorkloadKind::Skewed}) {
    Workload a(opts(k)), b(opts(k)), c(opts(k, 1000, 16, 8));
    std::vector<double> da, db, dc;
    bool differs = false;
    for (int r = 0; r < 20; ++r) {
      a.demand(r, 1, da);
      b.demand(r, 1, db);
      c.demand(r, 1, dc);
      EXPECT_EQ(da, db) << workload_name(k) << " round " << r;
      differs |= da != dc;
    }
    EXPECT_TRUE(differs) << workload_name(k);
  }
}

TEST(Workload, SteadyCarriesTheLoad) {
  WorkloadOptions o = opts(WorkloadKind::Steady);
  Workload w(o);
  std::vector<double> d;
  double sum = 0;
  for (int r = 0; r < 50; ++r) {
    w.demand(r, 1, d);
    sum += total(d);
  }
  // load 0.5 x 16 cores = 8 core-seconds per second from the active threads,
  // plus 950 idle threads x 0.01 %.
  const double want = (0.5 * 16 + 950 * 0.0001) * 50 * 1e6;
  EXPECT_NEAR(sum, want, want * 0.05);
  // 5 % of the threads are busy.
  w.demand(50, 1, d);
  const auto busy = std::count_if(d.begin(), d.end(), [](double x) { return x > 10'000; });
  EXPECT_EQ(busy, 50);
  for (double x : d) EXPECT_LE(x, 1e6 * 1.1);  // at most one core (+ noise)
}

TEST(Workload, BurstyActiveThreadsSwitchOnAndOff) {
  Workload w(opts(WorkloadKind::Bursty));
  std::vector<double> d;
  std::vector<int> zero_rounds(1000, 0), on_rounds(1000, 0);
  for (int r = 0; r < 200; ++r) {
    w.demand(r, 1, d);
    for (size_t t = 0; t < d.size(); ++t) {
      zero_rounds[t] += d[t] == 0;
      on_rounds[t] += d[t] > 10'000;
    }
  }
  int bursty = 0;
  for (size_t t = 0; t < d.size(); ++t)
    if (zero_rounds[t] > 40 && on_rounds[t] > 40) ++bursty;  // on about half the time
  EXPECT_EQ(bursty, 50);
}

TEST(Workload, DiurnalNightIsATenthOfNoon) {
  Workload w(opts(WorkloadKind::Diurnal));
  std::vector<double> night, noon;
  w.demand(0, 1, night);  // midnight (t = 0 of a 100 s day)
  for (int r = 1; r < 50; ++r) w.demand(r, 1, noon);
  w.demand(50, 1, noon);  // noon
  const double ratio = total(night) / total(noon);
  EXPECT_GT(ratio, 0.07);
  EXPECT_LT(ratio, 0.14);
}

TEST(Workload, SkewedIsZipf) {
  Workload w(opts(WorkloadKind::Skewed, 10000, 256));
  std::vector<double> s = w.shares();
  std::sort(s.rbegin(), s.rend());
  EXPECT_DOUBLE_EQ(s[0], 0.95);  // the heaviest are capped at 0.95 core
  // Below the cap, share(k) / share(2k) = 2^1.1.
  const auto first_free = std::find_if(s.begin(), s.end(), [](double x) { return x < 0.95; }) - s.begin();
  const size_t k = static_cast<size_t>(first_free) + 10;
  EXPECT_NEAR(s[k - 1] / s[2 * k - 1], std::pow(2.0, 1.1), 1e-6);
}

TEST(Workload, BadOptionsAreNamed) {
  WorkloadOptions o = opts(WorkloadKind::Steady);
  o.threads = 0;
  EXPECT_NE(validate(o).error().message.find("--threads"), std::string::npos);
  o = opts(WorkloadKind::Steady);
  o.load = -1;
  EXPECT_NE(validate(o).error().message.find("--load"), std::string::npos);
  o = opts(WorkloadKind::Steady);
  o.active = 2;
  EXPECT_NE(validate(o).error().message.find("--active"), std::string::npos);
  EXPECT_NE(parse_workload_kind("spiky").error().message.find("unknown workload 'spiky'"), std::string::npos);
}

}  // namespace
