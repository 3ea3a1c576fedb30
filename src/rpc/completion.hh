#pragma once
/// Internal plumbing between RpcResponder (any thread) and RpcEngine (control
/// thread): the per-request CallState and the CompletionSink queue. Not used
/// by method implementations.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace reactor::rpc::detail {

/// One finished request on its way to the connection's output.
struct Completion {
  std::uint64_t session = 0;  ///< engine session the request came from
  std::uint64_t batch = 0;    ///< 0 for a single request, else the batch's id
  std::string text;           ///< the reply object's text; empty: send nothing
};

/// Mutex-protected queue of completions. Any thread pushes; the control
/// thread takes. Pushing writes the wake eventfd (if set) so that a server
/// sleeping in poll() delivers the answer promptly.
class CompletionSink {
 public:
  /// Queues `c` (dropped after close()). Any thread.
  void push(Completion c);
  /// Takes everything queued, in push order. Control thread.
  std::vector<Completion> take();
  /// True when something is queued. Any thread.
  bool empty() const;
  /// Sets (or clears with -1) the eventfd written on push. The owner of the
  /// fd clears it before closing the fd.
  void set_wake_fd(int fd);
  /// Drops everything queued and everything pushed later (engine destroyed).
  void close();

 private:
  mutable std::mutex mu_;
  std::vector<Completion> queue_;
  int wake_fd_ = -1;
  bool closed_ = false;
};

/// Shared state of one dispatched request: where its answer goes and whether
/// it was answered. Shared by the RpcResponder and the engine's dispatch.
struct CallState {
  std::shared_ptr<CompletionSink> sink;
  std::uint64_t session = 0;
  std::uint64_t batch = 0;
  std::string id_text;  ///< the id as it is echoed ("null" for notifications)
  bool notification = false;
  std::string method;

  std::mutex mu;
  bool done = false;        ///< answered
  bool in_handler = true;   ///< the handler call is still on the stack
  bool abandoned = false;   ///< the responder died inside the handler call

  /// Queues `text` as the answer unless already answered; true if queued.
  bool complete(std::string text);
  /// Called by dispatch when the handler returned (`failure` empty) or threw
  /// (`failure` = what()): answers -32603 if nobody answered and either the
  /// handler threw or its responder is gone.
  void handler_returned(const std::string* failure);
};

/// {"jsonrpc":"2.0","id":<id_text>,"result":<result>}
std::string result_text(std::string_view id_text, const nlohmann::ordered_json& result);
/// {"jsonrpc":"2.0","id":<id_text>,"error":{"code":<code>,"message":"<message>"}}
std::string error_text(std::string_view id_text, int code, std::string_view message);

}  // namespace reactor::rpc::detail
