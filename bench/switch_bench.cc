// Switch latency with 1,000 threads spread over the reactors (real reactor
// OS threads, Interrupt baseline, simulated governor):
//   dynamic -> global: dynamic first consolidates the idle threads on the
//     main core, so the switch restores ~all threads to their homes;
//   global -> static: global never moves threads, so nothing to restore.
// Each reports the switch time and the number of threads moved home.

#include <benchmark/benchmark.h>

#include <reactor/runtime.hh>

using namespace reactor;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Runtime> make_runtime() {
  set_log_level(LogLevel::Warn);  // one info line per switch would swamp the output
  RuntimeOptions o;
  auto topo = Topology::discover();
  o.pool.topology = *topo;
  o.pool.cores = topo->all();
  o.pool.baseline = ReactorMode::Interrupt;
  o.governor = GovernorChoice::Sim;
  o.control_thread = false;  // rounds are run by hand below
  return std::move(*Runtime::create(std::move(o)));
}

void spawn_threads(Runtime& rt, int n) {
  for (int i = 0; i < n; ++i) (void)*rt.pool().spawn(ThreadOptions{});
  rt.pool().wait_for([&] {
    uint32_t hosted = 0;
    for (auto& r : rt.pool().reactors()) hosted += r->stats().thread_count;
    return hosted == static_cast<uint32_t>(n);
  }, 10s);
}

// Prepares `from` (three rounds, so dynamic has consolidated), then times the
// switch to `to`; reports the threads the old policy's destructor moved home.
void switch_latency(benchmark::State& state, PolicyKind from, PolicyKind to) {
  const int n = static_cast<int>(state.range(0));
  auto rt = make_runtime();
  spawn_threads(*rt, n);
  SchedulerManager& m = *rt->scheduler();
  uint64_t moves = 0;
  for (auto _ : state) {
    state.PauseTiming();
    (void)m.switch_to(from, {});
    for (int i = 0; i < 3; ++i) m.run_round();
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    auto r = m.switch_to(to, {});
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!r) state.SkipWithError(r.error().message.c_str());
    moves = m.transitions().back().restore.moves_done;
  }
  state.counters["threads"] = n;
  state.counters["moves"] = static_cast<double>(moves);
  rt->stop();
}

void BM_SwitchDynamicToGlobal(benchmark::State& state) { switch_latency(state, PolicyKind::Dynamic, PolicyKind::Global); }
BENCHMARK(BM_SwitchDynamicToGlobal)->Arg(1000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);

void BM_SwitchGlobalToStatic(benchmark::State& state) { switch_latency(state, PolicyKind::Global, PolicyKind::Static); }
BENCHMARK(BM_SwitchGlobalToStatic)->Arg(1000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);

}  // namespace

BENCHMARK_MAIN();
