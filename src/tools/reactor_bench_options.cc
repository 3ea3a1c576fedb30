// reactor-bench's command line: CLI11 for the syntax, then the checks that
// need several options at once (--switch-at against -t and --ramp, -M against
// -w, --size against -o, global against --governor none). Every error is one
// line returned to main, which prints it and exits 2: nothing here exits.

#include "tools/reactor_bench_options.hh"

#include "tools/reactor_bench_plot.hh"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <reactor/policy.hh>
#include <reactor/scheduler_manager.hh>

namespace reactor::bench {
namespace {

tl::unexpected<Error> usage(std::string msg) { return tl::unexpected(Error{Errc::invalid_argument, std::move(msg)}); }

// Longest -t or --ramp: about 115 days. Past it a number is a typo, and the
// monitor's arithmetic in seconds stays exact.
constexpr double kMaxSeconds = 1e7;

// A number of seconds: the whole text is a finite number (strtod, so "1.5"
// and "2e1" work). CLI11's own range check printed its bound, DBL_MAX, as a
// 310-digit number.
std::optional<double> parse_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Result<Cli> parse_cli(int argc, const char* const* argv) {
  Cli cli;
  Options& o = cli.options;
  CLI::App app{
      "reactor-bench: io_uring workloads from lightweight threads on core-pinned reactors.\n"
      "Without --filename it runs on a temp file of --size in $TMPDIR or /var/tmp, removed afterwards.\n"
      "Exit codes: 0 done (also after Ctrl-C, with the report), 1 environment or I/O error (missing file or\n"
      "device, permission, disk full, I/O error), 2 bad options (also options that do not fit the target:\n"
      "O_DIRECT alignment, a file smaller than -o or --size), 128 + signal after a second Ctrl-C (exits at once)."};
  app.option_defaults()->always_capture_default();
  std::string io_size = "4k", workload = "randread", size, mask, scheduler = "static", switch_at;
  std::string time_text = "10", ramp_text = "0", governor = "auto";
  std::optional<uint32_t> read_pct;
  app.add_option("-q,--queue-depth", o.queue_depth, "Requests in flight per thread")
      ->check(CLI::Range(1u, 65536u));
  app.add_option("-o,--io-size", io_size, "I/O size in bytes (k, m suffixes: 4k, 128k, 1m)");
  app.add_option("-w,--workload", workload, "randread|randwrite|read|write|randrw");
  app.add_option("-M,--rwmixread", read_pct, "Read percentage of -w randrw (default 50)")
      ->check(CLI::Range(0u, 100u));
  app.add_option("-t,--time", time_text, "Measured seconds (above 0)");
  app.add_option("--ramp", ramp_text, "Seconds of warm-up before measuring (not in the report)");
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
  app.add_option("--governor", governor,
                 "Frequency governor for global, as reactord: auto (DPDK rte_power where cpufreq works, else the\n"
                 "simulated one, said on stderr), dpdk (fail if rte_power cannot start), sim (the simulated\n"
                 "one), none (global refused)");
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
  auto* plot_opt = app.add_option("--plot", o.plot_file,
                 "Write an SVG picture of the run to this file: IOPS and p99 latency per 100 ms, CPU per\n"
                 "reactor, and each --switch-at switch as a vertical line labelled with its stall");
  app.add_flag("--poll", o.poll, "Poll mode: reactors never sleep (default: interrupt mode)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cli.help = app.help();
    return cli;
  } catch (const CLI::ParseError& e) {
    return usage(fmt::format("{} (see --help)", e.what()));
  }
  for (auto [option, text, out] : {std::tuple{"--rpc-idle-timeout", &idle_timeout, &o.rpc_timeouts.idle},
                                   std::tuple{"--rpc-read-timeout", &read_timeout, &o.rpc_timeouts.read}}) {
    auto t = rpc::parse_connection_timeout(option, *text);
    if (!t) return usage(t.error().message);
    *out = *t;
  }
  const auto t = parse_seconds(time_text);
  if (!t || *t <= 0 || *t > kMaxSeconds)
    return usage(fmt::format("-t {}: the measured time must be a number of seconds above 0{}", time_text,
                             t && *t > kMaxSeconds ? fmt::format(" and at most {:.0f}", kMaxSeconds) : ""));
  o.time_s = *t;
  const auto ramp = parse_seconds(ramp_text);
  if (!ramp || *ramp < 0 || *ramp > kMaxSeconds)
    return usage(fmt::format("--ramp {}: the warm-up must be a number of seconds from 0 to {:.0f}", ramp_text,
                             kMaxSeconds));
  o.ramp_s = *ramp;
  auto sz = parse_size(io_size);
  if (!sz) return usage(fmt::format("-o: {}", sz.error().message));
  if (*sz == 0 || *sz > kMaxIoSize)
    return usage(fmt::format("-o {} is outside 1 byte..{}", io_size, format_size(kMaxIoSize)));
  o.io_size = *sz;
  auto wl = parse_workload(workload);
  if (!wl) return usage(fmt::format("-w: {}", wl.error().message));
  o.workload = *wl;
  if (read_pct) {
    if (o.workload != Workload::RandRw) return usage("-M applies to -w randrw only");
    o.read_pct = *read_pct;
  }
  if (!size.empty()) {
    auto s = parse_size(size);
    if (!s) return usage(fmt::format("--size: {}", s.error().message));
    if (*s == 0) return usage("--size must be more than 0");
    // Said here, before any file is opened: the file is not what is too small.
    if (*s < o.io_size)
      return usage(fmt::format("--size {} ({} B) is less than one I/O (-o {})", size, *s, format_size(o.io_size)));
    o.size = *s;
  }
  if (mask_opt->count() > 0 && mask.find_first_not_of(" \t") == std::string::npos)
    return usage("-m is empty: name the cores (0-1, [0], 0x3) or leave the option out for every core");
  if (!mask.empty()) {
    auto c = CpuSet::parse(mask);
    if (!c) {
      std::string hint = mask.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos
                             ? " (a bare number is a hex mask, as SPDK: use [0] for core 0)"
                             : "";
      return usage(fmt::format("-m: {}{}", c.error().message, hint));
    }
    const auto both = CpuSet::ambiguity(mask);
    if (c->empty())
      return usage(both ? fmt::format("-m '{}' selects no core: {}", mask, *both)
                        : fmt::format("-m '{}' selects no core (use [0] for core 0)", mask));
    if (both) fmt::print(stderr, "reactor-bench: warning: -m '{}' is ambiguous: {}\n", mask, *both);
    o.cores = *c;
  }
  auto pol = canonical_policy(scheduler);
  if (!pol) return usage(fmt::format("--scheduler: {}", pol.error().message));
  o.scheduler = *pol;
  auto gov = parse_governor_choice(governor);
  if (!gov) return usage(fmt::format("--governor: {}", gov.error().message));
  o.governor = *gov;
  if (!switch_at.empty()) {
    auto s = parse_schedule(switch_at);
    if (!s) return usage(s.error().message);
    const double end = o.ramp_s + o.time_s;
    for (const auto& st : *s)
      if (st.at_s >= end)
        return usage(fmt::format("--switch-at: the switch at {} s is not before the end of the run ({} s = --ramp {} + "
                                "-t {})",
                                st.at_s, end, o.ramp_s, o.time_s));
    o.schedule = std::move(*s);
  }
  const bool wants_global = o.scheduler == "gscheduler" ||
                            std::any_of(o.schedule.begin(), o.schedule.end(),
                                        [](const SwitchStep& st) { return st.policy == "gscheduler"; });
  if (wants_global && o.governor == GovernorChoice::None)
    return usage("global (gscheduler) needs a governor, and --governor none disables it (use auto, dpdk or sim)");
  // --plot is checked now, so that a typo costs nothing: the picture is
  // written after the run, and a path that cannot take it would lose it.
  if (plot_opt->count() > 0) {
    if (auto r = check_plot_file(o.plot_file); !r) return usage(r.error().message);
  }
  if (!o.rpc_socket.empty() && o.rpc_socket.size() > 107)
    return usage(fmt::format("--rpc-socket: the path is {} bytes; a Unix socket path holds at most 107",
                            o.rpc_socket.size()));
  return cli;
}


}  // namespace reactor::bench
