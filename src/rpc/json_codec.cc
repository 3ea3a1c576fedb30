// Request parsing and reply serialization over nlohmann::json.
//
// Parsing runs nlohmann's SAX parser and builds the DOM itself (a stack of
// open containers, like nlohmann's own DOM builder) because the JSON-RPC layer
// needs three things the plain DOM parser throws away:
//   1. limits: every SAX event counts as one token (SPDK counts object/array
//      begin and end, names and values alike), and open containers are
//      counted for the depth limit; the parse stops at the first excess;
//   2. duplicated keys: nlohmann keeps the last value silently; we note the
//      first duplicate of a request object and of its params object;
//   3. the text of a numeric id: SAX hands floats over with their text, but
//      integers only as values ("-0" would come back as "0"). The input is
//      read through TrackingIterator, which publishes how far the lexer has
//      read; at an integer event the lexer has read the number plus one
//      look-ahead byte, so the number's text is the run of number characters
//      just before that byte.
// Floats whose exact value is an integer are stored as integers (see
// classify_number), which is how "1.0 and 1e3 are accepted" reaches the
// parameter decoders without their needing the text.

#include "rpc/json_codec.hh"

#include <iterator>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace reactor::rpc {
namespace {

using json = nlohmann::json;

constexpr bool is_number_char(char c) noexcept {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// Forward iterator over the request bytes that records in *mark the position
// just past the last byte handed out.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* p, const char** mark) noexcept : p_(p), mark_(mark) {}
  reference operator*() const noexcept { return *p_; }
  TrackingIterator& operator++() noexcept {
    ++p_;
    *mark_ = p_;
    return *this;
  }
  TrackingIterator operator++(int) noexcept {
    TrackingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const TrackingIterator& o) const noexcept { return p_ == o.p_; }
  bool operator!=(const TrackingIterator& o) const noexcept { return p_ != o.p_; }

 private:
  const char* p_;
  const char** mark_;
};

// Stores a number given by its text: integral values as integers.
json number_from_text(double value, std::string_view text) {
  const ExactNumber n = classify_number(text);
  if (n.cls == NumberClass::integer) {
    if (!n.negative) return json(static_cast<std::uint64_t>(n.magnitude));
    constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;
    if (n.magnitude == 0) return json(std::int64_t{0});
    if (n.magnitude < kMinMagnitude) return json(-static_cast<std::int64_t>(n.magnitude));
    if (n.magnitude == kMinMagnitude) return json(std::numeric_limits<std::int64_t>::min());
  }
  return json(value);
}

class RequestSax {
 public:
  RequestSax(const char* begin, const char* const* mark, const ParseLimits& limits, ParsedText& out)
      : begin_(begin), mark_(mark), limits_(limits), out_(out) {}

  const std::string& error() const { return error_; }

  bool null() { return token() && put(json(nullptr), {}); }
  bool boolean(bool v) { return token() && put(json(v), {}); }
  bool number_integer(json::number_integer_t v) { return token() && put(json(v), integer_text()); }
  bool number_unsigned(json::number_unsigned_t v) { return token() && put(json(v), integer_text()); }
  bool number_float(json::number_float_t v, const std::string& text) {
    return token() && put(number_from_text(v, text), text);
  }
  bool string(std::string& v) { return token() && put(json(std::move(v)), {}); }
  bool binary(json::binary_t&) { return fail("binary values are not JSON"); }

  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& k) {
    if (!token()) return false;
    Frame& f = stack_.back();
    if (f.value->contains(k)) {
      if (f.ctx == Ctx::request && meta(f.request).duplicate_member.empty())
        meta(f.request).duplicate_member = k;
      else if (f.ctx == Ctx::params && meta(f.request).duplicate_param.empty())
        meta(f.request).duplicate_param = k;
    }
    f.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    // ex.what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 9: syntax error while parsing ..."; keep the part after the tag.
    std::string_view what = ex.what();
    if (const auto p = what.find("] "); p != std::string_view::npos) what.remove_prefix(p + 2);
    if (what.substr(0, 12) == "parse error ") what.remove_prefix(12);
    // "last read: '...'" can quote a whole 256 KiB token: keep it short.
    constexpr std::size_t kMaxDetail = 200;
    const bool cut = what.size() > kMaxDetail;
    if (cut) what = what.substr(0, kMaxDetail);
    error_ = fmt::format("invalid JSON{}{}{}", what.substr(0, 3) == "at " ? " " : ": ", what,
                         cut ? "..." : "");
    return false;
  }

 private:
  enum class Ctx : std::uint8_t { other, batch, request, params };
  struct Frame {
    json* value;
    Ctx ctx;
    std::size_t request;
    std::string key;  // objects: the key whose value comes next
  };

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool token() {
    if (++tokens_ > limits_.max_tokens)
      return fail(fmt::format("request has more than {} JSON tokens", limits_.max_tokens));
    return true;
  }

  RequestMeta& meta(std::size_t i) {
    if (out_.requests.size() <= i) out_.requests.resize(i + 1);
    return out_.requests[i];
  }

  // Text of the integer the lexer has just read (see the design note).
  std::string integer_text() const {
    const char* e = *mark_;
    if (e > begin_ && !is_number_char(e[-1])) --e;
    const char* s = e;
    while (s > begin_ && is_number_char(s[-1])) --s;
    return std::string(s, e);
  }

  // Inserts `v` into the innermost open container (or makes it the root) and
  // returns where it now lives. Pointers on the stack stay valid: a container
  // only grows while it is the innermost one.
  json* place(json&& v, const std::string& number_text) {
    if (stack_.empty()) {
      out_.value = std::move(v);
      return &out_.value;
    }
    Frame& f = stack_.back();
    if (f.value->is_array()) {
      f.value->push_back(std::move(v));
      return &f.value->back();
    }
    if (f.ctx == Ctx::request && f.key == "id") meta(f.request).id_number_text = number_text;
    json& slot = (*f.value)[f.key];
    slot = std::move(v);
    return &slot;
  }

  bool put(json&& v, const std::string& number_text) {
    place(std::move(v), number_text);
    return true;
  }

  bool open(json::value_t type) {
    if (!token()) return false;
    if (stack_.size() >= limits_.max_depth)
      return fail(fmt::format("nesting deeper than {} levels", limits_.max_depth));
    const bool object = type == json::value_t::object;
    Ctx ctx = Ctx::other;
    std::size_t request = 0;
    if (stack_.empty()) {
      ctx = object ? Ctx::request : Ctx::batch;
    } else {
      const Frame& parent = stack_.back();
      if (object && parent.ctx == Ctx::batch) {
        ctx = Ctx::request;
        request = parent.value->size();
      } else if (object && parent.ctx == Ctx::request && parent.key == "params") {
        ctx = Ctx::params;
        request = parent.request;
      }
    }
    json* where = place(json(type), {});
    stack_.push_back(Frame{where, ctx, request, {}});
    return true;
  }

  bool close() {
    if (!token()) return false;
    stack_.pop_back();
    return true;
  }

  const char* begin_;
  const char* const* mark_;
  const ParseLimits& limits_;
  ParsedText& out_;
  std::vector<Frame> stack_;
  std::size_t tokens_ = 0;
  std::string error_;
};

template <class J>
std::string dump_wire(const J& value) {
  std::string s = value.dump(-1, ' ', /*ensure_ascii=*/true, J::error_handler_t::replace);
  uppercase_unicode_escapes(s);
  return s;
}

}  // namespace

const RequestMeta& ParsedText::meta(std::size_t i) const {
  static const RequestMeta kNone{};
  return i < requests.size() ? requests[i] : kNone;
}

tl::expected<ParsedText, std::string> parse_request_text(std::string_view text,
                                                         const ParseLimits& limits) {
  ParsedText out;
  const char* mark = text.data();
  RequestSax sax(text.data(), &mark, limits, out);
  const bool ok = json::sax_parse(TrackingIterator(text.data(), &mark),
                                  TrackingIterator(text.data() + text.size(), &mark), &sax,
                                  json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (!ok) {
    return tl::unexpected<std::string>(sax.error().empty() ? std::string("invalid JSON")
                                                           : sax.error());
  }
  return out;
}

std::string to_wire(const nlohmann::ordered_json& value) { return dump_wire(value); }
std::string to_wire(const nlohmann::json& value) { return dump_wire(value); }

void uppercase_unicode_escapes(std::string& text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '\\') continue;
    if (text[i + 1] == 'u') {
      for (std::size_t k = i + 2; k < i + 6 && k < text.size(); ++k)
        if (text[k] >= 'a' && text[k] <= 'f') text[k] = static_cast<char>(text[k] - 'a' + 'A');
      i += 5;
    } else {
      ++i;  // skip the escaped character (it may be a backslash)
    }
  }
}

ExactNumber classify_number(std::string_view t) noexcept {
  ExactNumber r;
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    r.negative = true;
    ++i;
  }
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const std::size_t int_begin = i;
  while (i < t.size() && is_digit(t[i])) ++i;
  const std::size_t int_end = i;
  if (int_end == int_begin) return r;  // malformed
  std::size_t frac_begin = i;
  std::size_t frac_end = i;
  if (i < t.size() && t[i] == '.') {
    frac_begin = ++i;
    while (i < t.size() && is_digit(t[i])) ++i;
    frac_end = i;
    if (frac_end == frac_begin) return r;
  }
  // Exponent, saturated far beyond anything that can still be an in-range
  // integer (20 digits) or a fraction we must recognize.
  constexpr std::int64_t kExpCap = 1'000'000'000;
  std::int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) exp_negative = t[i++] == '-';
    const std::size_t exp_begin = i;
    while (i < t.size() && is_digit(t[i])) {
      if (exp < kExpCap) exp = exp * 10 + (t[i] - '0');
      ++i;
    }
    if (i == exp_begin) return r;
    if (exp_negative) exp = -exp;
  }
  if (i != t.size()) return r;

  // Significant digits = integer digits followed by fraction digits; value =
  // digits * 10^(exp - fraction length).
  std::string digits;
  digits.reserve((int_end - int_begin) + (frac_end - frac_begin));
  digits.append(t.substr(int_begin, int_end - int_begin));
  digits.append(t.substr(frac_begin, frac_end - frac_begin));
  std::int64_t exp10 = exp - static_cast<std::int64_t>(frac_end - frac_begin);
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    r.cls = NumberClass::integer;  // zero, whatever the exponent
    return r;
  }
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exp10;
  }
  if (exp10 < 0) {
    r.cls = NumberClass::fraction;
    return r;
  }
  if (static_cast<std::int64_t>(digits.size()) + exp10 > 20) {
    r.cls = NumberClass::too_large;
    return r;
  }
  std::uint64_t v = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const auto push_digit = [&](unsigned d) {
    if (v > (kMax - d) / 10) return false;
    v = v * 10 + d;
    return true;
  };
  for (char c : digits)
    if (!push_digit(static_cast<unsigned>(c - '0'))) {
      r.cls = NumberClass::too_large;
      return r;
    }
  for (std::int64_t k = 0; k < exp10; ++k)
    if (!push_digit(0)) {
      r.cls = NumberClass::too_large;
      return r;
    }
  r.cls = NumberClass::integer;
  r.magnitude = v;
  return r;
}

}  // namespace reactor::rpc
