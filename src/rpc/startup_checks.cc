// Start-up checks (see startup_checks.hh). The issue they answer: with
// `ulimit -n 8` reactord aborted on an assert in the reactor's eventfd and
// left its socket and lock behind, and with 9-10 it printed "listening" but
// could never accept. Checked before the socket is taken, so a failure leaves
// nothing behind.

#include "rpc/startup_checks.hh"

#include <linux/io_uring.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace reactor::rpc {
namespace {

constexpr std::size_t kStdio = 3;
constexpr std::size_t kPerReactor = 2;  // eventfd + io_uring
constexpr std::size_t kControl = 1;     // the control thread's wake-up
constexpr std::size_t kServer = 4;      // lock file, listening socket, epoll, eventfd
constexpr std::size_t kTransient = 16;  // topology, /sys and /proc reads, a probe socket

std::string limit_text(rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : fmt::format("{}", v); }

}  // namespace

std::size_t open_files_needed(std::size_t reactors, std::size_t connections) noexcept {
  return kStdio + kPerReactor * reactors + kControl + (connections > 0 ? kServer + connections : 0) + kTransient;
}

Result<void> ensure_open_files(std::size_t needed, const std::string& what_needs) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return make_error(Errc::io, fmt::format("cannot read RLIMIT_NOFILE: {}", std::strerror(errno)));
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed)
    return make_error(Errc::invalid_argument,
                      fmt::format("RLIMIT_NOFILE is {} (hard limit {}): {} needs at least {} open files; raise it, "
                                  "e.g. ulimit -n 1024",
                                  limit_text(lim.rlim_cur), limit_text(lim.rlim_max), what_needs, needed));
  return {};
}

Result<void> check_io_uring(const std::string& proc_sys_root) {
  io_uring_params p{};
  const long fd = ::syscall(__NR_io_uring_setup, 1, &p);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return {};
  }
  const int err = errno;
  int disabled = 0;
  std::ifstream in(proc_sys_root + "/kernel/io_uring_disabled");
  const bool known = static_cast<bool>(in >> disabled);
  if (known && disabled != 0)
    return make_error(Errc::unsupported,
                      fmt::format("io_uring is disabled on this host (kernel.io_uring_disabled = {}: {}); the "
                                  "reactors need it to sleep and do I/O: set it to 0{}",
                                  disabled, std::strerror(err),
                                  disabled == 1 ? " or add this user to kernel.io_uring_group" : ""));
  if (err == EPERM || err == EACCES)
    return make_error(Errc::unsupported,
                      fmt::format("io_uring_setup is not permitted here ({}; a seccomp or container policy?); the "
                                  "reactors need io_uring to sleep and do I/O",
                                  std::strerror(err)));
  if (err == ENOSYS)
    return make_error(Errc::unsupported,
                      "this kernel has no io_uring (io_uring_setup: Function not implemented); the reactors need "
                      "it to sleep and do I/O");
  if (err == ENOMEM) {
    // Ring memory can be charged to RLIMIT_MEMLOCK (seen here for an
    // unprivileged user with a 4 KiB limit).
    rlimit lim{};
    if (::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
      return make_error(Errc::unsupported,
                        fmt::format("cannot create an io_uring: {} (RLIMIT_MEMLOCK is {} KiB and io_uring "
                                    "memory is charged to it; raise it with ulimit -l)",
                                    std::strerror(err), lim.rlim_cur / 1024));
  }
  return make_error(Errc::unsupported, fmt::format("cannot create an io_uring: {}", std::strerror(err)));
}

std::optional<std::string> memlock_warning(std::uint64_t bytes) {
  if (bytes == 0 || ::geteuid() == 0) return std::nullopt;
  rlimit lim{};
  if (::getrlimit(RLIMIT_MEMLOCK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= bytes)
    return std::nullopt;
  return fmt::format("RLIMIT_MEMLOCK is {} KiB, below the {} KiB of I/O buffers to register: they are used "
                     "unregistered (raise it with ulimit -l)",
                     lim.rlim_cur / 1024, (bytes + 1023) / 1024);
}

}  // namespace reactor::rpc
