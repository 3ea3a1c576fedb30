// The NBD protocol on coroutines (see nbd_server.hh).
//
// Per connection, on its own LwThread:
//   session  - handshake (newstyle fixed: OPT_GO, OPT_INFO, OPT_LIST,
//              OPT_ABORT, OPT_EXPORT_NAME; others ERR_UNSUP), then the
//              reader loop: one request header (and a WRITE's payload) at a
//              time, each command handed to its own task so that reads and
//              writes overlap up to max_inflight;
//   commands - file I/O through the thread's IoChannel, then the reply under
//              the connection's send lock (replies never interleave);
//   watchdog - a 1 s sleep loop that shuts the socket down when the
//              handshake or a started request overruns its timeout
//              (slowloris); the reader then sees EOF and the session ends.
// The session returns only after every command task finished, so their
// references into its frame stay valid. A protocol violation (bad magic, an
// oversized WRITE whose payload cannot be skipped) ends only that connection.

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
#include <deque>

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

// FIFO lock for the connection's socket: one reply on the wire at a time.
struct SendLock {
  bool held = false;
  std::deque<std::coroutine_handle<>> waiters;
  struct Awaiter {
    SendLock& l;
    bool await_ready() noexcept {
      if (l.held) return false;
      l.held = true;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { l.waiters.push_back(h); }
    void await_resume() const noexcept {}
  };
  Awaiter lock() { return Awaiter{*this}; }
  void unlock() {
    if (waiters.empty()) {
      held = false;
      return;
    }
    auto h = waiters.front();  // ownership passes to it
    waiters.pop_front();
    detail::post_resume(*current_thread(), h);
  }
};

struct Connection {
  Server::Shared& shared;
  const ExportOptions& opts;
  int file_fd;
  uint64_t size;
  int sock;
  uint64_t id = 0;
  IoChannel ch;
  SendLock send;
  Event idle;            // inflight reached 0 or dropped below the limit
  uint32_t inflight = 0;
  bool wrote = false;    // something was written: flush at the end
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
    std::vector<std::byte> b(20 + len);
    put64(b.data(), kRepMagic);
    put32(b.data() + 8, opt);
    put32(b.data() + 12, type);
    put32(b.data() + 16, len);
    if (len) std::memcpy(b.data() + 20, data, len);
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

  // Sends a simple reply (and `data` on success) under the send lock.
  Task<void> reply(uint64_t cookie, uint32_t error, const std::byte* data, size_t len) {
    std::byte h[16];
    put32(h, kSimpleReplyMagic);
    put32(h + 4, error);
    put64(h + 8, cookie);
    co_await send.lock();
    if (!broken) {
      auto r = co_await send_bytes(h, sizeof h);
      if (r && error == 0 && len != 0) r = co_await send_bytes(data, len);
      if (!r) broken = true;
    }
    send.unlock();
    shared.requests.fetch_add(1, std::memory_order_relaxed);
    if (error != 0) shared.errors.fetch_add(1, std::memory_order_relaxed);
  }

  Task<uint32_t> file_io(bool write, std::byte* buf, uint32_t len, uint64_t offset) {
    uint32_t done_bytes = 0;
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

  Task<void> do_read(uint64_t cookie, uint64_t offset, uint32_t len) {
    auto buf = AlignedBuffer::allocate(std::max<size_t>(len, 1));
    uint32_t err = buf ? co_await file_io(false, buf->data(), len, offset) : kEio;
    co_await reply(cookie, err, buf ? buf->data() : nullptr, len);
    finish();
  }

  Task<void> do_write(uint64_t cookie, uint16_t flags, uint64_t offset, AlignedBuffer buf, uint32_t len) {
    uint32_t err = co_await file_io(true, buf.data(), len, offset);
    if (err == 0 && (flags & kCmdFlagFua)) err = co_await sync(true);
    co_await reply(cookie, err, nullptr, 0);
    finish();
  }

  Task<void> do_flush(uint64_t cookie) {
    uint32_t err = co_await sync(false);
    co_await reply(cookie, err, nullptr, 0);
    finish();
  }

  Task<void> do_zero(uint64_t cookie, uint16_t type, uint16_t flags, uint64_t offset, uint32_t len) {
    uint32_t err = 0;
    if (type == kCmdTrim) {
      // Advisory: a file system without hole punching keeps the data.
      if (::fallocate(file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), len) != 0 &&
          errno != EOPNOTSUPP)
        err = kEio;
    } else {
      int mode = (flags & kCmdFlagNoHole) ? FALLOC_FL_ZERO_RANGE : (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
      if (::fallocate(file_fd, mode | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), len) != 0) {
        // Devices and file systems without it: write zeroes.
        auto zeros = AlignedBuffer::allocate(std::min<uint32_t>(len, 1u << 20));
        uint32_t pos = 0;
        while (zeros && err == 0 && pos < len) {
          uint32_t n = std::min<uint32_t>(len - pos, static_cast<uint32_t>(zeros->size()));
          err = co_await file_io(true, zeros->data(), n, offset + pos);
          pos += n;
        }
        if (!zeros) err = kEio;
      }
    }
    if (err == 0 && (flags & kCmdFlagFua)) err = co_await sync(true);
    co_await reply(cookie, err, nullptr, 0);
    finish();
  }

  void start_task(Task<void> t) {
    ++inflight;
    if (!co_spawn(std::move(t))) --inflight;
  }
  void finish() {
    --inflight;
    idle.notify();
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

  // Reads and dispatches requests until the client disconnects or breaks
  // the protocol.
  Task<void> transmission() {
    for (;;) {
      while (inflight >= opts.max_inflight) co_await idle.wait();
      if (broken) co_return;
      std::byte h[28];
      // Idle between requests is allowed; once a header starts, the whole
      // request (and a WRITE's payload) must arrive within request_timeout.
      auto first = co_await co_recv(ch, sock, h, 1);
      if (!first || *first == 0) co_return;
      arm(opts.request_timeout);
      if (!co_await co_recv_exact(ch, sock, h + 1, 27)) co_return;
      if (get32(h) != kRequestMagic) {
        shared.dropped.fetch_add(1, std::memory_order_relaxed);
        log(LogLevel::Warn, "reactor-nbd: connection {}: bad request magic {:#x}; closing it", id, get32(h));
        co_return;
      }
      const uint16_t flags = get16(h + 4);
      const uint16_t type = get16(h + 6);
      const uint64_t cookie = get64(h + 8);
      const uint64_t offset = get64(h + 16);
      const uint32_t len = get32(h + 24);
      const bool in_range = offset <= size && len <= size - offset;
      switch (type) {
        case kCmdRead:
          disarm();
          if (len > opts.max_request) start_task(reply_then_finish(cookie, kEoverflow));
          else if (!in_range) start_task(reply_then_finish(cookie, kEinval));
          else start_task(do_read(cookie, offset, len));
          break;
        case kCmdWrite: {
          if (len > opts.max_request) {
            // The payload cannot be skipped safely: answer and disconnect.
            shared.dropped.fetch_add(1, std::memory_order_relaxed);
            start_task(reply_then_finish(cookie, kEoverflow));
            co_return;
          }
          auto buf = AlignedBuffer::allocate(std::max<size_t>(len, 1));
          if (!buf) co_return;
          if (len && !co_await co_recv_exact(ch, sock, buf->data(), len)) co_return;
          disarm();
          if (opts.read_only) start_task(reply_then_finish(cookie, kEperm));
          else if (!in_range) start_task(reply_then_finish(cookie, kEnospc));
          else {
            wrote = true;
            start_task(do_write(cookie, flags, offset, std::move(*buf), len));
          }
          break;
        }
        case kCmdDisc:
          disarm();
          co_return;
        case kCmdFlush:
          disarm();
          start_task(do_flush(cookie));
          break;
        case kCmdTrim:
        case kCmdWriteZeroes:
          disarm();
          if (opts.read_only) start_task(reply_then_finish(cookie, kEperm));
          else if (!in_range) start_task(reply_then_finish(cookie, type == kCmdTrim ? kEinval : kEnospc));
          else {
            wrote = true;
            start_task(do_zero(cookie, type, flags, offset, len));
          }
          break;
        default:
          disarm();
          start_task(reply_then_finish(cookie, kEinval));
      }
    }
  }

  Task<void> reply_then_finish(uint64_t cookie, uint32_t err) {
    co_await reply(cookie, err, nullptr, 0);
    finish();
  }

  Task<void> run() {
    auto c = IoChannel::create({.queue_depth = std::max<uint32_t>(64, opts.max_inflight * 2 + 8)});
    if (!c) {
      log(LogLevel::Error, "reactor-nbd: connection {}: {}", id, c.error().message);
      co_return;
    }
    ch = std::move(*c);
    arm(opts.handshake_timeout);
    if (auto w = co_spawn(watchdog())) watchdog_task = *w;
    if (co_await handshake()) {
      disarm();
      co_await transmission();
    } else {
      shared.dropped.fetch_add(1, std::memory_order_relaxed);
    }
    disarm();
    // Nothing is read any more: let in-flight commands finish and answer.
    while (inflight > 0) co_await idle.wait();
    if (wrote) (void)co_await sync(false);
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

Task<void> accept_loop(ReactorPool& pool, std::shared_ptr<Server::Shared> shared, ExportOptions opts, int file_fd, uint64_t size, int listen_fd) {
  auto ch = IoChannel::create({.queue_depth = 4});
  if (!ch) {
    log(LogLevel::Error, "reactor-nbd: acceptor: {}", ch.error().message);
    co_return;
  }
  while (!shared->stopping.load()) {
    auto fd = co_await co_accept(*ch, listen_fd);
    if (!fd) {
      if (shared->stopping.load()) break;
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
    auto s = spawn(*t, accept_loop(pool_, shared_, opts_, fd_, size_, l.fd));
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
  // Stop accepting: a pending accept ends with an error on a shut-down
  // listener; a connection to it wakes one that did not.
  for (Listener& l : listeners_) {
    ::shutdown(l.fd, SHUT_RDWR);
    if (!pool_.wait_for([&] { return l.task.done(); }, std::chrono::milliseconds(200))) {
      if (auto s = stream_socket(l.addr)) {
        (void)::connect(*s, l.addr.get(), l.addr.len);
        ::close(*s);
      }
    }
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
  return s;
}

}  // namespace reactor::nbd
