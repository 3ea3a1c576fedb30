// Acceptor: connections of a listening socket delivered on one LwThread T,
// with io_uring multishot accept where the kernel has it. Design notes:
//
// Requests ("arms"). At most one accept request is in flight per acceptor.
// An Arm is the request's user_data; it records the reactor A whose ring it
// was submitted to. A multishot arm yields CQEs with IORING_CQE_F_MORE until
// its last CQE (without F_MORE): cancelled, failed, or ended by the kernel. A
// one-shot arm yields exactly one CQE.
//
// Completion (on A's OS thread, Arm::on_complete):
//   - T still hosted by A: deliver right here under T's CurrentThreadScope;
//   - else: forward the delivery to T with post_to_thread (T's ring keeps the
//     order of forwarded deliveries); and while forwarded deliveries are still
//     queued to T, forward even when T is back on A, so that none is passed.
//   A touches only the Arm (its `finished` flag) and the immutable thread
//   pointer; every other field belongs to T's hosting reactor.
//
// Delivery (on T, in kernel order), one CQE:
//   1. a last CQE (no F_MORE) retires the arm: the next arm may start;
//   2. res >= 0: after stop() the fd is closed (counted), else handed out
//      (callback, waiting next(), or the queue);
//   3. -EINVAL on the first multishot request: the kernel has no multishot
//      accept; from now on one-shot requests;
//   4. -ECANCELED of a cancel we asked for: not an error;
//   5. any other res < 0: handed out once, and the acceptor pauses;
//   6. a CQE with F_MORE delivered while T runs elsewhere than A: cancel
//      the arm on A (a Call event on A: only A's OS thread may submit to A's
//      ring). Its last CQE then arrives (forwarded, after every connection A
//      accepted before it), and step 7 arms again on T's reactor. So there is
//      never more than one arm, and no connection is delivered twice or out
//      of order.
//   7. no arm in flight, not stopped, not paused: arm again on T's reactor.
// The arm's io_begin/io_end bracket keeps T from retiring while it is in
// flight; stop() cancels it, and what it still yields is closed.
//
// Lifetime: the state is shared by the handle and the arm in flight; an arm
// is held by the state while in flight and by a posted cancel until it ran.

#include <reactor/acceptor.hh>

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>

#include <reactor/log.hh>
#include <reactor/reactor.hh>
#include <reactor/thread.hh>

#include "reactor/io_access.hh"

namespace reactor {
namespace detail {
namespace {

constexpr uint32_t kMaxQueued = 65536;
// An accept flag the kernel refuses (-EINVAL at prep time, as a kernel
// without IORING_ACCEPT_MULTISHOT refuses the multishot request): the probe
// test hook. Bit 30 is none of SOCK_CLOEXEC/SOCK_NONBLOCK.
constexpr int kInvalidAcceptFlag = 1 << 30;

// A cancel request's completion: nothing to do but free itself.
struct CancelDone final : IoCompletion {
  void on_complete(Reactor&, int, uint32_t) noexcept override { delete this; }
};

}  // namespace

struct AcceptArm final : IoCompletion {
  std::shared_ptr<AcceptorState> st;
  Reactor* ring_owner = nullptr;  // A: immutable once submitted
  bool multishot = false;         // immutable once submitted
  bool finished = false;          // A's thread only: the last CQE was reaped
  bool cancel_requested = false;  // T only
  void on_complete(Reactor& r, int res, uint32_t flags) noexcept override;
};

struct AcceptorState : std::enable_shared_from_this<AcceptorState> {
  enum class Probe : uint8_t { Unknown, Yes, No };

  AcceptorState(LwThread& t, int fd, IoCallback c, AcceptorOptions o) noexcept
      : thread(&t), listen_fd(fd), cb(std::move(c)), opts(o),
        probe(o.mode == AcceptMode::OneShot ? Probe::No : Probe::Unknown) {}

  LwThread* const thread;  // immutable: read by the forwarding path too
  const int listen_fd;
  IoCallback cb;
  const AcceptorOptions opts;
  // Below: owned by the reactor hosting `thread`.
  Probe probe;
  std::shared_ptr<AcceptArm> arm;  // the request in flight, or null
  bool stopped = false;
  bool paused_error = false;  // an error was handed out; resume() or next() asks again
  bool paused_full = false;   // the queue reached max_queued
  std::deque<int> queue;      // next() mode: fds and -errno, in order
  Acceptor::NextAwaiter* waiter = nullptr;
  AcceptorStats stats;
  // Deliveries forwarded to T and not yet run. While any is queued, a CQE
  // reaped on T's own reactor is forwarded too, behind them: T may have left
  // A and come back before running them, and a direct delivery would pass them.
  std::atomic<uint32_t> forwards_queued{0};

  bool queue_mode() const noexcept { return !cb; }

  // Arms a request on T's reactor. On-thread.
  Result<void> arm_now() noexcept {
    Reactor* host = IoAccess::host(*thread);
    io_uring* ring = host != nullptr ? IoAccess::ring(*host) : nullptr;
    if (ring == nullptr)
      return make_error(Errc::unsupported, fmt::format("Acceptor: io_uring is unavailable on core {}",
                                                       host != nullptr ? host->core().value : 0));
    std::shared_ptr<AcceptArm> a;
    try {
      a = std::make_shared<AcceptArm>();
    } catch (const std::bad_alloc&) {
      return make_error(Errc::internal, "Acceptor: out of memory");
    }
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) {
      // Submission queue full: flush it (we are its single issuer) and retry.
      (void)io_uring_submit(ring);
      sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr)
        return make_error(Errc::full, fmt::format("Acceptor: the ring of core {} is full", host->core().value));
    }
    a->st = shared_from_this();
    a->owner = thread;
    a->ring_owner = host;
    a->multishot = probe != Probe::No;
    if (a->multishot) {
      const bool fail = opts.test_fail_multishot_probe && probe == Probe::Unknown;
      io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC | (fail ? kInvalidAcceptFlag : 0));
    } else {
      io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    }
    io_uring_sqe_set_data(sqe, static_cast<IoCompletion*>(a.get()));
    IoAccess::submitted(*host, *thread, 1);
    IoAccess::io_begin(*thread);
    ++stats.requests;
    arm = std::move(a);
    return {};
  }

  // Step 7. On-thread.
  void maybe_arm() noexcept {
    if (stopped || paused_error || paused_full || arm) return;
    if (auto r = arm_now(); !r) {
      log(LogLevel::Error, "thread '{}': {}", thread->name(), r.error().message);
      hand_out(-EAGAIN);
    }
  }

  // Cancels `a` on its ring. On-thread.
  void cancel(const std::shared_ptr<AcceptArm>& a) noexcept {
    if (a->cancel_requested) return;
    a->cancel_requested = true;
    auto submit_cancel = [a]() noexcept {
      if (a->finished) return;  // its last CQE came first: nothing to cancel
      Reactor& r = *a->ring_owner;
      io_uring* ring = IoAccess::ring(r);
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) {
        (void)io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
      }
      auto* done = new (std::nothrow) CancelDone;
      if (sqe == nullptr || done == nullptr) {
        // Cannot happen short of memory exhaustion; the request then keeps
        // forwarding connections (still in order), which is correct, only slower.
        delete done;
        log(LogLevel::Error, "Acceptor: could not cancel an accept request on core {}", r.core().value);
        return;
      }
      io_uring_prep_cancel64(sqe, reinterpret_cast<uintptr_t>(static_cast<IoCompletion*>(a.get())), 0);
      io_uring_sqe_set_data(sqe, static_cast<IoCompletion*>(done));
      IoAccess::submitted_unowned(r);
    };
    if (IoAccess::host(*thread) == a->ring_owner) {
      submit_cancel();  // T runs on A's OS thread right now
    } else {
      IoAccess::post_to_reactor(*a->ring_owner, std::move(submit_cancel));
    }
  }

  // Step 2 and 5: to the callback, a waiting next(), or the queue. May run
  // user code that destroys the handle or calls stop().
  void hand_out(int res) noexcept {
    if (res >= 0) ++stats.accepted;
    else {
      ++stats.errors;
      paused_error = true;
    }
    if (!queue_mode()) {
      try {
        cb(res);
      } catch (const std::exception& e) {
        IoAccess::report_exception(*thread, "accept callback", e.what());
      } catch (...) {
        IoAccess::report_exception(*thread, "accept callback", "non-std exception");
      }
      return;
    }
    if (waiter != nullptr) {
      Acceptor::NextAwaiter* w = std::exchange(waiter, nullptr);
      w->res_ = res;
      w->have_ = true;
      w->h_.resume();
      return;
    }
    queue.push_back(res);
    if (queue.size() >= opts.max_queued && !paused_full) {
      paused_full = true;
      if (arm) cancel(arm);
    }
  }

  // One CQE of `a`, on T (steps 1-7).
  void deliver(AcceptArm* a, int res, bool more) noexcept {
    auto self = shared_from_this();  // user code may drop the handle
    std::shared_ptr<AcceptArm> keep;
    if (!more) {
      keep = std::move(arm);  // step 1 (arm == a: only one in flight)
      arm.reset();
    }
    if (res >= 0) {
      if (a->multishot && probe == Probe::Unknown) {
        probe = Probe::Yes;
        stats.multishot = true;
      }
      if (stopped) {
        ::close(res);
        ++stats.closed_after_stop;
      } else {
        if (!more) maybe_arm();  // one-shot, or a multishot the kernel ended: ask again first
        hand_out(res);
      }
    } else if (res == -EINVAL && a->multishot && probe == Probe::Unknown) {
      probe = Probe::No;  // step 3
      stats.fell_back = true;
      stats.multishot = false;
    } else if (res == -ECANCELED && a->cancel_requested) {
      if (!stopped && !paused_full) ++stats.migrations;  // step 4
    } else if (!stopped) {
      hand_out(res);  // step 5
    }
    if (more && IoAccess::host(*thread) != a->ring_owner && !stopped && arm.get() == a) cancel(arm);  // step 6
    maybe_arm();                                                      // step 7
    if (!more) IoAccess::io_end(*thread);
  }

  void stop() noexcept {
    if (stopped) return;
    auto self = shared_from_this();  // the resumed waiter may drop the handle
    stopped = true;
    if (arm) cancel(arm);
    for (int fd : queue) {
      if (fd >= 0) {
        ::close(fd);
        ++stats.closed_after_stop;
      }
    }
    queue.clear();
    if (waiter != nullptr) {
      Acceptor::NextAwaiter* w = std::exchange(waiter, nullptr);
      w->have_ = false;
      w->h_.resume();
    }
  }
};

void AcceptArm::on_complete(Reactor& r, int res, uint32_t flags) noexcept {
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (!more) finished = true;
  AcceptorState* s = st.get();
  LwThread& t = *s->thread;
  if (IoAccess::hosted_by(t, r) && s->forwards_queued.load(std::memory_order_acquire) == 0) {
    CurrentThreadScope scope(&t);
    s->deliver(this, res, more);  // may free this arm (its last CQE)
    return;
  }
  // T left A (or earlier deliveries are still queued to it): hand the
  // delivery to wherever T runs, behind the others. The state holds the arm
  // until the delivery of its last CQE, so the raw pointer stays valid.
  AcceptArm* a = this;
  s->forwards_queued.fetch_add(1, std::memory_order_acq_rel);
  IoAccess::post_to_thread(t, [a, res, more] {
    AcceptorState* state = a->st.get();
    state->forwards_queued.fetch_sub(1, std::memory_order_acq_rel);
    state->deliver(a, res, more);
  });
}

}  // namespace detail

using detail::AcceptorState;

Result<Acceptor> Acceptor::start(int listen_fd, Callback on_accept, AcceptorOptions options) {
  LwThread* t = current_thread();
  if (t == nullptr)
    return make_error(Errc::wrong_thread, "Acceptor::start must run on an LwThread (inside a message, poller or task)");
  if (listen_fd < 0)
    return make_error(Errc::invalid_argument, fmt::format("Acceptor::start: bad listening fd {}", listen_fd));
  if (options.max_queued == 0 || options.max_queued > detail::kMaxQueued)
    return make_error(Errc::invalid_argument, fmt::format("Acceptor::start: max_queued {} is outside 1..{}",
                                                          options.max_queued, detail::kMaxQueued));
  std::shared_ptr<AcceptorState> st;
  try {
    st = std::make_shared<AcceptorState>(*t, listen_fd, std::move(on_accept), options);
  } catch (const std::bad_alloc&) {
    return make_error(Errc::internal, "Acceptor::start: out of memory");
  }
  if (auto r = st->arm_now(); !r) return tl::unexpected(std::move(r.error()));
  return Acceptor(std::move(st));
}

Acceptor::Acceptor(Acceptor&& o) noexcept : st_(std::move(o.st_)) {}

Acceptor& Acceptor::operator=(Acceptor&& o) noexcept {
  if (this != &o) {
    stop();
    st_ = std::move(o.st_);
  }
  return *this;
}

Acceptor::~Acceptor() { stop(); }

void Acceptor::stop() noexcept {
  if (st_) st_->stop();
}

void Acceptor::resume() noexcept {
  if (!st_ || !st_->paused_error) return;
  st_->paused_error = false;
  st_->maybe_arm();
}

AcceptorStats Acceptor::stats() const noexcept { return st_ ? st_->stats : AcceptorStats{}; }

bool Acceptor::NextAwaiter::await_ready() noexcept {
  if (st_ == nullptr || st_->stopped) return true;
  if (!st_->queue.empty()) {
    res_ = st_->queue.front();
    st_->queue.pop_front();
    have_ = true;
    if (res_ < 0) st_->paused_error = false;  // taking the error asks again (below)
    if (st_->paused_full && st_->queue.size() < st_->opts.max_queued) st_->paused_full = false;
    st_->maybe_arm();
    return true;
  }
  if (st_->paused_error) {
    // The error was handed to a waiter before; this next() asks again.
    st_->paused_error = false;
    st_->maybe_arm();
  }
  return false;
}

bool Acceptor::NextAwaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  if (st_->waiter != nullptr) {
    busy_ = true;
    return false;
  }
  h_ = h;
  st_->waiter = this;
  return true;
}

Result<int> Acceptor::NextAwaiter::await_resume() noexcept {
  if (st_ == nullptr) return make_error(Errc::invalid_argument, "Acceptor::next: empty acceptor");
  if (busy_) return make_error(Errc::busy, "Acceptor::next: another task is already waiting on this acceptor");
  if (!have_) return make_error(Errc::cancelled, "Acceptor::next: the acceptor was stopped");
  if (res_ < 0) return make_error(Errc::io, fmt::format("accept: {}", std::strerror(-res_)));
  return res_;
}

}  // namespace reactor
