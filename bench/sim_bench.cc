// reactor-sim speed: one hour of 1 s rounds at 256 cores x 10,000 threads
// (issue 12's target: < 60 s on one core), per policy. Prints, per policy,
// the wall and CPU time of the run and the ratio simulated time / real time
// (how many times faster than real time the lab runs), measured in this run.
//
//   sim_bench [POLICY ...] [--duration S] [--threads N] [--workload KIND]
//   (defaults: dynamic spdk-dynamic static gscheduler, 3600, 10000, bursty)
//
// A plain main(), not Google Benchmark: one run is tens of seconds, and the
// figure is the ratio, not a per-iteration time.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <reactor/log.hh>

#include "sim/simulation.hh"
#include "sim/workload.hh"

using namespace reactor;
using namespace reactor::sim;

int main(int argc, char** argv) {
  set_log_level(LogLevel::Warn);
  std::vector<std::string> policies;
  double duration = 3600;
  uint32_t threads = 10000;
  std::string workload = "bursty";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--duration" && i + 1 < argc) duration = std::atof(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = static_cast<uint32_t>(std::atoi(argv[++i]));
    else if (a == "--workload" && i + 1 < argc) workload = argv[++i];
    else policies.push_back(a);
  }
  if (policies.empty()) policies = {"dynamic", "spdk-dynamic", "static", "gscheduler"};
  const std::string topo = "package:2 numa:1 core:64 pu:2";
  auto kind = parse_workload_kind(workload);
  if (!kind) {
    std::fprintf(stderr, "sim_bench: %s\n", kind.error().message.c_str());
    return 2;
  }
  WorkloadOptions wo;
  wo.kind = *kind;
  wo.threads = threads;
  wo.cores = 256;
  wo.duration_s = duration;
  wo.seed = 1;
  SimSetup s;
  s.topology = *Topology::synthetic(topo);
  s.topology_text = topo;
  s.duration_s = duration;
  s.source = [wo] { return std::make_unique<Workload>(wo); };
  std::printf("reactor-sim speed: %s workload, %u threads on '%s' (256 cores), %.0f s simulated in 1 s rounds\n",
              workload.c_str(), threads, topo.c_str(), duration);
  std::printf("%-14s %10s %10s %12s %12s %10s\n", "policy", "wall s", "CPU s", "sim/wall", "sim/CPU", "moves");
  for (const std::string& p : policies) {
    auto spec = parse_policy_spec(p);
    if (!spec) {
      std::fprintf(stderr, "sim_bench: %s\n", spec.error().message.c_str());
      return 2;
    }
    auto r = run_policy(s, *spec);
    if (!r) {
      std::fprintf(stderr, "sim_bench: %s\n", r.error().message.c_str());
      return 1;
    }
    std::printf("%-14s %10.1f %10.1f %11.0fx %11.0fx %10llu\n", p.c_str(), r->real_s, r->cpu_s,
                r->simulated_s / r->real_s, r->simulated_s / r->cpu_s, static_cast<unsigned long long>(r->moves));
    std::fflush(stdout);
  }
  return 0;
}
