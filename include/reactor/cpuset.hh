#pragma once
/// CpuSet: a set of CPU cores (0..kMaxCores-1), parsed from the forms operators
/// type and printed back in SPDK's hex form or as a range list. A plain value:
/// any thread may use its own copy; concurrent mutation needs outside locking.

#include <bitset>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/error.hh>
#include <reactor/ids.hh>

namespace reactor {

/// A fixed-width set of cores (hwloc PU os_index values).
class CpuSet {
 public:
  /// Largest core count a set can name (SPDK's cpuset is 1024 wide too).
  static constexpr uint32_t kMaxCores = 1024;

  /// The empty set.
  CpuSet() = default;
  /// Set holding exactly the given cores; REACTOR_ASSERTs each is < kMaxCores.
  CpuSet(std::initializer_list<uint32_t> cores);

  /// Parses every form operators type:
  ///   - a list or ranges: `0-3,8`, `[0,2-3]`, `[3]`; any text containing `-`
  ///     or `,` is a list; `3` alone is NOT a list (see below);
  ///   - hex with prefix: `0xf`, `0X1F`;
  ///   - SPDK hex without prefix: `f`, `100` (bare digits are hex, as SPDK:
  ///     "100" is core 8); "0" is the empty set, so to_hex() round-trips.
  /// Whitespace around the text and around items is ignored. Errors
  /// (Errc::invalid_argument) quote the input and name the bad part:
  /// "bad cpu mask '0-x': 'x' is not a core number",
  /// "bad cpu mask '0-5000': core 5000 is out of range (max 1023)",
  /// "bad cpu mask '5-2': range 5-2 is reversed", "empty cpu mask".
  static Result<CpuSet> parse(std::string_view text);
  /// Range-list form only (`0-3,8` or `[0-3,8]`): bare numbers are cores, so
  /// "100" is core 100. Errors read "bad cpu list '...': ..." / "empty cpu list".
  static Result<CpuSet> parse_list(std::string_view text);
  /// For a text parse() reads as bare hex that is also a valid core list
  /// (only decimal digits: "0", "13"), both readings, for a warning:
  /// "read as the hex mask 0x13 (cores 0-1,4), as SPDK does; as a core list
  /// it would be core 13 (write 0x13 or [13] to say which)". nullopt for
  /// every other text (prefixed hex, lists, hex letters, invalid input).
  static std::optional<std::string> ambiguity(std::string_view text);

  /// Adds `core`; REACTOR_ASSERTs core < kMaxCores.
  void set(CoreId core);
  /// Removes `core`; REACTOR_ASSERTs core < kMaxCores.
  void reset(CoreId core);
  /// True when `core` is in the set (false for any core >= kMaxCores).
  bool test(CoreId core) const noexcept;
  /// True when the set holds no core.
  bool empty() const noexcept { return bits_.none(); }
  /// Number of cores in the set.
  uint32_t count() const noexcept { return static_cast<uint32_t>(bits_.count()); }
  /// Smallest core in the set; REACTOR_ASSERTs the set is not empty.
  CoreId first() const;
  /// Cores in ascending order.
  std::vector<CoreId> cores() const;

  /// Intersection, union, and their in-place forms; equality compares members.
  CpuSet operator&(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ & o.bits_; return r; }
  CpuSet operator|(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ | o.bits_; return r; }
  CpuSet& operator&=(const CpuSet& o) { bits_ &= o.bits_; return *this; }
  CpuSet& operator|=(const CpuSet& o) { bits_ |= o.bits_; return *this; }
  bool operator==(const CpuSet& o) const = default;
  /// True when every core of this set is also in `o`.
  bool is_subset_of(const CpuSet& o) const { return (bits_ & ~o.bits_).none(); }

  /// SPDK's hex string: lower case, no `0x`, no leading zero nibble; empty -> "0".
  std::string to_hex() const;
  /// Compact range list, e.g. "0-3,8"; empty -> "". parse_list() reads it back
  /// (parse() too, except for a single core, which parse() would read as hex).
  std::string to_list() const;

 private:
  std::bitset<kMaxCores> bits_;
};

}  // namespace reactor
