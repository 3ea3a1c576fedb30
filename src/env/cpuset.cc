// CpuSet: parsing and printing of core sets.
//
// Which form a text is, parse() decides from the text alone, in this order:
//   1. `[...]`              -> range list (SPDK's bracketed list);
//   2. `0x` / `0X` prefix   -> hexadecimal mask;
//   3. contains `-` or `,`  -> range list (what operators type: `0-3,8`);
//   4. anything else        -> hexadecimal mask without prefix, the way SPDK
//                              reads `-m f`: "100" is core 8, not core 100.
// Rule 4 is the one surprise, kept for compatibility with SPDK command lines
// and RPCs; parse_list() is there for callers where a bare number is a core.
//
// Every error repeats the whole input and names the offending part, because
// the text usually comes from a command line or an RPC far from the reader.

#include <reactor/cpuset.hh>

#include <cctype>
#include <utility>

#include <fmt/format.h>

#include <reactor/log.hh>

namespace reactor {
namespace {

constexpr uint32_t kMaxCore = CpuSet::kMaxCores - 1;

bool is_space(char c) noexcept { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// What is being parsed ("cpu mask" or "cpu list") and the whole input, so that
/// every error can quote both.
struct Context {
  std::string_view kind;
  std::string_view whole;

  tl::unexpected<Error> fail(std::string_view detail) const {
    return make_error(Errc::invalid_argument, fmt::format("bad {} '{}': {}", kind, whole, detail));
  }
};

/// One decimal core number, whitespace around it ignored.
Result<uint32_t> parse_core(std::string_view text, const Context& ctx) {
  const std::string_view t = trim(text);
  if (t.empty()) return ctx.fail("missing core number");
  for (char c : t)
    if (!is_digit(c)) return ctx.fail(fmt::format("'{}' is not a core number", t));
  std::string_view digits = t;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  // Compare by length first so that a long digit string cannot overflow.
  uint64_t value = 0;
  if (digits.size() <= 6)
    for (char c : digits) value = value * 10 + static_cast<uint64_t>(c - '0');
  if (digits.size() > 6 || value > kMaxCore)
    return ctx.fail(fmt::format("core {} is out of range (max {})", digits, kMaxCore));
  return static_cast<uint32_t>(value);
}

/// Comma-separated cores and inclusive ranges, without brackets.
Result<CpuSet> parse_ranges(std::string_view body, const Context& ctx) {
  if (trim(body).empty()) return ctx.fail("the list names no cores");
  CpuSet out;
  while (true) {
    const size_t comma = body.find(',');
    const std::string_view item = trim(body.substr(0, comma));
    if (item.empty()) return ctx.fail("empty item in the list (stray ',')");
    const size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto core = parse_core(item, ctx);
      if (!core) return tl::unexpected(std::move(core.error()));
      out.set(CoreId{*core});
    } else {
      const std::string_view lo_text = trim(item.substr(0, dash));
      const std::string_view hi_text = trim(item.substr(dash + 1));
      if (lo_text.empty() || hi_text.empty() || hi_text.find('-') != std::string_view::npos)
        return ctx.fail(fmt::format("'{}' is not a core or a range", item));
      auto lo = parse_core(lo_text, ctx);
      if (!lo) return tl::unexpected(std::move(lo.error()));
      auto hi = parse_core(hi_text, ctx);
      if (!hi) return tl::unexpected(std::move(hi.error()));
      if (*lo > *hi) return ctx.fail(fmt::format("range {}-{} is reversed", *lo, *hi));
      for (uint32_t c = *lo; c <= *hi; ++c) out.set(CoreId{c});
    }
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return out;
}

/// A list, optionally wrapped in `[` `]`. `text` is already trimmed.
Result<CpuSet> parse_list_form(std::string_view text, const Context& ctx) {
  if (!text.empty() && text.front() == '[') {
    if (text.back() != ']') return ctx.fail("missing closing ']'");
    text.remove_prefix(1);
    text.remove_suffix(1);
  }
  return parse_ranges(text, ctx);
}

/// Hex digits without prefix; the last digit holds cores 0-3.
Result<CpuSet> parse_hex(std::string_view digits, const Context& ctx) {
  digits = trim(digits);
  if (digits.empty()) return ctx.fail("no hex digits after '0x'");
  for (char c : digits) {
    if (is_space(c)) return ctx.fail("unexpected whitespace inside the mask");
    if (hex_value(c) < 0) return ctx.fail(fmt::format("'{}' is not a hex digit", c));
  }
  CpuSet out;
  const size_t n = digits.size();
  for (size_t pos = 0; pos < n; ++pos) {
    const auto nibble = static_cast<unsigned>(hex_value(digits[pos]));
    if (nibble == 0) continue;
    const size_t base = 4 * (n - 1 - pos);
    for (int bit = 3; bit >= 0; --bit) {
      if ((nibble & (1u << bit)) == 0) continue;
      const size_t core = base + static_cast<size_t>(bit);
      if (core > kMaxCore)
        return ctx.fail(fmt::format("core {} is out of range (max {})", core, kMaxCore));
      out.set(CoreId{static_cast<uint32_t>(core)});
    }
  }
  return out;
}

}  // namespace

CpuSet::CpuSet(std::initializer_list<uint32_t> cores) {
  for (uint32_t c : cores) set(CoreId{c});
}

Result<CpuSet> CpuSet::parse(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return make_error(Errc::invalid_argument, "empty cpu mask");
  const Context ctx{"cpu mask", t};
  if (t.front() == '[') return parse_list_form(t, ctx);
  if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) return parse_hex(t.substr(2), ctx);
  if (t.find_first_of("-,") != std::string_view::npos) return parse_ranges(t, ctx);
  return parse_hex(t, ctx);
}

std::optional<std::string> CpuSet::ambiguity(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty() || t.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  auto hex = parse(t);
  auto list = parse_list(t);
  if (!hex || !list) return std::nullopt;
  std::string_view digits = t;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return fmt::format("read as the hex mask 0x{} ({}), as SPDK does; as a core list it would be core {} (write 0x{} "
                     "or [{}] to say which)",
                     t,
                     hex->empty() ? std::string("no core")
                                  : fmt::format("{} {}", hex->count() == 1 ? "core" : "cores", hex->to_list()),
                     digits, t,
                     digits);
}

Result<CpuSet> CpuSet::parse_list(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return make_error(Errc::invalid_argument, "empty cpu list");
  return parse_list_form(t, Context{"cpu list", t});
}

void CpuSet::set(CoreId core) {
  REACTOR_ASSERT(core.value < kMaxCores);
  bits_.set(core.value);
}

void CpuSet::reset(CoreId core) {
  REACTOR_ASSERT(core.value < kMaxCores);
  bits_.reset(core.value);
}

bool CpuSet::test(CoreId core) const noexcept {
  return core.value < kMaxCores && bits_.test(core.value);
}

CoreId CpuSet::first() const {
  REACTOR_ASSERT(!empty());
  uint32_t c = 0;
  while (!bits_.test(c)) ++c;
  return CoreId{c};
}

std::vector<CoreId> CpuSet::cores() const {
  std::vector<CoreId> out;
  out.reserve(count());
  for (uint32_t c = 0; c < kMaxCores; ++c)
    if (bits_.test(c)) out.push_back(CoreId{c});
  return out;
}

std::string CpuSet::to_hex() const {
  if (empty()) return "0";
  uint32_t top = kMaxCores - 1;
  while (!bits_.test(top)) --top;
  std::string out;
  out.reserve(top / 4 + 1);
  for (uint32_t nib = top / 4 + 1; nib-- > 0;) {
    unsigned v = 0;
    for (uint32_t b = 0; b < 4; ++b)
      if (bits_.test(nib * 4 + b)) v |= 1u << b;
    out.push_back("0123456789abcdef"[v]);
  }
  return out;
}

std::string CpuSet::to_list() const {
  std::string out;
  uint32_t c = 0;
  while (c < kMaxCores) {
    if (!bits_.test(c)) {
      ++c;
      continue;
    }
    uint32_t end = c;
    while (end + 1 < kMaxCores && bits_.test(end + 1)) ++end;
    if (!out.empty()) out.push_back(',');
    out += end == c ? fmt::format("{}", c) : fmt::format("{}-{}", c, end);
    c = end + 1;
  }
  return out;
}

}  // namespace reactor
