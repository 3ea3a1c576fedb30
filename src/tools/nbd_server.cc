// The NBD protocol on coroutines (see nbd_server.hh).
//
// Per connection, on its own LwThread:
//   session  - handshake (newstyle fixed: OPT_GO, OPT_INFO, OPT_LIST,
//              OPT_ABORT, OPT_EXPORT_NAME; others ERR_UNSUP), then the
//              reader loop: recv into a 64 KiB buffer, as many requests as
//              arrived (a WRITE's payload copied out, the rest received in
//              place), each command started at once up to max_inflight, so
//              that a client's burst becomes one batch of submissions;
//   commands - one self-freeing coroutine per request (pooled frame, no
//              spawned root), file I/O through the thread's IoChannel into a
//              pooled, never-zeroed buffer; TRIM/WRITE_ZEROES as fallocate on
//              the ring; the finished request joins the reply queue;
//   sender   - drains the reply queue with one sendmsg per batch (header and
//              payload of every ready reply), resuming inside a reply after a
//              short send; a failed send drops the queue and shuts the socket;
//   watchdog - a 250 ms sleep loop that shuts the socket down when the
//              handshake or a started request overruns its timeout
//              (slowloris); the reader then sees EOF and the session ends.
// Safety of the pooled buffers: a READ's payload is sent only when the file
// filled all `len` bytes (a short read is EIO with no payload), so no byte of
// an earlier request can reach the client.
// The session returns only after every request was answered (or dropped on
// a broken socket) and the sender stopped, so their references into its
// frame stay valid. A protocol violation (bad magic, an oversized WRITE whose
// payload cannot be skipped) ends only that connection.

#include "tools/nbd_server.hh"

#include <endian.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <coroutine>
#include <cstring>
#include <array>
#include <bit>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include <reactor/io.hh>
#include <reactor/log.hh>

namespace reactor::nbd {
namespace {

constexpr uint64_t kNbdMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
constexpr uint64_t kOptMagic = 0x49484156454F5054ull;  // "IHAVEOPT"
constexpr uint64_t kRepMagic = 0x3e889045565a9ull;
constexpr uint32_t kRequestMagic = 0x25609513u;
constexpr uint32_t kSimpleReplyMagic = 0x67446698u;

constexpr uint16_t kFlagFixedNewstyle = 1, kFlagNoZeroes = 2;
constexpr uint32_t kClientFixedNewstyle = 1, kClientNoZeroes = 2;

enum : uint32_t {
  kOptExportName = 1, kOptAbort = 2, kOptList = 3, kOptInfo = 6, kOptGo = 7,
};
enum : uint32_t {
  kRepAck = 1, kRepServer = 2, kRepInfo = 3,
  kRepErrUnsup = 0x80000001u, kRepErrInvalid = 0x80000003u, kRepErrUnknown = 0x80000006u,
  kRepErrTooBig = 0x80000009u,
};
enum : uint16_t { kInfoExport = 0, kInfoName = 1, kInfoBlockSize = 3 };
enum : uint16_t {
  kTfHasFlags = 1, kTfReadOnly = 2, kTfSendFlush = 4, kTfSendFua = 8, kTfSendTrim = 32,
  kTfSendWriteZeroes = 64, kTfCanMultiConn = 256,
};
enum : uint16_t { kCmdRead = 0, kCmdWrite = 1, kCmdDisc = 2, kCmdFlush = 3, kCmdTrim = 4, kCmdWriteZeroes = 6 };
enum : uint16_t { kCmdFlagFua = 1, kCmdFlagNoHole = 2 };
constexpr uint32_t kEperm = 1, kEio = 5, kEinval = 22, kEnospc = 28, kEoverflow = 75;

constexpr size_t kRequestBytes = 28;  // a request header
// Received at once: a client at QD 32 sends 32 x 28 bytes of READ headers, or
// a dozen 4 KiB WRITEs with their payloads, per recv.
constexpr size_t kRecvBuffer = 64 * 1024;
// iovecs in one reply sendmsg: 64 replies with payload (IOV_MAX is 1024).
constexpr unsigned kMaxReplyIov = 128;

// Inline buffered writes (Connection::file_io): the largest written inline
// (a 128 KiB copy is ~10-30 us here), and how many writes go through the ring
// after one that took longer than --inline-write-us: 64 after an isolated
// slow write (on a loaded machine most are the thread being preempted, 30-50
// per 4 s here), doubling while they stay slow (the file system really
// blocks: dirty-page throttling, the journal) up to 65536.
constexpr uint32_t kInlineWriteMax = 128 * 1024;
constexpr uint32_t kInlineBackoffMin = 64;
constexpr uint32_t kInlineBackoffMax = 65536;

constexpr uint32_t kMaxOptionBytes = 64 * 1024;  // option data we read; more is refused
constexpr uint32_t kMaxOptionDrain = 1u << 20;   // ... and skipped up to this, else disconnect

void put16(std::byte* p, uint16_t v) { v = htobe16(v); std::memcpy(p, &v, 2); }
void put32(std::byte* p, uint32_t v) { v = htobe32(v); std::memcpy(p, &v, 4); }
void put64(std::byte* p, uint64_t v) { v = htobe64(v); std::memcpy(p, &v, 8); }
uint16_t get16(const std::byte* p) { uint16_t v; std::memcpy(&v, p, 2); return be16toh(v); }
uint32_t get32(const std::byte* p) { uint32_t v; std::memcpy(&v, p, 4); return be32toh(v); }
uint64_t get64(const std::byte* p) { uint64_t v; std::memcpy(&v, p, 8); return be64toh(v); }

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

struct Server::Shared {
  std::mutex mu;
  std::unordered_map<uint64_t, int> open;  // connection id -> socket fd
  uint64_t next_id = 1;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> connections{0}, active{0}, requests{0}, errors{0}, dropped{0};
  std::atomic<uint64_t> inline_writes{0}, inline_slow{0};
};

namespace {

// One waiter at a time per event (the session waiting for its tasks, or for
// room under max_inflight).
struct Event {
  std::coroutine_handle<> waiter;
  void notify() {
    if (auto h = std::exchange(waiter, {})) detail::post_resume(*current_thread(), h);
  }
  struct Awaiter {
    Event& e;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { e.waiter = h; }
    void await_resume() const noexcept {}
  };
  Awaiter wait() { return Awaiter{*this}; }
};

// Payload buffers of one connection, reused from request to request: size
// classes of 4 KiB << k, aligned for O_DIRECT, at most kPoolBytes kept. Never
// zeroed: a READ's buffer is sent only after the file filled all of it, a
// WRITE's only after the client sent all of it (whoever needs zeroes writes
// them).
class BufferPool {
 public:
  struct Buf {
    std::byte* p = nullptr;
    uint32_t cap = 0;
  };
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (auto& list : free_)
      for (Buf b : list) std::free(b.p);
  }
  /// A buffer of at least max(len, 1) bytes; p is null when out of memory.
  Buf get(uint32_t len) {
    const unsigned c = size_class(len);
    if (!free_[c].empty()) {
      Buf b = free_[c].back();
      free_[c].pop_back();
      cached_ -= b.cap;
      return b;
    }
    const uint32_t cap = kMinBuffer << c;
    return {static_cast<std::byte*>(std::aligned_alloc(kMinBuffer, cap)), cap};
  }
  void put(Buf b) {
    if (b.p == nullptr) return;
    if (cached_ + b.cap > kPoolBytes) {
      std::free(b.p);
      return;
    }
    free_[size_class(b.cap)].push_back(b);
    cached_ += b.cap;
  }

 private:
  static constexpr uint32_t kMinBuffer = 4096;  // O_DIRECT alignment and the common I/O size
  // Enough for QD 128 of 128 KiB requests; bigger bursts go back to malloc.
  static constexpr size_t kPoolBytes = 16u << 20;
  static unsigned size_class(uint32_t len) {
    return len <= kMinBuffer ? 0u : static_cast<unsigned>(std::bit_width(len - 1)) - 12u;
  }
  std::array<std::vector<Buf>, 20> free_;  // up to 4 KiB << 19 = 2 GiB > max_request
  size_t cached_ = 0;
};

// One request from header to reply.
struct Request {
  uint64_t cookie = 0;
  uint64_t offset = 0;
  uint32_t len = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  BufferPool::Buf buf;    // READ: the payload read; WRITE: the payload received
  uint32_t payload = 0;   // bytes of buf sent after the reply header
  std::byte header[16];   // the simple reply
  Request* next = nullptr;  // reply queue
};

// A request's coroutine: starts at once and frees itself at its end; its
// frame comes from the frame pool of <reactor/task.hh> (no malloc once warm).
// Not a spawned root: no stop source nor shared state per request (the
// connection waits for its commands by counting them).
struct Detached {
  struct promise_type {
    static void* operator new(std::size_t n) { return detail::alloc_frame(n); }
    static void operator delete(void* p, std::size_t n) noexcept { detail::free_frame(p, n); }
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // command() catches everything
  };
};

// fallocate through the channel; resumes with the raw result (0 or -errno).
struct FallocateAwaiter {
  IoChannel& ch;
  int fd;
  int mode;
  uint64_t offset;
  uint64_t len;
  int res = 0;
  std::coroutine_handle<> h;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> caller) noexcept {
    h = caller;
    auto r = ch.fallocate(fd, mode, offset, len, [this](int v) {
      res = v;
      h.resume();
    });
    if (!r) res = -EIO;
    return static_cast<bool>(r);
  }
  int await_resume() const noexcept { return res; }
};

struct Connection {
  Server::Shared& shared;
  const ExportOptions& opts;
  int file_fd;
  uint64_t size;
  int sock;
  uint64_t id = 0;
  IoChannel ch;
  BufferPool pool;
  std::vector<Request> slots;  // max_inflight of them, sized in run()
  std::vector<Request*> free_slots;
  Event idle;            // inflight reached 0 or dropped below the limit
  uint32_t inflight = 0; // requests read and not yet answered
  Request* replies_head = nullptr;  // completed, reply not yet sent
  Request* replies_tail = nullptr;
  Event sender_wake;
  bool sender_stop = false;
  SpawnedTask sender_task;
  bool sender_started = false;
  bool wrote = false;    // something was written: flush at the end
  // Inline buffered writes (file_io): writes left to send through the ring
  // after a slow one, and what this connection measured.
  const uint64_t inline_limit_ns = opts.direct ? 0 : uint64_t{opts.inline_write_us} * 1000;
  uint32_t inline_skip = 0;
  uint32_t inline_backoff = kInlineBackoffMin;  // doubles with each slow write in a row
  uint64_t inline_writes = 0, inline_slow = 0, inline_max_ns = 0;
  bool broken = false;   // the socket failed: stop reading
  std::atomic<uint64_t> deadline_ms{0};  // 0: no deadline (idle between requests)
  bool done = false;     // the session ended: the watchdog stops
  SpawnedTask watchdog_task;

  uint16_t transmission_flags() const {
    uint16_t f = kTfHasFlags | kTfSendFlush | kTfSendFua | kTfSendTrim | kTfSendWriteZeroes | kTfCanMultiConn;
    if (opts.read_only) f |= kTfReadOnly;
    return f;
  }

  Task<Result<void>> send_bytes(const void* p, size_t n) { return co_send_all(ch, sock, p, n); }

  Task<Result<void>> option_reply(uint32_t opt, uint32_t type, const std::byte* data, uint32_t len) {
    // The header on the stack: put32/put64 into a vector's data() (which g++
    // cannot prove non-null) warned under -Wnull-dereference.
    std::byte hdr[20];
    put64(hdr, kRepMagic);
    put32(hdr + 8, opt);
    put32(hdr + 12, type);
    put32(hdr + 16, len);
    std::vector<std::byte> b(hdr, hdr + sizeof hdr);
    if (len) b.insert(b.end(), data, data + len);
    co_return co_await send_bytes(b.data(), b.size());
  }

  Task<Result<void>> send_info_and_ack(uint32_t opt, const std::vector<uint16_t>& wanted) {
    std::byte info[12];
    put16(info, kInfoExport);
    put64(info + 2, size);
    put16(info + 10, transmission_flags());
    if (auto r = co_await option_reply(opt, kRepInfo, info, sizeof info); !r) co_return r;
    bool want_name = false;
    for (uint16_t w : wanted) want_name |= w == kInfoName;
    if (want_name) {
      std::vector<std::byte> n(2 + opts.name.size());
      put16(n.data(), kInfoName);
      std::memcpy(n.data() + 2, opts.name.data(), opts.name.size());
      if (auto r = co_await option_reply(opt, kRepInfo, n.data(), static_cast<uint32_t>(n.size())); !r) co_return r;
    }
    std::byte bs[14];
    put16(bs, kInfoBlockSize);
    put32(bs + 2, opts.direct ? 4096 : 1);
    put32(bs + 6, 4096);
    put32(bs + 10, opts.max_request);
    if (auto r = co_await option_reply(opt, kRepInfo, bs, sizeof bs); !r) co_return r;
    co_return co_await option_reply(opt, kRepAck, nullptr, 0);
  }

  bool known_export(std::string_view name) const { return name.empty() || name == opts.name; }

  // Returns true when transmission starts, false when the client leaves or
  // violates the protocol.
  Task<bool> handshake() {
    std::byte hello[18];
    put64(hello, kNbdMagic);
    put64(hello + 8, kOptMagic);
    put16(hello + 16, kFlagFixedNewstyle | kFlagNoZeroes);
    if (!co_await send_bytes(hello, sizeof hello)) co_return false;
    std::byte cf[4];
    if (!co_await co_recv_exact(ch, sock, cf, 4)) co_return false;
    const uint32_t client_flags = get32(cf);
    if ((client_flags & ~(kClientFixedNewstyle | kClientNoZeroes)) != 0) co_return false;  // unknown bits: spec says close
    const bool no_zeroes = (client_flags & kClientNoZeroes) != 0;
    for (;;) {
      std::byte h[16];
      if (!co_await co_recv_exact(ch, sock, h, 16)) co_return false;
      if (get64(h) != kOptMagic) co_return false;
      const uint32_t opt = get32(h + 8);
      const uint32_t len = get32(h + 12);
      if (len > kMaxOptionBytes) {
        if (len > kMaxOptionDrain) co_return false;
        std::vector<std::byte> sink(len);
        if (!co_await co_recv_exact(ch, sock, sink.data(), len)) co_return false;
        if (!co_await option_reply(opt, kRepErrTooBig, nullptr, 0)) co_return false;
        continue;
      }
      std::vector<std::byte> data(len);
      if (len && !co_await co_recv_exact(ch, sock, data.data(), len)) co_return false;
      switch (opt) {
        case kOptExportName: {
          std::string name(reinterpret_cast<const char*>(data.data()), len);
          if (!known_export(name)) co_return false;  // this option has no error reply
          std::byte r[10 + 124] = {};
          put64(r, size);
          put16(r + 8, transmission_flags());
          co_return static_cast<bool>(co_await send_bytes(r, no_zeroes ? 10 : sizeof r));
        }
        case kOptAbort:
          (void)co_await option_reply(opt, kRepAck, nullptr, 0);
          co_return false;
        case kOptList: {
          if (len != 0) {
            if (!co_await option_reply(opt, kRepErrInvalid, nullptr, 0)) co_return false;
            break;
          }
          std::vector<std::byte> s(4 + opts.name.size());
          put32(s.data(), static_cast<uint32_t>(opts.name.size()));
          std::memcpy(s.data() + 4, opts.name.data(), opts.name.size());
          if (!co_await option_reply(opt, kRepServer, s.data(), static_cast<uint32_t>(s.size()))) co_return false;
          if (!co_await option_reply(opt, kRepAck, nullptr, 0)) co_return false;
          break;
        }
        case kOptInfo:
        case kOptGo: {
          // u32 name length, name, u16 count, count x u16
          bool ok = len >= 6;
          uint32_t nlen = ok ? get32(data.data()) : 0;
          ok = ok && nlen <= len - 6;
          uint16_t n = ok ? get16(data.data() + 4 + nlen) : 0;
          ok = ok && len == 4 + nlen + 2 + 2u * n;
          if (!ok) {
            if (!co_await option_reply(opt, kRepErrInvalid, nullptr, 0)) co_return false;
            break;
          }
          std::string name(reinterpret_cast<const char*>(data.data() + 4), nlen);
          std::vector<uint16_t> wanted;
          for (uint16_t i = 0; i < n; ++i) wanted.push_back(get16(data.data() + 4 + nlen + 2 + 2 * i));
          if (!known_export(name)) {
            static constexpr char kMsg[] = "no such export";
            if (!co_await option_reply(opt, kRepErrUnknown, reinterpret_cast<const std::byte*>(kMsg),
                                       sizeof kMsg - 1))
              co_return false;
            break;
          }
          if (!co_await send_info_and_ack(opt, wanted)) co_return false;
          if (opt == kOptGo) co_return true;
          break;
        }
        default:
          // STARTTLS, STRUCTURED_REPLY, META_CONTEXT ...: simple replies only.
          if (!co_await option_reply(opt, kRepErrUnsup, nullptr, 0)) co_return false;
      }
    }
  }

  // ------------------------------------------------------------ transmission
  // Request slots: max_inflight per connection, taken by the reader and
  // given back once the reply went out (or was dropped on a broken socket).
  Request* take_slot() {
    Request* r = free_slots.back();
    free_slots.pop_back();
    *r = Request{};
    ++inflight;
    return r;
  }
  void release(Request* r) {
    pool.put(std::exchange(r->buf, {}));
    free_slots.push_back(r);
    --inflight;
    idle.notify();
  }

  // The command finished: its reply joins the queue the sender drains (one
  // sendmsg for every reply that is ready, header and payload together).
  void complete(Request* r, uint32_t err) {
    put32(r->header, kSimpleReplyMagic);
    put32(r->header + 4, err);
    put64(r->header + 8, r->cookie);
    r->payload = (err == 0 && r->type == kCmdRead) ? r->len : 0;
    r->next = nullptr;
    (replies_tail ? replies_tail->next : replies_head) = r;
    replies_tail = r;
    shared.requests.fetch_add(1, std::memory_order_relaxed);
    if (err != 0) shared.errors.fetch_add(1, std::memory_order_relaxed);
    sender_wake.notify();
  }

  Request* pop_reply() {
    Request* r = replies_head;
    replies_head = r->next;
    if (replies_head == nullptr) replies_tail = nullptr;
    return r;
  }

  // Sends queued replies until the session stops it. Woken by a message, so
  // the replies of every completion reaped in the same reactor pass leave in
  // one sendmsg; replies completed while a sendmsg is in flight go in the
  // next. A short send resumes inside the reply it stopped in.
  Task<void> sender() {
    iovec iov[kMaxReplyIov];
    size_t head_sent = 0;  // bytes of the first queued reply already on the wire
    for (;;) {
      while (replies_head == nullptr) {
        if (sender_stop) co_return;
        co_await sender_wake.wait();
      }
      if (broken) {  // nobody can read them: drop
        while (replies_head != nullptr) release(pop_reply());
        head_sent = 0;
        continue;
      }
      unsigned n = 0;
      size_t skip = head_sent;
      for (Request* r = replies_head; r != nullptr && n + 2 <= kMaxReplyIov; r = r->next) {
        if (skip < sizeof r->header) iov[n++] = {r->header + skip, sizeof r->header - skip};
        const size_t off = skip > sizeof r->header ? skip - sizeof r->header : 0;
        if (r->payload > off) iov[n++] = {r->buf.p + off, r->payload - off};
        skip = 0;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = n;
      auto sent = co_await co_sendmsg(ch, sock, &msg);
      if (!sent || *sent == 0) {
        broken = true;
        ::shutdown(sock, SHUT_RDWR);  // the reader sees EOF and stops
        continue;
      }
      size_t left = *sent;
      while (replies_head != nullptr) {
        const size_t rest = sizeof replies_head->header + replies_head->payload - head_sent;
        if (left < rest) {
          head_sent += left;
          break;
        }
        left -= rest;
        head_sent = 0;
        release(pop_reply());
      }
    }
  }

  // Reads or writes all `len` bytes; a short transfer (the file shrank under
  // us) is an error, so a READ's pool buffer is sent only when the file
  // filled every byte of it.
  //
  // Buffered WRITEs up to kInlineWriteMax are written here with pwrite, on the
  // connection's thread, when --inline-write-us is not 0. Why: this kernel's
  // ext4 refuses non-blocking buffered writes (pwritev2 RWF_NOWAIT:
  // EOPNOTSUPP), so io_uring hands every one to an io-wq worker thread and
  // its completion wakes the reactor back: two context switches per 4 KiB
  // write, most of the server's CPU (bench/README, "page-cache randwrite").
  // A write into the page cache is a copy of a few microseconds; it blocks
  // when the kernel throttles dirty pages, waits for the journal or reads a
  // partial page. Bound: each inline write is timed; one that takes longer
  // than the limit sends the connection's next writes through the ring (64,
  // doubling while the probes stay slow, up to 65536), so while the file
  // system blocks, a reactor blocks in at most one write per 65 writes of a
  // connection, then one per 129, ...; the stall detector names long ones.
  Task<uint32_t> file_io(bool write, std::byte* buf, uint32_t len, uint64_t offset) {
    uint32_t done_bytes = 0;
    if (write && inline_limit_ns != 0 && len <= kInlineWriteMax) {
      if (inline_skip > 0) {
        --inline_skip;
      } else {
        const auto t0 = std::chrono::steady_clock::now();
        const ssize_t n = ::pwrite(file_fd, buf, len, static_cast<off_t>(offset));
        const int e = errno;
        const auto ns = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
        ++inline_writes;
        inline_max_ns = std::max(inline_max_ns, ns);
        if (ns > inline_limit_ns) {
          ++inline_slow;
          inline_skip = inline_backoff;
          inline_backoff = std::min(inline_backoff * 2, kInlineBackoffMax);
        } else {
          inline_backoff = kInlineBackoffMin;
        }
        if (n == static_cast<ssize_t>(len)) co_return 0;
        if (n > 0) done_bytes = static_cast<uint32_t>(n);  // the rest through the ring
        else if (n == 0 || (e != EINTR && e != EAGAIN)) co_return kEio;
      }
    }
    while (done_bytes < len) {
      auto r = write ? co_await co_write(ch, file_fd, buf + done_bytes, len - done_bytes, offset + done_bytes)
                     : co_await co_read(ch, file_fd, buf + done_bytes, len - done_bytes, offset + done_bytes);
      if (!r || *r == 0) co_return kEio;
      done_bytes += static_cast<uint32_t>(*r);
    }
    co_return 0;
  }

  Task<uint32_t> sync(bool data_only) {
    auto r = co_await co_fsync(ch, file_fd, data_only ? SyncKind::DataOnly : SyncKind::Full);
    co_return r ? 0 : kEio;
  }

  // TRIM and WRITE_ZEROES: fallocate on the ring (IORING_OP_FALLOCATE), never
  // a blocking system call on the reactor.
  Task<uint32_t> zero(uint16_t type, uint16_t flags, uint64_t offset, uint32_t len) {
    if (len == 0) co_return 0;
    if (type == kCmdTrim) {
      // Advisory: a file system without hole punching keeps the data.
      const int res = co_await FallocateAwaiter{ch, file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len};
      co_return res == 0 || res == -EOPNOTSUPP ? 0 : kEio;
    }
    const int mode = (flags & kCmdFlagNoHole) ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE;
    if (co_await FallocateAwaiter{ch, file_fd, mode | FALLOC_FL_KEEP_SIZE, offset, len} == 0) co_return 0;
    // Devices and file systems without it: write zeroes (a pool buffer,
    // zeroed here: pool buffers are not).
    BufferPool::Buf zeros = pool.get(std::min<uint32_t>(len, 1u << 20));
    if (zeros.p == nullptr) co_return kEio;
    std::memset(zeros.p, 0, zeros.cap);
    uint32_t err = 0;
    for (uint32_t pos = 0; err == 0 && pos < len;) {
      const uint32_t n = std::min<uint32_t>(len - pos, zeros.cap);
      err = co_await file_io(true, zeros.p, n, offset + pos);
      pos += n;
    }
    pool.put(zeros);
    co_return err;
  }

  // One request's command: runs until its first suspension when the reader
  // starts it, ends by queueing the reply.
  Detached command(Request* r) {
    uint32_t err = 0;
    try {
      switch (r->type) {
        case kCmdRead: err = co_await file_io(false, r->buf.p, r->len, r->offset); break;
        case kCmdWrite:
          err = co_await file_io(true, r->buf.p, r->len, r->offset);
          if (err == 0 && (r->flags & kCmdFlagFua)) err = co_await sync(true);
          break;
        case kCmdFlush: err = co_await sync(false); break;
        default:  // TRIM, WRITE_ZEROES
          err = co_await zero(r->type, r->flags, r->offset, r->len);
          if (err == 0 && (r->flags & kCmdFlagFua)) err = co_await sync(true);
      }
    } catch (...) {  // out of memory for a frame: the client gets an error, the connection lives
      err = kEio;
    }
    complete(r, err);
  }

  void arm(std::chrono::milliseconds d) { deadline_ms.store(now_ms() + static_cast<uint64_t>(d.count())); }
  void disarm() { deadline_ms.store(0); }

  Task<void> watchdog() {
    while (!done) {
      (void)co_await sleep_for(std::chrono::milliseconds(250));
      const uint64_t d = deadline_ms.load();
      if (!done && d != 0 && now_ms() > d) {
        shared.dropped.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::Warn, "reactor-nbd: connection {}: timed out in the handshake or a request; closing it", id);
        ::shutdown(sock, SHUT_RDWR);
        deadline_ms.store(0);
      }
    }
  }

  // Reads requests into a per-connection buffer, as many as one recv brings
  // (a client at QD 32 sends its headers back to back), and starts each
  // command at once, up to max_inflight in flight; so a batch of requests
  // becomes a batch of submissions in one io_uring_enter. A WRITE's payload
  // is copied out of the buffer, the rest of it received in place.
  // Idle between requests is allowed; once a request has started to arrive,
  // all of it (and a WRITE's payload) must within request_timeout.
  Task<void> transmission() {
    std::vector<std::byte> in(kRecvBuffer);
    size_t begin = 0, end = 0;
    bool armed = false;
    for (;;) {
      bool started = false;  // a request completed in this pass: a partial one after it is new
      while (end - begin >= kRequestBytes) {
        const std::byte* h = in.data() + begin;
        if (get32(h) != kRequestMagic) {
          shared.dropped.fetch_add(1, std::memory_order_relaxed);
          log(LogLevel::Warn, "reactor-nbd: connection {}: bad request magic {:#x}; closing it", id, get32(h));
          co_return;
        }
        if (inflight >= slots.size() && armed) {
          disarm();  // the client sent its part: waiting for room is ours
          armed = false;
        }
        while (inflight >= slots.size()) co_await idle.wait();
        if (broken) co_return;
        Request* r = take_slot();
        r->flags = get16(h + 4);
        r->type = get16(h + 6);
        r->cookie = get64(h + 8);
        r->offset = get64(h + 16);
        r->len = get32(h + 24);
        begin += kRequestBytes;
        started = true;
        const bool in_range = r->offset <= size && r->len <= size - r->offset;
        switch (r->type) {
          case kCmdRead:
            if (r->len > opts.max_request) complete(r, kEoverflow);
            else if (!in_range) complete(r, kEinval);
            else if ((r->buf = pool.get(r->len)).p == nullptr) complete(r, kEio);
            else command(r);
            break;
          case kCmdWrite: {
            if (r->len > opts.max_request) {
              // The payload cannot be skipped safely: answer and disconnect.
              shared.dropped.fetch_add(1, std::memory_order_relaxed);
              complete(r, kEoverflow);
              co_return;
            }
            if ((r->buf = pool.get(r->len)).p == nullptr) {
              release(r);
              co_return;
            }
            const size_t have = std::min<size_t>(end - begin, r->len);
            std::memcpy(r->buf.p, in.data() + begin, have);
            begin += have;
            if (have < r->len) {
              if (!armed) arm(opts.request_timeout);
              armed = true;
              if (!co_await co_recv_exact(ch, sock, r->buf.p + have, r->len - have)) {
                release(r);
                co_return;
              }
            }
            if (opts.read_only) complete(r, kEperm);
            else if (!in_range) complete(r, kEnospc);
            else {
              wrote = true;
              command(r);
            }
            break;
          }
          case kCmdDisc:
            release(r);
            co_return;
          case kCmdFlush:
            command(r);
            break;
          case kCmdTrim:
          case kCmdWriteZeroes:
            if (opts.read_only) complete(r, kEperm);
            else if (!in_range) complete(r, r->type == kCmdTrim ? kEinval : kEnospc);
            else {
              wrote = true;
              command(r);
            }
            break;
          default:
            complete(r, kEinval);
        }
      }
      // At most one partial header is left: move it to the front.
      if (begin != 0) {
        std::memmove(in.data(), in.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      }
      if (end == 0) {
        if (armed) disarm();
        armed = false;
      } else if (!armed || started) {
        arm(opts.request_timeout);
        armed = true;
      }
      auto got = co_await co_recv(ch, sock, in.data() + end, in.size() - end);
      if (!got || *got == 0) co_return;
      end += *got;
    }
  }

  Task<void> run() {
    auto c = IoChannel::create({.queue_depth = std::max<uint32_t>(64, opts.max_inflight * 2 + 8)});
    if (!c) {
      log(LogLevel::Error, "reactor-nbd: connection {}: {}", id, c.error().message);
      co_return;
    }
    ch = std::move(*c);
    slots.resize(std::max<uint32_t>(opts.max_inflight, 1));
    free_slots.reserve(slots.size());
    for (Request& r : slots) free_slots.push_back(&r);
    arm(opts.handshake_timeout);
    if (auto w = co_spawn(watchdog())) watchdog_task = *w;
    if (co_await handshake()) {
      disarm();
      if (auto s = co_spawn(sender())) {
        sender_task = *s;
        sender_started = true;
        co_await transmission();
      }
    } else {
      shared.dropped.fetch_add(1, std::memory_order_relaxed);
    }
    disarm();
    // Nothing is read any more: let in-flight commands finish and answer.
    while (inflight > 0) co_await idle.wait();
    sender_stop = true;
    sender_wake.notify();
    while (sender_started && !sender_task.done()) co_await yield();
    if (wrote) (void)co_await sync(false);
    if (inline_writes > 0) {
      shared.inline_writes.fetch_add(inline_writes, std::memory_order_relaxed);
      shared.inline_slow.fetch_add(inline_slow, std::memory_order_relaxed);
      log(LogLevel::Debug, "reactor-nbd: connection {}: {} writes inline, {} over {} us (longest {:.1f} us)", id,
          inline_writes, inline_slow, opts.inline_write_us, static_cast<double>(inline_max_ns) / 1000);
    }
    done = true;
    watchdog_task.request_stop();  // ends its sleep; it uses this object
    while (!watchdog_task.done()) co_await yield();
    {
      std::lock_guard lk(shared.mu);
      shared.open.erase(id);
    }
    (void)co_await co_close(ch, sock);
  }
};

// A connection's whole life on its thread; the thread exits at the end.
Task<void> serve_connection(std::shared_ptr<Server::Shared> shared, ExportOptions opts, int file_fd, uint64_t size,
                            int sock, uint64_t id) {
  {
    Connection conn{*shared, opts, file_fd, size, sock};
    conn.id = id;
    co_await conn.run();
  }
  shared->active.fetch_sub(1, std::memory_order_relaxed);
  current_thread()->exit();
}

// Takes the connections of one listener (a multishot accept request where the
// kernel has it) until Server::stop stops `acc` on this thread.
Task<void> accept_loop(ReactorPool& pool, std::shared_ptr<Server::Shared> shared, ExportOptions opts, int file_fd,
                       uint64_t size, int listen_fd, std::shared_ptr<Acceptor> acc) {
  auto started = Acceptor::start(listen_fd);
  if (!started) {
    log(LogLevel::Error, "reactor-nbd: acceptor: {}", started.error().message);
    current_thread()->exit();
    co_return;
  }
  *acc = std::move(*started);
  while (!shared->stopping.load()) {
    auto fd = co_await acc->next();
    if (!fd) {
      if (shared->stopping.load() || fd.error().code == Errc::cancelled) break;
      log(LogLevel::Warn, "reactor-nbd: {}", fd.error().message);
      (void)co_await sleep_for(std::chrono::milliseconds(100));  // EMFILE and friends: do not spin
      continue;
    }
    const int sock = static_cast<int>(*fd);
    if (shared->stopping.load()) {
      ::close(sock);
      break;
    }
    uint64_t id;
    {
      std::lock_guard lk(shared->mu);
      id = shared->next_id++;
      shared->open.emplace(id, sock);
    }
    shared->connections.fetch_add(1, std::memory_order_relaxed);
    shared->active.fetch_add(1, std::memory_order_relaxed);
    ThreadOptions to;
    to.name = fmt::format("nbd_conn_{}", id);
    auto t = pool.spawn(std::move(to));
    Result<SpawnedTask> s = t ? spawn(*t, serve_connection(shared, opts, file_fd, size, sock, id))
                              : Result<SpawnedTask>(tl::unexpected(t.error()));
    if (!s) {
      log(LogLevel::Error, "reactor-nbd: cannot start a connection thread: {}", s.error().message);
      {
        std::lock_guard lk(shared->mu);
        shared->open.erase(id);
      }
      shared->active.fetch_sub(1, std::memory_order_relaxed);
      ::close(sock);
      if (t) (void)t->send([] { current_thread()->exit(); });
    }
  }
  acc->stop();  // what it accepts from now on is closed
  current_thread()->exit();
}

}  // namespace

Server::Server(ReactorPool& pool, ExportOptions options, int fd, uint64_t size)
    : pool_(pool), opts_(std::move(options)), fd_(fd), size_(size), shared_(std::make_shared<Shared>()) {}

Server::~Server() {
  stop(std::chrono::seconds(5));
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Server>> Server::open(ReactorPool& pool, ExportOptions o) {
  if (o.path.empty()) return make_error(Errc::invalid_argument, "no file to export");
  if (o.max_request < 4096 || o.max_request > (1u << 30))
    return make_error(Errc::invalid_argument,
                      fmt::format("maximum request {} is outside 4096..{}", o.max_request, 1u << 30));
  int flags = (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o.direct ? O_DIRECT : 0);
  int fd = ::open(o.path.c_str(), flags);
  if (fd < 0)
    return make_error(Errc::invalid_argument, fmt::format("cannot open {}{}: {}", o.path,
                                                          o.direct ? " with O_DIRECT" : "", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return make_error(Errc::io, fmt::format("fstat {}: {}", o.path, std::strerror(e)));
  }
  uint64_t size = 0;
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      int e = errno;
      ::close(fd);
      return make_error(Errc::io, fmt::format("size of block device {}: {}", o.path, std::strerror(e)));
    }
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else {
    ::close(fd);
    return make_error(Errc::invalid_argument, fmt::format("{} is neither a regular file nor a block device", o.path));
  }
  return std::unique_ptr<Server>(new Server(pool, std::move(o), fd, size));
}

Result<SocketAddress> Server::listen(const SocketAddress& addr) {
  if (started_) return make_error(Errc::busy, "listen() after start()");
  std::string path;
  if (addr.family() == AF_UNIX) {
    path = reinterpret_cast<const sockaddr_un*>(&addr.storage)->sun_path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        return make_error(Errc::exists, fmt::format("{} exists and is not a socket; not replacing it", path));
      // A live server there keeps it; a stale socket file is replaced.
      auto probe = stream_socket(addr);
      if (probe) {
        const bool live = ::connect(*probe, addr.get(), addr.len) == 0;
        ::close(*probe);
        if (live) return make_error(Errc::exists, fmt::format("{} is in use by a running server", path));
      }
      ::unlink(path.c_str());
    }
  }
  auto fd = listen_on(addr);
  if (!fd) return tl::unexpected(fd.error());
  auto bound = local_address(*fd);
  if (!bound) {
    ::close(*fd);
    return tl::unexpected(bound.error());
  }
  Listener l;
  l.fd = *fd;
  l.addr = addr.family() == AF_UNIX ? addr : *bound;
  l.unix_path = path;
  listeners_.push_back(std::move(l));
  return listeners_.back().addr;
}

Result<void> Server::start() {
  if (listeners_.empty()) return make_error(Errc::invalid_argument, "nothing to listen on");
  for (Listener& l : listeners_) {
    ThreadOptions to;
    to.name = fmt::format("nbd_accept_{}", l.addr.family() == AF_UNIX ? "unix" : "tcp");
    auto t = pool_.spawn(std::move(to));
    if (!t) return tl::unexpected(t.error());
    l.thread = *t;
    l.acceptor = std::make_shared<Acceptor>();
    auto s = spawn(*t, accept_loop(pool_, shared_, opts_, fd_, size_, l.fd, l.acceptor));
    if (!s) return tl::unexpected(s.error());
    l.task = *s;
  }
  started_ = true;
  return {};
}

bool Server::stop(std::chrono::milliseconds bound) {
  if (stopped_) return true;
  stopped_ = true;
  shared_->stopping.store(true);
  const auto end = std::chrono::steady_clock::now() + bound;
  // Stop accepting: on its own thread, the acceptor cancels its request and
  // resumes the accept loop with Errc::cancelled (a connection the kernel
  // accepts meanwhile is closed).
  for (Listener& l : listeners_) {
    if (l.thread && l.acceptor) (void)l.thread.send([a = l.acceptor] { a->stop(); });
  }
  // Each connection stops reading; in-flight commands complete and answer.
  {
    std::lock_guard lk(shared_->mu);
    for (auto& [id, sock] : shared_->open) ::shutdown(sock, SHUT_RD);
  }
  const bool drained = pool_.wait_for(
      [&] {
        for (Listener& l : listeners_)
          if (l.thread && !l.task.done()) return false;
        return shared_->active.load() == 0;
      },
      std::max(std::chrono::milliseconds(1),
               std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now())));
  for (Listener& l : listeners_) {
    ::close(l.fd);
    if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  }
  return drained;
}

ServerStats Server::stats() const noexcept {
  ServerStats s;
  s.connections = shared_->connections.load();
  s.active = shared_->active.load();
  s.requests = shared_->requests.load();
  s.errors = shared_->errors.load();
  s.dropped = shared_->dropped.load();
  s.inline_writes = shared_->inline_writes.load();
  s.inline_slow = shared_->inline_slow.load();
  return s;
}

}  // namespace reactor::nbd
