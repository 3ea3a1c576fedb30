#pragma once
/// RpcClient: a blocking JSON-RPC 2.0 client for the server's Unix socket
/// (reactorctl, integration tests). One request at a time per connection;
/// replies are delimited like requests (one JSON text, no delimiter needed).
///
///   RpcClient c;
///   if (auto r = c.connect("/run/reactor/reactor.sock", 1s); !r) die(r.error().message);
///   auto reply = c.call("framework_get_scheduler");
///   if (!reply) { if (reply.error().rpc_code) ...server said no...; else ...transport... }
///
/// Threading: an RpcClient is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <reactor/error.hh>
#include <tl/expected.hpp>

namespace reactor::rpc {

/// Failure of RpcClient::call: either the server answered with an error
/// object (`rpc_code` set, `message` is the server's message, `code` is
/// not_found for -32601, invalid_argument for -32600/-32602, internal
/// otherwise) or the exchange failed (`rpc_code` empty; `code` is io,
/// timeout or internal for a malformed reply).
struct RpcError : Error {
  std::optional<int> rpc_code;

  RpcError() = default;
  /// A transport failure.
  RpcError(Error e) : Error(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  /// An error answered by the server.
  RpcError(int rpc, std::string server_message);
};

/// Result of an RPC call.
template <class T>
using RpcResult = tl::expected<T, RpcError>;

class RpcClient {
 public:
  RpcClient() = default;
  ~RpcClient();
  RpcClient(RpcClient&& other) noexcept;
  RpcClient& operator=(RpcClient&& other) noexcept;
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  /// Connects to the server at `path` (closing any previous connection).
  /// Errors: not_found ("cannot connect to /p: no such file (is reactord
  /// running?)"), io (permission denied, connection refused: a stale socket,
  /// path too long, a server whose SO_PEERCRED uid is neither ours, root nor
  /// trusted: "refusing the server at /p: it runs as uid U, not as us (uid
  /// E) or root (pass --trust-uid U if you trust it)"), timeout (the server's
  /// backlog stayed full for `timeout`).
  Result<void> connect(const std::string& path, std::chrono::milliseconds timeout);

  /// Sends {"jsonrpc":"2.0","method":...,"id":N[,"params":...]} and waits at
  /// most `timeout` for the reply. Returns its "result" or an RpcError. After
  /// a transport failure (timeout, EOF, malformed reply) the connection is
  /// closed, since a late reply could not be told apart from the next one.
  RpcResult<nlohmann::json> call(std::string_view method,
                                 const std::optional<nlohmann::json>& params = std::nullopt,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

  /// Accepts a server running as `uid` (besides our own euid and root).
  void trust_uid(uid_t uid) { trusted_uids_.push_back(uid); }

  /// Closes the connection (idempotent).
  void close() noexcept;
  bool connected() const noexcept { return fd_ >= 0; }
  /// The path given to the last connect().
  const std::string& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::uint64_t next_id_ = 1;
  std::string buf_;  // bytes received after the previous reply
  std::vector<uid_t> trusted_uids_;
};

}  // namespace reactor::rpc
