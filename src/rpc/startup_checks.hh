#pragma once
/// Start-up checks of the tools that run a reactor runtime (reactord,
/// reactor-bench): what the host must provide before anything is created, each
/// failure one line a user can act on. Running out later (an eventfd, a
/// connection) is an error returned by the call that needed it, never an
/// assert. Any thread; they read and raise process limits.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <reactor/error.hh>

namespace reactor::rpc {

/// Descriptors a runtime with `reactors` reactors and an RPC server taking
/// `connections` clients (0: no server) keeps open at most: stdio, an eventfd
/// and an io_uring per reactor, the control thread's, the server's lock,
/// socket, epoll and eventfd, one per connection, plus 16 for transient use
/// (topology discovery, /sys and /proc reads, a stale-socket probe).
std::size_t open_files_needed(std::size_t reactors, std::size_t connections) noexcept;

/// Raises the soft RLIMIT_NOFILE to the hard limit, then checks that it
/// leaves `needed` descriptors. Error (invalid_argument): "RLIMIT_NOFILE is 8
/// (hard limit 8): <what> needs at least 92 open files (<why>); raise it,
/// e.g. ulimit -n 1024", where `what_needs` is e.g. "reactord with 2
/// reactors and 64 RPC connections".
Result<void> ensure_open_files(std::size_t needed, const std::string& what_needs);

/// Whether io_uring can be used: creates and closes a one-entry ring.
/// Errors: unsupported, naming the cause ("io_uring is disabled on this host
/// (kernel.io_uring_disabled = 2) ...", "io_uring_setup is not permitted
/// here (seccomp or a container policy?) ...", or the kernel's errno text).
/// `proc_sys_root` is where kernel/io_uring_disabled is read ("/proc/sys";
/// tests point it elsewhere).
Result<void> check_io_uring(const std::string& proc_sys_root = "/proc/sys");

/// A warning line when RLIMIT_MEMLOCK is below `bytes` of registered I/O
/// buffers (and the process is not root, whose CAP_IPC_LOCK lifts the limit):
/// buffers are then used unregistered. nullopt when they fit.
std::optional<std::string> memlock_warning(std::uint64_t bytes);

}  // namespace reactor::rpc
