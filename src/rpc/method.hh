#pragma once
/// What a JSON-RPC method implementation sees: the error codes, the
/// application states a method may be called in, the responder through which
/// it answers (now or later, from any thread), and the registration record.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace reactor::rpc {

/// Limits of the JSON-RPC dialect (rpc-compat.md §1.1/§1.2).
inline constexpr std::size_t kMaxRequestBytes = 256 * 1024;  ///< per-connection receive buffer
inline constexpr std::size_t kMaxDepth = 64;                 ///< nesting of objects/arrays
inline constexpr std::size_t kMaxTokens = 8192;              ///< JSON tokens per request
inline constexpr std::size_t kMaxConnections = 64;           ///< open connections per server

/// Standard JSON-RPC error codes plus SPDK's state-gating code.
namespace error_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int invalid_state = -1;  ///< method exists but not in this application state
}  // namespace error_code

/// Application state that gates methods (SPDK's STARTUP/RUNTIME).
enum class AppState : std::uint8_t {
  startup,  ///< started with --wait-for-rpc, framework_start_init not called yet
  runtime,  ///< initialized
};

/// The states in which a method may be called.
enum class MethodStates : std::uint8_t { startup_only, runtime_only, both };

namespace detail {
struct CallState;
}

/// Answers one JSON-RPC request, exactly once, now or later.
///
/// Move-only. Any OS thread may use it (one thread at a time: it is a value,
/// not a shared object); the answer is handed to the server's control thread
/// and written in completion order. If the connection closed meanwhile, or
/// the server is gone, the answer is dropped safely. For a notification
/// (no id or id null) a result is not sent, an error is (with id null).
///
/// A responder destroyed without answering answers -32603 itself, naming the
/// method; a handler that throws is answered -32603 with the exception text.
class RpcResponder {
 public:
  /// An empty responder (answers nothing).
  RpcResponder() noexcept = default;
  /// Used by the engine; `state` carries the request's destination.
  explicit RpcResponder(std::shared_ptr<detail::CallState> state) noexcept;
  RpcResponder(RpcResponder&&) noexcept = default;
  /// Assigning over a responder that has not answered answers it -32603 first.
  RpcResponder& operator=(RpcResponder&& other) noexcept;
  RpcResponder(const RpcResponder&) = delete;
  RpcResponder& operator=(const RpcResponder&) = delete;
  ~RpcResponder();

  /// Answers with `value` as "result". Member order of an ordered_json is
  /// kept (a plain nlohmann::json converts implicitly, keys sorted). A second
  /// answer is ignored and logged (a bug in the handler).
  void result(nlohmann::ordered_json value);
  /// Answers with {"code": code, "message": message}.
  void error(int code, std::string message);

  /// True until result() or error() is called (false for an empty responder).
  bool pending() const noexcept;
  /// True when the request was a notification (no result will be sent).
  bool is_notification() const noexcept;
  /// Name of the method being answered ("" for an empty responder).
  const std::string& method() const noexcept;

 private:
  void drop() noexcept;
  std::shared_ptr<detail::CallState> state_;
};

/// A method implementation. `params` is null when params is absent or null;
/// it points into the request and is valid only during the call (copy what
/// you keep). Called on the thread that steps the server (the control
/// thread); may throw (answered -32603).
using MethodHandler = std::function<void(const nlohmann::json* params, RpcResponder responder)>;

/// Registration record of a method.
struct MethodSpec {
  MethodStates states = MethodStates::both;
  MethodHandler handler;
};

}  // namespace reactor::rpc
