// IoChannel: per-LwThread I/O on the hosting reactor's io_uring. Design notes:
//
// Submission (on the channel's thread T, hosted by reactor R):
//   1. check: T is the current thread and Running, a slot is free (in_flight <
//      queue_depth), R has a ring;
//   2. take an SQE from R's ring; if the submission queue is full, submit it
//      now (we are on R's OS thread, the ring's single issuer) and retry;
//   3. prepare it (fixed file / fixed buffer when the registry has them on R),
//      user_data = the request slot (an IoCompletion);
//   4. IoAccess::submitted(R, T, 1) and io_begin(T). R submits the batch at
//      the end of its pass.
//
// Completion (R reaps the CQE on its OS thread and calls on_complete):
//   - T still hosted by R (hosted_by): run the callback right here under
//     T's CurrentThreadScope; R times it and charges it to T's busy ticks
//     (every request slot names T as its owner), with T's share of the
//     submit/reap syscall, so an I/O thread that saturates its core reads busy;
//   - T moved (or is in transit): forward the delivery to T with
//     post_to_thread; it runs at T's next poll on its new reactor. While
//     forwarded deliveries are queued to T, a completion R reaps for T is
//     forwarded too, even if T is back on R, so that none passes them. The
//     forwarding path touches nothing of the channel but the immutable thread
//     pointer: the channel state belongs to whichever reactor hosts T.
// Completion time: the reactor reads the clock once per reaped batch (after
// io_uring_enter); a direct delivery takes that reading, a forwarded one reads
// the clock when it runs. A callback that stamps latencies reads
// completion_time() instead of the clock: no clock read per I/O.
// Delivery: in_flight -= 1 before the callback (so it can resubmit), the slot
// returns to the free list after it (queue_depth + 1 slots cover the one being
// delivered), then io_end(T): T cannot retire with a callback still to run.
//
// Lifetime: destroying the handle with requests in flight (or from inside a
// callback) orphans the state; the last delivery frees it.

#include <reactor/io.hh>

#include <liburing.h>

#include <climits>
#include <cstring>
#include <exception>

#include <reactor/clock.hh>
#include <reactor/log.hh>
#include <reactor/reactor.hh>
#include <reactor/thread.hh>

#include "reactor/io_access.hh"

namespace reactor {
namespace detail {
namespace {

// iovecs stored inside a slot; longer vectors use a per-slot heap array that
// is kept for reuse.
constexpr unsigned kInlineIov = 8;
constexpr uint32_t kMaxQueueDepth = 65536;

}  // namespace

struct IoRequest final : IoCompletion {
  IoChannelState* ch = nullptr;
  IoRequest* next_free = nullptr;
  IoCallback cb;
  iovec iov_inline[kInlineIov];
  std::unique_ptr<iovec[]> iov_heap;
  unsigned iov_heap_cap = 0;

  void on_complete(Reactor& r, int res, uint32_t flags) noexcept override;
};

struct IoChannelState {
  IoChannelState(LwThread& t, const IoRegistry* reg, uint32_t depth, const Clock& c)
      : thread(&t), registry(reg), queue_depth(depth), clock(&c), slots(new IoRequest[depth + 1]),
        error_log(c.tick_rate()) {
    for (uint32_t i = 0; i <= depth; ++i) {
      slots[i].ch = this;
      slots[i].owner = &t;
      slots[i].next_free = free_list;
      free_list = &slots[i];
    }
  }

  LwThread* const thread;             // immutable: read by the forwarding path too
  // Deliveries forwarded to `thread` and not yet run. While any is queued, a
  // completion reaped on the thread's own reactor is forwarded too, behind
  // them: the thread may have left with them and come back, and delivering
  // directly would pass them. Touched by whichever reactor reaps.
  std::atomic<uint32_t> forwards_queued{0};
  const IoRegistry* const registry;
  const uint32_t queue_depth;
  const Clock* const clock;
  std::unique_ptr<IoRequest[]> slots;
  // Below: owned by the reactor hosting `thread`.
  IoRequest* free_list = nullptr;
  uint32_t delivering = 0;            // callbacks running right now (0 or 1)
  uint64_t completion_time = 0;       // the reaping batch's clock read, for the callback running
  bool orphaned = false;
  std::atomic<uint32_t> in_flight{0};  // single writer; atomic for readers elsewhere
  std::atomic<uint64_t> submitted{0}, completed{0}, errors{0}, forwarded{0}, fixed_file{0}, fixed_buf{0};
  RateLimiter error_log;

  static void bump(std::atomic<uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Step 1 of a submission: the checks. Sets `host` on success.
  Result<void> check(Reactor*& host, const char* op) {
    LwThread* cur = current_thread();
    if (cur != thread)
      return make_error(Errc::wrong_thread,
                        fmt::format("IoChannel::{}: called from {} but the channel belongs to thread '{}' (id {})", op,
                                    cur ? fmt::format("thread '{}'", cur->name()) : std::string("outside any thread"),
                                    thread->name(), thread->id().value));
    if (thread->state() != ThreadState::Running)
      return make_error(Errc::exited, fmt::format("IoChannel::{}: thread '{}' is exiting", op, thread->name()));
    if (in_flight.load(std::memory_order_relaxed) >= queue_depth)
      return make_error(Errc::full, fmt::format("IoChannel::{}: queue depth {} reached; retry after a completion",
                                                op, queue_depth));
    host = IoAccess::host(*thread);
    if (IoAccess::ring(*host) == nullptr)
      return make_error(Errc::unsupported, fmt::format("IoChannel::{}: io_uring is unavailable on core {}", op,
                                                       host->core().value));
    return {};
  }

  // Step 2: an SQE from the host's ring; the caller must then commit().
  Result<io_uring_sqe*> get_sqe(Reactor& host, const char* op) {
    io_uring* ring = IoAccess::ring(host);
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) {
      // Submission queue full (more prepared this pass than it holds): flush
      // it now instead of failing; the reactor reaps the completions as usual.
      int rc = io_uring_submit(ring);
      sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr)
        return make_error(Errc::full, fmt::format("IoChannel::{}: the ring of core {} is full (submit: {})", op,
                                                  host.core().value, rc < 0 ? std::strerror(-rc) : "ok"));
    }
    return sqe;
  }

  // Both steps.
  Result<io_uring_sqe*> begin(Reactor*& host, const char* op) {
    if (auto c = check(host, op); !c) return tl::unexpected(std::move(c.error()));
    return get_sqe(*host, op);
  }

  // Steps 3-4: attach a slot and account. `cb` is consumed.
  void commit(Reactor& host, io_uring_sqe* sqe, IoRequest* req, IoCallback&& cb) noexcept {
    req->cb = std::move(cb);
    io_uring_sqe_set_data(sqe, static_cast<IoCompletion*>(req));
    IoAccess::submitted(host, *thread, 1);
    IoAccess::io_begin(*thread);
    in_flight.store(in_flight.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    bump(submitted);
  }

  IoRequest* take_slot() noexcept {
    IoRequest* r = free_list;
    REACTOR_ASSERT(r != nullptr);  // queue_depth + 1 slots, at most queue_depth in flight + 1 delivering
    free_list = r->next_free;
    return r;
  }

  // Fixed file index for `fd` on `core`, or -1.
  int fixed_file_for(int fd, CoreId core) const noexcept {
    if (registry == nullptr) return -1;
    int idx = registry->file_index(fd);
    return idx >= 0 && registry->files_on(core) ? idx : -1;
  }

  // Runs on the reactor hosting `thread`, either from on_complete (direct) or
  // from a forwarded task inside the thread's poll.
  void deliver(IoRequest& req, int res) noexcept {
    CurrentThreadScope scope(thread);
    in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    ++delivering;
    try {
      req.cb(res);
    } catch (const std::exception& e) {
      log_throw(e.what());
    } catch (...) {
      log_throw("non-std exception");
    }
    req.cb.reset();
    --delivering;
    bump(completed);
    if (res < 0) bump(errors);
    req.next_free = free_list;
    free_list = &req;
    LwThread& t = *thread;
    if (orphaned && in_flight.load(std::memory_order_relaxed) == 0 && delivering == 0) delete this;
    IoAccess::io_end(t);
  }

  void log_throw(const char* what) noexcept {
    uint64_t suppressed = 0;
    if (!error_log.allow(clock->now(), suppressed)) return;
    log(LogLevel::Error, "thread '{}' (id {}): I/O completion callback threw: {}{}", thread->name(),
        thread->id().value, what,
        suppressed > 0 ? fmt::format(" ({} more not logged)", suppressed) : std::string());
  }
};

void IoRequest::on_complete(Reactor& r, int res, uint32_t /*flags*/) noexcept {
  LwThread& t = *ch->thread;
  if (IoAccess::hosted_by(t, r) && ch->forwards_queued.load(std::memory_order_acquire) == 0) {
    ch->completion_time = IoAccess::reap_time(r);
    ch->deliver(*this, res);
    return;
  }
  // T left R (or earlier deliveries are still on their way to it): hand the
  // delivery to wherever T runs, behind those. Only the immutable thread
  // pointer and the atomic count were touched here; the rest of the state is
  // touched by the task, on T's reactor.
  IoRequest* self = this;
  ch->forwards_queued.fetch_add(1, std::memory_order_acq_rel);
  IoAccess::post_to_thread(t, [self, res] {
    self->ch->forwards_queued.fetch_sub(1, std::memory_order_acq_rel);
    IoChannelState::bump(self->ch->forwarded);
    // Delivered outside a reaped batch: its own clock read.
    self->ch->completion_time = self->ch->clock->now();
    self->ch->deliver(*self, res);
  });
}

}  // namespace detail

using detail::IoAccess;
using detail::IoChannelState;
using detail::IoRequest;

Result<IoChannel> IoChannel::create(IoChannelOptions o) {
  LwThread* t = current_thread();
  if (t == nullptr)
    return make_error(Errc::wrong_thread,
                      "IoChannel::create must run on an LwThread (inside one of its messages or pollers)");
  if (o.queue_depth == 0 || o.queue_depth > detail::kMaxQueueDepth)
    return make_error(Errc::invalid_argument,
                      fmt::format("IoChannel: queue_depth {} is outside 1..{}", o.queue_depth, detail::kMaxQueueDepth));
  Reactor* host = IoAccess::host(*t);
  if (host == nullptr) return make_error(Errc::internal, "IoChannel: the thread has no reactor");
  if (IoAccess::ring(*host) == nullptr)
    return make_error(Errc::unsupported,
                      fmt::format("IoChannel: io_uring is unavailable on core {} (kernel too old or disabled by "
                                  "/proc/sys/kernel/io_uring_disabled)",
                                  host->core().value));
  try {
    return IoChannel(new IoChannelState(*t, o.registry, o.queue_depth, IoAccess::clock(*host)));
  } catch (const std::bad_alloc&) {
    return make_error(Errc::internal, "IoChannel: out of memory for the request slots");
  }
}

IoChannel& IoChannel::operator=(IoChannel&& o) noexcept {
  if (this != &o) {
    IoChannel dead(std::move(*this));
    st_ = std::exchange(o.st_, nullptr);
  }
  return *this;
}

IoChannel::~IoChannel() {
  if (st_ == nullptr) return;
  if (st_->in_flight.load(std::memory_order_relaxed) == 0 && st_->delivering == 0) {
    delete st_;
  } else {
    st_->orphaned = true;  // the last delivery frees it
  }
}

namespace {

Result<void> check_cb(const IoCallback& cb, const detail::IoChannelState* st, const char* op) {
  if (st == nullptr) return make_error(Errc::invalid_argument, fmt::format("IoChannel::{}: empty channel", op));
  if (!cb) return make_error(Errc::invalid_argument, fmt::format("IoChannel::{}: empty callback", op));
  return {};
}

Result<void> check_len(size_t len, const char* op) {
  if (len > static_cast<size_t>(INT_MAX))
    return make_error(Errc::invalid_argument,
                      fmt::format("IoChannel::{}: length {} exceeds {} (the result is an int)", op, len, INT_MAX));
  return {};
}

}  // namespace

namespace detail {
namespace {

template <bool Write>
Result<void> submit_rw(IoChannelState* st, int fd, void* buf, size_t len, uint64_t offset, IoCallback& cb,
                       const char* op) {
  if (auto c = check_cb(cb, st, op); !c) return c;
  if (auto c = check_len(len, op); !c) return c;
  Reactor* host = nullptr;
  auto sqe = st->begin(host, op);
  if (!sqe) return tl::unexpected(std::move(sqe.error()));
  const CoreId core = host->core();
  const int ffd = st->fixed_file_for(fd, core);
  const int use_fd = ffd >= 0 ? ffd : fd;
  const int bidx = st->registry != nullptr && st->registry->buffers_on(core) ? st->registry->buffer_index(buf, len) : -1;
  const unsigned n = static_cast<unsigned>(len);
  if (bidx >= 0) {
    if constexpr (Write) io_uring_prep_write_fixed(*sqe, use_fd, buf, n, offset, bidx);
    else io_uring_prep_read_fixed(*sqe, use_fd, buf, n, offset, bidx);
    IoChannelState::bump(st->fixed_buf);
  } else {
    if constexpr (Write) io_uring_prep_write(*sqe, use_fd, buf, n, offset);
    else io_uring_prep_read(*sqe, use_fd, buf, n, offset);
  }
  if (ffd >= 0) {
    (*sqe)->flags |= IOSQE_FIXED_FILE;
    IoChannelState::bump(st->fixed_file);
  }
  st->commit(*host, *sqe, st->take_slot(), std::move(cb));
  return {};
}

template <bool Write>
Result<void> submit_rwv(IoChannelState* st, int fd, const iovec* iov, unsigned iovcnt, uint64_t offset,
                        IoCallback& cb, const char* op) {
  if (auto c = check_cb(cb, st, op); !c) return c;
  if (iovcnt == 0 || iovcnt > IOV_MAX || iov == nullptr)
    return make_error(Errc::invalid_argument,
                      fmt::format("IoChannel::{}: iovcnt {} is outside 1..{}", op, iovcnt, IOV_MAX));
  size_t total = 0;
  for (unsigned i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  if (auto c = check_len(total, op); !c) return c;
  Reactor* host = nullptr;
  if (auto c = st->check(host, op); !c) return c;
  // The slot take_slot() returns below is the free list's head (nothing in
  // between runs completions): give it room for a long vector first, so that
  // nothing can fail once an SQE is taken.
  IoRequest* next = st->free_list;
  if (iovcnt > kInlineIov && next->iov_heap_cap < iovcnt) {
    // Rare (long vectors): the array is kept in the slot for reuse.
    next->iov_heap.reset(new (std::nothrow) iovec[IOV_MAX]);
    if (!next->iov_heap) {
      next->iov_heap_cap = 0;
      return make_error(Errc::internal, fmt::format("IoChannel::{}: out of memory for {} iovecs", op, iovcnt));
    }
    next->iov_heap_cap = IOV_MAX;
  }
  auto sqe = st->get_sqe(*host, op);
  if (!sqe) return tl::unexpected(std::move(sqe.error()));
  IoRequest* req = st->take_slot();
  REACTOR_ASSERT(req == next);
  iovec* copy = iovcnt > kInlineIov ? req->iov_heap.get() : req->iov_inline;
  std::memcpy(copy, iov, sizeof(iovec) * iovcnt);
  const int ffd = st->fixed_file_for(fd, host->core());
  if constexpr (Write) io_uring_prep_writev(*sqe, ffd >= 0 ? ffd : fd, copy, iovcnt, offset);
  else io_uring_prep_readv(*sqe, ffd >= 0 ? ffd : fd, copy, iovcnt, offset);
  if (ffd >= 0) {
    (*sqe)->flags |= IOSQE_FIXED_FILE;
    IoChannelState::bump(st->fixed_file);
  }
  st->commit(*host, *sqe, req, std::move(cb));
  return {};
}

}  // namespace
}  // namespace detail

Result<void> IoChannel::read(int fd, void* buf, size_t len, uint64_t offset, IoCallback cb) {
  return detail::submit_rw<false>(st_, fd, buf, len, offset, cb, "read");
}

Result<void> IoChannel::write(int fd, const void* buf, size_t len, uint64_t offset, IoCallback cb) {
  return detail::submit_rw<true>(st_, fd, const_cast<void*>(buf), len, offset, cb, "write");
}

Result<void> IoChannel::readv(int fd, const iovec* iov, unsigned iovcnt, uint64_t offset, IoCallback cb) {
  return detail::submit_rwv<false>(st_, fd, iov, iovcnt, offset, cb, "readv");
}

Result<void> IoChannel::writev(int fd, const iovec* iov, unsigned iovcnt, uint64_t offset, IoCallback cb) {
  return detail::submit_rwv<true>(st_, fd, iov, iovcnt, offset, cb, "writev");
}

Result<void> IoChannel::fsync(int fd, SyncKind kind, IoCallback cb) {
  if (auto c = check_cb(cb, st_, "fsync"); !c) return c;
  Reactor* host = nullptr;
  auto sqe = st_->begin(host, "fsync");
  if (!sqe) return tl::unexpected(std::move(sqe.error()));
  const int ffd = st_->fixed_file_for(fd, host->core());
  io_uring_prep_fsync(*sqe, ffd >= 0 ? ffd : fd, kind == SyncKind::DataOnly ? IORING_FSYNC_DATASYNC : 0);
  if (ffd >= 0) {
    (*sqe)->flags |= IOSQE_FIXED_FILE;
    IoChannelState::bump(st_->fixed_file);
  }
  st_->commit(*host, *sqe, st_->take_slot(), std::move(cb));
  return {};
}

Result<void> IoChannel::fallocate(int fd, int mode, uint64_t offset, uint64_t len, IoCallback cb) {
  if (len == 0) return make_error(Errc::invalid_argument, "IoChannel::fallocate: empty range");
  if (mode < 0) return make_error(Errc::invalid_argument, fmt::format("IoChannel::fallocate: bad mode {}", mode));
  if (auto c = check_cb(cb, st_, "fallocate"); !c) return c;
  Reactor* host = nullptr;
  auto sqe = st_->begin(host, "fallocate");
  if (!sqe) return tl::unexpected(std::move(sqe.error()));
  const int ffd = st_->fixed_file_for(fd, host->core());
  io_uring_prep_fallocate(*sqe, ffd >= 0 ? ffd : fd, mode, static_cast<off_t>(offset), static_cast<off_t>(len));
  if (ffd >= 0) {
    (*sqe)->flags |= IOSQE_FIXED_FILE;
    IoChannelState::bump(st_->fixed_file);
  }
  st_->commit(*host, *sqe, st_->take_slot(), std::move(cb));
  return {};
}

uint32_t IoChannel::in_flight() const noexcept {
  return st_ ? st_->in_flight.load(std::memory_order_relaxed) : 0;
}

uint32_t IoChannel::queue_depth() const noexcept { return st_ ? st_->queue_depth : 0; }

uint64_t IoChannel::completion_time() const noexcept { return st_ ? st_->completion_time : 0; }

LwThread* IoChannel::thread() const noexcept { return st_ ? st_->thread : nullptr; }

uint32_t IoChannel::ring_flags() const noexcept {
  if (st_ == nullptr) return 0;
  Reactor* host = IoAccess::host(*st_->thread);
  return host != nullptr ? IoAccess::ring_flags(*host) : 0;
}

std::string describe_ring_flags(uint32_t flags) {
  struct Name {
    uint32_t bit;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {IORING_SETUP_IOPOLL, "IOPOLL"},
      {IORING_SETUP_SQPOLL, "SQPOLL"},
      {IORING_SETUP_CLAMP, "CLAMP"},
      {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
      {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
      {IORING_SETUP_SQE128, "SQE128"},
      {IORING_SETUP_CQE32, "CQE32"},
      {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
      {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
  };
  std::string out;
  for (const Name& n : kNames) {
    if ((flags & n.bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += n.name;
    flags &= ~n.bit;
  }
  if (flags != 0) out += fmt::format("{}0x{:x}", out.empty() ? "" : "|", flags);
  return out.empty() ? "none" : out;
}

IoChannelStats IoChannel::stats() const noexcept {
  IoChannelStats s;
  if (st_ == nullptr) return s;
  s.submitted = st_->submitted.load(std::memory_order_relaxed);
  s.completed = st_->completed.load(std::memory_order_relaxed);
  s.errors = st_->errors.load(std::memory_order_relaxed);
  s.forwarded = st_->forwarded.load(std::memory_order_relaxed);
  s.fixed_file = st_->fixed_file.load(std::memory_order_relaxed);
  s.fixed_buf = st_->fixed_buf.load(std::memory_order_relaxed);
  s.in_flight = st_->in_flight.load(std::memory_order_relaxed);
  s.queue_depth = st_->queue_depth;
  return s;
}

}  // namespace reactor

namespace reactor {
namespace detail {
namespace {
// One request whose SQE `prep` fills (sockets, close): fixed files do not
// apply (the fds come and go), buffers are plain.
template <class Prep>
Result<void> submit_plain(IoChannelState* st, IoCallback& cb, const char* op, Prep&& prep) {
  if (auto c = check_cb(cb, st, op); !c) return c;
  Reactor* host = nullptr;
  auto sqe = st->begin(host, op);
  if (!sqe) return tl::unexpected(std::move(sqe.error()));
  prep(*sqe);
  st->commit(*host, *sqe, st->take_slot(), std::move(cb));
  return {};
}
}  // namespace
}  // namespace detail

Result<void> IoChannel::recv(int fd, void* buf, size_t len, int flags, IoCallback cb) {
  if (auto c = check_len(len, "recv"); !c) return c;
  return detail::submit_plain(st_, cb, "recv", [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, buf, len, flags); });
}

Result<void> IoChannel::send(int fd, const void* buf, size_t len, int flags, IoCallback cb) {
  if (auto c = check_len(len, "send"); !c) return c;
  return detail::submit_plain(st_, cb, "send", [&](io_uring_sqe* sqe) {
    io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
  });
}

Result<void> IoChannel::sendmsg(int fd, const msghdr* msg, int flags, IoCallback cb) {
  if (msg == nullptr) return make_error(Errc::invalid_argument, "IoChannel::sendmsg: null msghdr");
  return detail::submit_plain(st_, cb, "sendmsg", [&](io_uring_sqe* sqe) {
    io_uring_prep_sendmsg(sqe, fd, msg, static_cast<unsigned>(flags | MSG_NOSIGNAL));
  });
}

Result<void> IoChannel::accept(int fd, sockaddr* addr, socklen_t* addrlen, IoCallback cb) {
  return detail::submit_plain(st_, cb, "accept", [&](io_uring_sqe* sqe) {
    io_uring_prep_accept(sqe, fd, addr, addrlen, SOCK_CLOEXEC);
  });
}

Result<void> IoChannel::connect(int fd, const sockaddr* addr, socklen_t addrlen, IoCallback cb) {
  if (addr == nullptr) return make_error(Errc::invalid_argument, "IoChannel::connect: null address");
  return detail::submit_plain(st_, cb, "connect",
                              [&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, addr, addrlen); });
}

Result<void> IoChannel::shutdown(int fd, int how, IoCallback cb) {
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
    return make_error(Errc::invalid_argument, fmt::format("IoChannel::shutdown: how {} is not SHUT_RD/WR/RDWR", how));
  return detail::submit_plain(st_, cb, "shutdown", [&](io_uring_sqe* sqe) { io_uring_prep_shutdown(sqe, fd, how); });
}

Result<void> IoChannel::close(int fd, IoCallback cb) {
  return detail::submit_plain(st_, cb, "close", [&](io_uring_sqe* sqe) { io_uring_prep_close(sqe, fd); });
}

}  // namespace reactor
