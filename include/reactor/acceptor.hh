#pragma once
/// Accepting the connections of a listening socket on an LwThread, with one
/// io_uring multishot accept request (IORING_ACCEPT_MULTISHOT) where the
/// kernel has it: one request yields every connection until it is cancelled,
/// instead of one request per connection.
///
/// Thread rules: start(), next(), resume(), stop() and the destructor are
/// on-thread (the LwThread that called start()). Every accepted fd is
/// delivered on that thread, in the kernel's order, wherever a policy moved
/// the thread: a request armed on the reactor the thread left is cancelled
/// there and armed again on the new one, the connections accepted in between
/// are forwarded in order, none is lost or delivered twice.
///
/// Probe: the first request of an Auto acceptor is multishot; a kernel
/// without multishot accept (before 5.19) answers -EINVAL, and the acceptor
/// then uses one-shot requests (re-armed after each connection) for the rest
/// of its life.
///
/// Errors of the socket (EMFILE, ENFILE, a shut-down listener) are delivered
/// once, in order with the connections, and pause the acceptor (no spinning
/// on a full fd table): next() after an error, or resume(), asks again.
///
/// Stop and lifetime: after stop() (or the destructor) nothing more is
/// delivered; a connection the kernel accepts after it (the request is
/// cancelled asynchronously) or still queued is closed, never leaked. The
/// acceptor's state lives until its last request completed, and the thread
/// does not finish exiting before that: stop every acceptor before its
/// thread exits. The listening fd stays the caller's; close it after stop().

#include <sys/socket.h>

#include <coroutine>
#include <cstdint>
#include <memory>

#include <reactor/error.hh>
#include <reactor/io.hh>

namespace reactor {

namespace detail {
struct AcceptorState;
}  // namespace detail

/// How an Acceptor asks the kernel for connections.
enum class AcceptMode : uint8_t {
  Auto,     ///< multishot where the kernel has it (probed on the first request), else one-shot
  OneShot,  ///< one accept request per connection (what a kernel without multishot gets)
};

/// Acceptor options.
struct AcceptorOptions {
  AcceptMode mode = AcceptMode::Auto;
  /// next() mode: connections accepted and not yet taken by next() at most
  /// (1..65536). At the bound the acceptor stops asking (new connections wait
  /// in the listen backlog) until next() takes one. Stopping a multishot
  /// request is asynchronous: connections the kernel accepted before the
  /// cancel took effect are still queued, never closed, so the queue can
  /// exceed the bound by those few (a connection is never dropped to keep it).
  uint32_t max_queued = 256;
  /// Testing only: the first multishot request is made invalid so that the
  /// kernel answers -EINVAL, as a kernel without multishot accept does; the
  /// acceptor must then fall back to one-shot requests.
  bool test_fail_multishot_probe = false;
};

/// Counters of one acceptor (on-thread; exact there).
struct AcceptorStats {
  uint64_t accepted = 0;           ///< connections delivered (callback or next())
  uint64_t closed_after_stop = 0;  ///< connections accepted or queued after stop(), closed
  uint64_t requests = 0;           ///< accept requests submitted (multishot arms and one-shots)
  uint64_t migrations = 0;         ///< requests cancelled on a reactor the thread had left and armed again
  uint64_t errors = 0;             ///< socket errors delivered
  bool multishot = false;          ///< the kernel accepted a multishot request
  bool fell_back = false;          ///< the multishot probe failed: one-shot requests from then on
};

/// Accepts connections on a listening socket (TCP or Unix stream) for the
/// calling LwThread. Move-only handle; destroying it stops it.
class Acceptor {
 public:
  /// Callback `void(int res)`: res >= 0 is an accepted connection (SOCK_CLOEXEC;
  /// the callee owns it), res < 0 an -errno of the socket, after which the
  /// acceptor waits for resume(). It runs on the calling thread, never after
  /// stop().
  using Callback = IoCallback;

  /// Starts accepting on `listen_fd` (already listening) for the calling
  /// thread. With a callback, every connection goes to it; without one they
  /// queue for next(). Errors: Errc::wrong_thread (not on an LwThread),
  /// Errc::invalid_argument (negative fd, max_queued), Errc::unsupported (no
  /// io_uring on this reactor), Errc::full (the ring refused the request).
  static Result<Acceptor> start(int listen_fd, Callback on_accept, AcceptorOptions options = {});
  static Result<Acceptor> start(int listen_fd, AcceptorOptions options = {}) {
    return start(listen_fd, Callback{}, options);
  }

  Acceptor() noexcept = default;
  Acceptor(Acceptor&& o) noexcept;
  Acceptor& operator=(Acceptor&& o) noexcept;
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;
  /// stop().
  ~Acceptor();

  /// Awaitable of the next connection (next() mode): the fd, or Errc::io naming
  /// the socket's errno (the acceptor asks again at the next next()), or
  /// Errc::cancelled after stop() (a waiting next() is resumed with it). One
  /// waiter at a time (a second one gets Errc::busy).
  class NextAwaiter {
   public:
    explicit NextAwaiter(detail::AcceptorState* st) noexcept : st_(st) {}
    NextAwaiter(NextAwaiter&&) = delete;
    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> h) noexcept;
    Result<int> await_resume() noexcept;

   private:
    friend struct detail::AcceptorState;
    detail::AcceptorState* st_;
    int res_ = 0;
    bool have_ = false;
    bool busy_ = false;
    std::coroutine_handle<> h_;
  };
  NextAwaiter next() noexcept { return NextAwaiter(st_.get()); }

  /// Asks again after an error was delivered to the callback. On-thread.
  void resume() noexcept;
  /// Stops: cancels the request in flight, closes queued connections, resumes
  /// a waiting next() with Errc::cancelled. Idempotent. On-thread.
  void stop() noexcept;
  AcceptorStats stats() const noexcept;
  explicit operator bool() const noexcept { return st_ != nullptr; }

 private:
  explicit Acceptor(std::shared_ptr<detail::AcceptorState> st) noexcept : st_(std::move(st)) {}
  std::shared_ptr<detail::AcceptorState> st_;
};

}  // namespace reactor
