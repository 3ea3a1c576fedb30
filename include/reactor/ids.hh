#pragma once
/// Strong identifier types: a core (hwloc PU os_index), a lightweight thread id
/// (from 1, never reused) and a poller id (per thread, from 1).

#include <compare>
#include <cstdint>
#include <functional>

namespace reactor {

/// A CPU core of the machine: the hwloc PU `os_index`, as operators write it.
struct CoreId {
  uint32_t value = 0;
  constexpr auto operator<=>(const CoreId&) const = default;
};

/// Identifier of a lightweight thread; 0 is never a valid id.
struct ThreadId {
  uint64_t value = 0;
  constexpr auto operator<=>(const ThreadId&) const = default;
  constexpr explicit operator bool() const noexcept { return value != 0; }
};

/// Identifier of a poller inside its thread; 0 is never a valid id.
struct PollerId {
  uint64_t value = 0;
  constexpr auto operator<=>(const PollerId&) const = default;
};

}  // namespace reactor

template <>
struct std::hash<reactor::CoreId> {
  size_t operator()(reactor::CoreId c) const noexcept { return std::hash<uint32_t>{}(c.value); }
};
template <>
struct std::hash<reactor::ThreadId> {
  size_t operator()(reactor::ThreadId t) const noexcept { return std::hash<uint64_t>{}(t.value); }
};
