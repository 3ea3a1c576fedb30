// reactord: the reference daemon. A Runtime (reactors, lightweight threads,
// scheduler, governor) plus the SPDK-compatible JSON-RPC server on a Unix
// socket; synthetic load comes from the scheduler test-app methods
// (scheduler_thread_create ...). Runs until SIGINT/SIGTERM.
//
// Start-up, in this order, so that a bad command line or a socket in use
// starts nothing:
//   1. block SIGINT/SIGTERM in every thread (threads created later inherit
//      the mask; the main thread takes them with sigtimedwait);
//   2. parse and validate the command line: bad input is one line on stderr
//      and exit 2;
//   3. start-up checks (RLIMIT_NOFILE raised to its hard limit and enough
//      for the reactors and 64 connections; io_uring usable): one line, exit 1;
//   4. take the socket (root's default directory /run/reactor created or
//      checked, lock file, bind): a path in use or unsafe is exit 1;
//   5. without --wait-for-rpc, build the Runtime now (framework init); with
//      it, stay in STARTUP: the main thread serves RPC itself until
//      framework_start_init builds the Runtime;
//   6. hand the RPC server to the Runtime's control thread (set_control_hook)
//      and print the ready line "reactord: listening on ...".
// --config FILE belongs to step 2: the methods of a save_config document,
// applied on top of the command line to the options framework init will use
// (rpc/config_file.hh), before the socket is taken; a bad file is one line
// and exit 2 with nothing started.
// Stop: the first signal stops gracefully on a helper thread (control thread
// joined, placement restored, threads exit, reactors joined, then the socket
// and its lock file removed) while the main thread keeps listening; a second
// signal removes the socket and the lock file and exits at once (status 1).
// Signals, the socket's lifetime, the two-signal stop and the exit statuses
// are shared with reactor-bench and reactor-nbd (tools/daemon_support.hh).

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <reactor/cpuset.hh>
#include <reactor/log.hh>
#include <reactor/runtime.hh>
#include <reactor/topology.hh>

#include "rpc/config_file.hh"
#include "rpc/methods.hh"
#include "rpc/server.hh"
#include "rpc/startup_checks.hh"
#include "sched/cpufreq_state.hh"
#include "tools/daemon_support.hh"

namespace {

using namespace reactor;
using namespace std::chrono_literals;
using tools::kExitRuntime;
using tools::kExitUsage;

constexpr std::string_view kTool = "reactord";
// Load threads busy-wait up to 100 ms per poller call by design; the stall
// detector should only report what runs clearly longer than that.
constexpr auto kStallThreshold = 250ms;

struct Cli {
  std::string cpumask;
  uint32_t main_core = 0;
  std::string socket;  // empty: the default (rpc::default_socket_path)
  std::vector<uint32_t> allow_uids;
  std::vector<uint32_t> allow_gids;
  std::string scheduler = "static";
  uint64_t period_us = 0;
  std::string governor = "auto";
  std::string isolated;
  bool wait_for_rpc = false;
  bool restore_cpufreq = false;
  std::string cpufreq_state = std::string(kDefaultCpufreqStatePath);
  std::string log_level = "info";
  std::string log_format;
  std::string mode = "poll";
  std::string idle_timeout = "30";
  std::string read_timeout = "10";
  bool main_core_given = false;
  bool isolated_given = false;
  bool scheduler_given = false;
  bool period_given = false;
  std::string config_file;
};

// What the command line asks for, validated.
struct Config {
  rpc::ControlPlaneOptions plane;
  std::string config_file;  // --config; empty: none
  tools::ControlSocketPath socket;
  std::vector<uid_t> allow_uids;
  std::vector<gid_t> allow_gids;
  bool wait_for_rpc = false;
  bool restore_cpufreq = false;
  std::string cpufreq_state;  // the governor's crash-safety state file
  LogLevel log_level = LogLevel::Info;
  rpc::ConnectionTimeouts timeouts;
  std::optional<LogFormat> log_format;
};

[[noreturn]] void usage_error(const std::string& message) { tools::exit_usage(kTool, message); }

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

// A bare number is read as SPDK's hex mask; when it is also a core list, say
// so (both readings) instead of silently taking one.
void warn_ambiguous(std::string_view option, std::string_view text, const std::string& readings) {
  fmt::print(stderr, "reactord: warning: {} '{}' is ambiguous: {}\n", option, text, readings);
}

Config parse_cli(int argc, char** argv) {
  Cli c;
  CLI::App app{
      "reactord: a reactor runtime (core-pinned reactors, lightweight threads, switchable scheduling\n"
      "policies) serving SPDK-compatible JSON-RPC on a Unix socket. Drive it with reactorctl, or with\n"
      "SPDK's rpc.py (-s SOCKET) and spdk_top (-r SOCKET). Create synthetic load with\n"
      "scheduler_thread_create (a thread at N % busy-waits N ms every 100 ms).",
      "reactord"};
  app.footer(
      "Signals: SIGINT or SIGTERM stops gracefully (threads exit, socket and lock file removed); a\n"
      "second signal exits at once. When ready, reactord prints one line on stdout:\n"
      "  reactord: listening on SOCKET (cores LIST, scheduler NAME)\n"
      "Exit status: 0 after a graceful stop, 1 when it cannot start or is forced, 2 for bad options.");
  auto* cpumask_opt = app.add_option("-m,--cpumask", c.cpumask,
                 "Reactor cores: a list or ranges (0-3,8 or [0,2-3]) or a hex mask (0x3, or SPDK-style bare\n"
                 "hex: 3 = cores 0 and 1). Default: every core this process may run on.");
  auto* main_opt = app.add_option("-p,--main-core", c.main_core,
                                  "Main core: the dynamic policy gathers idle threads here (SPDK's scheduling "
                                  "core).\nMust be in --cpumask. Default: the lowest core of --cpumask.");
  auto* socket_opt = app.add_option(
      "-r,--rpc-socket", c.socket,
      "Unix socket of the JSON-RPC server (mode 0600). A lock file SOCKET.lock keeps a second\n"
      "daemon off the same path. Any path works (SPDK's /var/tmp/spdk.sock too); a directory others\n"
      "may write without the sticky bit is warned about. Default: /run/reactor/reactor.sock as root\n"
      "(/run/reactor is created mode 0750 and must not be writable by others),\n"
      "$XDG_RUNTIME_DIR/reactor.sock otherwise.");
  app.add_option("--allow-uid", c.allow_uids,
                 "Also serve clients of this uid (repeatable). Clients are checked with SO_PEERCRED: by\n"
                 "default only reactord's own uid and root are served; others are disconnected at once.\n"
                 "The socket stays mode 0600: widen its mode or directory yourself if they must reach it.")
      ->allow_extra_args(false);
  app.add_option("--allow-gid", c.allow_gids, "Also serve clients whose primary gid is this one (repeatable).")
      ->allow_extra_args(false);
  auto* sched_opt = app.add_option(
      "--scheduler", c.scheduler,
      "Scheduling policy at start: static (every thread stays on its home core), dynamic (SPDK's:\n"
      "idle threads gather on the main core, busy ones spread out, cores without busy threads\n"
      "sleep), gscheduler or its alias global (per-core frequency from load; needs a governor).\n"
      "Switch at run time with reactorctl switch or framework_set_scheduler. Default: static.");
  auto* period_opt = app.add_option("--period-us", c.period_us,
                                    "Balancing period of dynamic and gscheduler in microseconds, 10000 (10 "
                                    "ms) to one year. Default: 1000000 (1 s, as SPDK).\nNot accepted with "
                                    "static, which never balances periodically.");
  app.add_option("--governor", c.governor,
                 "Frequency governor: auto (default: DPDK rte_power where cpufreq works, else none; the log\n"
                 "says which), dpdk (fail if rte_power cannot start), sim (a simulated frequency ladder,\n"
                 "so that gscheduler can run on machines without cpufreq such as most VMs), none\n"
                 "(gscheduler is refused).");
  auto* isolated_opt = app.add_option("--isolated-cores", c.isolated,
                 "Cores the scheduler never moves threads to or from (list or hex mask, as --cpumask).\n"
                 "Must be inside --cpumask and must not contain the main core. Default: none.");
  app.add_flag("--wait-for-rpc", c.wait_for_rpc,
               "Start in the STARTUP state: serve RPC but build no reactors until framework_start_init,\n"
               "so that scheduler_set_options and framework_set_scheduler can configure them first\n"
               "(as SPDK's --wait-for-rpc).");
  app.add_flag("--restore-cpufreq", c.restore_cpufreq,
               "Put back the cpufreq governor and frequency limits that a reactord killed while a policy\n"
               "held the DPDK governor left changed (recorded in the --cpufreq-state file), then exit.\n"
               "reactord also does this by itself at every start.");
  auto* state_opt = app.add_option(
      "--cpufreq-state", c.cpufreq_state,
      "File where the DPDK governor records each core's cpufreq governor and limits before it\n"
      "takes the core, read back by --restore-cpufreq and at every start. An absolute path in an\n"
      "existing directory reactord can write. Default: /run/reactor/governor.state.");
  app.add_option("--rpc-idle-timeout", c.idle_timeout,
                 "Seconds after which a connection with no request in progress that sent and received\n"
                 "nothing is closed (0.1 to 86400; default 30). When all 64 connections are taken, the one\n"
                 "idle longest is closed at once for a new client, so reactorctl always gets through.");
  app.add_option("--rpc-read-timeout", c.read_timeout,
                 "Seconds a client has to send the rest of a request it started (0.1 to 86400; default\n"
                 "10); then it is answered -32700 and disconnected.");
  app.add_option("--log-level", c.log_level, "trace, debug, info (default), warn, error or off. Logs go to stderr.");
  app.add_option("--log-format", c.log_format,
                 "text (default: \"[time] [level] [reactor] message\"), json (one object per line: time,\n"
                 "level, logger, msg) or journal (\"<priority>message\", chosen by default when stderr is\n"
                 "read by journald). The same message is logged at most 5 times in 5 s, then one line\n"
                 "says how many similar ones were suppressed.");
  app.add_option(
      "--mode", c.mode,
      "Baseline reactor mode. poll (default, as SPDK): each reactor spins on its core, at the price\n"
      "of one busy CPU per reactor even when nothing runs. interrupt: a reactor with nothing to run\n"
      "sleeps until a message, a timer or an I/O completion, so an idle daemon costs about no CPU;\n"
      "choose it on a shared machine or a laptop. Busy and idle figures are the same in both: time\n"
      "asleep counts as idle, for the reactor and for its threads. In either mode the dynamic\n"
      "policy puts cores without busy threads to sleep.");
  auto* config_opt = app.add_option("--config", c.config_file,
                 "Configuration to apply before serving: a JSON document as save_config writes it\n"
                 "(reactorctl save-config FILE): main core, isolated cores, mode, policy, period and\n"
                 "limits. Its values override the command line's. All or nothing: a bad file is one\n"
                 "line naming the key at fault and exit status 2, and nothing starts.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    std::exit(0);
  } catch (const CLI::ParseError& e) {
    usage_error(e.what());
  }
  c.main_core_given = main_opt->count() > 0;
  c.isolated_given = isolated_opt->count() > 0;
  c.scheduler_given = sched_opt->count() > 0;
  c.period_given = period_opt->count() > 0;

  Config cfg;
  cfg.wait_for_rpc = c.wait_for_rpc;
  cfg.config_file = c.config_file;
  if (config_opt->count() > 0 && c.config_file.empty()) usage_error("--config is empty");
  cfg.restore_cpufreq = c.restore_cpufreq;
  if (state_opt->count() > 0) {
    // The default's directory is created when the governor first needs it.
    if (auto ok = detail::check_cpufreq_state_path(c.cpufreq_state); !ok)
      usage_error("--cpufreq-state: " + ok.error().message);
  }
  cfg.cpufreq_state = c.cpufreq_state;
  cfg.plane.cpufreq_state_path = c.cpufreq_state;
  if (!parse_log_level(c.log_level, cfg.log_level))
    usage_error(fmt::format("--log-level '{}': expected trace, debug, info, warn, error or off", c.log_level));
  if (!c.log_format.empty()) {
    LogFormat f = LogFormat::Text;
    if (!parse_log_format(c.log_format, f))
      usage_error(fmt::format("--log-format '{}': expected text, json or journal", c.log_format));
    cfg.log_format = f;
  }

  for (auto [option, text, out] : {std::tuple{"--rpc-idle-timeout", &c.idle_timeout, &cfg.timeouts.idle},
                                   std::tuple{"--rpc-read-timeout", &c.read_timeout, &cfg.timeouts.read}}) {
    auto t = rpc::parse_connection_timeout(option, *text);
    if (!t) usage_error(t.error().message);
    *out = *t;
  }

  auto where = tools::control_socket_path("--rpc-socket", "-r",
                                          socket_opt->count() > 0 ? std::optional(c.socket) : std::nullopt);
  if (!where) usage_error(where.error().message);
  cfg.socket = std::move(*where);
  for (uint32_t uid : c.allow_uids) {
    if (uid == static_cast<uint32_t>(-1)) usage_error("--allow-uid 4294967295 is not a uid");
    cfg.allow_uids.push_back(static_cast<uid_t>(uid));
  }
  for (uint32_t gid : c.allow_gids) {
    if (gid == static_cast<uint32_t>(-1)) usage_error("--allow-gid 4294967295 is not a gid");
    cfg.allow_gids.push_back(static_cast<gid_t>(gid));
  }

  auto topo = Topology::discover();
  if (!topo) tools::exit_runtime(kTool, "cannot read this machine's topology: " + topo.error().message);
  PoolOptions& pool = cfg.plane.runtime.pool;
  if (cpumask_opt->count() > 0 && trim_spaces(c.cpumask).empty())
    usage_error("--cpumask is empty: name the cores (0-3, [0], 0x3) or leave the option out for every core");
  if (c.isolated_given && trim_spaces(c.isolated).empty())
    usage_error("--isolated-cores is empty: name the cores (2, [2-3], 0xc) or leave the option out for none");
  if (c.cpumask.empty()) {
    pool.cores = topo->all();
  } else {
    auto m = CpuSet::parse(c.cpumask);
    if (!m) usage_error("--cpumask: " + m.error().message);
    const auto both = CpuSet::ambiguity(c.cpumask);
    if (m->empty())
      usage_error(both ? fmt::format("--cpumask '{}' names no core: {}", c.cpumask, *both)
                       : fmt::format("--cpumask '{}' names no core", c.cpumask));
    if (both) warn_ambiguous("--cpumask", c.cpumask, *both);
    if (auto ok = tools::check_cores_available("--cpumask", c.cpumask, *m, topo->all()); !ok)
      usage_error(ok.error().message);
    pool.cores = *m;
  }
  pool.topology = *topo;
  pool.stall_threshold = kStallThreshold;

  CoreId main = pool.cores.first();
  if (c.main_core_given) {
    main = CoreId{c.main_core};
    if (!pool.cores.test(main))
      usage_error(fmt::format("--main-core {} is not in --cpumask [{}]", c.main_core, pool.cores.to_list()));
  }
  pool.main_core = main;

  if (!c.isolated.empty()) {
    auto iso = CpuSet::parse(c.isolated);
    if (!iso) usage_error("--isolated-cores: " + iso.error().message);
    if (const auto both = CpuSet::ambiguity(c.isolated)) warn_ambiguous("--isolated-cores", c.isolated, *both);
    if (!iso->is_subset_of(pool.cores))
      usage_error(fmt::format("--isolated-cores [{}] is not inside --cpumask [{}]", iso->to_list(),
                              pool.cores.to_list()));
    if (iso->test(main))
      usage_error(fmt::format("--isolated-cores [{}] contains the main core {}", iso->to_list(), main.value));
    pool.isolated = *iso;
  }

  if (c.mode == "poll") pool.baseline = ReactorMode::Poll;
  else if (c.mode == "interrupt") pool.baseline = ReactorMode::Interrupt;
  else usage_error(fmt::format("--mode '{}': expected poll or interrupt", c.mode));

  auto gov = parse_governor_choice(c.governor);
  if (!gov) usage_error("--governor: " + gov.error().message);
  cfg.plane.runtime.governor = *gov;

  auto kind = parse_policy_name(c.scheduler);
  if (!kind) usage_error("--scheduler: " + kind.error().message);
  if (*kind == PolicyKind::Global && *gov == GovernorChoice::None)
    usage_error("--scheduler gscheduler needs a governor, and --governor none disables it");
  if (c.period_given && *kind == PolicyKind::Static)
    usage_error("--period-us applies to dynamic and gscheduler; static never balances periodically");
  if (c.period_given && c.period_us < rpc::kMinPeriodUs)
    usage_error(fmt::format("--period-us {} is below the minimum of {} us (10 ms)", c.period_us, rpc::kMinPeriodUs));
  if (c.period_us > rpc::kMaxPeriodUs)
    usage_error(fmt::format("--period-us {} is more than one year ({} us)", c.period_us, rpc::kMaxPeriodUs));
  SchedulerManagerOptions& sched = cfg.plane.runtime.scheduler;
  sched.initial = *kind;
  sched.options.period_us = *kind == PolicyKind::Static ? 0 : (c.period_given ? c.period_us : 1'000'000);
  // Before framework init, framework_get_scheduler names a scheduler only once
  // one was chosen (SPDK); without --wait-for-rpc, init happens at once anyway.
  cfg.plane.scheduler_chosen = c.scheduler_given || !c.wait_for_rpc;
  return cfg;
}

std::string describe_runtime(rpc::ControlPlane& plane) {
  Runtime* rt = plane.runtime();
  SchedulerManager* m = rt->scheduler();
  return fmt::format("cores {}, scheduler {}", rt->pool().cores().to_list(),
                     m != nullptr ? policy_name(m->status().policy) : std::string_view("none"));
}

}  // namespace

int main(int argc, char** argv) {
  const tools::StopSignals stop_signals;  // before any thread starts: they inherit the mask

  Config cfg = parse_cli(argc, argv);
  set_log_level(cfg.log_level);
  if (cfg.log_format) set_log_format(*cfg.log_format);

  // Governor crash safety: settings a killed daemon left changed go back
  // first (and only that with --restore-cpufreq).
  {
    const std::string& state = cfg.cpufreq_state;
    auto restored = detail::restore_cpufreq_state(state);
    if (!restored) {
      fmt::print(stderr, "reactord: {}\n", restored.error().message);
      if (cfg.restore_cpufreq) return kExitRuntime;
    } else if (!restored->empty()) {
      std::vector<std::string> what;
      for (const auto& st : *restored)
        what.push_back(fmt::format("core {}: {} {}-{} kHz", st.core, st.governor, st.min_khz, st.max_khz));
      log(LogLevel::Warn, "reactord: restored the cpufreq settings a previous run left changed ({})",
          fmt::join(what, ", "));
    }
    if (cfg.restore_cpufreq) {
      if (restored && restored->empty()) fmt::print("reactord: nothing to restore (no {})\n", state);
      else if (restored) fmt::print("reactord: restored cpufreq settings of {} core(s) from {}\n", restored->size(), state);
      return 0;
    }
  }

  // Start-up checks, before the socket is taken: a failure is one line and
  // exit 1 and leaves nothing behind.
  const std::size_t reactors = cfg.plane.runtime.pool.cores.count();
  if (auto r = rpc::ensure_open_files(rpc::open_files_needed(reactors, rpc::kMaxConnections),
                                      fmt::format("reactord with {} reactor{} and {} RPC connections", reactors,
                                                  reactors == 1 ? "" : "s", rpc::kMaxConnections));
      !r) {
    fmt::print(stderr, "reactord: {}\n", r.error().message);
    return kExitRuntime;
  }
  if (auto r = rpc::check_io_uring(); !r) {
    fmt::print(stderr, "reactord: {}\n", r.error().message);
    return kExitRuntime;
  }

  rpc::ControlPlane plane(std::move(cfg.plane));
  rpc::RpcServer server(cfg.socket.path);
  server.set_timeouts(cfg.timeouts);
  for (uid_t uid : cfg.allow_uids) server.allow_uid(uid);
  for (gid_t gid : cfg.allow_gids) server.allow_gid(gid);
  if (auto r = plane.register_methods(server.engine()); !r) {
    fmt::print(stderr, "reactord: {}\n", r.error().message);
    return kExitRuntime;
  }
  if (!cfg.config_file.empty()) {
    // Before the socket is taken: a bad file leaves nothing behind.
    auto applied = rpc::load_config_file(server.engine(), cfg.config_file);
    if (!applied) {
      fmt::print(stderr, "reactord: --config {}: {}\n", cfg.config_file, applied.error().message);
      return kExitUsage;
    }
    log(LogLevel::Info, "reactord: --config {}: {} methods applied", cfg.config_file, *applied);
  }
  tools::ForcedExitFiles forced_exit_files;
  if (auto r = tools::take_control_socket(server, cfg.socket, forced_exit_files); !r) {
    fmt::print(stderr, "reactord: {}\n", r.error().message);
    return kExitRuntime;
  }
  if (!cfg.wait_for_rpc) {
    if (auto r = plane.initialize(); !r) {
      fmt::print(stderr, "reactord: cannot start the runtime: {}\n", r.error().message);
      server.stop();
      return kExitRuntime;
    }
    fmt::print("reactord: listening on {} ({})\n", cfg.socket.path, describe_runtime(plane));
  } else {
    fmt::print("reactord: listening on {} (cores {}, waiting for framework_start_init)\n", cfg.socket.path,
               plane.options().pool.cores.to_list());
  }
  std::fflush(stdout);

  // STARTUP: the main thread steps the server until framework_start_init.
  int sig = 0;
  while (!plane.initialized() && sig == 0) {
    server.poll(50ms);
    sig = stop_signals.take(0ms);
  }
  if (sig == 0) {
    if (cfg.wait_for_rpc) {
      fmt::print("reactord: framework initialized ({})\n", describe_runtime(plane));
      std::fflush(stdout);
    }
    // From here on only the control thread touches the server.
    plane.runtime()->set_control_hook([&server](std::chrono::milliseconds wait) { server.poll(wait); },
                                      [&server] { server.wake(); });
    sig = stop_signals.wait();
  }

  StopReport report;
  tools::stop_in_two_steps(
      stop_signals, kTool, sig,
      [&] {
        report = plane.stop();  // joins the control thread: nobody steps the server after this
        server.stop();
      },
      forced_exit_files, tools::ForcedStatus::Runtime);
  // One line per straggler would hit the log's rate limit past five of them.
  if (!report.stragglers.empty()) {
    std::string names;
    for (const std::string& s : report.stragglers) names += (names.empty() ? "" : "; ") + s;
    log(LogLevel::Warn, "reactord: {} threads did not exit: {}", report.stragglers.size(), names);
  }
  log(LogLevel::Info, "reactord: stopped ({} threads exited)", report.exited);
  log_flush_suppressed();
  return tools::kExitOk;
}
