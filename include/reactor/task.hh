#pragma once
/// C++20 coroutines on lightweight threads.
///
/// A `Task<T>` is a lazy, move-only coroutine: nothing runs until it is
/// awaited (`co_await task`) or spawned on an LwThread (`spawn(thread, task)`
/// from any OS thread, `co_spawn(task)` from inside the thread). A spawned
/// task and everything it awaits run on that LwThread only:
///  - every suspension is resumed by a message, a poller or an I/O completion
///    callback of the same LwThread, so a task follows its thread when a
///    policy moves it (a request submitted on core A completes, and the task
///    resumes, on core B);
///  - an exception propagates to the awaiter; one that reaches a spawned root
///    is logged and counted in the thread's `exceptions`, as for callbacks.
///
/// Awaitables (each on-thread, inside a task):
///  - `co_read/co_write/co_readv/co_writev/co_fsync(channel, ...)`: an
///    IoChannel request; no allocation per co_await (the completion callback
///    captures one pointer into the coroutine frame);
///  - `sleep_for(d)` / `sleep_until(tp)`: a one-shot timed poller (tickless,
///    honoured in Interrupt mode);
///  - `yield()`: lets the thread's other messages and pollers run;
///  - `call(thread, fn)`: runs fn on another LwThread, resumes with its result;
///  - `when_all(tasks...)`, `when_all(vector)`, `with_timeout(task, d)`.
///
/// Cancellation: each spawned root has a stop source (`SpawnedTask::
/// request_stop`), inherited by everything it awaits. `co_await cancelled()`
/// is true once stop was requested or the thread is exiting. `sleep_for` ends
/// early with Errc::cancelled on either. When a thread exits its pollers go,
/// so pending sleeps and timeouts resume with Errc::cancelled; in-flight I/O
/// completes first (the thread does not retire before).
///
/// Frames come from a per-OS-thread pool of size classes (no malloc per task
/// once warm); frames above 2 KiB use the heap.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <reactor/error.hh>
#include <reactor/io.hh>
#include <reactor/thread.hh>

namespace reactor {

template <class T = void>
class Task;

namespace detail {

void* alloc_frame(std::size_t n);
void free_frame(void* p, std::size_t n) noexcept;

struct RootState;

/// What every task promise shares: the awaiting coroutine, the exception, the
/// stop token inherited from the root, and (for a spawned root) its state.
struct TaskPromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  std::stop_token stop;
  std::shared_ptr<RootState> root;

  static void* operator new(std::size_t n) { return alloc_frame(n); }
  static void operator delete(void* p, std::size_t n) noexcept { free_frame(p, n); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

/// A spawned root finished: publish, report an unobserved exception against
/// the current LwThread, destroy the frame.
void finish_root(TaskPromiseBase& p, std::coroutine_handle<> frame) noexcept;

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    TaskPromiseBase& p = h.promise();
    if (p.continuation) return p.continuation;
    if (p.root) finish_root(p, h);
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  FinalAwaiter final_suspend() noexcept { return {}; }
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  FinalAwaiter final_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

/// The promise of the coroutine awaiting, when it is one of ours.
template <class P>
TaskPromiseBase* as_task_promise(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<TaskPromiseBase, P>)
    return &h.promise();
  else
    return nullptr;
}

/// Resumes `h` on `t` from a message (or, if the ring refuses, from the
/// thread's unbounded runtime queue). Never drops the resumption.
void post_resume(LwThread& t, std::coroutine_handle<> h) noexcept;
/// Same, running `fn` on `t` (a runtime task: never refused, runs while the
/// thread exits, keeps it from retiring until it ran).
void post_to(LwThread& t, Closure fn) noexcept;
/// Keeps `t` from retiring until the matching release (a resumption owed).
void hold_thread(LwThread& t) noexcept;
void release_thread(LwThread& t) noexcept;

/// A one-shot timer on the current LwThread: `fn(true)` when it expires,
/// `fn(false)` if the thread drops it first (exit). cancel() (on-thread)
/// drops it without calling fn.
class OneShotTimer {
 public:
  static Result<OneShotTimer> start(std::chrono::microseconds delay, UniqueFunction<void(bool)> fn);
  OneShotTimer() = default;
  OneShotTimer(OneShotTimer&&) noexcept = default;
  OneShotTimer& operator=(OneShotTimer&&) noexcept = default;
  void cancel() noexcept;
  explicit operator bool() const noexcept { return state_ != nullptr; }

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace detail

/// A lazy, move-only coroutine returning T. Await it once.
template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() noexcept = default;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return !h || h.done(); }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      h.promise().continuation = caller;
      if (detail::TaskPromiseBase* parent = detail::as_task_promise(caller)) h.promise().stop = parent->stop;
      return h;
    }
    T await_resume() {
      if (!h) throw std::logic_error("co_await on an empty Task");
      return h.promise().take();
    }
  };
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

  /// Sets the stop token the task (and what it awaits) sees, unless it is
  /// awaited from another task, which passes its own.
  void inherit_stop(std::stop_token token) noexcept {
    if (h_) h_.promise().stop = std::move(token);
  }
  /// Releases the frame (the caller now owns it).
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

/// Shared by a spawned root and its SpawnedTask handles.
struct RootState {
  std::stop_source stop;
  std::atomic<bool> done{false};
  std::atomic<bool> failed{false};
};
}  // namespace detail

/// Handle to a spawned task. Any OS thread.
class SpawnedTask {
 public:
  SpawnedTask() = default;
  explicit SpawnedTask(std::shared_ptr<detail::RootState> s) noexcept : s_(std::move(s)) {}
  /// Asks the task to stop: cancelled() turns true, sleeps end early.
  void request_stop() noexcept {
    if (s_) s_->stop.request_stop();
  }
  /// The task ran to its end (returned or threw).
  bool done() const noexcept { return s_ && s_->done.load(std::memory_order_acquire); }
  /// It ended with an exception (logged and counted against its thread).
  bool failed() const noexcept { return s_ && s_->failed.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<detail::RootState> s_;
};

/// Starts `task` on `thread` (from any OS thread): it begins in a message of
/// the thread. Errors: empty task or ref (invalid_argument), thread exiting
/// (exited), ring full (full). On error the task is destroyed unstarted.
Result<SpawnedTask> spawn(const ThreadRef& thread, Task<void> task);
/// Starts `task` on the calling LwThread right away (it runs until its first
/// suspension, then this returns). Errors: not on an LwThread (wrong_thread),
/// empty task (invalid_argument).
Result<SpawnedTask> co_spawn(Task<void> task);

// ---------------------------------------------------------------- yield

/// Suspends the task and resumes it after the thread's queued messages.
struct YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept;
  void await_resume() const noexcept {}
};
inline YieldAwaiter yield() noexcept { return {}; }

// ---------------------------------------------------------------- cancellation

/// `co_await cancelled()`: true when the task's stop was requested or its
/// thread is exiting.
struct CancelledAwaiter {
  bool value = false;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    detail::TaskPromiseBase* p = detail::as_task_promise(h);
    LwThread* t = current_thread();
    value = (p != nullptr && p->stop.stop_requested()) || (t != nullptr && t->state() != ThreadState::Running);
    return false;
  }
  bool await_resume() const noexcept { return value; }
};
inline CancelledAwaiter cancelled() noexcept { return {}; }

/// `co_await stop_token()`: the task's stop token (inherited from its root).
struct StopTokenAwaiter {
  std::stop_token token;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if (detail::TaskPromiseBase* p = detail::as_task_promise(h)) token = p->stop;
    return false;
  }
  std::stop_token await_resume() const noexcept { return token; }
};
inline StopTokenAwaiter stop_token() noexcept { return {}; }

// ---------------------------------------------------------------- sleep

/// Suspends for `delay` on the thread's tick clock. Result: ok, or
/// Errc::cancelled (stop requested, thread exiting), Errc::wrong_thread.
class SleepAwaiter {
 public:
  explicit SleepAwaiter(std::chrono::microseconds delay) noexcept : delay_(delay) {}
  SleepAwaiter(SleepAwaiter&&) = delete;
  ~SleepAwaiter();
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    detail::TaskPromiseBase* p = detail::as_task_promise(h);
    return suspend(h, p != nullptr ? p->stop : std::stop_token{});
  }
  Result<void> await_resume() noexcept { return std::move(result_); }

  struct Shared;

 private:
  bool suspend(std::coroutine_handle<> h, std::stop_token stop);
  std::chrono::microseconds delay_;
  Result<void> result_;
  std::shared_ptr<Shared> shared_;
  std::optional<std::stop_callback<detail::UniqueFunction<void()>>> on_stop_;
};

template <class Rep, class Period>
SleepAwaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  auto us = std::chrono::ceil<std::chrono::microseconds>(d);
  return SleepAwaiter(us.count() < 0 ? std::chrono::microseconds{0} : us);
}
template <class Duration>
SleepAwaiter sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> tp) noexcept {
  return sleep_for(tp - std::chrono::steady_clock::now());
}

// ---------------------------------------------------------------- I/O

/// One IoChannel request as an awaitable. Result: bytes transferred, or the
/// submission error, or Errc::io naming the errno of the completion.
class IoAwaiter {
 public:
  enum class Op : uint8_t { Read, Write, Readv, Writev, Fsync, Recv, Send, SendMsg, Accept, Connect, Shutdown, Close };
  /// `offset` carries the flags (recv/send/sendmsg), the address length
  /// (connect), `how` (shutdown); `buf` the msghdr, the address, or the
  /// accept address (its length pointer in `aux`).
  IoAwaiter(IoChannel& ch, Op op, int fd, void* buf, size_t len, uint64_t offset, void* aux = nullptr) noexcept
      : ch_(ch), op_(op), fd_(fd), buf_(buf), len_(len), offset_(offset), aux_(aux) {}
  IoAwaiter(IoAwaiter&&) = delete;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  Result<size_t> await_resume() noexcept;

 private:
  IoChannel& ch_;
  Op op_;
  int fd_;
  void* buf_;  // buffer, or the iovec array (readv/writev), or SyncKind (fsync, in len_)
  size_t len_;
  uint64_t offset_;
  void* aux_;
  int res_ = 0;
  std::optional<Error> error_;
  std::coroutine_handle<> h_;
};

inline IoAwaiter co_read(IoChannel& ch, int fd, void* buf, size_t len, uint64_t offset) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Read, fd, buf, len, offset);
}
inline IoAwaiter co_write(IoChannel& ch, int fd, const void* buf, size_t len, uint64_t offset) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Write, fd, const_cast<void*>(buf), len, offset);
}
inline IoAwaiter co_readv(IoChannel& ch, int fd, const iovec* iov, unsigned iovcnt, uint64_t offset) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Readv, fd, const_cast<iovec*>(iov), iovcnt, offset);
}
inline IoAwaiter co_writev(IoChannel& ch, int fd, const iovec* iov, unsigned iovcnt, uint64_t offset) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Writev, fd, const_cast<iovec*>(iov), iovcnt, offset);
}
inline IoAwaiter co_fsync(IoChannel& ch, int fd, SyncKind kind = SyncKind::Full) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Fsync, fd, nullptr, static_cast<size_t>(kind), 0);
}

/// Socket awaitables (see IoChannel's socket calls). Result: bytes, the new
/// fd (accept), 0 (connect, shutdown, close), or Errc::io naming the errno
/// (a peer reset is "recv: Connection reset by peer", an ordinary result).
inline IoAwaiter co_recv(IoChannel& ch, int fd, void* buf, size_t len, int flags = 0) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Recv, fd, buf, len, static_cast<uint32_t>(flags));
}
inline IoAwaiter co_send(IoChannel& ch, int fd, const void* buf, size_t len, int flags = 0) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Send, fd, const_cast<void*>(buf), len, static_cast<uint32_t>(flags));
}
inline IoAwaiter co_sendmsg(IoChannel& ch, int fd, const msghdr* msg, int flags = 0) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::SendMsg, fd, const_cast<msghdr*>(msg), 0, static_cast<uint32_t>(flags));
}
inline IoAwaiter co_accept(IoChannel& ch, int fd, sockaddr* addr = nullptr, socklen_t* addrlen = nullptr) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Accept, fd, addr, 0, 0, addrlen);
}
inline IoAwaiter co_connect(IoChannel& ch, int fd, const sockaddr* addr, socklen_t addrlen) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Connect, fd, const_cast<sockaddr*>(addr), 0, addrlen);
}
inline IoAwaiter co_shutdown(IoChannel& ch, int fd, int how) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Shutdown, fd, nullptr, 0, static_cast<uint32_t>(how));
}
inline IoAwaiter co_close(IoChannel& ch, int fd) noexcept {
  return IoAwaiter(ch, IoAwaiter::Op::Close, fd, nullptr, 0, 0);
}

/// Sends all `len` bytes, resubmitting after short writes. Result: ok, or the
/// first error (bytes sent before it are gone to the peer).
Task<Result<void>> co_send_all(IoChannel& ch, int fd, const void* buf, size_t len);
/// Receives exactly `len` bytes. Errc::io "connection closed after N of M
/// bytes" when the peer closes first.
Task<Result<void>> co_recv_exact(IoChannel& ch, int fd, void* buf, size_t len);

// ---------------------------------------------------------------- call

namespace detail {
template <class R>
struct CallResult {
  std::optional<R> value;
  R take() { return std::move(*value); }
};
template <>
struct CallResult<void> {
  void take() {}
};
}  // namespace detail

/// Runs `fn()` on `target` and resumes with its result (Result<R>; an
/// exception thrown by fn propagates to the awaiter). Errors: the target
/// refused the message (exited, full, empty ref), or it was dropped unrun.
template <class F>
class CallAwaiter {
 public:
  using R = std::invoke_result_t<F&>;
  CallAwaiter(ThreadRef target, F fn) : target_(std::move(target)), fn_(std::move(fn)) {}
  CallAwaiter(CallAwaiter&&) = delete;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    LwThread* origin = current_thread();
    if (origin == nullptr) {
      error_ = Error{Errc::wrong_thread, "call() awaited outside an LwThread"};
      return false;
    }
    h_ = h;
    origin_ = origin;
    detail::hold_thread(*origin);
    // The message owns a "reply owed" token: whether it runs or is dropped
    // unrun, exactly one resumption goes back to the origin.
    auto r = target_.send(Msg{this});
    (void)r;  // on failure Msg's destructor already posted the resumption with the error
    return true;
  }
  Result<R> await_resume() {
    if (error_) return tl::unexpected<Error>(std::move(*error_));
    if (exception_) std::rethrow_exception(exception_);
    if constexpr (std::is_void_v<R>)
      return {};
    else
      return std::move(*result_.value);
  }

 private:
  struct Msg {
    CallAwaiter* a;
    explicit Msg(CallAwaiter* aw) noexcept : a(aw) {}
    Msg(Msg&& o) noexcept : a(std::exchange(o.a, nullptr)) {}
    Msg& operator=(Msg&&) = delete;
    ~Msg() {
      if (a != nullptr) a->reply(Error{Errc::exited, "call(): the target thread dropped the message unrun"});
    }
    void operator()() {
      CallAwaiter* aw = std::exchange(a, nullptr);
      try {
        if constexpr (std::is_void_v<R>) {
          aw->fn_();
        } else {
          aw->result_.value.emplace(aw->fn_());
        }
      } catch (...) {
        aw->exception_ = std::current_exception();
      }
      aw->reply(std::nullopt);
    }
  };
  void reply(std::optional<Error> err) noexcept {
    if (err) error_ = std::move(err);
    LwThread& o = *origin_;
    detail::post_to(o, [this, &o]() noexcept {
      detail::release_thread(o);
      h_.resume();
    });
  }

  ThreadRef target_;
  F fn_;
  detail::CallResult<R> result_;
  std::exception_ptr exception_;
  std::optional<Error> error_;
  std::coroutine_handle<> h_;
  LwThread* origin_ = nullptr;
};

template <class F>
CallAwaiter<std::decay_t<F>> call(ThreadRef target, F&& fn) {
  return CallAwaiter<std::decay_t<F>>(std::move(target), std::forward<F>(fn));
}

// ---------------------------------------------------------------- when_all

namespace detail {
template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Joins children started by when_all: the last one to finish resumes the
/// awaiting coroutine. Single LwThread: a plain counter.
struct JoinCounter {
  size_t pending = 0;
  std::coroutine_handle<> parent;
  std::exception_ptr first_exception;
};

/// A child of when_all: runs `t` into `out`, then tells the counter.
struct JoinChild {
  struct promise_type {
    JoinCounter* counter = nullptr;
    static void* operator new(std::size_t n) { return alloc_frame(n); }
    static void operator delete(void* p, std::size_t n) noexcept { free_frame(p, n); }
    JoinChild get_return_object() noexcept {
      return JoinChild{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        // Read the counter before the frame (which may own it) goes.
        JoinCounter* c = h.promise().counter;
        const bool last = --c->pending == 0;
        std::coroutine_handle<> parent = c->parent;
        h.destroy();
        return last ? parent : std::noop_coroutine();
      }
      void await_resume() const noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {
      if (!counter->first_exception) counter->first_exception = std::current_exception();
    }
  };
  std::coroutine_handle<promise_type> h;
};

template <class T>
JoinChild join_child(Task<T> t, std::optional<stored_t<T>>& out) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    out.emplace();
  } else {
    out.emplace(co_await std::move(t));
  }
}

/// Starts the children (each runs to its first suspension) and suspends
/// until the last finishes.
struct JoinAwaiter {
  JoinCounter& counter;
  std::vector<JoinChild>& children;
  bool await_ready() const noexcept { return children.empty(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    counter.parent = h;
    counter.pending = children.size() + 1;
    for (JoinChild& c : children) {
      c.h.promise().counter = &counter;
      c.h.resume();
    }
    // Our own share: if every child already finished, do not suspend.
    return --counter.pending != 0;
  }
  void await_resume() const noexcept {}
};
}  // namespace detail

/// Runs every task concurrently on the current thread and returns their
/// results in order (void becomes std::monostate). If any threw, the first
/// exception is rethrown once all finished.
template <class... Ts>
Task<std::tuple<detail::stored_t<Ts>...>> when_all(Task<Ts>... tasks) {
  std::tuple<std::optional<detail::stored_t<Ts>>...> out;
  std::stop_token stop = co_await reactor::stop_token();
  (tasks.inherit_stop(stop), ...);
  detail::JoinCounter counter;
  std::vector<detail::JoinChild> children;
  children.reserve(sizeof...(Ts));
  [&]<size_t... I>(std::index_sequence<I...>) {
    (children.push_back(detail::join_child(std::move(tasks), std::get<I>(out))), ...);
  }(std::index_sequence_for<Ts...>{});
  detail::JoinAwaiter join{counter, children};
  co_await join;
  if (counter.first_exception) std::rethrow_exception(counter.first_exception);
  co_return std::apply([](auto&... o) { return std::tuple<detail::stored_t<Ts>...>(std::move(*o)...); }, out);
}

/// Vector form: every task concurrently, results in order.
template <class T>
Task<std::vector<detail::stored_t<T>>> when_all(std::vector<Task<T>> tasks) {
  std::vector<std::optional<detail::stored_t<T>>> out(tasks.size());
  std::stop_token stop = co_await reactor::stop_token();
  for (auto& t : tasks) t.inherit_stop(stop);
  detail::JoinCounter counter;
  std::vector<detail::JoinChild> children;
  children.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) children.push_back(detail::join_child(std::move(tasks[i]), out[i]));
  detail::JoinAwaiter join{counter, children};
  co_await join;
  if (counter.first_exception) std::rethrow_exception(counter.first_exception);
  std::vector<detail::stored_t<T>> values;
  values.reserve(out.size());
  for (auto& o : out) values.push_back(std::move(*o));
  co_return values;
}

// ---------------------------------------------------------------- timeout

namespace detail {
template <class T>
struct TimeoutState {
  std::optional<stored_t<T>> value;
  std::exception_ptr exception;
  std::coroutine_handle<> parent;
  std::stop_source child_stop;
  OneShotTimer timer;
  std::optional<Error> error;  // timeout or cancellation
  bool finished = false;       // the parent was resumed (by the child or the timer)
  JoinCounter child_counter{2, {}, {}};  // never reaches 0: the child resumes the parent itself
};

/// Runs a with_timeout child: stores its outcome; resumes the parent unless
/// the timer already did.
template <class T>
JoinChild timeout_child(Task<T> t, std::shared_ptr<TimeoutState<T>> st) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      st->value.emplace();
    } else {
      st->value.emplace(co_await std::move(t));
    }
  } catch (...) {
    st->exception = std::current_exception();
  }
  if (!st->finished) {
    st->finished = true;
    st->timer.cancel();
    st->parent.resume();
  }
}

template <class T>
struct TimeoutAwaiter {
  std::shared_ptr<TimeoutState<T>> st;
  Task<T>& task;
  std::chrono::microseconds delay;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    st->parent = h;
    auto timer = OneShotTimer::start(delay, [s = st](bool fired) {
      if (s->finished) return;
      s->finished = true;
      s->error = fired ? Error{Errc::timeout, "with_timeout: the deadline passed"}
                       : Error{Errc::cancelled, "with_timeout: the thread is exiting"};
      s->child_stop.request_stop();
      s->parent.resume();
    });
    if (!timer) {
      st->error = timer.error();
      return false;
    }
    st->timer = std::move(*timer);
    Task<T> child = std::move(task);
    // The child sees the timeout's own stop source (requested on expiry or
    // when the awaiting task is stopped).
    child.inherit_stop(st->child_stop.get_token());
    JoinChild c = timeout_child(std::move(child), st);
    c.h.promise().counter = &st->child_counter;
    c.h.resume();  // runs until its first suspension (or to its end)
    return !st->finished;
  }
  void await_resume() const noexcept {}
};
}  // namespace detail

/// Awaits `task` for at most `delay`. On expiry the awaiter resumes with
/// Errc::timeout and the task's stop is requested; the task itself keeps
/// running to its end in the background (its buffers must stay valid until
/// then). Errc::cancelled if the thread exits first.
template <class T, class Rep, class Period>
Task<Result<detail::stored_t<T>>> with_timeout(Task<T> task, std::chrono::duration<Rep, Period> delay) {
  auto st = std::make_shared<detail::TimeoutState<T>>();
  std::stop_token parent_stop = co_await reactor::stop_token();
  std::stop_callback link(parent_stop, [st]() noexcept { st->child_stop.request_stop(); });
  auto us = std::chrono::ceil<std::chrono::microseconds>(delay);
  // Named awaiters, not temporaries: g++ 12 can destroy a braced temporary
  // inside co_await twice.
  detail::TimeoutAwaiter<T> awaiter{st, task, us.count() < 1 ? std::chrono::microseconds{1} : us};
  co_await awaiter;
  if (st->error) co_return tl::unexpected<Error>(*st->error);
  if (st->exception) std::rethrow_exception(st->exception);
  co_return std::move(*st->value);
}

}  // namespace reactor
