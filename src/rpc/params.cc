// Parameter decoders (rpc-compat.md §1.8).
//
// Integral floats written as text ("1.0", "1e3") were already turned into
// integers by the request parser (json_codec.cc), so a float reaching these
// decoders from the wire is a fraction or out of range. Floats built in code
// (json(1.0)) are still folded here so that C++ callers see the same rules.

#include "rpc/params.hh"

#include <cmath>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "rpc/json_codec.hh"

namespace reactor::rpc {
namespace {

template <class T>
constexpr std::uint64_t max_of() {
  return std::numeric_limits<T>::max();
}

tl::unexpected<Error> invalid(std::string message) {
  return make_error(Errc::invalid_argument, "invalid parameters: " + std::move(message));
}

std::string known_keys(std::initializer_list<ParamField> fields) {
  std::string s;
  for (const ParamField& f : fields) {
    if (!s.empty()) s += ", ";
    s += f.name;
  }
  return s;
}

// Keys may be long or odd: render them the way values are rendered, quotes off.
std::string key_text(std::string_view key) {
  std::string s = describe_value(nlohmann::json(std::string(key)));
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::string describe_value(const nlohmann::json& value) {
  constexpr std::size_t kMax = 40;
  std::string s = to_wire(value);
  if (s.size() > kMax) {
    s.resize(kMax);
    s += "...";
  }
  return s;
}

Result<std::uint64_t> decode_unsigned(const nlohmann::json& value, std::string_view name,
                                      std::uint64_t max) {
  return decode_unsigned(value, name, max, {});
}

Result<std::uint64_t> decode_unsigned(const nlohmann::json& value, std::string_view name,
                                      std::uint64_t max, std::string_view accepts) {
  auto fail = [&] {
    if (!accepts.empty())
      return invalid(fmt::format("'{}' must be {}, got {}", name, accepts, describe_value(value)));
    return invalid(fmt::format("'{}' must be an integer 0-{}, got {}", name, max,
                               describe_value(value)));
  };
  std::uint64_t v = 0;
  if (value.is_number_unsigned()) {
    v = value.get<std::uint64_t>();
  } else if (value.is_number_integer()) {
    const auto s = value.get<std::int64_t>();
    if (s < 0) return fail();
    v = static_cast<std::uint64_t>(s);
  } else if (value.is_number_float()) {
    const double d = value.get<double>();
    // 2^64 as a double; every double below it that is integral fits.
    constexpr double kTwo64 = 18446744073709551616.0;
    if (!std::isfinite(d) || d < 0 || d >= kTwo64 || std::floor(d) != d) return fail();
    v = static_cast<std::uint64_t>(d);
  } else {
    return fail();
  }
  if (v > max) return fail();
  return v;
}

Result<bool> decode_bool(const nlohmann::json& value, std::string_view name) {
  if (!value.is_boolean())
    return invalid(fmt::format("'{}' must be true or false, got {}", name, describe_value(value)));
  return value.get<bool>();
}

Result<std::string> decode_string(const nlohmann::json& value, std::string_view name) {
  if (!value.is_string())
    return invalid(fmt::format("'{}' must be a string, got {}", name, describe_value(value)));
  const auto& s = value.get_ref<const std::string&>();
  if (s.find('\0') != std::string::npos)
    return invalid(fmt::format("'{}' must not contain a NUL character", name));
  return s;
}

Result<void> decode_no_params(const nlohmann::json* params) {
  if (params == nullptr || params->is_null()) return {};
  return invalid(fmt::format("this method takes no parameters, got {}", describe_value(*params)));
}

Result<void> decode_object(const nlohmann::json* params, std::initializer_list<ParamField> fields,
                           Decoding mode, Presence object) {
  if (params == nullptr || params->is_null()) {
    if (object == Presence::optional) {
      for (const ParamField& f : fields)
        if (f.presence == Presence::required)
          return invalid(fmt::format("missing required key '{}'", f.name));
      return {};
    }
    return invalid(fields.size() == 0
                       ? std::string("expected an object, got none")
                       : fmt::format("expected an object with {}, got none", known_keys(fields)));
  }
  if (!params->is_object())
    return invalid(fmt::format("expected an object, got {}", describe_value(*params)));

  if (mode == Decoding::strict) {
    for (const auto& item : params->items()) {
      bool known = false;
      for (const ParamField& f : fields) known = known || f.name == item.key();
      if (!known) {
        return invalid(fields.size() == 0
                           ? fmt::format("unknown key '{}' (this method takes no keys)",
                                         key_text(item.key()))
                           : fmt::format("unknown key '{}' (known: {})", key_text(item.key()),
                                         known_keys(fields)));
      }
    }
  }

  for (const ParamField& f : fields) {
    const auto it = params->find(f.name);
    if (it == params->end()) {
      if (f.presence == Presence::required)
        return invalid(fmt::format("missing required key '{}'", f.name));
      continue;
    }
    const nlohmann::json& v = *it;
    Result<void> r = std::visit(
        [&](auto* out) -> Result<void> {
          using T = typename std::remove_pointer_t<decltype(out)>::value_type;
          if constexpr (std::is_same_v<T, bool>) {
            auto b = decode_bool(v, f.name);
            if (!b) return tl::unexpected(b.error());
            *out = *b;
          } else if constexpr (std::is_same_v<T, std::string>) {
            auto s = decode_string(v, f.name);
            if (!s) return tl::unexpected(s.error());
            *out = std::move(*s);
          } else {
            auto n = decode_unsigned(v, f.name, max_of<T>(), f.accepts);
            if (!n) return tl::unexpected(n.error());
            *out = static_cast<T>(*n);
          }
          return {};
        },
        f.target);
    if (!r) return r;
  }
  return {};
}

}  // namespace reactor::rpc
