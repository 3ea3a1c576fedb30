#pragma once
/// I/O from lightweight threads: an IoChannel submits read, write, readv,
/// writev and fsync requests to the io_uring of the reactor hosting the
/// calling LwThread, and runs each completion callback on that thread.
///
/// Thread rules:
///  - IoChannel::create() and every submission are on-thread: called from a
///    message or poller of the LwThread the channel belongs to.
///  - The completion callback `void(int res)` (res = bytes transferred or
///    -errno) runs on the same LwThread, on whatever reactor hosts it when the
///    completion is delivered: a request submitted on core A whose thread was
///    moved to core B completes on B. Callbacks run in submission order of
///    their completions (the kernel's order), never concurrently.
///  - Buffers (and the files) must stay valid until the callback ran; the
///    iovec array of readv/writev is copied at submission.
///  - A thread does not finish exiting while its channels have I/O in flight.
///
/// Batching: requests prepared during a poll pass are submitted together at
/// the end of the reactor's pass (one io_uring_enter for the whole batch).
/// No allocation per request: each channel owns `queue_depth` request slots
/// and a callback's captures live inside the slot when they fit
/// (IoCallback::kInlineBytes).
///
/// Registered files and buffers (optional): an IoRegistry registers the same
/// files and buffers on the ring of every reactor of a pool, so a channel can
/// use the fixed-file and fixed-buffer forms wherever its thread is moved.
/// Channels pick them automatically for registered fds and for buffers inside
/// a registered region; on a ring where registration failed (old kernel,
/// RLIMIT_MEMLOCK) they fall back to the plain forms.

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <reactor/error.hh>
#include <reactor/ids.hh>

namespace reactor {

class LwThread;
class ReactorPool;
class IoRegistry;

namespace detail {
struct IoChannelState;
}  // namespace detail

/// A move-only completion callable `void(int res)`. Captures up to
/// kInlineBytes (nothrow-movable) are stored inline: no allocation per I/O;
/// larger ones go to the heap. Any thread may build one; it is invoked on the
/// channel's thread.
class IoCallback {
 public:
  /// Inline capture budget: a pointer, an index and a timestamp fit with room.
  static constexpr size_t kInlineBytes = 48;

  IoCallback() noexcept = default;
  IoCallback(std::nullptr_t) noexcept {}
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, IoCallback> &&
                                              std::is_invocable_v<std::decay_t<F>&, int>>>
  IoCallback(F&& f) {  // NOLINT: implicit on purpose (pass lambdas directly)
    using D = std::decay_t<F>;
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      D* p = new D(std::forward<F>(f));
      std::memcpy(buf_, &p, sizeof p);
      ops_ = &kHeapOps<D>;
    }
  }
  IoCallback(IoCallback&& o) noexcept { take(o); }
  IoCallback& operator=(IoCallback&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  IoCallback(const IoCallback&) = delete;
  IoCallback& operator=(const IoCallback&) = delete;
  ~IoCallback() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  /// Invokes the callable (precondition: not empty). May throw what it throws.
  void operator()(int res) { ops_->invoke(buf_, res); }
  /// Destroys the held callable; the callback becomes empty.
  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(buf_);
    ops_ = nullptr;
  }
  /// True when the held callable lives inline (tests use it to pin "no allocation").
  bool is_inline() const noexcept { return ops_ != nullptr && ops_->inline_storage; }

 private:
  struct Ops {
    void (*invoke)(void* self, int res);
    void (*relocate)(void* from, void* to) noexcept;  // move-construct into `to`, destroy `from`
    void (*destroy)(void* self) noexcept;
    bool inline_storage;
  };
  template <class D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= kInlineBytes && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }
  template <class D>
  static constexpr Ops kInlineOps = {
      [](void* s, int res) { (*std::launder(static_cast<D*>(s)))(res); },
      [](void* from, void* to) noexcept {
        D* f = std::launder(static_cast<D*>(from));
        ::new (to) D(std::move(*f));
        f->~D();
      },
      [](void* s) noexcept { std::launder(static_cast<D*>(s))->~D(); },
      true,
  };
  template <class D>
  static D* heap_ptr(void* s) noexcept {
    D* p;
    std::memcpy(&p, s, sizeof p);
    return p;
  }
  template <class D>
  static constexpr Ops kHeapOps = {
      [](void* s, int res) { (*heap_ptr<D>(s))(res); },
      [](void* from, void* to) noexcept { std::memcpy(to, from, sizeof(D*)); },
      [](void* s) noexcept { delete heap_ptr<D>(s); },
      false,
  };
  void take(IoCallback& o) noexcept {
    if (o.ops_ != nullptr) {
      o.ops_->relocate(o.buf_, buf_);
      ops_ = o.ops_;
      o.ops_ = nullptr;
    }
  }

  alignas(std::max_align_t) unsigned char buf_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

/// A heap buffer aligned for O_DIRECT (the alignment must be a multiple of the
/// device's logical block size; 4096 suits every common device). Move-only;
/// any thread.
class AlignedBuffer {
 public:
  AlignedBuffer() noexcept = default;
  /// Allocates `size` bytes (rounded up to a multiple of `alignment`), zeroed.
  /// Errors: Errc::invalid_argument (alignment not a power of two >= 8, size 0),
  /// Errc::internal (out of memory).
  static Result<AlignedBuffer> allocate(size_t size, size_t alignment = 4096);
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), align_(o.align_) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  std::byte* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  size_t alignment() const noexcept { return align_; }
  explicit operator bool() const noexcept { return data_ != nullptr; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  size_t align_ = 0;
};

/// fsync flavour: everything, or data only (fdatasync).
enum class SyncKind : uint8_t { Full, DataOnly };

/// Channel options.
struct IoChannelOptions {
  /// Requests in flight at most (1..65536); a submission beyond it fails with
  /// Errc::full. Every reactor's ring has 256 submission slots; deeper queues
  /// work (a full submission queue is flushed early) but bunch up completions.
  uint32_t queue_depth = 128;
  /// Registered files and buffers to use where they apply (may be nullptr).
  /// Must outlive the channel.
  const IoRegistry* registry = nullptr;
};

/// Counters of one channel (values published by the channel's thread; any
/// thread may read them, approximately).
struct IoChannelStats {
  uint64_t submitted = 0;   ///< requests accepted
  uint64_t completed = 0;   ///< callbacks run
  uint64_t errors = 0;      ///< completions with res < 0
  uint64_t forwarded = 0;   ///< completions reaped on a reactor the thread had left
  uint64_t fixed_file = 0;  ///< requests that used a registered file
  uint64_t fixed_buf = 0;   ///< requests that used a registered buffer
  uint32_t in_flight = 0;
  uint32_t queue_depth = 0;
};

/// The I/O channel of one LwThread. Movable handle; on-thread use only (see
/// the header comment). Destroying a channel with I/O in flight is allowed:
/// its state lives until the last completion, whose callback still runs.
class IoChannel {
 public:
  /// Creates a channel for the calling LwThread (current_thread()). Errors:
  /// Errc::wrong_thread (not called from an LwThread), Errc::invalid_argument
  /// (queue_depth), Errc::unsupported (io_uring unavailable on this kernel).
  static Result<IoChannel> create(IoChannelOptions options = {});

  IoChannel() noexcept = default;
  IoChannel(IoChannel&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  IoChannel& operator=(IoChannel&& o) noexcept;
  IoChannel(const IoChannel&) = delete;
  IoChannel& operator=(const IoChannel&) = delete;
  ~IoChannel();

  /// Reads `len` bytes at `offset` into `buf`. Errors (nothing submitted, the
  /// callback is dropped): Errc::wrong_thread (not on the channel's thread),
  /// Errc::full (queue depth reached, or the ring refused a flush: retry after
  /// a completion), Errc::exited (the thread is exiting), Errc::unsupported
  /// (no io_uring on this reactor), Errc::invalid_argument (empty callback,
  /// len > 2 GiB, empty channel). I/O errors arrive as res < 0 in the callback.
  Result<void> read(int fd, void* buf, size_t len, uint64_t offset, IoCallback cb);
  /// Writes `len` bytes from `buf` at `offset`. Errors as read().
  Result<void> write(int fd, const void* buf, size_t len, uint64_t offset, IoCallback cb);
  /// Vectored read; the iovec array is copied (it need not outlive the call,
  /// the buffers must). Errors as read(), plus iovcnt 0 or > IOV_MAX.
  Result<void> readv(int fd, const iovec* iov, unsigned iovcnt, uint64_t offset, IoCallback cb);
  /// Vectored write. Errors as readv().
  Result<void> writev(int fd, const iovec* iov, unsigned iovcnt, uint64_t offset, IoCallback cb);
  /// fsync (or fdatasync with SyncKind::DataOnly). Errors as read().
  Result<void> fsync(int fd, SyncKind kind, IoCallback cb);
  /// fallocate(2) of [offset, offset+len) with `mode` (FALLOC_FL_*: punch a
  /// hole, zero a range, preallocate) through the ring, so that the thread
  /// does not block in the file system; res is 0 or -errno (-EOPNOTSUPP where
  /// the file system or device lacks the mode). Errors as read(), plus
  /// len 0 or a negative mode.
  Result<void> fallocate(int fd, int mode, uint64_t offset, uint64_t len, IoCallback cb);

  // Sockets (TCP, Unix stream, anything with the socket calls). Same rules
  // and errors as read(); res is what the system call returns (bytes, a new
  // fd for accept, 0 for connect/shutdown/close) or -errno. A peer reset is
  // an ordinary res (-ECONNRESET / -EPIPE), never a signal: send() and
  // sendmsg() always add MSG_NOSIGNAL. Pointers (buffers, msghdr, sockaddr)
  // must stay valid until the callback ran.

  /// recv(2) into `buf`. Errors as read(), plus len > 2 GiB.
  Result<void> recv(int fd, void* buf, size_t len, int flags, IoCallback cb);
  /// send(2) from `buf` (may be short: res < len). Errors as recv().
  Result<void> send(int fd, const void* buf, size_t len, int flags, IoCallback cb);
  /// sendmsg(2). Errors as read(), plus a null msghdr.
  Result<void> sendmsg(int fd, const msghdr* msg, int flags, IoCallback cb);
  /// accept4(2) with SOCK_CLOEXEC; res is the connection's fd. `addr`/`len`
  /// may be null. Errors as read().
  Result<void> accept(int fd, sockaddr* addr, socklen_t* addrlen, IoCallback cb);
  /// connect(2). Errors as read(), plus a null address.
  Result<void> connect(int fd, const sockaddr* addr, socklen_t addrlen, IoCallback cb);
  /// shutdown(2) (SHUT_RD, SHUT_WR, SHUT_RDWR). Errors as read().
  Result<void> shutdown(int fd, int how, IoCallback cb);
  /// close(2) of `fd` through the ring (after every request on it completed).
  Result<void> close(int fd, IoCallback cb);

  /// Requests submitted and not yet completed (on-thread; others: approximate).
  uint32_t in_flight() const noexcept;
  uint32_t queue_depth() const noexcept;
  /// The time (the pool's clock ticks) at which the completion whose callback
  /// is running was reaped: the reactor reads the clock once per batch of
  /// completions, right after the io_uring_enter that brought them (a
  /// completion forwarded to a moved thread: read when it is delivered). A
  /// callback that measures latency reads this instead of the clock, which
  /// saves a clock read per I/O. On-thread, inside one of this channel's
  /// completion callbacks; elsewhere the value of the last delivery (0 before
  /// any, and for an empty handle).
  uint64_t completion_time() const noexcept;
  /// Submissions that would be accepted now: queue_depth() - in_flight().
  uint32_t available() const noexcept { return queue_depth() - in_flight(); }
  IoChannelStats stats() const noexcept;
  /// Setup flags (IORING_SETUP_*) of the ring the channel submits to now, i.e.
  /// of the reactor hosting its thread. On-thread; 0 for an empty handle.
  uint32_t ring_flags() const noexcept;
  /// The thread this channel belongs to (nullptr for an empty handle).
  LwThread* thread() const noexcept;
  explicit operator bool() const noexcept { return st_ != nullptr; }

 private:
  explicit IoChannel(detail::IoChannelState* st) noexcept : st_(st) {}
  detail::IoChannelState* st_ = nullptr;
};

/// Names the ring setup flags the reactors use: "SINGLE_ISSUER|DEFER_TASKRUN",
/// "COOP_TASKRUN", "none". Any thread.
std::string describe_ring_flags(uint32_t flags);

/// Files and buffers registered on the io_uring of every reactor of a pool
/// (fixed files: no per-I/O file lookup; fixed buffers: pages pinned once, not
/// per O_DIRECT request). A ring holds one registration of each kind, so one
/// IoRegistry per pool. Destroy it before the pool, and only after every
/// request that used it completed.
class IoRegistry {
 public:
  /// Registers on each reactor's ring from that reactor's own OS thread (a
  /// short-lived LwThread per core) and waits for all (pool.wait_for, so in the
  /// deterministic harness it drives the reactors). Call from a non-reactor
  /// thread. A ring that refuses (old kernel, RLIMIT_MEMLOCK for buffers) is
  /// recorded and channels fall back to plain requests there; see status().
  /// Errors: Errc::invalid_argument (negative fd, empty buffer, more than
  /// 32768 files or 16384 buffers), Errc::wrong_thread (called on a reactor),
  /// Errc::timeout (a reactor did not answer in the pool's wait bound).
  static Result<std::unique_ptr<IoRegistry>> create(ReactorPool& pool, std::vector<int> files,
                                                    std::vector<iovec> buffers);
  /// Unregisters on every ring (bounded wait; skipped when the pool is stopping).
  ~IoRegistry();
  IoRegistry(const IoRegistry&) = delete;
  IoRegistry& operator=(const IoRegistry&) = delete;

  /// Index of `fd` in the file table, or -1. Any thread.
  int file_index(int fd) const noexcept {
    return fd >= 0 && static_cast<size_t>(fd) < fd_index_.size() ? fd_index_[static_cast<size_t>(fd)] : -1;
  }
  /// Index of the registered buffer wholly containing [p, p+len), or -1. Any thread.
  int buffer_index(const void* p, size_t len) const noexcept;
  /// True when `core`'s ring accepted the files (buffers). Any thread.
  bool files_on(CoreId core) const noexcept { return flag(core, kFiles); }
  bool buffers_on(CoreId core) const noexcept { return flag(core, kBuffers); }
  bool has_files() const noexcept { return !files_.empty(); }
  bool has_buffers() const noexcept { return !buffers_.empty(); }
  /// One line: "files: registered on 2/2 rings; buffers: refused on core 1 (...)".
  std::string status() const;

 private:
  static constexpr uint8_t kFiles = 1, kBuffers = 2;
  struct Token {};

 public:
  IoRegistry(Token, ReactorPool& pool, std::vector<int> files, std::vector<iovec> buffers);

 private:
  bool flag(CoreId core, uint8_t bit) const noexcept {
    return core.value < per_core_.size() && (per_core_[core.value] & bit) != 0;
  }
  Result<void> run_on_every_ring(bool do_register);

  ReactorPool& pool_;
  std::vector<int> files_;
  std::vector<iovec> buffers_;
  std::vector<int> fd_index_;        // fd -> slot in files_ (or -1)
  std::vector<uint8_t> per_core_;    // core -> kFiles|kBuffers accepted
  std::vector<std::string> refusals_; // what each ring refused (for status())
};

}  // namespace reactor
