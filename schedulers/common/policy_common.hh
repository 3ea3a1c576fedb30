#pragma once
/// Internal to schedulers/: helpers the three policies share (option-key
/// checks, a core-id -> snapshot-index table, overflow-safe percentages).
/// Not public API: only files under schedulers/ include it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <reactor/load_snapshot.hh>
#include <reactor/policy.hh>

namespace reactor::policy_detail {

/// The keys the dynamic policy takes, for messages.
inline constexpr std::string_view kDynamicKeysText =
    "load_limit, core_limit, core_busy, numa_local, smt_last, keep_asleep and main_room";

/// The first dynamic key (load_limit, core_limit, core_busy, numa_local,
/// smt_last, keep_asleep, main_room) present in `update`, in that order; nullopt when
/// none is.
std::optional<std::string_view> first_dynamic_key(const PolicyOptionsUpdate& update) noexcept;

/// "<policy> does not take <key> (a <owner> option); <policy> takes <accepted>":
/// the message every policy uses to reject another policy's option.
Error foreign_option_error(std::string_view policy, std::string_view key, std::string_view owner,
                           std::string_view accepted);

/// busy_percent() that also survives busy + idle overflowing u64 (both are
/// halved first: the ratio is what matters).
constexpr uint32_t safe_percent(uint64_t busy, uint64_t idle) noexcept {
  while (busy > UINT64_MAX - idle) {
    busy >>= 1;
    idle >>= 1;
  }
  return busy_percent(busy, idle);
}

/// Maps a core id to its position in `snapshot.cores` (-1 when absent). Core
/// ids are < CpuSet::kMaxCores, so the table is small and lookups are O(1),
/// which keeps balance() linear in the number of threads.
class CoreIndex {
 public:
  explicit CoreIndex(const LoadSnapshot& snapshot);
  /// Position of `core` in snapshot.cores, or -1.
  int32_t operator[](CoreId core) const noexcept {
    return core.value < table_.size() ? table_[core.value] : -1;
  }

 private:
  std::vector<int32_t> table_;
};

}  // namespace reactor::policy_detail
