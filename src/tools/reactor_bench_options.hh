#pragma once
// reactor-bench's command line (not API): the options of a run and their
// parser, which returns what to do (run, or print the help) or the one-line
// error, and never exits the process itself.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/runtime.hh>

#include "rpc/server.hh"
#include "tools/reactor_bench.hh"

namespace reactor::bench {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitRuntime = 1;
// Largest -o: the completion result is an int, and 64 MiB per request is far
// beyond what any device benefits from.
inline constexpr uint64_t kMaxIoSize = 64ull << 20;
// The I/O buffers of all workers live in one arena; past this, the options are
// a mistake rather than a benchmark.
inline constexpr uint64_t kMaxArena = 4ull << 30;
// Registered buffers are at most 1 GiB each (kernel limit).
inline constexpr uint64_t kMaxRegisteredBuffer = 1ull << 30;

struct Options {
  uint32_t queue_depth = 32;
  uint64_t io_size = 4096;
  Workload workload = Workload::RandRead;
  uint32_t read_pct = 50;
  double time_s = 10;
  double ramp_s = 0;
  std::vector<std::string> filenames;
  std::optional<uint64_t> size;
  CpuSet cores;
  uint32_t threads_per_core = 1;
  uint32_t workers = 0;  // 0: cores x threads_per_core
  uint32_t idle_threads = 0;
  uint64_t period_us = 0;
  bool direct = false;
  std::string scheduler = "static";
  GovernorChoice governor = GovernorChoice::Auto;  ///< --governor; global falls back to sim under Auto
  std::vector<SwitchStep> schedule;
  std::string rpc_socket;
  rpc::ConnectionTimeouts rpc_timeouts;
  bool json = false;
  bool poll = false;
  std::string plot_file;  ///< --plot: an SVG of the run (checked writable before the run)
};


/// What the command line asks for.
struct Cli {
  Options options;
  std::optional<std::string> help;  ///< --help: print this and exit 0
};

/// Parses and validates argv (argv[0] is the program name). Errors
/// (invalid_argument): one line without the "reactor-bench: " prefix, for
/// exit status 2. Any thread; no global state.
Result<Cli> parse_cli(int argc, const char* const* argv);

}  // namespace reactor::bench
