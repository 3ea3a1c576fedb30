#pragma once
/// Private (not API): what reactord, reactor-bench and reactor-nbd share as
/// daemons, so that each rule lives in one place:
///
///   - exit statuses (0 graceful, 1 cannot start or failed, 2 bad options);
///   - the stop signals: SIGINT and SIGTERM blocked in every thread and taken
///     by one thread with sigtimedwait (StopSignals);
///   - the two-signal stop: the first signal stops gracefully on a helper
///     thread while the calling thread keeps taking signals; a second one
///     removes the files a forced exit must not leave behind and exits at
///     once (stop_in_two_steps, ForcedExitFiles);
///   - the control socket's lifetime: the path (given, or the default of
///     rpc/socket_path.hh), root's private default directory, the lock file
///     and the bind (RpcServer::start), removal by RpcServer::stop() on a
///     graceful stop and by ForcedExitFiles on a forced one;
///   - the "cores not available to this process" check of -m.
///
///   StopSignals signals;                        // first thing in main()
///   ... parse options, take_control_socket(server, where, files) ...
///   const int sig = signals.wait();
///   stop_in_two_steps(signals, "reactord", sig, [&] { plane.stop(); server.stop(); },
///                     files, ForcedStatus::Runtime);
///
/// Threading: StopSignals must be constructed by main() before any thread
/// starts (threads inherit the signal mask); the rest is for that thread.

#include <signal.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/cpuset.hh>
#include <reactor/error.hh>

#include "rpc/server.hh"

namespace reactor::tools {

/// Exit statuses of reactord, reactor-bench and reactor-nbd (README, "Exit
/// status"): a graceful stop or a finished run, a failure to start or a
/// failure while running (also a forced stop of reactord and reactor-nbd),
/// and bad options or input, when nothing was started.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

/// A Unix socket path is at most sizeof(sockaddr_un::sun_path) - 1 bytes.
inline constexpr std::size_t kMaxSocketPath = 107;

/// Prints "<tool>: <message> (see <tool> --help)" on stderr and exits 2.
[[noreturn]] void exit_usage(std::string_view tool, std::string_view message);
/// Prints "<tool>: <message>" on stderr and exits 1.
[[noreturn]] void exit_runtime(std::string_view tool, std::string_view message);

/// SIGINT and SIGTERM, blocked and taken synchronously.
class StopSignals {
 public:
  /// Blocks SIGINT and SIGTERM in the calling thread (every thread started
  /// later inherits the mask, so none of them is interrupted) and ignores
  /// SIGPIPE (a client that vanishes must not kill a daemon). Construct it
  /// first in main(), before any thread exists.
  StopSignals();
  /// Waits up to `timeout` (0: only looks) for a stop signal; returns it, or
  /// 0 when none came. A signal taken is consumed.
  int take(std::chrono::milliseconds timeout) const noexcept;
  /// Waits until a stop signal arrives; returns it.
  int wait() const noexcept;
  const sigset_t& set() const noexcept { return set_; }

 private:
  sigset_t set_{};
};

/// Files a forced stop removes before it exits: a control socket and its
/// lock file only while they are still the files the server created (same
/// device and inode: a newer daemon's socket on the same path is never
/// removed), and other paths (an NBD listener's socket) as they are.
/// Paths and identities are copied when added, so removal needs none of the
/// objects that created them (they may be being destroyed by the graceful
/// stop at that moment).
class ForcedExitFiles {
 public:
  /// The socket and lock file of a server whose start() succeeded.
  void add(const rpc::RpcServer& server);
  /// A path unlinked whatever it holds then.
  void add_path(std::string path);
  /// Removes what was added. Any thread.
  void remove() const noexcept;

 private:
  struct Entry {
    std::string path;
    rpc::FileId id;  // ino 0: unlink without checking
  };
  std::vector<Entry> entries_;
};

/// How a forced stop (the second signal) exits: status 1 (reactord,
/// reactor-nbd), or 128 + the signal's number (reactor-bench, as a shell
/// reports a process killed by that signal).
enum class ForcedStatus { Runtime, SignalNumber };

/// The two-signal stop, after `first_signal` (0: the process stops on its
/// own, e.g. a benchmark that ran its time; nothing is logged). Logs
/// "<tool>: <SIGNAL> received, stopping (send it again to exit at once)"
/// (info) for a signal, then runs `graceful` on a helper thread while the
/// calling thread takes stop signals; returns once `graceful` has returned.
/// A stop signal before that logs "<tool>: second <SIGNAL>: exiting without
/// waiting for the graceful stop" (error), flushes the log, removes `files`
/// and ends the process with _Exit (`status`): destructors and the graceful
/// stop in progress do not run on.
void stop_in_two_steps(const StopSignals& signals, std::string_view tool, int first_signal,
                       const std::function<void()>& graceful, const ForcedExitFiles& files, ForcedStatus status);

/// Where a control socket goes.
struct ControlSocketPath {
  std::string path;
  /// root's default: its directory (/run/reactor) is created mode 0750 or
  /// checked to be writable by its owner only, before the socket is taken.
  bool private_dir = false;
};

/// The control socket path: `given` when the option was given, else the
/// default (rpc::default_socket_path: /run/reactor/reactor.sock for root,
/// $XDG_RUNTIME_DIR/reactor.sock otherwise). Errors (invalid_argument, to
/// be reported as bad options): an empty path, one longer than 107 bytes,
/// no default for this user ("...; pass <short_option> PATH"); each names
/// the option.
Result<ControlSocketPath> control_socket_path(std::string_view option, std::string_view short_option,
                                              const std::optional<std::string>& given);

/// Checks a socket path given with `option`: not empty, at most 107 bytes.
Result<void> check_socket_path(std::string_view option, const std::string& path);

/// Takes the control socket: root's default directory first (see
/// ControlSocketPath), then server.start() (lock file `<path>.lock`, stale
/// socket removal, bind, listen). On success the socket and its lock file
/// are added to `files` for a forced stop; a graceful stop removes them with
/// server.stop(). Errors: those of ensure_private_dir and RpcServer::start
/// (a path in use names the lock file); nothing is left behind.
Result<void> take_control_socket(rpc::RpcServer& server, const ControlSocketPath& where, ForcedExitFiles& files);

/// Checks that `wanted` (parsed from `text`, given with `option`) holds
/// only cores this process may run on (`available`). Error
/// (invalid_argument): "<option> '<text>': cores [<missing>] are not
/// available to this process (available: <list>)".
Result<void> check_cores_available(std::string_view option, std::string_view text, const CpuSet& wanted,
                                   const CpuSet& available);

}  // namespace reactor::tools
