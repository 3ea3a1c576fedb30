#pragma once
// reactor-bench's engine (not API): the Runtime (directly, or through
// reactord's ControlPlane with --rpc-socket) and the SwitchDriver over its
// SchedulerManager.

#include <memory>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>
#include <reactor/pool.hh>
#include <reactor/runtime.hh>

#include "rpc/methods.hh"
#include "rpc/server.hh"
#include "tools/reactor_bench.hh"
#include "tools/reactor_bench_options.hh"

namespace reactor::bench {

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

/// Builds the engine for `o` on `cores`. `server`: the started RPC server of
/// --rpc-socket, or null. A global policy (initial or scheduled) gets the
/// governor of --governor; under auto, the simulated one where no real one
/// works (said in the driver's notes).
Result<Engine> make_engine(const Options& o, const CpuSet& cores, std::unique_ptr<rpc::RpcServer> server);

}  // namespace reactor::bench
