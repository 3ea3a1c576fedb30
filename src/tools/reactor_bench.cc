// reactor-bench: bdevperf/fio-style io_uring workloads issued by lightweight
// threads, with live progress, latency percentiles, CPU per reactor and
// scheduled policy switches under load.
//
// Shape of a run:
//   1. parse and validate options (bad input: one line, exit 2);
//   2. open the targets (a temp file by default, unlinked at once and laid out
//      with a pattern); environment errors: one line, exit 1;
//   3. start the Runtime: reactors (Interrupt baseline unless --poll: an idle
//      reactor sleeps), the SchedulerManager with --scheduler and the control
//      thread (a governor only when global is asked for: the real one, else
//      the simulated one, said on stderr); register the files and the I/O
//      buffers on every ring;
//   4. spawn cores x threads-per-core workers (or --workers), and
//      --idle-threads idle ones; each keeps -q requests in
//      flight: every completion callback records the latency and submits the
//      next request from the same slot (no allocation per I/O);
//   5. the main thread is the monitor: 100 ms IOPS samples, a progress line
//      per second, the ramp cut, and the scheduled switches (blocking, through
//      a SwitchDriver over the SchedulerManager) with a measurement window
//      of 0.5 s on either side: largest completion gap, p99 inside vs outside,
//      lowest 100 ms IOPS sample, workers whose core changed;
//   6. at the end (or on SIGINT) stop submitting, let the workers drain, print
//      the report (text, or one JSON object with `iops` first).
// With --rpc-socket the Runtime is built by reactord's rpc::ControlPlane and
// its RpcServer is stepped by the Runtime's control thread (set_control_hook),
// exactly as in reactord, so reactorctl works against a running bench. The
// socket is taken before the Runtime starts (a path in use starts nothing)
// and removed, with its lock file, when the engine stops.
// Workers only ever touch their own state and publish counters through
// relaxed single-writer atomics; the monitor reads snapshots.

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <reactor/cpuset.hh>
#include <reactor/io.hh>
#include <reactor/log.hh>
#include <reactor/policy.hh>
#include <reactor/pool.hh>
#include <reactor/runtime.hh>
#include <reactor/scheduler_manager.hh>
#include <reactor/topology.hh>

#include "rpc/methods.hh"
#include "rpc/server.hh"
#include "rpc/startup_checks.hh"
#include "tools/reactor_bench.hh"

namespace reactor::bench {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 1;
// Largest -o: the completion result is an int, and 64 MiB per request is far
// beyond what any device benefits from.
constexpr uint64_t kMaxIoSize = 64ull << 20;
// The I/O buffers of all workers live in one arena; past this, the options are
// a mistake rather than a benchmark.
constexpr uint64_t kMaxArena = 4ull << 30;
// Registered buffers are at most 1 GiB each (kernel limit).
constexpr uint64_t kMaxRegisteredBuffer = 1ull << 30;
constexpr auto kSample = std::chrono::milliseconds(100);
constexpr double kWindowHalf_s = 0.5;  // "the second around the switch"

// SIGINT/SIGTERM are blocked in every thread (main blocks them before any
// thread starts) and collected by the monitor with sigtimedwait. After the
// first one a handler takes over, so a second Ctrl-C ends the process at once:
// it removes the RPC socket and its lock file if they are still the files the
// server created (lstat and unlink are async-signal-safe; the paths and their
// device/inode are copied into fixed globals before any signal can arrive)
// and exits with 128 + the signal. The temp file is already unlinked.
char g_socket_path[128];
char g_lock_path[136];
rpc::FileId g_socket_id;
rpc::FileId g_lock_id;

void remember_socket_for_second_signal(const rpc::RpcServer& server) {
  const std::string& path = server.socket_path();
  const std::string lock = path + ".lock";
  if (lock.size() >= sizeof g_lock_path) return;  // --rpc-socket is at most 107 bytes
  std::memcpy(g_socket_path, path.c_str(), path.size() + 1);
  std::memcpy(g_lock_path, lock.c_str(), lock.size() + 1);
  g_socket_id = server.socket_file_id();
  g_lock_id = server.lock_file_id();
}

void unlink_if_same(const char* path, const rpc::FileId& id) {
  struct stat st {};
  if (id.ino != 0 && ::lstat(path, &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino) ::unlink(path);
}

void exit_on_second_signal(int sig) {
  if (g_socket_path[0] != '\0') {
    unlink_if_same(g_socket_path, g_socket_id);
    unlink_if_same(g_lock_path, g_lock_id);
  }
  ::_exit(128 + sig);
}

bool take_signal(const sigset_t& set) {
  timespec zero{};
  const int sig = sigtimedwait(&set, nullptr, &zero);
  if (sig <= 0) return false;
  struct sigaction again {};
  again.sa_handler = exit_on_second_signal;
  sigemptyset(&again.sa_mask);
  sigaction(SIGINT, &again, nullptr);
  sigaction(SIGTERM, &again, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return true;
}

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
  std::vector<SwitchStep> schedule;
  std::string rpc_socket;
  rpc::ConnectionTimeouts rpc_timeouts;
  bool json = false;
  bool poll = false;
};

[[noreturn]] void usage_error(const std::string& msg) {
  fmt::print(stderr, "reactor-bench: {}\n", msg);
  std::exit(kExitUsage);
}

Options parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{
      "reactor-bench: io_uring workloads from lightweight threads on core-pinned reactors.\n"
      "Without --filename it runs on a temp file of --size in $TMPDIR or /var/tmp, removed afterwards.\n"
      "Exit codes: 0 done (also after Ctrl-C, with the report), 1 environment or I/O error (missing file or\n"
      "device, permission, disk full, I/O error), 2 bad options (also options that do not fit the target:\n"
      "O_DIRECT alignment, a file smaller than -o or --size), 128 + signal after a second Ctrl-C (exits at once)."};
  app.option_defaults()->always_capture_default();
  std::string io_size = "4k", workload = "randread", size, mask, scheduler = "static", switch_at;
  std::optional<uint32_t> read_pct;
  app.add_option("-q,--queue-depth", o.queue_depth, "Requests in flight per thread")
      ->check(CLI::Range(1u, 65536u));
  app.add_option("-o,--io-size", io_size, "I/O size in bytes (k, m suffixes: 4k, 128k, 1m)");
  app.add_option("-w,--workload", workload, "randread|randwrite|read|write|randrw");
  app.add_option("-M,--rwmixread", read_pct, "Read percentage of -w randrw (default 50)")
      ->check(CLI::Range(0u, 100u));
  app.add_option("-t,--time", o.time_s, "Measured seconds")->check(CLI::PositiveNumber);
  app.add_option("--ramp", o.ramp_s, "Seconds of warm-up before measuring")->check(CLI::NonNegativeNumber);
  app.add_option("--filename", o.filenames, "File or block device (repeatable); the workers share them")
      ->allow_extra_args(false);
  app.add_option("--size", size, "Bytes to use (temp file size, default 64m; or a limit on --filename)");
  auto* mask_opt = app.add_option("-m,--cpumask", mask,
                 "Reactor cores, as reactord: hex mask (0x3, or bare hex as SPDK: 3) or list ([0], 0-1, 0,2); "
                 "default all");
  auto* tpc = app.add_option("--threads-per-core", o.threads_per_core, "Worker threads per reactor")
      ->check(CLI::Range(1u, 64u));
  app.add_option("--workers", o.workers,
                 "Worker threads in all, placed round-robin over the cores (default: cores x --threads-per-core)")
      ->check(CLI::Range(1u, 4096u))
      ->excludes(tpc);
  app.add_option("--idle-threads", o.idle_threads,
                 "Idle lightweight threads next to the workers (a 100 ms timer each, as a daemon's idle "
                 "connections): a mixed load for the policies")
      ->check(CLI::Range(0u, 4096u));
  app.add_option("--period-us", o.period_us,
                 "Scheduling period of dynamic/global in microseconds (default: the policy's, 1 s)")
      ->check(CLI::Range(kMinPeriodUs, kMaxPeriodUs));
  app.add_flag("--direct", o.direct, "O_DIRECT (bypass the page cache; -o must be a multiple of the block size)");
  app.add_option("--scheduler", scheduler, "Initial policy: static|dynamic|global");
  app.add_option("--switch-at", switch_at, "Switch schedule, seconds from the start: 5:dynamic,10:global,15:static");
  app.add_option("--rpc-socket", o.rpc_socket,
                 "Serve reactord's JSON-RPC methods on this Unix socket while running (reactorctl -s PATH ...);\n"
                 "the socket and its lock file PATH.lock are removed at the end. A path in use is an error");
  std::string idle_timeout = "30";
  std::string read_timeout = "10";
  app.add_option("--rpc-idle-timeout", idle_timeout,
                 "With --rpc-socket: seconds after which an idle connection is closed (0.1 to 86400, default 30)");
  app.add_option("--rpc-read-timeout", read_timeout,
                 "With --rpc-socket: seconds a client has to finish a request it started (0.1 to 86400, default 10)");
  app.add_flag("--json", o.json, "Print the final report as one JSON object on stdout");
  app.add_flag("--poll", o.poll, "Poll mode: reactors never sleep (default: interrupt mode)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    std::exit(0);
  } catch (const CLI::ParseError& e) {
    usage_error(fmt::format("{} (see --help)", e.what()));
  }
  for (auto [option, text, out] : {std::tuple{"--rpc-idle-timeout", &idle_timeout, &o.rpc_timeouts.idle},
                                   std::tuple{"--rpc-read-timeout", &read_timeout, &o.rpc_timeouts.read}}) {
    auto t = rpc::parse_connection_timeout(option, *text);
    if (!t) usage_error(t.error().message);
    *out = *t;
  }
  auto sz = parse_size(io_size);
  if (!sz) usage_error(fmt::format("-o: {}", sz.error().message));
  if (*sz == 0 || *sz > kMaxIoSize)
    usage_error(fmt::format("-o {} is outside 1 byte..{}", io_size, format_size(kMaxIoSize)));
  o.io_size = *sz;
  auto wl = parse_workload(workload);
  if (!wl) usage_error(fmt::format("-w: {}", wl.error().message));
  o.workload = *wl;
  if (read_pct) {
    if (o.workload != Workload::RandRw) usage_error("-M applies to -w randrw only");
    o.read_pct = *read_pct;
  }
  if (!size.empty()) {
    auto s = parse_size(size);
    if (!s) usage_error(fmt::format("--size: {}", s.error().message));
    if (*s == 0) usage_error("--size must be more than 0");
    o.size = *s;
  }
  if (mask_opt->count() > 0 && mask.find_first_not_of(" \t") == std::string::npos)
    usage_error("-m is empty: name the cores (0-1, [0], 0x3) or leave the option out for every core");
  if (!mask.empty()) {
    auto c = CpuSet::parse(mask);
    if (!c) {
      std::string hint = mask.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos
                             ? " (a bare number is a hex mask, as SPDK: use [0] for core 0)"
                             : "";
      usage_error(fmt::format("-m: {}{}", c.error().message, hint));
    }
    const auto both = CpuSet::ambiguity(mask);
    if (c->empty())
      usage_error(both ? fmt::format("-m '{}' selects no core: {}", mask, *both)
                       : fmt::format("-m '{}' selects no core (use [0] for core 0)", mask));
    if (both) fmt::print(stderr, "reactor-bench: warning: -m '{}' is ambiguous: {}\n", mask, *both);
    o.cores = *c;
  }
  auto pol = canonical_policy(scheduler);
  if (!pol) usage_error(fmt::format("--scheduler: {}", pol.error().message));
  o.scheduler = *pol;
  if (!switch_at.empty()) {
    auto s = parse_schedule(switch_at);
    if (!s) usage_error(s.error().message);
    const double end = o.ramp_s + o.time_s;
    for (const auto& st : *s)
      if (st.at_s >= end)
        usage_error(fmt::format("--switch-at: the switch at {} s is not before the end of the run ({} s = --ramp {} + "
                                "-t {})",
                                st.at_s, end, o.ramp_s, o.time_s));
    o.schedule = std::move(*s);
  }
  if (!o.rpc_socket.empty() && o.rpc_socket.size() > 107)
    usage_error(fmt::format("--rpc-socket: the path is {} bytes; a Unix socket path holds at most 107",
                            o.rpc_socket.size()));
  return o;
}

// ---- switching --------------------------------------------------------------

// Switches through the Runtime's SchedulerManager (blocking; the monitor is
// not a reactor). Transition time and restore moves come from the manager's
// transition record.
class RuntimeSwitchDriver final : public SwitchDriver {
 public:
  RuntimeSwitchDriver(Runtime& rt, std::string initial, std::vector<std::string> notes, uint64_t period_us)
      : rt_(rt), current_(std::move(initial)), notes_(std::move(notes)), period_us_(period_us) {}
  Counters counters() const override {
    const SchedulerManager* m = rt_.scheduler();
    if (m == nullptr) return {};
    const SchedulerStatus st = m->status();
    return {st.rounds, st.moves_landed};
  }
  bool available(std::string& why) const override {
    if (rt_.scheduler() != nullptr) return true;
    why = "the scheduler manager is not running";
    return false;
  }
  // Asks the manager, so that switches made over --rpc-socket show as well.
  std::string current_policy() const override {
    if (const SchedulerManager* m = rt_.scheduler(); m != nullptr) return std::string(policy_name(m->status().policy));
    std::lock_guard lk(mu_);
    return current_;
  }
  SwitchOutcome switch_to(const std::string& policy) override {
    SwitchOutcome out;
    SchedulerManager* m = rt_.scheduler();
    if (m == nullptr) {
      out.message = "the scheduler manager is not running";
      out.policy_after = current_policy();
      return out;
    }
    const auto t0 = std::chrono::steady_clock::now();
    PolicyOptionsUpdate u;
    if (period_us_ != 0 && policy != "static") u.period_us = period_us_;
    auto r = m->switch_to(policy, u);
    out.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    out.ok = r.has_value();
    auto history = m->transitions();
    if (!history.empty()) {
      const TransitionRecord& rec = history.back();
      out.duration_ms = static_cast<double>(rec.duration.count()) / 1000.0;
      out.restore_moves = rec.restore.moves_done;
      out.policy_after = std::string(policy_name(rec.result_policy));
      out.message = rec.result;
    }
    if (!r) out.message = r.error().message;
    if (out.policy_after.empty()) out.policy_after = out.ok ? policy : current_policy();
    std::lock_guard lk(mu_);
    current_ = out.policy_after;
    return out;
  }
  std::vector<std::string> notes() const override { return notes_; }

 private:
  Runtime& rt_;
  mutable std::mutex mu_;
  std::string current_;
  std::vector<std::string> notes_;
  uint64_t period_us_ = 0;
};

// The reactors plus what switches their policy: the one place that decides
// how the runtime is built. With --rpc-socket the ControlPlane owns the
// Runtime and `server` is stepped by its control thread; otherwise `runtime`
// owns it. Member order matters: the plane (whose stop joins the control
// thread) is destroyed before the server it steps.
struct Engine {
  std::unique_ptr<rpc::RpcServer> server;
  std::unique_ptr<rpc::ControlPlane> plane;
  std::unique_ptr<Runtime> runtime;
  Runtime* rt = nullptr;  // whichever of the two owns it
  std::unique_ptr<SwitchDriver> driver;
  ReactorPool& pool() { return rt->pool(); }
  // Control thread, policy (placement restored), pool; then the socket and
  // its lock file are removed. Idempotent.
  void stop() {
    if (plane) plane->stop();
    if (runtime) runtime->stop();
    if (server) server->stop();
  }
};

// `server`: the started RPC server of --rpc-socket, or null.
Result<Engine> make_engine(const Options& o, const CpuSet& cores, std::unique_ptr<rpc::RpcServer> server) {
  const bool needs_global =
      o.scheduler == "gscheduler" ||
      std::any_of(o.schedule.begin(), o.schedule.end(), [](const SwitchStep& s) { return s.policy == "gscheduler"; });
  auto kind = parse_policy_name(o.scheduler);
  if (!kind) return tl::unexpected(kind.error());
  Engine e;
  e.server = std::move(server);
  auto options = [&](GovernorChoice g) {
    RuntimeOptions ro;
    ro.pool.cores = cores;
    ro.pool.baseline = o.poll ? ReactorMode::Poll : ReactorMode::Interrupt;
    // Only global needs a governor; DPDK's EAL (behind the real one) narrows
    // the process's CPU affinity, so do not start it for nothing.
    ro.governor = g;
    // Without RPC the scheduler starts once the governor is settled (below).
    // A ControlPlane always starts it: global waits for a governor that may
    // not exist, so that build starts static and switches once it has one.
    ro.scheduler.initial = *kind == PolicyKind::Global && g != GovernorChoice::Sim ? PolicyKind::Static : *kind;
    ro.scheduler.options.period_us = o.period_us;
    ro.start_scheduler = false;
    ro.control_thread = true;
    return ro;
  };
  // Builds the Runtime: through a ControlPlane when serving RPC (it owns the
  // Runtime its methods act on), else directly.
  auto build = [&](GovernorChoice g) -> Result<void> {
    if (e.server) {
      rpc::ControlPlaneOptions po;
      po.runtime = options(g);
      po.scheduler_chosen = true;
      e.plane = std::make_unique<rpc::ControlPlane>(std::move(po));
      if (auto r = e.plane->initialize(); !r) {
        e.plane.reset();
        return r;
      }
      e.rt = e.plane->runtime();
    } else {
      auto rt = Runtime::create(options(g));
      if (!rt) return tl::unexpected(rt.error());
      e.runtime = std::move(*rt);
      e.rt = e.runtime.get();
    }
    return {};
  };
  std::vector<std::string> notes;
  if (auto r = build(needs_global ? GovernorChoice::Auto : GovernorChoice::None); !r) return tl::unexpected(r.error());
  if (needs_global && !e.rt->governor().available()) {
    // No cpufreq here (most VMs): global runs with the simulated governor.
    const std::string why = e.rt->governor().unavailable_reason();
    e.plane.reset();  // stops its runtime
    if (e.runtime) e.runtime->stop();
    e.runtime.reset();
    if (auto r = build(GovernorChoice::Sim); !r) return tl::unexpected(r.error());
    notes.push_back(fmt::format("no real governor ({}): global uses the simulated governor", why));
  }
  if (!e.rt->scheduler_started()) {
    e.rt->pending_scheduler_options().initial = *kind;
    if (auto r = e.rt->start_scheduler(); !r) return tl::unexpected(r.error());
  } else if (e.rt->scheduler()->status().policy != *kind) {
    PolicyOptionsUpdate u;
    if (o.period_us != 0 && *kind != PolicyKind::Static) u.period_us = o.period_us;
    if (auto r = e.rt->scheduler()->switch_to(*kind, u); !r) return tl::unexpected(r.error());
  }
  if (e.plane) {
    // Registered on the final plane only (a method name registers once); the
    // control thread steps the server from here on.
    if (auto r = e.plane->register_methods(e.server->engine()); !r) return tl::unexpected(r.error());
    rpc::RpcServer* srv = e.server.get();
    e.rt->set_control_hook([srv](std::chrono::milliseconds wait) { srv->poll(wait); }, [srv] { srv->wake(); });
  }
  e.driver = std::make_unique<RuntimeSwitchDriver>(*e.rt, o.scheduler, std::move(notes), o.period_us);
  return e;
}

// ---- workers ----------------------------------------------------------------

struct Shared {
  const Clock* clock = nullptr;
  const std::vector<Target>* targets = nullptr;
  Workload workload = Workload::RandRead;
  uint32_t read_pct = 50;
  uint64_t io_size = 0;
  uint32_t queue_depth = 0;
  uint32_t workers = 0;
  const IoRegistry* registry = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<bool> fatal{false};
  std::atomic<uint32_t> ring_flags{0};
  std::mutex err_mu;
  std::string first_error;

  void fail(std::string msg) {
    std::lock_guard lk(err_mu);
    if (first_error.empty()) first_error = std::move(msg);
    fatal.store(true, std::memory_order_release);
  }
};

struct Worker {
  Worker(Shared& s, uint32_t idx, std::byte* buffers)
      : sh(s), index(idx), bufs(buffers), issued_at(s.queue_depth), slot_file(s.queue_depth),
        slot_off(s.queue_depth), slot_write(s.queue_depth), cursor(s.targets->size(), 0),
        lo(s.targets->size()), hi(s.targets->size()) {
    rng = 0x853c49e6748fea9bull ^ (uint64_t{idx + 1} * 0x9e3779b97f4a7c15ull);
    for (size_t f = 0; f < s.targets->size(); ++f) {
      // Sequential workloads: each worker streams through its own slice.
      const uint64_t blocks = (*s.targets)[f].size / s.io_size;
      uint64_t a = blocks * idx / s.workers, b = blocks * (idx + 1) / s.workers;
      if (b <= a) {
        a = 0;
        b = blocks;
      }
      lo[f] = a;
      hi[f] = b;
      cursor[f] = a;
    }
  }

  uint64_t next_rand() noexcept {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
  }

  void start() {
    auto c = IoChannel::create({.queue_depth = sh.queue_depth, .registry = sh.registry});
    if (!c) {
      sh.fail(fmt::format("worker {}: {}", index, c.error().message));
      drained.store(true, std::memory_order_release);
      return;
    }
    ch = std::move(*c);
    sh.ring_flags.store(ch.ring_flags(), std::memory_order_relaxed);
    for (uint32_t s = 0; s < sh.queue_depth; ++s) issue(s, sh.clock->now());
    if (ch.in_flight() == 0) drained.store(true, std::memory_order_release);
  }

  // `now`: the submission time (a completion passes its own timestamp: one
  // clock read per I/O, as fio does).
  void issue(uint32_t slot, uint64_t now) {
    const auto& targets = *sh.targets;
    const uint32_t f = targets.size() == 1 ? 0 : static_cast<uint32_t>(next_rand() % targets.size());
    const Target& t = targets[f];
    uint64_t block;
    if (random_access(sh.workload)) {
      const uint64_t blocks = t.size / sh.io_size;
      __extension__ using u128 = unsigned __int128;  // multiply-shift: uniform without a division
      block = static_cast<uint64_t>((static_cast<u128>(next_rand()) * blocks) >> 64);
    } else {
      block = cursor[f];
      cursor[f] = block + 1 >= hi[f] ? lo[f] : block + 1;
    }
    bool write;
    switch (sh.workload) {
      case Workload::RandWrite:
      case Workload::Write: write = true; break;
      case Workload::RandRw: write = next_rand() % 100 >= sh.read_pct; break;
      default: write = false;
    }
    const uint64_t off = block * sh.io_size;
    slot_file[slot] = f;
    slot_off[slot] = off;
    slot_write[slot] = write;
    std::byte* buf = bufs + static_cast<size_t>(slot) * sh.io_size;
    issued_at[slot] = now;
    IoCallback cb = [this, slot](int res) { done(slot, res); };
    auto r = write ? ch.write(t.fd, buf, sh.io_size, off, std::move(cb))
                   : ch.read(t.fd, buf, sh.io_size, off, std::move(cb));
    if (!r) {
      if (r.error().code != Errc::exited) sh.fail(fmt::format("worker {}: {}", index, r.error().message));
      if (ch.in_flight() == 0) drained.store(true, std::memory_order_release);
    }
  }

  void done(uint32_t slot, int res) {
    const uint64_t now = sh.clock->now();
    const uint64_t lat = now - issued_at[slot];
    if (res == static_cast<int>(sh.io_size)) {
      hist.record(lat);
      bump(ios);
      bump(slot_write[slot] ? writes : reads);
      add(bytes, static_cast<uint64_t>(res));
      add(lat_sum, lat);
      if (lat > lat_max.load(std::memory_order_relaxed)) lat_max.store(lat, std::memory_order_relaxed);
    } else {
      bump(errors);
      const Target& t = (*sh.targets)[slot_file[slot]];
      const char* op = slot_write[slot] ? "write" : "read";
      if (res == -ENOSPC || res == -EDQUOT)
        sh.fail(fmt::format("disk full while writing {}: {}", t.path, std::strerror(-res)));
      else if (res < 0)
        sh.fail(fmt::format("I/O error: {} of {} bytes at offset {} of {}: {}", op, sh.io_size, slot_off[slot],
                            t.path, std::strerror(-res)));
      else
        sh.fail(fmt::format("short {}: {} of {} bytes at offset {} of {} (did the file shrink?)", op, res,
                            sh.io_size, slot_off[slot], t.path));
    }
    if (last_done != 0) {
      const uint64_t gap = now - last_done;
      if (gap > max_gap.load(std::memory_order_relaxed)) max_gap.store(gap, std::memory_order_relaxed);
    }
    last_done = now;
    if (!sh.stop.load(std::memory_order_relaxed) && !sh.fatal.load(std::memory_order_relaxed)) {
      issue(slot, now);
    } else if (ch.in_flight() == 0) {
      drained.store(true, std::memory_order_release);
    }
  }

  static void bump(std::atomic<uint64_t>& c) noexcept { add(c, 1); }
  static void add(std::atomic<uint64_t>& c, uint64_t v) noexcept {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  Shared& sh;
  const uint32_t index;
  std::byte* const bufs;
  ThreadRef thread;
  IoChannel ch;
  std::vector<uint64_t> issued_at;
  std::vector<uint32_t> slot_file;
  std::vector<uint64_t> slot_off;
  std::vector<uint8_t> slot_write;
  std::vector<uint64_t> cursor, lo, hi;
  uint64_t rng = 0;
  uint64_t last_done = 0;
  // Published (single writer: the worker's thread).
  std::atomic<uint64_t> ios{0}, reads{0}, writes{0}, bytes{0}, errors{0}, lat_sum{0}, lat_max{0}, max_gap{0};
  std::atomic<bool> drained{false};
  Histogram hist;
};

// ---- monitor ----------------------------------------------------------------

struct Totals {
  uint64_t ios = 0, reads = 0, writes = 0, bytes = 0, errors = 0, lat_sum = 0, lat_max = 0;
  Histogram::Snapshot hist;
  std::vector<uint64_t> cpu_ns;
  std::chrono::steady_clock::time_point at;
};

Totals collect(const std::vector<std::unique_ptr<Worker>>& ws, const ReactorPool& pool, bool with_hist) {
  Totals t;
  t.at = std::chrono::steady_clock::now();
  for (const auto& w : ws) {
    t.ios += w->ios.load(std::memory_order_relaxed);
    t.reads += w->reads.load(std::memory_order_relaxed);
    t.writes += w->writes.load(std::memory_order_relaxed);
    t.bytes += w->bytes.load(std::memory_order_relaxed);
    t.errors += w->errors.load(std::memory_order_relaxed);
    t.lat_sum += w->lat_sum.load(std::memory_order_relaxed);
    t.lat_max = std::max(t.lat_max, w->lat_max.load(std::memory_order_relaxed));
    if (with_hist) w->hist.add_to(t.hist);
  }
  for (CoreId c : pool.cores().cores()) t.cpu_ns.push_back(pool.reactor_cpu_ns(c));
  return t;
}

double secs(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string human(double v) {
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

struct Sample {
  double t_s;   // seconds since start (end of the sample)
  double iops;
};

struct Window {
  SwitchReport rep;
  double start_s = 0, end_s = 0;
  Histogram::Snapshot h0, h1;
  uint64_t err0 = 0, err1 = 0;
  std::vector<uint32_t> cores_before;
  bool switched = false;
};

class Monitor {
 public:
  Monitor(const Options& o, ReactorPool& pool, SwitchDriver& driver, Shared& sh,
          std::vector<std::unique_ptr<Worker>>& ws, const sigset_t& signals)
      : o_(o), pool_(pool), driver_(driver), sh_(sh), ws_(ws), signals_(signals) {}

  // Runs until the end, SIGINT or a fatal error. Returns the measured totals.
  void run() {
    using clock = std::chrono::steady_clock;
    start_ = clock::now();
    const double end_s = o_.ramp_s + o_.time_s;
    base_ = collect(ws_, pool_, true);
    base_.at = start_;
    Totals last_sec = base_;
    uint64_t last_ios = 0;
    double next_sample = secs(kSample), next_sec = 1.0;
    bool ramped = o_.ramp_s <= 0;
    size_t next_switch = 0;
    std::string why;
    const bool can_switch = driver_.available(why);
    while (true) {
      if (take_signal(signals_)) {
        interrupted_ = true;
        break;
      }
      if (sh_.fatal.load(std::memory_order_acquire)) break;
      const double now_s = secs(clock::now() - start_);
      if (now_s >= end_s) {
        if (now_s - next_sec < 0.5 && next_sec <= end_s + 1e-9) progress(last_sec, collect(ws_, pool_, true), now_s, ramped);
        break;
      }
      if (now_s >= next_sample) {
        uint64_t ios = 0;
        for (const auto& w : ws_) ios += w->ios.load(std::memory_order_relaxed);
        samples_.push_back({now_s, static_cast<double>(ios - last_ios) / secs(kSample)});
        last_ios = ios;
        next_sample += secs(kSample);
      }
      if (now_s >= next_sec) {
        Totals cur = collect(ws_, pool_, true);
        progress(last_sec, cur, now_s, ramped);
        last_sec = std::move(cur);
        next_sec += 1.0;
      }
      if (!ramped && now_s >= o_.ramp_s) {  // after the progress line: the last ramp second reads "ramp"
        base_ = collect(ws_, pool_, true);
        sched_base_ = driver_.counters();
        ramped = true;
      }
      if (can_switch && next_switch < o_.schedule.size() && !open_) {
        const SwitchStep& st = o_.schedule[next_switch];
        const double win_start = std::max(st.at_s - kWindowHalf_s, windows_.empty() ? 0.0 : windows_.back().end_s);
        if (now_s >= win_start) open_window(now_s, st);
      }
      if (open_) {
        Window& w = windows_.back();
        if (!w.switched && now_s >= w.rep.step.at_s) {
          do_switch(w);
          ++next_switch;
        } else if (w.switched && now_s >= w.end_s) {
          close_window();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (open_) {
      if (windows_.back().switched) close_window();
      else windows_.pop_back();  // the run ended before this switch
      open_ = false;
    }
    end_ = collect(ws_, pool_, true);
    sched_end_ = driver_.counters();
    if (!ramped) {
      base_ = Totals{};
      base_.cpu_ns.assign(end_.cpu_ns.size(), 0);
      base_.at = start_;
    }
  }

  Summary summary(const std::string& registered) const {
    Summary s;
    s.workload = std::string(workload_name(o_.workload));
    if (o_.workload == Workload::RandRw) s.workload += fmt::format(" ({}% reads)", o_.read_pct);
    s.io_size = o_.io_size;
    s.queue_depth = o_.queue_depth;
    s.workers = static_cast<uint32_t>(ws_.size());
    s.cores = pool_.cores().to_list();
    s.mode = o_.poll ? "poll" : "interrupt";
    for (const auto& t : *sh_.targets) s.files.push_back(t.path);
    s.direct = o_.direct;
    s.runtime_s = secs(end_.at - base_.at);
    s.ios = end_.ios - base_.ios;
    s.reads = end_.reads - base_.reads;
    s.writes = end_.writes - base_.writes;
    s.bytes = end_.bytes - base_.bytes;
    s.errors = end_.errors - base_.errors;
    const Clock& ck = pool_.clock();
    auto us = [&](uint64_t ticks) { return static_cast<double>(ck.ticks_to_ns(ticks)) / 1000.0; };
    const Histogram::Snapshot h = end_.hist - base_.hist;
    s.lat_avg_us = s.ios > 0 ? us(end_.lat_sum - base_.lat_sum) / static_cast<double>(s.ios) : 0;
    s.lat_p50_us = us(h.quantile(0.50));
    s.lat_p99_us = us(h.quantile(0.99));
    s.lat_p999_us = us(h.quantile(0.999));
    s.lat_max_us = us(end_.lat_max);
    auto cores = pool_.cores().cores();
    for (size_t i = 0; i < cores.size(); ++i) {
      const double cs = static_cast<double>(end_.cpu_ns[i] - base_.cpu_ns[i]) / 1e9;
      s.cpu.push_back({cores[i].value, s.runtime_s > 0 ? 100.0 * cs / s.runtime_s : 0, cs});
    }
    s.policy = driver_.current_policy();
    s.idle_threads = o_.idle_threads;
    s.period_us = o_.period_us;
    s.rounds = sched_end_.rounds - sched_base_.rounds;
    s.moves = sched_end_.moves - sched_base_.moves;
    std::string why;
    s.switching = driver_.available(why) ? "available" : why;
    s.registered = registered;
    s.ring_flags = describe_ring_flags(sh_.ring_flags.load(std::memory_order_relaxed));
    s.interrupted = interrupted_;
    // Outside every window: the whole run minus the windows.
    Histogram::Snapshot outside = end_.hist;
    for (const auto& w : windows_) outside = outside - (w.h1 - w.h0);
    std::vector<double> typical;
    for (const auto& smp : samples_) {
      bool in = false;
      for (const auto& w : windows_) in |= smp.t_s > w.start_s && smp.t_s <= w.end_s + secs(kSample);
      if (!in && smp.t_s > secs(kSample)) typical.push_back(smp.iops);
    }
    std::sort(typical.begin(), typical.end());
    const double median = typical.empty() ? 0 : typical[typical.size() / 2];
    for (const auto& w : windows_) {
      SwitchReport r = w.rep;
      r.p99_window_us = us((w.h1 - w.h0).quantile(0.99));
      r.p99_outside_us = us(outside.quantile(0.99));
      r.iops_typical = median;
      double lo = -1;
      for (const auto& smp : samples_)
        if (smp.t_s > w.start_s && smp.t_s <= w.end_s + secs(kSample)) lo = lo < 0 ? smp.iops : std::min(lo, smp.iops);
      r.iops_min_window = lo < 0 ? 0 : lo;
      r.errors = w.err1 - w.err0;
      s.switches.push_back(std::move(r));
    }
    return s;
  }

  bool interrupted() const { return interrupted_; }

 private:
  void progress(const Totals& a, const Totals& b, double now_s, bool ramped) {
    const double dt = secs(b.at - a.at);
    if (dt <= 0) return;
    const double iops = static_cast<double>(b.ios - a.ios) / dt;
    const double mib = static_cast<double>(b.bytes - a.bytes) / dt / (1024.0 * 1024.0);
    const Histogram::Snapshot h = b.hist - a.hist;
    const double p99 = static_cast<double>(pool_.clock().ticks_to_ns(h.quantile(0.99))) / 1000.0;
    std::string cpu;
    auto cores = pool_.cores().cores();
    for (size_t i = 0; i < cores.size(); ++i)
      cpu += fmt::format(" {}:{:.0f}%", cores[i].value,
                         100.0 * static_cast<double>(b.cpu_ns[i] - a.cpu_ns[i]) / 1e9 / dt);
    const std::string phase =
        ramped ? fmt::format("{:>3.0f}s", now_s - o_.ramp_s) : fmt::format("ramp {:.0f}s", now_s);
    fmt::print(stderr, "[{}] {:>8} IOPS {:>9.1f} MiB/s  p99 {:>7.1f} us  cpu{}  {}{}\n", phase, human(iops), mib, p99,
               cpu, driver_.current_policy(), b.errors > a.errors ? fmt::format("  {} errors", b.errors - a.errors) : "");
    std::fflush(stderr);
  }

  void open_window(double now_s, const SwitchStep& st) {
    Window& win = windows_.emplace_back();
    open_ = true;
    win.start_s = now_s;
    win.rep.step = st;
    win.rep.from = driver_.current_policy();
    Totals t = collect(ws_, pool_, true);
    win.h0 = std::move(t.hist);
    win.err0 = t.errors;
    for (const auto& w : ws_) {
      win.cores_before.push_back(w->thread->current_core().value);
      w->max_gap.store(0, std::memory_order_relaxed);
    }
  }

  void do_switch(Window& w) {
    w.rep.at_s = secs(std::chrono::steady_clock::now() - start_);
    w.rep.outcome = driver_.switch_to(w.rep.step.policy);
    if (w.rep.outcome.message.empty()) w.rep.outcome.message = w.rep.outcome.ok ? "ok" : "failed";
    w.end_s = secs(std::chrono::steady_clock::now() - start_) + kWindowHalf_s;
    w.switched = true;
    fmt::print(stderr, "switch {} -> {}: {} ({:.2f} ms)\n", w.rep.from, w.rep.step.policy, w.rep.outcome.message,
               w.rep.outcome.duration_ms);
  }

  void close_window() {
    Window& win = windows_.back();
    Totals t = collect(ws_, pool_, true);
    win.h1 = std::move(t.hist);
    win.err1 = t.errors;
    uint64_t gap = 0;
    for (size_t i = 0; i < ws_.size(); ++i) {
      gap = std::max(gap, ws_[i]->max_gap.load(std::memory_order_relaxed));
      if (ws_[i]->thread->current_core().value != win.cores_before[i]) ++win.rep.threads_moved;
    }
    win.rep.max_gap_ms = static_cast<double>(pool_.clock().ticks_to_ns(gap)) / 1e6;
    win.end_s = secs(std::chrono::steady_clock::now() - start_);
    open_ = false;
  }

  const Options& o_;
  ReactorPool& pool_;
  SwitchDriver& driver_;
  Shared& sh_;
  std::vector<std::unique_ptr<Worker>>& ws_;
  std::chrono::steady_clock::time_point start_;
  Totals base_, end_;
  std::vector<Sample> samples_;
  const sigset_t& signals_;
  std::vector<Window> windows_;
  bool open_ = false;  // windows_.back() is still measuring
  SwitchDriver::Counters sched_base_, sched_end_;  // at the ramp cut and at the end
  bool interrupted_ = false;
};

int run(const Options& o, const sigset_t& signals) {
  // Cores: -m, or every core of the machine.
  auto topo = Topology::discover();
  if (!topo) {
    fmt::print(stderr, "reactor-bench: cannot read the CPU topology: {}\n", topo.error().message);
    return kExitRuntime;
  }
  const CpuSet cores = o.cores.empty() ? topo->all() : o.cores;
  if (!cores.is_subset_of(topo->all())) {
    CpuSet missing = cores;
    for (CoreId c : topo->all().cores()) missing.reset(c);
    usage_error(fmt::format("-m: cores {} are not available here (available: {})", missing.to_list(),
                            topo->all().to_list()));
  }
  const uint32_t nworkers = o.workers != 0 ? o.workers : cores.count() * o.threads_per_core;
  const uint64_t arena_bytes = uint64_t{nworkers} * o.queue_depth * o.io_size;
  if (arena_bytes > kMaxArena)
    usage_error(fmt::format("buffers for {} threads x -q {} x -o {} would take {}: lower -q, -o or "
                            "--threads-per-core",
                            nworkers, o.queue_depth, format_size(o.io_size), format_size(arena_bytes)));

  // Start-up checks: one line and exit 1 before any file or socket exists.
  {
    const std::size_t conns = o.rpc_socket.empty() ? 0 : rpc::kMaxConnections;
    const std::size_t files = o.filenames.empty() ? 1 : o.filenames.size();
    const std::size_t needed = rpc::open_files_needed(cores.count(), conns) + files;
    auto r = rpc::ensure_open_files(
        needed, fmt::format("reactor-bench with {} reactor{}, {} file{}{}", cores.count(), cores.count() == 1 ? "" : "s",
                            files, files == 1 ? "" : "s",
                            conns > 0 ? fmt::format(" and {} RPC connections", conns) : std::string()));
    if (!r) {
      fmt::print(stderr, "reactor-bench: {}\n", r.error().message);
      return kExitRuntime;
    }
    if (auto u = rpc::check_io_uring(); !u) {
      fmt::print(stderr, "reactor-bench: {}\n", u.error().message);
      return kExitRuntime;
    }
    if (auto w = rpc::memlock_warning(arena_bytes)) fmt::print(stderr, "reactor-bench: warning: {}\n", *w);
  }

  // The socket before anything else: a path in use creates no file and starts
  // no reactor. Removed with its lock file when the engine stops.
  std::unique_ptr<rpc::RpcServer> server;
  if (!o.rpc_socket.empty()) {
    server = std::make_unique<rpc::RpcServer>(o.rpc_socket);
    server->set_timeouts(o.rpc_timeouts);
    if (auto r = server->start(); !r) {
      fmt::print(stderr, "reactor-bench: --rpc-socket: {}\n", r.error().message);
      return r.error().code == Errc::invalid_argument ? kExitUsage : kExitRuntime;
    }
    remember_socket_for_second_signal(*server);
  }

  TargetRequest req;
  req.filenames = o.filenames;
  req.size = o.size;
  req.io_size = o.io_size;
  req.direct = o.direct;
  req.write = writes(o.workload);
  auto targets = open_targets(req);
  if (!targets) {
    fmt::print(stderr, "reactor-bench: {}\n", targets.error().message);
    return targets.error().code == Errc::invalid_argument ? kExitUsage : kExitRuntime;
  }
  struct CloseTargets {
    std::vector<Target>& t;
    ~CloseTargets() { close_targets(t); }
  } closer{*targets};

  auto arena = AlignedBuffer::allocate(static_cast<size_t>(arena_bytes), 4096);
  if (!arena) {
    fmt::print(stderr, "reactor-bench: {}\n", arena.error().message);
    return kExitRuntime;
  }
  // Writes carry a non-zero pattern.
  for (size_t i = 0; i < arena->size(); ++i) arena->data()[i] = static_cast<std::byte>((i * 131 + 7) | 1);

  auto engine = make_engine(o, cores, std::move(server));
  if (!engine) {
    fmt::print(stderr, "reactor-bench: cannot start the runtime: {}\n", engine.error().message);
    return engine.error().code == Errc::invalid_argument ? kExitUsage : kExitRuntime;
  }
  ReactorPool& pool = engine->pool();
  SwitchDriver& driver = *engine->driver;
  std::string why;
  if (!driver.available(why) && (!o.schedule.empty() || o.scheduler != "static"))
    fmt::print(stderr, "reactor-bench: {}: running static placement; --scheduler/--switch-at ignored\n", why);
  for (const auto& n : driver.notes()) fmt::print(stderr, "reactor-bench: {}\n", n);
  if (!o.rpc_socket.empty()) fmt::print(stderr, "reactor-bench: serving JSON-RPC on {}\n", o.rpc_socket);

  // Register the files and each worker's buffer slice on every ring.
  std::vector<int> fds;
  for (const auto& t : *targets) fds.push_back(t.fd);
  std::vector<iovec> bufs;
  const uint64_t per_worker = uint64_t{o.queue_depth} * o.io_size;
  if (per_worker <= kMaxRegisteredBuffer)
    for (uint32_t i = 0; i < nworkers; ++i)
      bufs.push_back({arena->data() + i * per_worker, static_cast<size_t>(per_worker)});
  std::string registered;
  std::unique_ptr<IoRegistry> registry;
  if (auto r = IoRegistry::create(pool, fds, bufs)) {
    registry = std::move(*r);
    registered = registry->status();
  } else {
    registered = "none (" + r.error().message + ")";
  }

  Shared sh;
  sh.clock = &pool.clock();
  sh.targets = &*targets;
  sh.workload = o.workload;
  sh.read_pct = o.read_pct;
  sh.io_size = o.io_size;
  sh.queue_depth = o.queue_depth;
  sh.workers = nworkers;
  sh.registry = registry.get();

  std::vector<std::unique_ptr<Worker>> ws;
  auto core_list = cores.cores();
  for (uint32_t i = 0; i < nworkers; ++i) {
    ws.push_back(std::make_unique<Worker>(sh, i, arena->data() + i * per_worker));
    ThreadOptions to;
    to.name = fmt::format("bench_{}", i);
    to.cpumask = cores;  // movable anywhere in the pool: policies may move it
    to.home = core_list[i % core_list.size()];
    Worker* w = ws.back().get();
    auto t = pool.spawn(std::move(to), [w] { w->start(); });
    if (!t) {
      fmt::print(stderr, "reactor-bench: cannot start worker {}: {}\n", i, t.error().message);
      return kExitRuntime;
    }
    w->thread = *t;
  }

  // Idle threads: a timer each and nothing to do, as a daemon's idle
  // connections or management threads. They count for the policies, not for
  // the I/O figures.
  std::vector<ThreadRef> idle;
  for (uint32_t i = 0; i < o.idle_threads; ++i) {
    ThreadOptions to;
    to.name = fmt::format("idle_{}", i);
    to.cpumask = cores;
    to.home = core_list[(nworkers + i) % core_list.size()];
    auto t = pool.spawn(std::move(to), [] {
      (void)current_thread()->register_poller("idle_timer", [] { return PollStatus::Idle; },
                                              std::chrono::milliseconds(100));
    });
    if (!t) {
      fmt::print(stderr, "reactor-bench: cannot start idle thread {}: {}\n", i, t.error().message);
      return kExitRuntime;
    }
    idle.push_back(*t);
  }

  Monitor mon(o, pool, driver, sh, ws, signals);
  mon.run();

  // Stop submitting; every worker drains what it has in flight.
  sh.stop.store(true, std::memory_order_release);
  pool.wait_for(
      [&] {
        return std::all_of(ws.begin(), ws.end(), [](const auto& w) { return w->drained.load(std::memory_order_acquire); });
      },
      std::chrono::seconds(10));
  Summary s = mon.summary(registered);
  registry.reset();
  engine->stop();
  ws.clear();

  if (sh.fatal.load(std::memory_order_acquire)) {
    std::lock_guard lk(sh.err_mu);
    fmt::print(stderr, "reactor-bench: {}\n", sh.first_error);
    return kExitRuntime;
  }
  if (o.json) {
    fmt::print("{}\n", to_json(s).dump(2));
  } else {
    fmt::print("{}", format_text(s));
  }
  return 0;
}

}  // namespace
}  // namespace reactor::bench

int main(int argc, char** argv) {
  using namespace reactor::bench;
  Options o = parse_options(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  reactor::set_log_level(reactor::LogLevel::Warn);
  return run(o, signals);
}
