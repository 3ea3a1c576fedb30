#pragma once
/// RpcEngine: the socket-less JSON-RPC core. It owns the method registry, the
/// application state and one protocol session per connection: receive buffer
/// and framing, parsing and validation, dispatch, batch assembly and the
/// output queue. RpcServer drives it from sockets; the fuzzer and unit tests
/// drive it from byte buffers through the same entry points.
///
/// Threading: every member function is for the thread that steps the engine
/// (the control thread). Only RpcResponder (method.hh) crosses threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <reactor/error.hh>

#include "rpc/framing.hh"
#include "rpc/method.hh"

namespace reactor::rpc {

namespace detail {
class CompletionSink;
}
struct RequestMeta;

/// Identifies one protocol session (one connection) of an engine; never reused.
enum class SessionId : std::uint64_t {};

/// Per-session tuning; the defaults are the server's.
struct SessionLimits {
  /// Receive buffer; a request that does not fit is answered -32700 and the
  /// session closes ("request exceeds 256 KiB").
  std::size_t max_request_bytes = kMaxRequestBytes;
  /// Reading and parsing pause while this many bytes of replies wait to be
  /// written (a client that sends but never reads cannot grow memory).
  std::size_t output_high_water = 1024 * 1024;
  /// Reading and parsing pause while this many requests (or batches) are
  /// unanswered.
  std::size_t max_in_flight = 1024;
};

class RpcEngine {
 public:
  /// Registers the built-in `rpc_get_methods`.
  explicit RpcEngine(SessionLimits limits = {});
  ~RpcEngine();
  RpcEngine(const RpcEngine&) = delete;
  RpcEngine& operator=(const RpcEngine&) = delete;

  // ---- registry and state ----

  /// Registers `name`. Errors: invalid_argument (empty name or handler),
  /// exists (name already registered, as a method or alias).
  Result<void> add_method(std::string name, MethodSpec spec);
  /// Registers `alias` as another name of method `target` (listed by
  /// rpc_get_methods only with include_aliases). Errors: not_found (no such
  /// target), exists (name taken).
  Result<void> add_alias(std::string alias, std::string target);
  /// Sets the application state used for gating (-1 errors).
  void set_state(AppState state) noexcept { state_ = state; }
  AppState state() const noexcept { return state_; }
  /// Method names, most recently registered first (SPDK's order); with
  /// `current_only` only those callable in the current state; aliases only
  /// with `include_aliases`.
  std::vector<std::string> method_names(bool current_only, bool include_aliases) const;

  // ---- sessions ----

  /// Opens a session (a new connection).
  SessionId open_session();
  /// Closes a session: its buffered input, queued output and unfinished
  /// batches are dropped; answers that arrive later are dropped.
  void close_session(SessionId id);
  bool has_session(SessionId id) const;
  std::size_t session_count() const noexcept { return sessions_.size(); }

  /// How many bytes the session accepts now; 0 while it must not be read
  /// (paused by backpressure, closing after a parse error, or at end of input).
  std::size_t read_space(SessionId id) const;
  /// Appends received bytes (at most read_space(); the excess is dropped),
  /// then parses and dispatches every complete request.
  void feed(SessionId id, std::string_view bytes);
  /// The peer sent EOF: complete requests still buffered are served, an
  /// incomplete tail is answered -32700 ("Parse error: request ended before
  /// it was complete") and discarded, and the session finishes once every
  /// answer has been written.
  void end_of_input(SessionId id);
  /// True while part of a request has arrived and the rest is awaited (not
  /// while reading is paused by backpressure, after EOF or a parse error):
  /// the server's read timeout runs while this holds.
  bool request_started(SessionId id) const;
  /// True while a request of the session is being served (dispatched and
  /// not yet answered): such a session is not idle.
  bool serving(SessionId id) const;
  /// Gives up on the session: queues a -32700 answer "Parse error:
  /// <message>" (id null), drops its input, and finishes it once the answer
  /// is written (as after a parse error). For the server's read timeout.
  void abandon_request(SessionId id, std::string message);
  /// Serves buffered requests that waited for backpressure to clear; call
  /// after output was consumed.
  void pump(SessionId id);

  /// Moves answers from responders into their sessions' output, in
  /// completion order. Returns how many answers were taken (delivered or
  /// dropped).
  std::size_t deliver_completions();
  /// True when answers wait for deliver_completions(). Any thread.
  bool completions_pending() const;
  /// eventfd written whenever a responder answers (-1: none). The caller
  /// clears it before closing the fd.
  void set_wake_fd(int fd);

  /// Bytes waiting to be written to the session's peer.
  std::string_view pending_output(SessionId id) const;
  /// Marks the first `n` bytes of pending_output() as written.
  void consume_output(SessionId id, std::size_t n);
  /// True when the session is over and should be closed: after a parse error
  /// once its output is written, or after EOF once every request has been
  /// answered and written.
  bool finished(SessionId id) const;

 private:
  struct Method {
    MethodSpec spec;
    std::string alias_of;  // non-empty for an alias
  };
  struct Batch {
    std::size_t remaining = 0;
    std::vector<std::string> parts;
  };
  struct Session {
    std::string in;
    std::size_t in_head = 0;  // first unconsumed byte of `in`
    FrameScanner scanner{kMaxDepth};
    std::string out;
    std::size_t out_head = 0;  // first unwritten byte of `out`
    std::size_t in_flight = 0;
    std::unordered_map<std::uint64_t, Batch> batches;
    bool closing = false;  // parse error: write what is queued, then close
    bool eof = false;
  };

  Session* find(SessionId id);
  const Session* find(SessionId id) const;
  bool paused(const Session& s) const;
  void process(SessionId id);
  void handle_text(SessionId id, std::string_view text);
  void handle_request(SessionId id, std::uint64_t batch, const nlohmann::json& req,
                      const RequestMeta& meta);
  void fail_session(Session& s, std::string message);
  void finish(std::uint64_t session, std::uint64_t batch, std::string text);
  void append_output(Session& s, std::string_view text);
  void register_builtins();

  SessionLimits limits_;
  AppState state_ = AppState::runtime;
  std::unordered_map<std::string, Method> methods_;
  std::vector<std::string> order_;  // registration order (methods and aliases)
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::uint64_t next_session_ = 1;
  std::uint64_t next_batch_ = 1;
  std::shared_ptr<detail::CompletionSink> sink_;
};

}  // namespace reactor::rpc
