#pragma once
/// Where the JSON-RPC socket lives by default, shared by reactord and
/// reactorctl (rpc-compat.md: "The default socket lives in a directory only
/// its owner can write").
///
///   /run/reactor/reactor.sock       for euid 0 (reactord creates /run/reactor)
///   $XDG_RUNTIME_DIR/reactor.sock   otherwise (the login session's private
///                                   directory, mode 0700, made by the system)
///
/// Threading: plain functions, any thread.

#include <sys/types.h>

#include <string>

#include <reactor/error.hh>

namespace reactor::rpc {

/// Directory of root's default socket.
inline constexpr const char* kRootSocketDir = "/run/reactor";
/// File name of the default socket inside its directory.
inline constexpr const char* kDefaultSocketName = "reactor.sock";

/// The default socket path for `euid`, given the value of XDG_RUNTIME_DIR
/// (nullptr: unset). Errors: invalid_argument when euid is not 0 and
/// `xdg_runtime_dir` is unset or empty ("no default RPC socket for uid U:
/// XDG_RUNTIME_DIR is not set"; callers add which option to pass), or not an
/// absolute path.
Result<std::string> default_socket_path(uid_t euid, const char* xdg_runtime_dir);
/// The same for this process (geteuid(), getenv("XDG_RUNTIME_DIR")).
Result<std::string> default_socket_path();

/// Makes sure `dir` is a directory only we can write: creates it with mode
/// 0750 if it is missing (its parent must exist); refuses (exists) a path
/// that is not a directory (a symlink included), a directory not owned by
/// our euid, or one writable by group or others. Errors name the path and
/// the problem; io for a failed system call.
Result<void> ensure_private_dir(const std::string& dir);

/// connect() of the AF_UNIX stream socket `fd` to `path` (at most 107 bytes:
/// callers check), retried on EINTR. Returns 0 or errno.
int connect_unix(int fd, const std::string& path) noexcept;

}  // namespace reactor::rpc
