#pragma once
// reactor-bench internals shared by its translation units (not API):
// options and their parsers, the latency histogram, the target files, the
// switch driver interface and the report.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <reactor/error.hh>

namespace reactor::bench {

enum class Workload { RandRead, RandWrite, Read, Write, RandRw };
std::string_view workload_name(Workload w) noexcept;
Result<Workload> parse_workload(std::string_view text);
inline bool writes(Workload w) noexcept { return w != Workload::RandRead && w != Workload::Read; }
inline bool reads(Workload w) noexcept { return w != Workload::RandWrite && w != Workload::Write; }
inline bool random_access(Workload w) noexcept { return w != Workload::Read && w != Workload::Write; }

/// "4096", "4k", "4K", "4KiB", "1m", "64M", "1g" (binary multiples, as fio).
Result<uint64_t> parse_size(std::string_view text);
/// 4096 -> "4 KiB", 67108864 -> "64 MiB", 1000 -> "1000 B".
std::string format_size(uint64_t bytes);

/// One scheduled switch: `at_s` seconds after the workload started (ramp included).
struct SwitchStep {
  double at_s = 0;
  std::string policy;  ///< canonical: "static", "dynamic", "gscheduler"
};
/// Parses "5:dynamic,10:global,15:static": times strictly increasing and > 0,
/// policies static|dynamic|gscheduler|global. Errors quote the bad item.
Result<std::vector<SwitchStep>> parse_schedule(std::string_view text);
/// "static", "dynamic", "gscheduler" ("global" is an alias). Error lists the names.
Result<std::string> canonical_policy(std::string_view text);

/// Log-linear latency histogram in clock ticks: exact below 32, then 32
/// sub-buckets per power of two (relative error under 1/32). One writer (the
/// worker's thread); readers take snapshots (relaxed atomics) from any thread.
class Histogram {
 public:
  static constexpr uint32_t kSubBits = 5;
  static constexpr uint32_t kSub = 1u << kSubBits;
  static constexpr uint32_t kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : buckets_(kBuckets) {}
  void record(uint64_t v) noexcept {
    auto& b = buckets_[index(v)];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static uint32_t index(uint64_t v) noexcept {
    if (v < kSub) return static_cast<uint32_t>(v);
    const uint32_t msb = 63u - static_cast<uint32_t>(__builtin_clzll(v));
    const uint32_t g = msb - kSubBits + 1;
    return g * kSub + static_cast<uint32_t>((v >> (g - 1)) & (kSub - 1));
  }
  /// Smallest value of bucket `i` and the first value past it.
  static uint64_t lower(uint32_t i) noexcept {
    const uint32_t g = i / kSub, sub = i % kSub;
    return g == 0 ? sub : (uint64_t{kSub} + sub) << (g - 1);
  }
  /// Saturates at UINT64_MAX for the top bucket.
  static uint64_t upper(uint32_t i) noexcept {
    const uint64_t width = i / kSub == 0 ? 1 : uint64_t{1} << (i / kSub - 1);
    return lower(i) > UINT64_MAX - width ? UINT64_MAX : lower(i) + width;
  }

  /// Counts per bucket.
  struct Snapshot {
    std::vector<uint64_t> counts = std::vector<uint64_t>(kBuckets, 0);
    uint64_t total() const noexcept;
    /// Value at quantile q (0..1): the midpoint of the bucket holding it; 0 if empty.
    uint64_t quantile(double q) const noexcept;
    Snapshot& operator+=(const Snapshot& o) noexcept;
    Snapshot operator-(const Snapshot& o) const;
  };
  void add_to(Snapshot& s) const noexcept {
    for (uint32_t i = 0; i < kBuckets; ++i) s.counts[i] += buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  std::vector<std::atomic<uint64_t>> buckets_;
};

/// A file or block device the workers use.
struct Target {
  std::string path;
  int fd = -1;                 ///< the descriptor I/O uses (O_DIRECT with --direct)
  uint64_t size = 0;           ///< bytes used: a multiple of the I/O size
  uint32_t block_size = 512;   ///< logical block size (O_DIRECT alignment)
  bool block_device = false;
  bool temporary = false;      ///< created by us, already unlinked
};

/// What the targets need from the options.
struct TargetRequest {
  std::vector<std::string> filenames;  ///< empty: one temp file
  std::optional<uint64_t> size;        ///< --size
  uint64_t io_size = 4096;
  bool direct = false;
  bool write = false;                  ///< the workload writes
};

/// Opens (or creates) and checks every target; lays out the temp file.
/// Errors are one line a user acts on (missing device, permission, O_DIRECT
/// alignment, too small, disk full). Nothing is left behind on failure: a
/// temp file is unlinked as soon as it is open.
Result<std::vector<Target>> open_targets(const TargetRequest& req);
void close_targets(std::vector<Target>& targets) noexcept;

/// What a policy switch reports back.
struct SwitchOutcome {
  bool ok = false;
  std::string message;           ///< "ok" or what failed
  double duration_ms = 0;        ///< transition time
  uint32_t restore_moves = 0;    ///< threads the old policy's restore moved home
  std::string policy_after;      ///< what runs afterwards
};

/// Switches scheduling policies under load. The bench calls it from its
/// monitor thread (never a reactor).
class SwitchDriver {
 public:
  virtual ~SwitchDriver() = default;
  /// False when switching is not possible in this build; `why` says so.
  virtual bool available(std::string& why) const = 0;
  /// The policy running now ("static" without a scheduler manager).
  virtual std::string current_policy() const = 0;
  /// Blocking switch to `policy` (canonical name).
  virtual SwitchOutcome switch_to(const std::string& policy) = 0;
  /// Lines to print once (e.g. "global: no cpufreq governor, using the simulated one").
  virtual std::vector<std::string> notes() const { return {}; }
  /// Scheduling rounds run and thread moves landed by them so far.
  struct Counters {
    uint64_t rounds = 0;
    uint64_t moves = 0;
  };
  virtual Counters counters() const { return {}; }
};

/// Measurements of one scheduled switch.
struct SwitchReport {
  SwitchStep step;
  std::string from;
  SwitchOutcome outcome;
  double at_s = 0;                 ///< when it actually started
  uint32_t threads_moved = 0;      ///< workers whose core changed across the window
  double max_gap_ms = 0;           ///< largest completion gap of any worker in the window
  double p99_window_us = 0;        ///< p99 latency in [switch - 0.5 s, end + 0.5 s]
  double p99_outside_us = 0;       ///< p99 of the measured run outside every window
  double iops_min_window = 0;      ///< lowest 100 ms IOPS sample in the window
  double iops_typical = 0;         ///< median 100 ms IOPS outside the windows
  /// The same two measures over the seconds of the run that had no switch:
  /// the median of each such second's largest gap and of its lowest 100 ms
  /// sample. A stall or dip is the switch's only where it exceeds these.
  /// Negative: the run had no whole second without a switch to compare.
  double max_gap_quiet_ms = -1;
  double iops_min_quiet = -1;
  uint64_t errors = 0;             ///< I/O errors during the window
};

/// Formats the final text report / the JSON object (iops first).
struct Summary {
  std::string workload;
  uint64_t io_size = 0;
  uint32_t queue_depth = 0;
  uint32_t workers = 0;
  std::string cores;
  std::string mode;
  std::vector<std::string> files;
  bool direct = false;
  double runtime_s = 0;
  uint64_t ios = 0, reads = 0, writes = 0, bytes = 0, errors = 0;
  double lat_avg_us = 0, lat_p50_us = 0, lat_p99_us = 0, lat_p999_us = 0, lat_max_us = 0;
  struct Cpu {
    uint32_t core = 0;
    double pct = 0;
    double seconds = 0;
  };
  std::vector<Cpu> cpu;
  std::string policy;
  std::string switching;           ///< "available" or why not
  std::string registered;          ///< IoRegistry::status() or why none
  std::string ring_flags;
  std::vector<SwitchReport> switches;
  uint32_t idle_threads = 0;       ///< --idle-threads next to the workers
  uint64_t period_us = 0;          ///< --period-us (0: the policy's default)
  uint64_t rounds = 0;             ///< scheduling rounds in the measured window
  uint64_t moves = 0;              ///< thread moves landed by those rounds
  bool interrupted = false;
  /// False when the run was interrupted during --ramp: every figure is zero
  /// and the report says that nothing was measured (not the warm-up's data).
  bool measured = true;
  double ramp_s = 0;               ///< --ramp
  double ramped_s = 0;             ///< warm-up seconds done when interrupted
};
std::string format_text(const Summary& s);
nlohmann::ordered_json to_json(const Summary& s);

}  // namespace reactor::bench
