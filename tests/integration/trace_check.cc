// Test helper of record_e2e.sh: reads a load trace with the project's reader
// (src/sim/trace.hh) and prints a one-line JSON summary for the script to
// check, or the reader's one-line error (exit 1).
//
//   trace_check FILE
//   {"tool":"reactor-bench","reason":"duration","samples":N,"rounds":R,"moves":M,
//    "round_samples_with_moves":K,"reactor_cores":[0,1],"topology_cores":2,"threads_max":T,
//    "policy":"static","interval_samples":I,"moves_from_match":true,"interval_over_wall":0}
// interval_over_wall: cores and threads of interval samples whose busy + idle
// exceeds the sample's wall time (reactorctl record caps them: always 0).

#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "sim/trace.hh"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: trace_check FILE\n");
    return 2;
  }
  auto t = reactor::sim::read_trace(argv[1]);
  if (!t) {
    std::fprintf(stderr, "%s\n", t.error().message.c_str());
    return 1;
  }
  uint64_t rounds = 0, moves = 0, with_moves = 0, interval = 0, threads_max = 0, over_wall = 0;
  bool from_match = true;
  for (const auto& s : t->samples) {
    threads_max = std::max<uint64_t>(threads_max, s.threads.size());
    if (!s.round) {
      ++interval;
      for (const auto& c : s.cores) over_wall += c.busy + c.idle > s.ticks;
      for (const auto& th : s.threads) over_wall += th.busy + th.idle > s.ticks;
      continue;
    }
    ++rounds;
    moves += s.round->moves.size();
    if (!s.round->moves.empty()) ++with_moves;
    std::map<uint64_t, uint32_t> core_of;
    for (const auto& th : s.threads) core_of[th.id] = th.core;
    for (const auto& m : s.round->moves) from_match = from_match && core_of.at(m.thread) == m.from;
  }
  nlohmann::ordered_json j{{"tool", t->header.source.tool},
                           {"reason", reactor::sim::to_string(t->end.reason)},
                           {"samples", t->samples.size()},
                           {"rounds", rounds},
                           {"moves", moves},
                           {"round_samples_with_moves", with_moves},
                           {"interval_samples", interval},
                           {"reactor_cores", t->header.reactor_cores},
                           {"topology_cores", t->header.cores.size()},
                           {"threads_max", threads_max},
                           {"policy", t->header.scheduler.policy},
                           {"moves_from_match", from_match},
                           {"interval_over_wall", over_wall}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
