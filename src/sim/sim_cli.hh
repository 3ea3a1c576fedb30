#pragma once
/// reactor-sim's command line, as a function so tests run it in-process:
///   reactor-sim (--trace FILE | --workload KIND --threads N) [--topology STR]
///               [--cores M] [--duration S] [--policy NAME[:key=value,...]]...
///               [--seed S] [--json] [--plot DIR] [model options]
/// Prints the side-by-side table (or one JSON object with a `policies` array)
/// on `out`. Bad input: one line on `err` naming the problem, exit status 2,
/// nothing run. A policy that fails while running: exit status 1.

#include <iosfwd>

namespace reactor::sim {

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace reactor::sim
