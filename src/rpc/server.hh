#pragma once
/// RpcServer: the JSON-RPC 2.0 server on a Unix stream socket (rpc-compat.md
/// §1), a passive state machine stepped by the runtime's control thread.
///
///   RpcServer server("/run/reactor/reactor.sock");
///   server.add_method("spdk_get_version", MethodSpec{MethodStates::both, handler});
///   if (auto r = server.start(); !r) ...;         // lock, bind, listen
///   while (running) server.poll(std::chrono::milliseconds(100));
///   server.stop();                                // close, unlink socket and lock
///
/// Threading: every member function except wake() is for the one thread that
/// steps the server (the control thread). wake() and RpcResponder (answers
/// given from other threads) may be used from any thread while the server
/// object exists.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <reactor/error.hh>
#include <reactor/log.hh>

#include "rpc/engine.hh"
#include "rpc/method.hh"

namespace reactor::rpc {

/// Identity of a file we created (device and inode); ino 0: none.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
};

/// How long a connection may stay quiet. Defaults: 30 s idle, 10 s to
/// finish a request once its first byte arrived.
struct ConnectionTimeouts {
  /// A connection with no request being served that moved no byte in either
  /// direction for this long is closed (also one whose answers the client
  /// stopped reading).
  std::chrono::milliseconds idle{30'000};
  /// A request whose first byte arrived this long ago and that is still
  /// incomplete is answered -32700 ("Parse error: request not completed
  /// within N s") and the connection is closed.
  std::chrono::milliseconds read{10'000};
};

/// Bounds of a connection timeout given on a command line, in seconds.
inline constexpr double kMinConnectionTimeoutS = 0.1;
inline constexpr double kMaxConnectionTimeoutS = 86400;  // a day

/// Parses a command-line timeout in seconds ("30", "0.5"), within
/// [0.1, 86400]. Errors: invalid_argument naming `option`, e.g.
/// "--rpc-idle-timeout 'x' is not a number of seconds from 0.1 to 86400".
Result<std::chrono::milliseconds> parse_connection_timeout(std::string_view option, std::string_view text);

class RpcServer {
 public:
  /// `socket_path`: where to listen; the lock file is `<socket_path>.lock`.
  /// Nothing is opened until start().
  explicit RpcServer(std::string socket_path, SessionLimits limits = {});
  /// Calls stop().
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  /// Takes the lock file (opened without following symlinks; must be a
  /// regular file owned by our euid; mode 0600, non-blocking exclusive
  /// flock), removes a stale socket file (one nobody listens on), binds with
  /// mode 0600 set before bind, checks that the path now holds the socket it
  /// bound, and listens (backlog 512). Logs a warning when the socket's
  /// directory is writable by others without the sticky bit.
  /// Errors: invalid_argument (path empty or longer than 107 bytes), exists
  /// ("RPC socket path <p> in use (lock <p>.lock held by another process)",
  /// "... in use (a server is listening on it)", a non-socket file at the
  /// path, a lock file that is a symlink, not a regular file or someone
  /// else's, a socket replaced right after bind), io (any system call, with
  /// errno text). On error nothing is left open or created, and nothing that
  /// is not ours is removed.
  Result<void> start();

  /// One service step: waits at most `max_wait` for activity (0: do not
  /// wait; less when a connection's timeout falls due first), then accepts
  /// (keeping at most 64 connections open: when all are taken and a client
  /// waits, the connection idle longest is closed to make room; only when
  /// every one is serving a request or receiving one do new clients wait in
  /// the backlog), reads, parses and dispatches every complete request,
  /// delivers answers, writes as much as the sockets take and closes the
  /// connections whose idle or read timeout passed. Never blocks on a slow
  /// client. Before start() or after stop() it only waits for wake().
  void poll(std::chrono::milliseconds max_wait);

  /// Closes every connection (unwritten answers are dropped) and the
  /// listening socket, and removes the socket file and the lock file if they
  /// are still the files start() created (same device and inode).
  /// Idempotent. A method handler may call it (e.g. a "kill" method): the
  /// poll() in progress then returns without touching the closed sockets.
  void stop();

  /// Removes the socket and lock files if they are still the ones start()
  /// created, without closing anything: for a process about to _exit (a
  /// second stop signal). Any thread, once start() has returned.
  void remove_files() const noexcept;
  /// The socket and lock files start() created (ino 0 before start()), for
  /// a signal handler that must do what remove_files() does without the
  /// object (reactor-bench).
  FileId socket_file_id() const noexcept { return sock_id_; }
  FileId lock_file_id() const noexcept { return lock_id_; }

  /// Makes a poll() that is waiting (or the next one) return promptly. Any
  /// thread.
  void wake() noexcept;
  /// The eventfd behind wake(), for callers that multiplex it themselves
  /// (readable when poll() has something to do). -1 if it could not be
  /// created (start() then fails).
  int wakeup_fd() const noexcept { return wake_fd_; }

  /// Registers a method (see RpcEngine::add_method).
  Result<void> add_method(std::string name, MethodSpec spec) {
    return engine_.add_method(std::move(name), std::move(spec));
  }
  /// Sets the application state that gates methods.
  void set_state(AppState state) noexcept { engine_.set_state(state); }
  AppState state() const noexcept { return engine_.state(); }
  /// The protocol core (registry, sessions) for finer control.
  RpcEngine& engine() noexcept { return engine_; }

  /// Sets the connection timeouts (both must be positive). Call before
  /// start() or between polls; applies to open connections too.
  void set_timeouts(ConnectionTimeouts timeouts) noexcept { timeouts_ = timeouts; }
  const ConnectionTimeouts& timeouts() const noexcept { return timeouts_; }
  /// Connections closed so far by the idle timeout, by the read timeout, and
  /// to make room for a new client.
  std::uint64_t idle_closed_count() const noexcept { return idle_closed_; }
  std::uint64_t read_timeout_count() const noexcept { return read_timeouts_; }
  std::uint64_t evicted_count() const noexcept { return evicted_; }

  /// Who may talk to the server, checked with SO_PEERCRED on each accepted
  /// connection: the server's own euid and root always; allow_uid() and
  /// allow_gid() add a uid or a (primary) gid. A refused connection is closed
  /// at once without a reply and counted; a log line says so (at most one a
  /// second). Call before start() or between polls.
  void allow_uid(uid_t uid) { allowed_uids_.push_back(uid); }
  void allow_gid(gid_t gid) { allowed_gids_.push_back(gid); }
  /// Connections refused by the peer check since construction.
  std::uint64_t refused_count() const noexcept { return refused_; }

  /// Test seam: runs inside start() right after bind(), where a race with
  /// someone who can write the socket's directory would happen.
  void set_after_bind_hook_for_testing(std::function<void()> hook) { after_bind_hook_ = std::move(hook); }

  const std::string& socket_path() const noexcept { return path_; }
  bool running() const noexcept { return listen_fd_ >= 0; }
  /// Connections currently open (accepted and not yet closed).
  std::size_t connection_count() const noexcept { return conns_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    int fd = -1;
    std::uint32_t events = 0;  // current epoll interest
    Clock::time_point last_active{};   // accepted, or last byte read or written
    Clock::time_point request_since{};  // first byte of the incomplete request
    bool receiving = false;             // an incomplete request is being read
  };

  void accept_pending();
  bool peer_allowed(int fd);  // SO_PEERCRED check; logs and counts a refusal
  void read_from(SessionId sid, Conn& c);
  bool flush(SessionId sid, Conn& c);  // false: the connection failed
  void update_interest(SessionId sid, Conn& c);
  void close_conn(SessionId sid);
  void set_listen_interest(bool on);
  // Closes the connection idle longest to make room; false if every one is
  // serving or receiving a request.
  bool evict_idlest();
  // Applies the timeouts to one connection; false if it was closed.
  bool check_timeouts(SessionId sid, Conn& c, Clock::time_point now);
  // When the earliest timeout falls due (max() if none).
  Clock::time_point next_deadline() const;

  std::string path_;
  std::string lock_path_;
  RpcEngine engine_;
  int wake_fd_ = -1;
  int wake_errno_ = 0;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int lock_fd_ = -1;
  FileId sock_id_;  // the socket file bind created (recorded at start)
  FileId lock_id_;  // the lock file we hold (recorded at start)
  bool listening_ = false;  // listen fd in the epoll interest set
  std::chrono::steady_clock::time_point accept_retry_{};
  std::unordered_map<std::uint64_t, Conn> conns_;  // by SessionId value
  std::vector<char> scratch_;                      // receive buffer for recv()
  std::function<void()> after_bind_hook_;          // tests only
  std::vector<uid_t> allowed_uids_;                // besides our euid and root
  std::vector<gid_t> allowed_gids_;
  std::uint64_t refused_ = 0;
  ConnectionTimeouts timeouts_;
  std::uint64_t idle_closed_ = 0;
  std::uint64_t read_timeouts_ = 0;
  std::uint64_t evicted_ = 0;
  RateLimiter evict_log_{1'000'000'000};
  RateLimiter refused_log_{1'000'000'000};  // one line a second (steady_clock ns)
};

}  // namespace reactor::rpc
