// RpcResponder, CallState and CompletionSink.
//
// Ownership: a CallState is shared by the responder (which may travel to
// another thread or be stored until a later poll) and the engine's dispatch
// (which needs it to notice a handler that threw or returned without keeping
// its responder). It names the destination by numbers only (session id,
// batch id), never by pointer, so an answer for a connection that has closed
// is simply not found when the engine delivers it. The sink is shared with
// the engine; the engine closes it on destruction, after which pushes are
// dropped.
//
// Exactly-once: `done` under `mu` decides which of result()/error(), the
// responder's destructor or dispatch's failure path answers; the others do
// nothing (a second explicit answer is logged as a handler bug).

#include "rpc/completion.hh"
#include "rpc/json_codec.hh"
#include "rpc/method.hh"

#include <unistd.h>

#include <cstdint>
#include <utility>

#include <fmt/format.h>
#include <reactor/log.hh>

namespace reactor::rpc {
namespace detail {

void CompletionSink::push(Completion c) {
  std::lock_guard lk(mu_);
  if (closed_) return;
  queue_.push_back(std::move(c));
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    // A full eventfd counter (EAGAIN) still wakes the reader: nothing to do.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

std::vector<Completion> CompletionSink::take() {
  std::lock_guard lk(mu_);
  std::vector<Completion> out;
  out.swap(queue_);
  return out;
}

bool CompletionSink::empty() const {
  std::lock_guard lk(mu_);
  return queue_.empty();
}

void CompletionSink::set_wake_fd(int fd) {
  std::lock_guard lk(mu_);
  wake_fd_ = fd;
}

void CompletionSink::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  wake_fd_ = -1;
  queue_.clear();
}

bool CallState::complete(std::string text) {
  {
    std::lock_guard lk(mu);
    if (done) return false;
    done = true;
  }
  sink->push(Completion{session, batch, std::move(text)});
  return true;
}

void CallState::handler_returned(const std::string* failure) {
  std::string message;
  {
    std::lock_guard lk(mu);
    in_handler = false;
    if (done) return;
    if (failure != nullptr)
      message = fmt::format("Internal error: method '{}' failed: {}", method, *failure);
    else if (abandoned)
      message = fmt::format("Internal error: method '{}' returned without replying", method);
    else
      return;  // the responder lives on: an asynchronous answer will come
  }
  complete(error_text(id_text, error_code::internal_error, message));
}

std::string result_text(std::string_view id_text, const nlohmann::ordered_json& result) {
  std::string s = R"({"jsonrpc":"2.0","id":)";
  s.append(id_text);
  s.append(R"(,"result":)");
  s.append(to_wire(result));
  s.push_back('}');
  return s;
}

std::string error_text(std::string_view id_text, int code, std::string_view message) {
  std::string s = R"({"jsonrpc":"2.0","id":)";
  s.append(id_text);
  s.append(fmt::format(R"(,"error":{{"code":{},"message":)", code));
  s.append(to_wire(nlohmann::ordered_json(std::string(message))));
  s.append("}}");
  return s;
}

}  // namespace detail

RpcResponder::RpcResponder(std::shared_ptr<detail::CallState> state) noexcept
    : state_(std::move(state)) {}

RpcResponder& RpcResponder::operator=(RpcResponder&& other) noexcept {
  if (this != &other) {
    drop();
    state_ = std::move(other.state_);
  }
  return *this;
}

RpcResponder::~RpcResponder() { drop(); }

void RpcResponder::drop() noexcept {
  if (!state_) return;
  std::shared_ptr<detail::CallState> st = std::move(state_);
  try {
    {
      std::lock_guard lk(st->mu);
      if (st->done) return;
      if (st->in_handler) {
        st->abandoned = true;  // dispatch answers when the handler returns
        return;
      }
    }
    st->complete(detail::error_text(
        st->id_text, error_code::internal_error,
        fmt::format("Internal error: method '{}' dropped the request without replying",
                    st->method)));
  } catch (...) {
    // Out of memory while answering: the request stays unanswered.
  }
}

void RpcResponder::result(nlohmann::ordered_json value) {
  if (!state_) {
    log(LogLevel::Warn, "rpc: result() on an empty responder");
    return;
  }
  std::string text = state_->notification ? std::string() : detail::result_text(state_->id_text, value);
  if (!state_->complete(std::move(text)))
    log(LogLevel::Warn, "rpc: method '{}' answered twice; second answer ignored", state_->method);
}

void RpcResponder::error(int code, std::string message) {
  if (!state_) {
    log(LogLevel::Warn, "rpc: error() on an empty responder");
    return;
  }
  std::string text = detail::error_text(state_->id_text, code, message);
  if (!state_->complete(std::move(text)))
    log(LogLevel::Warn, "rpc: method '{}' answered twice; second answer ignored", state_->method);
}

bool RpcResponder::pending() const noexcept {
  if (!state_) return false;
  std::lock_guard lk(state_->mu);
  return !state_->done;
}

bool RpcResponder::is_notification() const noexcept { return state_ && state_->notification; }

const std::string& RpcResponder::method() const noexcept {
  static const std::string kEmpty;
  return state_ ? state_->method : kEmpty;
}

}  // namespace reactor::rpc
