#pragma once
/// JSON reading and writing for the RPC layer, on top of nlohmann::json:
/// - parse_request_text(): parses one complete JSON text (delimited by
///   FrameScanner) under the JSON-RPC limits (tokens, depth) and records what
///   nlohmann's DOM cannot keep: duplicated keys of request and params
///   objects, and the original text of a numeric request id;
/// - to_wire(): compact, pure-ASCII serialization (non-ASCII as \uXXXX with
///   upper-case hex, '/' not escaped), the way SPDK's JSON writer emits it;
/// - classify_number(): exact integer value of a JSON number text (1.0 -> 1,
///   1e3 -> 1000), the normalization SPDK's integer decoders apply.
/// All functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace reactor::rpc {

/// What the parser noticed about one request object (the top-level object,
/// or element i of a top-level array).
struct RequestMeta {
  /// Original text of the "id" member when it is a number ("1.50", "-0",
  /// "1e2"), so that it is echoed verbatim; empty when the id is not a number.
  std::string id_number_text;
  /// First member of the request object that appeared twice; empty if none.
  std::string duplicate_member;
  /// First key of the request's "params" object that appeared twice.
  std::string duplicate_param;
};

/// A parsed request text: the DOM plus per-request notes.
struct ParsedText {
  nlohmann::json value;
  /// Indexed like the requests: [0] for a single object, [i] for element i of
  /// a batch. May be shorter than the batch: use meta(i).
  std::vector<RequestMeta> requests;

  /// Notes of request `i` (empty notes if the parser recorded none).
  const RequestMeta& meta(std::size_t i) const;
};

/// Limits applied while parsing a request (SPDK's JSON-RPC parser limits).
struct ParseLimits {
  std::size_t max_depth = 64;    ///< nested objects/arrays
  std::size_t max_tokens = 8192; ///< values, keys, and container begin/end marks
};

/// Parses one complete JSON text. Numbers with a fraction or exponent whose
/// exact value is an integer (1.0, 1e3, -2.0) are stored as integers, so the
/// integer decoders of params.hh accept them; other non-integers stay floats.
/// Error: a message for the -32700 reply ("invalid JSON at line 1, column 9:
/// ...", "more than 8192 JSON tokens", "nesting deeper than 64 levels").
tl::expected<ParsedText, std::string> parse_request_text(std::string_view text,
                                                         const ParseLimits& limits = {});

/// Compact pure-ASCII serialization used for every byte the server writes.
/// Invalid UTF-8 in strings is replaced by U+FFFD instead of throwing.
std::string to_wire(const nlohmann::ordered_json& value);
/// Same for an unordered (key-sorted) value.
std::string to_wire(const nlohmann::json& value);

/// Rewrites the hex digits of every \uXXXX escape of a serialized JSON text to
/// upper case (nlohmann writes lower case; SPDK writes upper case).
void uppercase_unicode_escapes(std::string& text);

/// Exact classification of a JSON number text.
enum class NumberClass : std::uint8_t {
  integer,     ///< an integer whose magnitude fits in 64 bits
  fraction,    ///< not an integer (1.5, 1e-1)
  too_large,   ///< an integer whose magnitude exceeds 2^64 - 1
  malformed,   ///< not a JSON number
};

/// Result of classify_number(); `magnitude` and `negative` are meaningful for
/// NumberClass::integer (and `negative` for too_large).
struct ExactNumber {
  NumberClass cls = NumberClass::malformed;
  bool negative = false;
  std::uint64_t magnitude = 0;
};

/// Folds fraction and exponent of a JSON number text exactly (no floating
/// point): "1.0" -> 1, "1e3" -> 1000, "2.50e1" -> 25, "1.5" -> fraction,
/// "1e20" -> too_large. "-0" is a negative integer of magnitude 0.
ExactNumber classify_number(std::string_view text) noexcept;

}  // namespace reactor::rpc
