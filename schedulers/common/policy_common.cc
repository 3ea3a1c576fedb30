// Pieces every policy shares: policy names, the static policy's `mappings`
// syntax, LoadSnapshot::find_core and the internal helpers of
// policy_common.hh.
//
// Mappings are parsed in full before anything is checked against the
// runtime, and the first bad pair stops the parse: the caller
// (validate_static_options) is all-or-nothing, so there is no use in
// collecting more than one error, and the message quotes the pair exactly as
// the operator typed it (trimmed) so it can be found in a long list.

#include "common/policy_common.hh"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include <reactor/cpuset.hh>

namespace reactor {
namespace {

constexpr std::string_view kMappingsSyntax = "'<thread_id>:<core>[,<thread_id>:<core>...]'";

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Plain decimal digits only: no sign, no "0x", no spaces inside.
bool all_digits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

tl::unexpected<Error> bad_pair(std::string_view pair, std::string_view detail) {
  return make_error(Errc::invalid_argument, fmt::format("mapping '{}': {}", pair, detail));
}

Result<HomeMapping> parse_pair(std::string_view pair) {
  const size_t colon = pair.find(':');
  if (colon == std::string_view::npos || pair.find(':', colon + 1) != std::string_view::npos)
    return bad_pair(pair, "expected '<thread_id>:<core>'");
  const std::string_view id_text = trim(pair.substr(0, colon));
  const std::string_view core_text = trim(pair.substr(colon + 1));

  if (!all_digits(id_text))
    return bad_pair(pair, fmt::format("thread id '{}' is not a decimal number", id_text));
  uint64_t id = 0;
  if (auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id); ec != std::errc{})
    return bad_pair(pair, fmt::format("thread id '{}' is out of range", id_text));
  if (id == 0) return bad_pair(pair, "thread id 0 is not valid (ids start at 1)");

  if (!all_digits(core_text))
    return bad_pair(pair, fmt::format("core '{}' is not a decimal number", core_text));
  uint64_t core = 0;
  auto [p, ec] = std::from_chars(core_text.data(), core_text.data() + core_text.size(), core);
  if (ec != std::errc{} || core >= CpuSet::kMaxCores)
    return bad_pair(pair, fmt::format("core {} is out of range (max {})", core_text, CpuSet::kMaxCores - 1));

  return HomeMapping{ThreadId{id}, CoreId{static_cast<uint32_t>(core)}};
}

}  // namespace

std::string_view policy_name(PolicyKind kind) noexcept {
  switch (kind) {
    case PolicyKind::Static: return "static";
    case PolicyKind::Dynamic: return "dynamic";
    case PolicyKind::Global: return "gscheduler";
  }
  return "unknown";
}

Result<PolicyKind> parse_policy_name(std::string_view name) {
  if (name == "static") return PolicyKind::Static;
  if (name == "dynamic") return PolicyKind::Dynamic;
  // "global" is our alias; "gscheduler" is SPDK's name, kept for rpc.py.
  if (name == "gscheduler" || name == "global") return PolicyKind::Global;
  return make_error(Errc::not_found,
                    fmt::format("unknown scheduler '{}'; known: static, dynamic, gscheduler", name));
}

Result<std::vector<HomeMapping>> parse_mappings(std::string_view text) {
  const std::string_view whole = trim(text);
  if (whole.empty())
    return make_error(Errc::invalid_argument, fmt::format("mappings is empty: expected {}", kMappingsSyntax));

  std::vector<HomeMapping> out;
  // Thread id -> the pair that mapped it first, to quote both in the error.
  std::map<ThreadId, std::string_view> seen;
  std::string_view rest = whole;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view pair = trim(rest.substr(0, comma));
    if (pair.empty())
      return make_error(Errc::invalid_argument,
                        fmt::format("mappings '{}': empty pair (expected {})", whole, kMappingsSyntax));
    auto m = parse_pair(pair);
    if (!m) return tl::unexpected(std::move(m.error()));
    if (auto [it, inserted] = seen.emplace(m->thread, pair); !inserted)
      return bad_pair(pair, fmt::format("thread {} is already mapped by '{}'", m->thread.value, it->second));
    out.push_back(*m);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

const CoreLoad* LoadSnapshot::find_core(CoreId id) const noexcept {
  // `cores` is documented ascending: binary search. A hand-built snapshot that
  // is not sorted still gets the right answer from the linear fallback.
  auto it = std::lower_bound(cores.begin(), cores.end(), id,
                             [](const CoreLoad& c, CoreId v) { return c.id < v; });
  if (it != cores.end() && it->id == id) return &*it;
  for (const CoreLoad& c : cores)
    if (c.id == id) return &c;
  return nullptr;
}

namespace policy_detail {

std::optional<std::string_view> first_dynamic_key(const PolicyOptionsUpdate& update) noexcept {
  if (update.load_limit) return "load_limit";
  if (update.core_limit) return "core_limit";
  if (update.core_busy) return "core_busy";
  if (update.numa_local) return "numa_local";
  if (update.smt_last) return "smt_last";
  if (update.keep_asleep) return "keep_asleep";
  if (update.main_room) return "main_room";
  return std::nullopt;
}

Error foreign_option_error(std::string_view policy, std::string_view key, std::string_view owner,
                           std::string_view accepted) {
  return Error{Errc::invalid_argument,
               fmt::format("{} does not take {} (a {} option); {} takes {}", policy, key, owner, policy, accepted)};
}

CoreIndex::CoreIndex(const LoadSnapshot& snapshot) {
  uint32_t max_id = 0;
  for (const CoreLoad& c : snapshot.cores) max_id = std::max(max_id, c.id.value);
  table_.assign(snapshot.cores.empty() ? 0 : size_t{max_id} + 1, -1);
  for (size_t i = 0; i < snapshot.cores.size(); ++i) {
    int32_t& slot = table_[snapshot.cores[i].id.value];
    if (slot < 0) slot = static_cast<int32_t>(i);  // a duplicated id keeps its first entry
  }
}

}  // namespace policy_detail
}  // namespace reactor
