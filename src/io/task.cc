// The out-of-line half of coroutines on lightweight threads (task.hh): the
// frame pool, spawning, resumption by message, one-shot timers, sleeps and
// I/O awaiters.

#include <reactor/task.hh>

#include <cstring>
#include <new>

#include <fmt/format.h>

#include "reactor/io_access.hh"

namespace reactor {
namespace detail {

// ---------------------------------------------------------------- frame pool
namespace {
constexpr size_t kFrameGrain = 64;
constexpr size_t kFrameClasses = 32;  // up to 2 KiB
constexpr uint32_t kMaxCachedPerClass = 256;

struct FreeFrame {
  FreeFrame* next;
};

thread_local bool tl_pool_gone = false;

// One per OS thread: frames freed on a thread are reused by that thread (a
// task's frame may be allocated on one reactor and freed on another after a
// move; each cache stays bounded).
struct FramePool {
  FreeFrame* heads[kFrameClasses] = {};
  uint32_t counts[kFrameClasses] = {};
  ~FramePool() {
    for (FreeFrame*& h : heads)
      while (h != nullptr) {
        FreeFrame* n = h->next;
        ::operator delete(static_cast<void*>(h));
        h = n;
      }
    tl_pool_gone = true;
  }
};
thread_local FramePool tl_pool;

size_t frame_class(size_t n) noexcept { return (n + kFrameGrain - 1) / kFrameGrain - 1; }
}  // namespace

void* alloc_frame(size_t n) {
  const size_t c = frame_class(n);
  if (c >= kFrameClasses || tl_pool_gone) return ::operator new(n);
  if (FreeFrame* f = tl_pool.heads[c]) {
    tl_pool.heads[c] = f->next;
    --tl_pool.counts[c];
    return f;
  }
  return ::operator new((c + 1) * kFrameGrain);
}

void free_frame(void* p, size_t n) noexcept {
  const size_t c = frame_class(n);
  if (c >= kFrameClasses || tl_pool_gone || tl_pool.counts[c] >= kMaxCachedPerClass) {
    ::operator delete(p);
    return;
  }
  auto* f = static_cast<FreeFrame*>(p);
  f->next = tl_pool.heads[c];
  tl_pool.heads[c] = f;
  ++tl_pool.counts[c];
}

// ---------------------------------------------------------------- roots
void finish_root(TaskPromiseBase& p, std::coroutine_handle<> frame) noexcept {
  std::shared_ptr<RootState> root = std::move(p.root);
  const bool failed = p.exception != nullptr;
  if (failed) {
    std::string what = "non-std exception";
    try {
      std::rethrow_exception(p.exception);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    if (LwThread* t = current_thread())
      IoAccess::report_exception(*t, "task", what.c_str());
    else
      log(LogLevel::Error, "a task outside any thread threw: {}", what);
  }
  frame.destroy();
  root->failed.store(failed, std::memory_order_relaxed);
  root->done.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------- resumption
void post_to(LwThread& t, Closure fn) noexcept { IoAccess::post_to_thread(t, std::move(fn)); }
void hold_thread(LwThread& t) noexcept { IoAccess::io_begin(t); }
void release_thread(LwThread& t) noexcept { IoAccess::io_end(t); }

void post_resume(LwThread& t, std::coroutine_handle<> h) noexcept {
  // A one-word message first (no allocation); the runtime queue if the ring
  // refuses (full, or the thread is exiting and drains what it has).
  auto run = [](std::uintptr_t p) { std::coroutine_handle<>::from_address(reinterpret_cast<void*>(p)).resume(); };
  if (send_inline(t, run, reinterpret_cast<std::uintptr_t>(h.address()))) return;
  post_to(t, [h]() { h.resume(); });
}

// ---------------------------------------------------------------- timers
struct OneShotTimer::State {
  LwThread* thread = nullptr;
  PollerId id;
  UniqueFunction<void(bool)> fn;
  bool armed = true;
};

namespace {
// The timed poller's function. It owns the timer's "fire exactly once": by
// expiring, or (when the thread drops its pollers on exit) by its destruction,
// deferred to a runtime task because pollers are destroyed under their lock.
struct TimerPoll {
  std::shared_ptr<OneShotTimer::State> st;
  explicit TimerPoll(std::shared_ptr<OneShotTimer::State> s) noexcept : st(std::move(s)) {}
  TimerPoll(TimerPoll&&) noexcept = default;
  TimerPoll& operator=(TimerPoll&&) = delete;
  ~TimerPoll() {
    if (!st || !st->armed) return;
    st->armed = false;
    post_to(*st->thread, [s = st]() {
      auto fn = std::move(s->fn);
      if (fn) fn(false);
    });
  }
  PollStatus operator()() {
    if (!st->armed) return PollStatus::Idle;
    st->armed = false;
    (void)st->thread->unregister_poller(st->id);
    auto fn = std::move(st->fn);
    if (fn) fn(true);
    return PollStatus::Busy;
  }
};
}  // namespace

Result<OneShotTimer> OneShotTimer::start(std::chrono::microseconds delay, UniqueFunction<void(bool)> fn) {
  LwThread* t = current_thread();
  if (t == nullptr) return make_error(Errc::wrong_thread, "a coroutine timer needs an LwThread (await it in a task)");
  auto st = std::make_shared<State>();
  st->thread = t;
  st->fn = std::move(fn);
  // At least one tick: a zero period would make an active poller.
  auto id = t->register_poller("co_timer", TimerPoll(st), std::max(delay, std::chrono::microseconds{1}));
  if (!id) {
    st->armed = false;
    if (id.error().code == Errc::exited)
      return make_error(Errc::cancelled, fmt::format("timer: {}", id.error().message));
    return tl::unexpected(std::move(id.error()));
  }
  st->id = *id;
  OneShotTimer timer;
  timer.state_ = std::move(st);
  return timer;
}

void OneShotTimer::cancel() noexcept {
  if (!state_ || !state_->armed) return;
  state_->armed = false;
  (void)state_->thread->unregister_poller(state_->id);
  state_->fn = {};
}

}  // namespace detail

// ---------------------------------------------------------------- spawn
namespace {
using RootHandle = std::coroutine_handle<detail::TaskPromise<void>>;

std::shared_ptr<detail::RootState> make_root(RootHandle h) {
  auto state = std::make_shared<detail::RootState>();
  h.promise().root = state;
  h.promise().stop = state->stop.get_token();
  return state;
}

// Starts a root in a message; destroys it unstarted if the message never runs.
struct Starter {
  RootHandle h;
  explicit Starter(RootHandle r) noexcept : h(r) {}
  Starter(Starter&& o) noexcept : h(std::exchange(o.h, {})) {}
  Starter& operator=(Starter&&) = delete;
  ~Starter() {
    if (h) h.destroy();
  }
  void operator()() { std::exchange(h, {}).resume(); }
};
}  // namespace

Result<SpawnedTask> spawn(const ThreadRef& thread, Task<void> task) {
  if (!thread) return make_error(Errc::invalid_argument, "spawn: empty ThreadRef");
  if (!task) return make_error(Errc::invalid_argument, "spawn: empty task");
  RootHandle h = task.release();
  auto state = make_root(h);
  if (auto r = thread.send(Starter(h)); !r) return tl::unexpected(std::move(r.error()));
  return SpawnedTask(std::move(state));
}

Result<SpawnedTask> co_spawn(Task<void> task) {
  if (current_thread() == nullptr) return make_error(Errc::wrong_thread, "co_spawn: not called from an LwThread");
  if (!task) return make_error(Errc::invalid_argument, "co_spawn: empty task");
  RootHandle h = task.release();
  auto state = make_root(h);
  h.resume();
  return SpawnedTask(std::move(state));
}

// ---------------------------------------------------------------- yield
void YieldAwaiter::await_suspend(std::coroutine_handle<> h) const noexcept {
  LwThread* t = current_thread();
  if (t == nullptr) {
    h.resume();  // outside any thread there is nothing to yield to
    return;
  }
  detail::post_resume(*t, h);
}

// ---------------------------------------------------------------- sleep
struct SleepAwaiter::Shared {
  std::coroutine_handle<> h;
  SleepAwaiter* awaiter = nullptr;
  LwThread* thread = nullptr;
  detail::OneShotTimer timer;
  bool done = false;
};

SleepAwaiter::~SleepAwaiter() = default;

bool SleepAwaiter::suspend(std::coroutine_handle<> h, std::stop_token stop) {
  LwThread* t = current_thread();
  if (t == nullptr) {
    result_ = make_error(Errc::wrong_thread, "sleep_for: not awaited on an LwThread");
    return false;
  }
  if (stop.stop_requested() || t->state() != ThreadState::Running) {
    result_ = make_error(Errc::cancelled, "sleep_for: the task was stopped or its thread is exiting");
    return false;
  }
  shared_ = std::make_shared<Shared>();
  shared_->h = h;
  shared_->awaiter = this;
  shared_->thread = t;
  auto timer = detail::OneShotTimer::start(delay_, [s = shared_](bool fired) {
    if (s->done) return;
    s->done = true;
    if (!fired) s->awaiter->result_ = make_error(Errc::cancelled, "sleep_for: the thread exited while sleeping");
    s->h.resume();
  });
  if (!timer) {
    result_ = tl::unexpected(std::move(timer.error()));
    shared_.reset();
    return false;
  }
  shared_->timer = std::move(*timer);
  if (stop.stop_possible()) {
    // May run on any OS thread: hand the wake-up to the sleeping thread.
    on_stop_.emplace(stop, [s = shared_]() {
      detail::post_to(*s->thread, [s]() {
        if (s->done) return;
        s->done = true;
        s->timer.cancel();
        s->awaiter->result_ = make_error(Errc::cancelled, "sleep_for: stop requested");
        s->h.resume();
      });
    });
  }
  return true;
}

// ---------------------------------------------------------------- I/O
bool IoAwaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  h_ = h;
  IoCallback cb = [this](int res) {
    res_ = res;
    h_.resume();
  };
  Result<void> r;
  switch (op_) {
    case Op::Read: r = ch_.read(fd_, buf_, len_, offset_, std::move(cb)); break;
    case Op::Write: r = ch_.write(fd_, buf_, len_, offset_, std::move(cb)); break;
    case Op::Readv:
      r = ch_.readv(fd_, static_cast<const iovec*>(buf_), static_cast<unsigned>(len_), offset_, std::move(cb));
      break;
    case Op::Writev:
      r = ch_.writev(fd_, static_cast<const iovec*>(buf_), static_cast<unsigned>(len_), offset_, std::move(cb));
      break;
    case Op::Fsync: r = ch_.fsync(fd_, static_cast<SyncKind>(len_), std::move(cb)); break;
    case Op::Recv: r = ch_.recv(fd_, buf_, len_, static_cast<int>(offset_), std::move(cb)); break;
    case Op::Send: r = ch_.send(fd_, buf_, len_, static_cast<int>(offset_), std::move(cb)); break;
    case Op::SendMsg:
      r = ch_.sendmsg(fd_, static_cast<const msghdr*>(buf_), static_cast<int>(offset_), std::move(cb));
      break;
    case Op::Accept:
      r = ch_.accept(fd_, static_cast<sockaddr*>(buf_), static_cast<socklen_t*>(aux_), std::move(cb));
      break;
    case Op::Connect:
      r = ch_.connect(fd_, static_cast<const sockaddr*>(buf_), static_cast<socklen_t>(offset_), std::move(cb));
      break;
    case Op::Shutdown: r = ch_.shutdown(fd_, static_cast<int>(offset_), std::move(cb)); break;
    case Op::Close: r = ch_.close(fd_, std::move(cb)); break;
  }
  if (!r) {
    error_ = std::move(r.error());
    return false;
  }
  return true;
}

Result<size_t> IoAwaiter::await_resume() noexcept {
  if (error_) return tl::unexpected(std::move(*error_));
  if (res_ < 0) {
    static constexpr const char* kNames[] = {"read",    "write",  "readv",   "writev",   "fsync", "recv",
                                             "send",    "sendmsg", "accept", "connect", "shutdown", "close"};
    return make_error(Errc::io, fmt::format("{}: {}", kNames[static_cast<int>(op_)], std::strerror(-res_)));
  }
  return static_cast<size_t>(res_);
}

Task<Result<void>> co_send_all(IoChannel& ch, int fd, const void* buf, size_t len) {
  const auto* p = static_cast<const std::byte*>(buf);
  size_t sent = 0;
  while (sent < len) {
    auto r = co_await co_send(ch, fd, p + sent, len - sent);
    if (!r) co_return tl::unexpected(std::move(r.error()));
    if (*r == 0) co_return make_error(Errc::io, fmt::format("send: no progress after {} of {} bytes", sent, len));
    sent += *r;
  }
  co_return Result<void>{};
}

Task<Result<void>> co_recv_exact(IoChannel& ch, int fd, void* buf, size_t len) {
  auto* p = static_cast<std::byte*>(buf);
  size_t got = 0;
  while (got < len) {
    auto r = co_await co_recv(ch, fd, p + got, len - got);
    if (!r) co_return tl::unexpected(std::move(r.error()));
    if (*r == 0) co_return make_error(Errc::io, fmt::format("recv: connection closed after {} of {} bytes", got, len));
    got += *r;
  }
  co_return Result<void>{};
}

}  // namespace reactor
