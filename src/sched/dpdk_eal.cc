// The process's one DPDK EAL initialisation (see dpdk_eal.hh).
//
// Why process-wide state here, against the "no mutable globals" rule: EAL is
// itself process-global and initialises at most once per process (a second
// rte_eal_init fails with EALREADY, even after rte_eal_cleanup). The
// function-local `state()` only mirrors that fact so every caller sees the
// same outcome instead of a confusing EALREADY.
//
// Steps of the first call, in order:
//   1. validate the cores (nothing is attempted or kept on a bad request);
//   2. save the calling thread's CPU affinity: rte_eal_init pins its caller
//      to the main lcore, and the caller is the control thread or a test;
//   3. rte_eal_init with an in-memory configuration (no hugepages, no PCI
//      scan, no shared config files, no telemetry socket) and a per-process
//      --file-prefix so parallel test processes never collide;
//   4. restore the affinity saved in 2, whatever 3 returned;
//   5. remove the (empty) runtime directory EAL creates even in no-shconf
//      mode, so nothing is left under /var/run/dpdk after the process;
//   6. keep the outcome; EALREADY means the application started EAL before
//      us: adopt its lcores instead.

#include "sched/dpdk_eal.hh"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <reactor/log.hh>

namespace reactor::detail {
namespace {

// The governor and lcore launch allocate nothing from DPDK's heap (message
// rings live in our own memory, DESIGN "Platform traps"); 16 MB keeps the
// anonymous no-huge heap small instead of EAL's 64 MB default.
constexpr const char* kEalMemoryMb = "16";

struct EalState {
  std::mutex mu;
  std::optional<Result<EalInstance>> outcome;
};

EalState& state() {
  static EalState s;  // see the file comment: mirrors EAL's own process-wide state
  return s;
}

CpuSet enabled_lcores() {
  CpuSet set;
  for (unsigned lcore = 0; lcore < RTE_MAX_LCORE && lcore < CpuSet::kMaxCores; ++lcore) {
    if (rte_lcore_is_enabled(lcore)) set.set(CoreId{lcore});
  }
  return set;
}

Result<EalInstance> start_eal(const CpuSet& cores) {
  const int pid = static_cast<int>(getpid());
  std::vector<std::string> args = eal_arguments(cores, pid);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  cpu_set_t saved;
  CPU_ZERO(&saved);
  const bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
  if (!have_saved) {
    log(LogLevel::Warn, "EAL init: cannot read this thread's CPU affinity; EAL will leave it pinned");
  }

  const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  const int err = rte_errno;

  if (have_saved) {
    if (int e = pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved); e != 0) {
      log(LogLevel::Warn, "EAL init: cannot restore this thread's CPU affinity (error {})", e);
    }
  }

  if (rc < 0 && err == EALREADY) {
    const CpuSet lcores = enabled_lcores();
    log(LogLevel::Info, "EAL was already initialised by the application (lcores {}); using it",
        lcores.to_list());
    return EalInstance{lcores, false, {}};
  }
  if (rc < 0) {
    std::string joined;
    for (size_t i = 1; i < args.size(); ++i) joined += (i > 1 ? " " : "") + args[i];
    return make_error(Errc::unsupported, fmt::format("DPDK EAL failed to initialise ({}) with: {}",
                                                     rte_strerror(err), joined));
  }

  // Step 5: nothing lives in the runtime directory with --no-shconf and
  // --no-telemetry; rmdir only succeeds if it is indeed empty.
  if (const char* dir = rte_eal_get_runtime_dir(); dir != nullptr && *dir != '\0') {
    (void)rmdir(dir);
  }
  return EalInstance{cores, true, fmt::format("reactor{}", pid)};
}

}  // namespace

std::vector<std::string> eal_arguments(const CpuSet& cores, int pid) {
  return {
      "reactor",
      "--no-huge",
      "-m",
      kEalMemoryMb,
      "--no-pci",
      "--no-shconf",
      "--no-telemetry",
      fmt::format("--file-prefix=reactor{}", pid),
      "--log-level=lib.eal:error",
      "-l",
      cores.to_list(),
  };
}

Result<EalInstance> init_eal_once(const CpuSet& cores) {
  if (cores.empty()) {
    return make_error(Errc::invalid_argument, "EAL needs at least one core");
  }
  for (CoreId core : cores.cores()) {
    if (core.value >= RTE_MAX_LCORE) {
      return make_error(Errc::invalid_argument,
                        fmt::format("core {} is beyond DPDK's lcore limit (RTE_MAX_LCORE = {})",
                                    core.value, RTE_MAX_LCORE));
    }
  }

  EalState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.outcome) s.outcome = start_eal(cores);

  const Result<EalInstance>& outcome = *s.outcome;
  if (!outcome) return outcome;
  if (!cores.is_subset_of(outcome->lcores)) {
    CpuSet missing = cores;
    for (CoreId c : outcome->lcores.cores()) missing.reset(c);
    return make_error(Errc::invalid_argument,
                      fmt::format("EAL already runs with lcores {} and cannot be started again in this "
                                  "process; cores {} are not among them",
                                  outcome->lcores.to_list(), missing.to_list()));
  }
  return outcome;
}

}  // namespace reactor::detail
