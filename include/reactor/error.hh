#pragma once
/// Error type of every expected failure in reactor (bad configuration, unknown
/// policy, a full ring, an exited thread, io_uring setup). Broken invariants are
/// bugs and use REACTOR_ASSERT instead.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace reactor {

/// Category of an expected failure; `message` carries the detail a user acts on.
enum class Errc {
  invalid_argument,  ///< bad option, mask, core, name or value
  not_found,         ///< no such thread, core, policy or poller
  exists,            ///< the resource is already taken (socket path, lease)
  full,              ///< a bounded ring or table is full; retry later
  exited,            ///< the target thread has exited or is exiting
  busy,              ///< a serialized operation is already in progress
  unsupported,       ///< the platform lacks a feature (cpufreq, io_uring op)
  wrong_thread,      ///< called from a thread where it would deadlock
  timeout,           ///< a bounded wait expired
  io,                ///< an I/O or system call failed (errno in the message)
  internal,          ///< a failure the caller cannot fix (reported, not thrown)
  cancelled,         ///< the operation was abandoned (stop requested, thread exiting)
};

/// Short stable name of an error category ("invalid_argument", ...).
std::string_view to_string(Errc code) noexcept;

/// An expected failure: a category plus a message naming the problem.
struct Error {
  Errc code = Errc::internal;
  std::string message;
};

/// Result of an operation that can fail in an expected way.
template <class T = void>
using Result = tl::expected<T, Error>;

/// Builds the unexpected branch of a Result: `return make_error(Errc::x, "...")`.
inline tl::unexpected<Error> make_error(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace reactor
