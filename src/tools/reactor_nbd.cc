// reactor-nbd: serves a file or block device over NBD from coroutines on
// lightweight threads (one per connection, placed by the running policy),
// with reactord's JSON-RPC control socket on -r so that reactorctl can
// switch policies while clients keep it busy.
//
// Start-up: options -> export opened -> runtime (reactors, scheduler) ->
// RPC socket (-r) -> listeners -> one ready line on stdout. SIGINT/SIGTERM:
// listeners close, connections finish what is in flight and flush, the
// runtime stops; a second signal removes the sockets and exits at once.
// Exit status: 0 after a graceful stop, 1 when it cannot start (or was
// forced), 2 for bad options. Signals, the control socket's lifetime, the
// two-signal stop and the exit statuses are shared with reactord and
// reactor-bench (tools/daemon_support.hh).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <reactor/cpuset.hh>
#include <reactor/log.hh>
#include <reactor/net.hh>
#include <reactor/runtime.hh>
#include <reactor/topology.hh>

#include "rpc/methods.hh"
#include "rpc/server.hh"
#include "tools/daemon_support.hh"
#include "tools/nbd_server.hh"

namespace {

using namespace reactor;
using namespace std::chrono_literals;

constexpr std::string_view kTool = "reactor-nbd";

[[noreturn]] void usage_error(const std::string& message) { tools::exit_usage(kTool, message); }

[[noreturn]] void runtime_error(const std::string& message) { tools::exit_runtime(kTool, message); }

std::string default_socket() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/reactor-nbd.sock";
}

}  // namespace

int main(int argc, char** argv) {
  const tools::StopSignals stop_signals;  // before any thread starts: they inherit the mask

  std::string cpumask, socket_path, listen_addr, rpc_socket, scheduler = "static", governor = "auto", mode = "interrupt";
  std::string file, name, log_level = "info";
  uint32_t main_core = 0;
  uint64_t period_us = 0;
  bool direct = false, read_only = false, no_unix = false;
  uint32_t max_request_kib = 32 * 1024;
  uint32_t handshake_timeout_s = 10, request_timeout_s = 30;
  uint32_t inline_write_us = 50;

  CLI::App app{
      "reactor-nbd: serve a file or block device over NBD (newstyle fixed handshake) from coroutines on\n"
      "lightweight threads, one per connection, placed by the running scheduling policy. Clients:\n"
      "nbdinfo, nbdcopy, fio --ioengine=nbd, qemu-img, nbd-client. -r serves reactord's JSON-RPC methods,\n"
      "so `reactorctl -s RPC_SOCKET switch dynamic` works while clients keep it busy.",
      "reactor-nbd"};
  app.footer(
      "When ready it prints one line on stdout:\n"
      "  reactor-nbd: serving FILE (SIZE bytes) on ADDRESS[, ADDRESS]\n"
      "SIGINT/SIGTERM: stop accepting, complete in-flight requests, flush, exit 0; a second signal exits\n"
      "at once. Exit status: 1 when it cannot start, 2 for bad options.");
  app.add_option("-m,--cpumask", cpumask, "Reactor cores (list, ranges or hex mask, as reactord). Default: all.");
  auto* main_opt = app.add_option("-p,--main-core", main_core, "Main core (in --cpumask). Default: the lowest.");
  auto* sock_opt = app.add_option("--socket", socket_path,
                                  "Unix socket to serve NBD on. Default: $TMPDIR/reactor-nbd.sock (/tmp without "
                                  "TMPDIR),\nunless only --listen is given.");
  app.add_option("--listen", listen_addr,
                 "Also serve TCP on HOST:PORT ([V6]:PORT; ':PORT' is loopback). Give 0.0.0.0 or [::]\n"
                 "yourself to serve other hosts: NBD has no authentication.");
  app.add_flag("--no-unix", no_unix, "Serve TCP only (needs --listen).");
  auto* rpc_opt =
      app.add_option("-r,--rpc-socket", rpc_socket, "Serve the JSON-RPC control socket (reactord's methods) here.");
  auto* sched_opt = app.add_option("--scheduler", scheduler, "static (default), dynamic or gscheduler/global.");
  auto* period_opt = app.add_option("--period-us", period_us, "Balancing period (dynamic, gscheduler): 10000 us to one year.");
  app.add_option("--governor", governor, "auto (default), dpdk, sim or none (as reactord).");
  app.add_option("--mode", mode,
                 "interrupt (default: idle reactors sleep, an idle server costs no CPU) or poll (each\n"
                 "reactor spins on its core: lowest latency, one busy CPU per reactor).");
  app.add_flag("--direct", direct, "Open the export with O_DIRECT (requests must be 4 KiB aligned).");
  app.add_flag("--read-only", read_only, "Refuse writes, trims and zeroes (EPERM).");
  app.add_option("--name", name, "Export name (clients may also ask for the default export \"\").");
  app.add_option("--max-request-kib", max_request_kib, "Largest READ/WRITE in KiB, 4 to 1048576. Default: 32768.");
  app.add_option("--handshake-timeout", handshake_timeout_s, "Seconds a client has to finish the handshake (1-3600, default 10).");
  app.add_option("--request-timeout", request_timeout_s,
                 "Seconds a started request (header and payload) may take to arrive (1-3600, default 30).");
  app.add_option("--inline-write-us", inline_write_us,
                 "Buffered writes (not --direct) up to 128 KiB are written by the connection's thread\n"
                 "while each takes at most this long (0-100000 us, default 50); after a slower one the next\n"
                 "64 (doubling while slow) go through io_uring. 0: every write through io_uring (on ext4 an io-wq worker each).");
  app.add_option("--log-level", log_level, "trace, debug, info (default), warn, error or off.");
  app.add_option("FILE", file, "File or block device to export.")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    return tools::kExitOk;
  } catch (const CLI::ParseError& e) {
    usage_error(e.what());
  }

  LogLevel level;
  if (!parse_log_level(log_level, level)) usage_error(fmt::format("--log-level '{}' is not a level", log_level));
  set_log_level(level);
  if (max_request_kib < 4 || max_request_kib > 1024 * 1024)
    usage_error(fmt::format("--max-request-kib {} is outside 4..1048576", max_request_kib));
  if (handshake_timeout_s < 1 || handshake_timeout_s > 3600)
    usage_error(fmt::format("--handshake-timeout {} is outside 1..3600 seconds", handshake_timeout_s));
  if (request_timeout_s < 1 || request_timeout_s > 3600)
    usage_error(fmt::format("--request-timeout {} is outside 1..3600 seconds", request_timeout_s));
  if (inline_write_us > 100000)
    usage_error(fmt::format("--inline-write-us {} is outside 0..100000", inline_write_us));
  if (no_unix && listen_addr.empty()) usage_error("--no-unix needs --listen HOST:PORT");
  if (no_unix && sock_opt->count() > 0) usage_error("--no-unix and --socket contradict each other");

  // Addresses first: a bad one changes nothing.
  std::vector<SocketAddress> addrs;
  if (!no_unix) {
    if (socket_path.empty()) socket_path = default_socket();
    auto a = unix_address(socket_path);
    if (!a) usage_error("--socket: " + a.error().message);
    addrs.push_back(*a);
  }
  if (!listen_addr.empty()) {
    auto a = parse_host_port(listen_addr);
    if (!a) usage_error("--listen: " + a.error().message);
    addrs.push_back(*a);
  }

  rpc::ControlPlaneOptions plane_opts;
  auto topo = Topology::discover();
  if (!topo) runtime_error("cannot read this machine's topology: " + topo.error().message);
  PoolOptions& pool = plane_opts.runtime.pool;
  pool.topology = *topo;
  if (cpumask.empty()) {
    pool.cores = topo->all();
  } else {
    auto m = CpuSet::parse(cpumask);
    if (!m) usage_error("--cpumask: " + m.error().message);
    if (m->empty()) usage_error(fmt::format("--cpumask '{}' names no core", cpumask));
    if (auto ok = tools::check_cores_available("--cpumask", cpumask, *m, topo->all()); !ok)
      usage_error(ok.error().message);
    pool.cores = *m;
  }
  pool.main_core = pool.cores.first();
  if (main_opt->count() > 0) {
    if (!pool.cores.test(CoreId{main_core}))
      usage_error(fmt::format("--main-core {} is not in --cpumask [{}]", main_core, pool.cores.to_list()));
    pool.main_core = CoreId{main_core};
  }
  if (mode == "poll") pool.baseline = ReactorMode::Poll;
  else if (mode == "interrupt") pool.baseline = ReactorMode::Interrupt;
  else usage_error(fmt::format("--mode '{}': expected poll or interrupt", mode));
  auto gov = parse_governor_choice(governor);
  if (!gov) usage_error("--governor: " + gov.error().message);
  plane_opts.runtime.governor = *gov;
  auto kind = parse_policy_name(scheduler);
  if (!kind) usage_error("--scheduler: " + kind.error().message);
  if (period_opt->count() > 0 && *kind == PolicyKind::Static)
    usage_error("--period-us applies to dynamic and gscheduler; static never balances periodically");
  if (period_opt->count() > 0 && (period_us < rpc::kMinPeriodUs || period_us > rpc::kMaxPeriodUs))
    usage_error(fmt::format("--period-us {} is outside {}..{} us", period_us, rpc::kMinPeriodUs, rpc::kMaxPeriodUs));
  plane_opts.runtime.scheduler.initial = *kind;
  plane_opts.runtime.scheduler.options.period_us =
      *kind == PolicyKind::Static ? 0 : (period_opt->count() > 0 ? period_us : 1'000'000);
  plane_opts.scheduler_chosen = true;  // started with a policy, named or the default static
  (void)sched_opt;

  std::optional<tools::ControlSocketPath> rpc_where;
  if (rpc_opt->count() > 0) {
    auto w = tools::control_socket_path("--rpc-socket", "-r", rpc_socket);
    if (!w) usage_error(w.error().message);
    rpc_where = std::move(*w);
  }

  rpc::ControlPlane plane(std::move(plane_opts));
  tools::ForcedExitFiles forced_exit_files;
  std::unique_ptr<rpc::RpcServer> rpc_server;
  if (rpc_where) {
    rpc_server = std::make_unique<rpc::RpcServer>(rpc_where->path);
    if (auto r = plane.register_methods(rpc_server->engine()); !r) runtime_error(r.error().message);
    if (auto r = tools::take_control_socket(*rpc_server, *rpc_where, forced_exit_files); !r)
      runtime_error(r.error().message);
  }
  if (auto r = plane.initialize(); !r) {
    if (rpc_server) rpc_server->stop();
    runtime_error("cannot start the runtime: " + r.error().message);
  }
  if (rpc_server)
    plane.runtime()->set_control_hook([&](std::chrono::milliseconds wait) { rpc_server->poll(wait); },
                                      [&] { rpc_server->wake(); });

  nbd::ExportOptions eo;
  eo.path = file;
  eo.name = name;
  eo.read_only = read_only;
  eo.direct = direct;
  eo.max_request = max_request_kib * 1024;
  eo.handshake_timeout = std::chrono::seconds(handshake_timeout_s);
  eo.request_timeout = std::chrono::seconds(request_timeout_s);
  eo.inline_write_us = inline_write_us;
  auto fail = [&](const std::string& msg) {
    plane.stop();
    if (rpc_server) rpc_server->stop();
    runtime_error(msg);
  };
  auto server = nbd::Server::open(plane.runtime()->pool(), eo);
  if (!server) fail(server.error().message);
  std::vector<std::string> where;
  for (const SocketAddress& a : addrs) {
    auto bound = (*server)->listen(a);
    if (!bound) fail(bound.error().message);
    where.push_back(bound->family() == AF_UNIX ? socket_path : bound->to_string());
    if (bound->family() == AF_UNIX) forced_exit_files.add_path(socket_path);
  }
  if (auto r = (*server)->start(); !r) fail(r.error().message);
  fmt::print("reactor-nbd: serving {} ({} bytes) on {}\n", file, (*server)->size(), fmt::join(where, ", "));
  std::fflush(stdout);

  const int sig = stop_signals.wait();
  bool drained = true;
  tools::stop_in_two_steps(
      stop_signals, kTool, sig,
      [&] {
        drained = (*server)->stop(30s);
        server->reset();
        plane.stop();
        if (rpc_server) rpc_server->stop();
      },
      forced_exit_files, tools::ForcedStatus::Runtime);
  log(LogLevel::Info, "reactor-nbd: stopped{}", drained ? "" : " (connections still open were dropped)");
  log_flush_suppressed();
  return drained ? tools::kExitOk : tools::kExitRuntime;
}
