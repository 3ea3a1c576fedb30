#pragma once
// Load traces, version 1 (not API: shared by `reactorctl record`, which writes
// them, and `reactor-sim`, which replays them).
//
// A trace is a JSON-lines file: line 1 is the header (topology, scheduler,
// tick rate), then one sample per line (per-core and per-thread busy/idle
// deltas since the previous sample, placement, modes, frequencies and, when
// the sample is the load a scheduling round balanced, that round and its
// moves), then an end record with the sample count and why recording
// stopped. README.md ("Load traces") documents every key.
//
// Reader rules: every error is one line naming the file, the line number and
// the problem ("trace.jsonl:17: sample seq 15 follows seq 16"). Unknown keys
// are ignored (a newer writer may add keys without changing the version);
// missing required keys, wrong types, values out of range and records out of
// order are errors. A file that does not end in "\n" or has no end record is
// truncated and refused, so a replay never runs on part of a recording
// without saying so.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/error.hh>
#include <reactor/reactor.hh>

namespace reactor::sim {

/// The only version this library reads and writes.
inline constexpr uint32_t kTraceVersion = 1;
/// Value of the header's "format" key.
inline constexpr std::string_view kTraceFormat = "reactor-trace";

/// Who recorded the trace.
struct TraceSource {
  std::string tool;     ///< "reactord", "reactor-bench", "reactor-nbd", "reactor-sim", ...
  int64_t pid = 0;      ///< the sampled process (0 when unknown)
  std::string host;
  std::string started;  ///< UTC, ISO 8601 ("2026-12-01T12:00:00Z")
};

/// One core of the topology.
struct TraceCore {
  uint32_t id = 0;        ///< hwloc PU os_index, as operators write cores
  uint32_t package = 0;
  int32_t numa_node = -1; ///< -1 when unknown
  std::vector<uint32_t> smt_siblings;  ///< includes the core itself
};

/// The scheduler settings when recording started.
struct TraceScheduler {
  std::string policy = "static";  ///< "static", "dynamic" or "gscheduler"
  uint64_t period_us = 0;         ///< 0: no periodic rounds
  uint32_t load_limit = 20;
  uint32_t core_limit = 80;
  uint32_t core_busy = 95;
};

/// Line 1 of a trace.
struct TraceHeader {
  uint32_t version = kTraceVersion;
  TraceSource source;
  uint64_t tick_rate = 1'000'000'000;  ///< ticks per second of every busy/idle value
  uint64_t interval_us = 1'000'000;    ///< sampling interval asked for
  std::optional<std::string> synthetic;  ///< hwloc synthetic description, when known
  std::vector<TraceCore> cores;        ///< every reactor core, ascending id
  std::vector<uint32_t> reactor_cores; ///< ascending
  std::vector<uint32_t> isolated;      ///< subset of reactor_cores
  uint32_t main_core = 0;              ///< one of reactor_cores
  ReactorMode baseline = ReactorMode::Poll;
  TraceScheduler scheduler;

  /// The topology entry of `core`, or nullptr.
  const TraceCore* find_core(uint32_t core) const noexcept;
};

/// One thread move a scheduling round made.
struct TraceMove {
  uint64_t thread = 0;
  uint32_t from = 0;
  uint32_t to = 0;
  std::string reason;
};

/// A scheduling round whose balanced load is the sample carrying it.
struct TraceRound {
  uint64_t seq = 0;          ///< the daemon's round sequence number
  std::string policy;        ///< the policy that balanced it
  std::vector<TraceMove> moves;
};

/// One reactor core in a sample.
struct TraceCoreSample {
  uint32_t id = 0;
  uint64_t busy = 0;   ///< ticks since the previous sample
  uint64_t idle = 0;   ///< ticks since the previous sample (sleep excluded)
  ReactorMode mode = ReactorMode::Poll;
  std::optional<uint64_t> freq_khz;  ///< current frequency when a governor reports one
  uint32_t threads = 0;  ///< threads hosted at the end of the sample
  bool stalled = false;  ///< counted no tick although awake (never a destination)
};

/// One live lightweight thread in a sample.
struct TraceThreadSample {
  uint64_t id = 0;
  std::string name;
  uint32_t core = 0;   ///< where it runs at the end of the sample
  uint32_t home = 0;
  std::vector<uint32_t> cpumask;  ///< ascending
  uint64_t busy = 0;   ///< ticks charged to it since the previous sample
  uint64_t idle = 0;   ///< the rest of the time it was hosted since the previous sample
  uint32_t rounds_since_move = UINT32_MAX;  ///< UINT32_MAX: never moved
};

/// One sample line.
struct TraceSample {
  uint64_t seq = 0;    ///< 0, 1, 2, ... without gaps
  uint64_t t_us = 0;   ///< microseconds since the header's start, non-decreasing
  uint64_t ticks = 0;  ///< wall ticks this sample covers
  std::optional<TraceRound> round;
  std::vector<TraceCoreSample> cores;
  std::vector<TraceThreadSample> threads;
};

/// Why recording stopped.
enum class TraceEndReason { Duration, Signal, DaemonGone };
/// "duration", "signal", "daemon-gone".
std::string_view to_string(TraceEndReason reason) noexcept;

/// The last line.
struct TraceEnd {
  uint64_t samples = 0;
  TraceEndReason reason = TraceEndReason::Duration;
};

/// A whole trace in memory.
struct Trace {
  TraceHeader header;
  std::vector<TraceSample> samples;
  TraceEnd end;
};

/// One line of JSON (with its "\n") for each record.
std::string format_header(const TraceHeader& header);
std::string format_sample(const TraceSample& sample);
std::string format_end(const TraceEnd& end);

/// Reads a trace record by record (replays of long traces need not hold it in
/// memory). Single-threaded; `in` must outlive the reader. Every error is
/// Errc::invalid_argument with one line "NAME:LINE: problem".
class TraceReader {
 public:
  /// Reads and checks the header. `name` is the file name used in errors.
  static Result<std::unique_ptr<TraceReader>> open(std::istream& in, std::string name);
  ~TraceReader();

  const TraceHeader& header() const noexcept { return header_; }
  /// The next sample, or nullopt once the end record was read (then end()
  /// is valid and the rest of the file was checked to be empty).
  Result<std::optional<TraceSample>> next();
  /// The end record; valid after next() returned nullopt.
  const TraceEnd& end() const noexcept { return end_; }

  TraceReader(std::istream& in, std::string name, TraceHeader header, uint64_t line);

 private:
  std::istream& in_;
  std::string name_;
  TraceHeader header_;
  TraceEnd end_;
  uint64_t line_ = 1;      // lines read so far
  uint64_t samples_ = 0;   // samples read so far
  uint64_t last_t_us_ = 0;
  bool done_ = false;
};

/// Reads a whole trace from `in`; `name` names it in errors.
Result<Trace> parse_trace(std::istream& in, std::string_view name);
/// Reads a whole trace from a file. Errors: the file cannot be opened
/// (Errc::io, "cannot open trace.jsonl: No such file or directory"), or the
/// first problem in it (Errc::invalid_argument, "trace.jsonl:17: ...").
Result<Trace> read_trace(const std::string& path);

/// Writes a trace. The file appears only with its header in it (written to a
/// temporary file in the same directory, synced, renamed), so a reader never
/// sees a trace without its header; each later record is one write(2) of one
/// whole line. Not thread-safe: one writer per file.
class TraceWriter {
 public:
  /// Creates `path` (replacing it) holding `header`. Errors (Errc::io): the
  /// step that failed and errno's text; (Errc::invalid_argument) a header
  /// that would not read back (no cores, main core outside the reactor cores, ...).
  static Result<std::unique_ptr<TraceWriter>> create(const std::string& path, const TraceHeader& header);
  /// Closes the file (without an end record if none was written).
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  /// Appends a sample. Its seq must be the number of samples written so far
  /// and t_us must not go back (Errc::invalid_argument otherwise, nothing written).
  Result<void> write_sample(const TraceSample& sample);
  /// Appends the end record with the sample count; later writes fail.
  Result<void> write_end(TraceEndReason reason);

  uint64_t samples() const noexcept { return samples_; }
  const std::string& path() const noexcept { return path_; }

  TraceWriter(int fd, std::string path);

 private:
  Result<void> write_line(const std::string& line);

  int fd_ = -1;
  std::string path_;
  uint64_t samples_ = 0;
  uint64_t last_t_us_ = 0;
  bool ended_ = false;
};

/// Checks a header as the reader does ("" when it is valid, else the problem).
std::string check_header(const TraceHeader& header);

}  // namespace reactor::sim
