#pragma once
/// Parameter decoding shared by the JSON-RPC methods (rpc-compat.md §1.8).
///
/// - Integers (u8/u32/u64): a JSON number, not negative, integral after
///   folding fraction and exponent (1.0 and 1e3 are accepted, 1.5 and 1e-1
///   are not; the parser stores such integral numbers as integers), within the
///   type's range. A string such as "5" is rejected.
/// - Booleans: only true/false. Strings: JSON strings without a NUL.
/// - Strict objects reject unknown keys; relaxed objects ignore them. Both
///   reject missing required keys and null values.
/// - Duplicate keys of a request's params object never reach a handler: the
///   engine answers them -32602 ("invalid parameters: duplicate key 'x'")
///   because nlohmann's DOM cannot represent them.
///
/// Every function returns a message naming the key, the expected type and
/// range and the value received, e.g.
///   invalid parameters: 'load_limit' must be an integer 0-255, got "x"
/// (Errc::invalid_argument); the caller picks the JSON-RPC code (usually
/// -32602). Pure functions, any thread.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>
#include <reactor/error.hh>

namespace reactor::rpc {

/// Whether unknown keys are an error.
enum class Decoding : std::uint8_t {
  strict,   ///< unknown keys are an error (most methods)
  relaxed,  ///< unknown keys are ignored (framework_set_scheduler)
};

/// Whether a key (or the params object itself) must be present.
enum class Presence : std::uint8_t { optional, required };

/// One expected key: its name, whether it is required and where its decoded
/// value goes (left untouched when the key is absent). Build with field().
struct ParamField {
  using Target = std::variant<std::optional<std::uint8_t>*, std::optional<std::uint32_t>*,
                              std::optional<std::uint64_t>*, std::optional<bool>*,
                              std::optional<std::string>*>;
  std::string_view name;
  Presence presence = Presence::optional;
  Target target;
  /// Integers: what the method accepts, for the message when the value is
  /// not an integer of the type ("a percentage 0-100"); empty: "an integer
  /// 0-<type max>". The method still checks its own range.
  std::string_view accepts;
};

/// Describes key `name` decoded into `out` (uint8_t, uint32_t, uint64_t, bool
/// or std::string); `out` must outlive the decode call. `accepts`: see
/// ParamField::accepts.
template <class T>
ParamField field(std::string_view name, std::optional<T>& out,
                 Presence presence = Presence::optional, std::string_view accepts = {}) {
  return ParamField{name, presence, ParamField::Target(&out), accepts};
}

/// Decodes `params` (null when absent or JSON null) as an object with
/// `fields`. `object`: whether absent params are an error (required) or
/// decode to "every key absent" (optional). A non-object (an array, a
/// number) is always an error. On error some outputs may already be set.
Result<void> decode_object(const nlohmann::json* params, std::initializer_list<ParamField> fields,
                           Decoding mode, Presence object = Presence::required);

/// For methods without parameters: accepts absent/null params, rejects
/// anything else, including {} and [].
Result<void> decode_no_params(const nlohmann::json* params);

/// Decodes one integer value in [0, max] ("'<name>' must be an integer
/// 0-<max>, got ..."). Used by decode_object and by methods whose parameters
/// are not a flat object.
Result<std::uint64_t> decode_unsigned(const nlohmann::json& value, std::string_view name,
                                      std::uint64_t max);
/// As above, naming what the method accepts instead of the type's range
/// ("'<name>' must be <accepts>, got ...") when the value is not an integer
/// in [0, max].
Result<std::uint64_t> decode_unsigned(const nlohmann::json& value, std::string_view name,
                                      std::uint64_t max, std::string_view accepts);
/// Decodes one boolean ("'<name>' must be true or false, got ...").
Result<bool> decode_bool(const nlohmann::json& value, std::string_view name);
/// Decodes one string without NUL ("'<name>' must be a string, got ...").
Result<std::string> decode_string(const nlohmann::json& value, std::string_view name);

/// Short printable rendering of a value for messages: compact pure-ASCII
/// JSON, cut after 40 characters ("...").
std::string describe_value(const nlohmann::json& value);

}  // namespace reactor::rpc
