#pragma once
/// CpuSet: a set of CPU cores (0..kMaxCores-1), parsed from the forms operators
/// type and printed back in SPDK's hex form or as a range list.

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/error.hh>
#include <reactor/ids.hh>

namespace reactor {

class CpuSet {
 public:
  /// Largest core count a set can name (SPDK's cpuset is 1024 wide too).
  static constexpr uint32_t kMaxCores = 1024;

  CpuSet() = default;
  /// Set holding exactly the given cores; REACTOR_ASSERTs each is < kMaxCores.
  CpuSet(std::initializer_list<uint32_t> cores);

  /// Parses every form operators type:
  ///   - a list or ranges: `0-3,8`, `[0,2-3]`, `3` is NOT a list (see below);
  ///   - hex with prefix: `0xf`, `0X1F`;
  ///   - SPDK hex without prefix: `f`, `100` (bare digits are hex, as SPDK);
  /// Whitespace around items is ignored. Errors name the bad part:
  /// "bad cpu mask '0-x': 'x' is not a core number".
  static Result<CpuSet> parse(std::string_view text);
  /// Range-list form only (`0-3,8` or `[0-3,8]`): bare numbers are cores.
  static Result<CpuSet> parse_list(std::string_view text);

  void set(CoreId core);
  void reset(CoreId core);
  bool test(CoreId core) const noexcept;
  bool empty() const noexcept { return bits_.none(); }
  uint32_t count() const noexcept { return static_cast<uint32_t>(bits_.count()); }
  /// Smallest core in the set; REACTOR_ASSERTs the set is not empty.
  CoreId first() const;
  /// Cores in ascending order.
  std::vector<CoreId> cores() const;

  CpuSet operator&(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ & o.bits_; return r; }
  CpuSet operator|(const CpuSet& o) const { CpuSet r; r.bits_ = bits_ | o.bits_; return r; }
  CpuSet& operator&=(const CpuSet& o) { bits_ &= o.bits_; return *this; }
  CpuSet& operator|=(const CpuSet& o) { bits_ |= o.bits_; return *this; }
  bool operator==(const CpuSet& o) const = default;
  /// True when every core of this set is also in `o`.
  bool is_subset_of(const CpuSet& o) const { return (bits_ & ~o.bits_).none(); }

  /// SPDK's hex string: lower case, no `0x`, no leading zero nibble; empty -> "0".
  std::string to_hex() const;
  /// Compact range list, e.g. "0-3,8"; empty -> "".
  std::string to_list() const;

 private:
  std::bitset<kMaxCores> bits_;
};

}  // namespace reactor
