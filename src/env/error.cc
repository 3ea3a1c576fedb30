// Names of the error categories. They are part of the stable surface: the
// JSON-RPC layer and reactorctl print them, so a rename is a compatibility
// break. The switch has no default so that -Wswitch flags a new Errc that was
// not given a name here.

#include <reactor/error.hh>

namespace reactor {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::exists: return "exists";
    case Errc::full: return "full";
    case Errc::exited: return "exited";
    case Errc::busy: return "busy";
    case Errc::unsupported: return "unsupported";
    case Errc::wrong_thread: return "wrong_thread";
    case Errc::timeout: return "timeout";
    case Errc::io: return "io";
    case Errc::internal: return "internal";
    case Errc::cancelled: return "cancelled";
  }
  // Only reachable through a cast of an out-of-range integer.
  return "unknown";
}

}  // namespace reactor
