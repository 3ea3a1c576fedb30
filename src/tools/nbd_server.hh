#pragma once
// reactor-nbd's server: the NBD protocol (newstyle fixed handshake, simple
// replies) served by coroutines on lightweight threads. One acceptor thread
// per listening socket; one LwThread per connection, placed by whatever
// policy the runtime runs; file I/O through the connection thread's
// IoChannel. Not installed API: the engine of the reactor-nbd tool.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <reactor/acceptor.hh>
#include <reactor/error.hh>
#include <reactor/net.hh>
#include <reactor/pool.hh>
#include <reactor/task.hh>

namespace reactor::nbd {

struct ExportOptions {
  std::string path;          ///< file or block device
  std::string name;          ///< export name ("" is always accepted too)
  bool read_only = false;
  bool direct = false;       ///< O_DIRECT (4 KiB-aligned requests)
  uint32_t max_request = 32u << 20;  ///< largest READ/WRITE payload
  /// A client must finish the handshake, and every request it started
  /// (header and payload), within these; else it is disconnected.
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  uint32_t max_inflight = 128;  ///< requests in flight per connection
  /// Buffered WRITEs (not --direct) of at most 128 KiB are written with pwrite
  /// on the connection's thread while each takes at most this many
  /// microseconds; after a slower one the connection's next 64 writes go
  /// through io_uring (doubling while the next probes stay slow, up to
  /// 65536). 0: every write through io_uring.
  uint32_t inline_write_us = 50;
};

struct ServerStats {
  uint64_t connections = 0;   ///< accepted so far
  uint64_t active = 0;        ///< open now
  uint64_t requests = 0;      ///< commands answered
  uint64_t errors = 0;        ///< commands answered with an error
  uint64_t dropped = 0;       ///< connections closed for a protocol violation or timeout
  uint64_t inline_writes = 0; ///< buffered writes written inline (counted when a connection closes)
  uint64_t inline_slow = 0;   ///< ... of which took longer than inline_write_us
};

class Server {
 public:
  /// Opens the export (size from fstat or BLKGETSIZE64). Errors name the file.
  static Result<std::unique_ptr<Server>> open(ReactorPool& pool, ExportOptions options);
  ~Server();

  /// Serves `addr` (binds now; a Unix path that holds a live listener is
  /// refused, a stale one replaced). Call before start().
  Result<SocketAddress> listen(const SocketAddress& addr);
  /// Starts one acceptor thread per listener.
  Result<void> start();
  /// Graceful stop: no new connections; each connection stops reading,
  /// completes what is in flight, flushes the export if it wrote, and closes.
  /// Waits at most `bound`; returns false if connections were still open.
  bool stop(std::chrono::milliseconds bound);

  uint64_t size() const noexcept { return size_; }
  ServerStats stats() const noexcept;
  const ExportOptions& options() const noexcept { return opts_; }

  // Used by the protocol code (nbd_server.cc).
  struct Shared;

 private:
  Server(ReactorPool& pool, ExportOptions options, int fd, uint64_t size);

  ReactorPool& pool_;
  ExportOptions opts_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::shared_ptr<Shared> shared_;
  struct Listener {
    int fd = -1;
    SocketAddress addr;
    ThreadRef thread;
    SpawnedTask task;
    std::shared_ptr<Acceptor> acceptor;  // used on `thread` only
    std::string unix_path;  // unlinked at stop
  };
  std::vector<Listener> listeners_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace reactor::nbd
