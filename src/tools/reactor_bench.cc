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
//      the report (text, or one JSON object with `iops` first), and with
//      --plot draw the run (IOPS and p99 per 100 ms, CPU per reactor,
//      switches marked with their stall) into an SVG checked writable in 1.
// With --rpc-socket the Runtime is built by reactord's rpc::ControlPlane and
// its RpcServer is stepped by the Runtime's control thread (set_control_hook),
// exactly as in reactord, so reactorctl works against a running bench. The
// socket is taken before the Runtime starts (a path in use starts nothing)
// and removed, with its lock file, when the engine stops.
// Workers only ever touch their own state and publish counters through
// relaxed single-writer atomics; the monitor reads snapshots.
//
// Files: reactor_bench_options (command line), reactor_bench_engine (runtime
// and switch driver), reactor_bench_workers (the I/O loop),
// reactor_bench_monitor (sampling, switch windows, summary),
// reactor_bench_files (targets), reactor_bench_stats (histogram, report);
// this file holds the signals and the order of a run.

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <reactor/cpuset.hh>
#include <reactor/io.hh>
#include <reactor/log.hh>
#include <reactor/pool.hh>
#include <reactor/topology.hh>

#include "rpc/server.hh"
#include "rpc/startup_checks.hh"
#include "tools/reactor_bench.hh"
#include "tools/reactor_bench_engine.hh"
#include "tools/reactor_bench_monitor.hh"
#include "tools/reactor_bench_options.hh"
#include "tools/reactor_bench_plot.hh"
#include "tools/reactor_bench_workers.hh"

namespace reactor::bench {
namespace {

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
    fmt::print(stderr, "reactor-bench: -m: cores {} are not available here (available: {})\n", missing.to_list(),
               topo->all().to_list());
    return kExitUsage;
  }
  const uint32_t nworkers = o.workers != 0 ? o.workers : cores.count() * o.threads_per_core;
  const uint64_t arena_bytes = uint64_t{nworkers} * o.queue_depth * o.io_size;
  if (arena_bytes > kMaxArena) {
    fmt::print(stderr,
               "reactor-bench: buffers for {} threads x -q {} x -o {} would take {}: lower -q, -o or "
               "--threads-per-core\n",
               nworkers, o.queue_depth, format_size(o.io_size), format_size(arena_bytes));
    return kExitUsage;
  }

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

  Monitor mon(o, pool, driver, sh, ws, [&signals] { return take_signal(signals); });
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
  if (!s.measured)
    fmt::print(stderr, "reactor-bench: interrupted during the ramp ({:.1f} s of --ramp {} s): nothing measured\n",
               s.ramped_s, s.ramp_s);
  if (o.json) {
    fmt::print("{}\n", to_json(s).dump(2));
  } else {
    fmt::print("{}", format_text(s));
  }
  if (!o.plot_file.empty()) {
    if (auto r = write_bench_plot(o.plot_file, o, s, mon.plot_points()); !r) {
      fmt::print(stderr, "reactor-bench: --plot: {}\n", r.error().message);
      return kExitRuntime;
    }
    fmt::print(stderr, "reactor-bench: wrote {}\n", o.plot_file);
  }
  return 0;
}

}  // namespace
}  // namespace reactor::bench

int main(int argc, char** argv) {
  using namespace reactor::bench;
  auto cli = parse_cli(argc, argv);
  if (!cli) {
    fmt::print(stderr, "reactor-bench: {}\n", cli.error().message);
    return kExitUsage;
  }
  if (cli->help) {
    fmt::print("{}", *cli->help);
    return 0;
  }
  const Options& o = cli->options;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  reactor::set_log_level(reactor::LogLevel::Warn);
  return run(o, signals);
}
