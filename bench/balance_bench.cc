// balance() cost per policy on synthetic rounds: (cores, threads) in
// {(2,10), (16,1000), (64,10000), (256,10000)}. DESIGN's target is the
// 256 x 10,000 round (well under 5 ms: rounds run once a second on the
// control thread, and a switch waits for the round in flight).
//
// The snapshot is built once per size from a fixed seed, so every run and
// every policy sees the same round: half the threads idle (5 % busy), half
// busy (60-100 %); half unpinned, half pinned to 1-4 random cores; a quarter
// away from their home core (what static restores); 1 core in 16 isolated
// (never the main core); two NUMA nodes (the lower and the upper half of the
// ids). Each core's ticks are its threads' ticks over a 1 s period, so
// percentages are consistent the way a real round's are.
//
// Counters: moves planned, and (dynamic) the cores left polling by the plan
// and the moves that cross a NUMA node, to compare dynamic's placement
// options with SPDK's choice on the same round.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

using namespace reactor;

namespace {

constexpr uint64_t kPeriodTicks = 1'000'000'000;  // a 1 s round at 1 GHz
constexpr uint64_t kSeed = 20240601;

LoadSnapshot synthetic_round(uint32_t ncores, uint32_t nthreads) {
  std::mt19937_64 rng(kSeed + ncores * 100003ull + nthreads);
  LoadSnapshot s;
  s.main_core = CoreId{0};
  for (uint32_t i = 0; i < ncores; ++i) {
    CoreLoad c;
    c.id = CoreId{i};
    c.isolated = i != 0 && rng() % 16 == 0;
    c.smt_siblings = CpuSet{i};
    c.numa_node = i < ncores / 2 ? 0 : 1;
    s.cores.push_back(c);
  }
  // SMT pairs (0,1), (2,3), ... as on a typical 2-way host.
  for (uint32_t i = 0; i + 1 < ncores; i += 2) {
    const CpuSet pair{i, i + 1};
    s.cores[i].smt_siblings = pair;
    s.cores[i + 1].smt_siblings = pair;
  }
  CpuSet all;
  for (uint32_t i = 0; i < ncores; ++i) all.set(CoreId{i});

  std::vector<uint32_t> per_core(ncores, 0);
  for (uint32_t t = 0; t < nthreads; ++t) {
    ThreadLoad th;
    th.id = ThreadId{t + 1};
    std::vector<uint32_t> mask;
    if (rng() % 2 == 0) {
      th.cpumask = all;
      th.core = CoreId{static_cast<uint32_t>(rng() % ncores)};
    } else {
      const uint32_t n = 1 + static_cast<uint32_t>(rng() % 4);
      for (uint32_t k = 0; k < n; ++k) mask.push_back(static_cast<uint32_t>(rng() % ncores));
      for (uint32_t c : mask) th.cpumask.set(CoreId{c});
      th.core = CoreId{mask[rng() % mask.size()]};
    }
    th.home = th.core;
    if (rng() % 4 == 0) th.home = mask.empty() ? CoreId{static_cast<uint32_t>(rng() % ncores)} : CoreId{mask[0]};
    ++per_core[th.core.value];
    s.threads.push_back(th);
  }
  // Each thread gets an equal share of its core's period; busy % by kind.
  std::vector<uint64_t> core_busy(ncores, 0);
  for (size_t t = 0; t < s.threads.size(); ++t) {
    ThreadLoad& th = s.threads[t];
    const uint64_t share = kPeriodTicks / per_core[th.core.value];
    const uint64_t pct = t % 2 == 0 ? 5 : 60 + rng() % 41;
    th.busy = share * pct / 100;
    th.idle = share - th.busy;
    core_busy[th.core.value] += th.busy;
  }
  for (uint32_t i = 0; i < ncores; ++i) {
    s.cores[i].thread_count = per_core[i];
    s.cores[i].busy = core_busy[i];
    s.cores[i].idle = kPeriodTicks - core_busy[i];
  }
  return s;
}

template <class F>
void run(benchmark::State& state, F balance) {
  const LoadSnapshot s = synthetic_round(static_cast<uint32_t>(state.range(0)), static_cast<uint32_t>(state.range(1)));
  Plan last;
  for (auto _ : state) {
    Plan p = balance(s);
    benchmark::DoNotOptimize(p);
    last = std::move(p);
  }
  state.counters["moves"] = static_cast<double>(last.moves.size());
  if (last.modes.empty()) return;
  size_t polling = 0;
  for (const CoreModeRequest& m : last.modes) polling += m.mode == ReactorMode::Poll ? 1 : 0;
  size_t cross = 0;
  for (const ThreadMove& m : last.moves) cross += s.find_core(m.from)->numa_node != s.find_core(m.to)->numa_node;
  state.counters["polling"] = static_cast<double>(polling);
  state.counters["cross_node"] = static_cast<double>(cross);
}

void BM_BalanceStatic(benchmark::State& state) { run(state, [](const LoadSnapshot& s) { return balance_static(s); }); }

void BM_BalanceDynamic(benchmark::State& state) {
  run(state, [](const LoadSnapshot& s) { return balance_dynamic(s, DynamicOptions{}); });
}

// All three placement options on (numa_local, smt_last, keep_asleep).
void BM_BalanceDynamicPlacement(benchmark::State& state) {
  DynamicOptions o;
  o.numa_local = o.smt_last = o.keep_asleep = true;
  run(state, [o](const LoadSnapshot& s) { return balance_dynamic(s, o); });
}

void BM_BalanceGlobal(benchmark::State& state) { run(state, [](const LoadSnapshot& s) { return balance_global(s); }); }

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cores", "threads"});
  b->Args({2, 10})->Args({16, 1000})->Args({64, 10000})->Args({256, 10000});
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_BalanceStatic)->Apply(sizes);
BENCHMARK(BM_BalanceDynamic)->Apply(sizes);
BENCHMARK(BM_BalanceDynamicPlacement)->Apply(sizes);
BENCHMARK(BM_BalanceGlobal)->Apply(sizes);

BENCHMARK_MAIN();
