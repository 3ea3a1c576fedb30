#pragma once
/// RpcServer: the JSON-RPC 2.0 server on a Unix stream socket (rpc-compat.md
/// §1), a passive state machine stepped by the runtime's control thread.
///
///   RpcServer server("/var/tmp/reactor.sock");
///   server.add_method("spdk_get_version", MethodSpec{MethodStates::both, handler});
///   if (auto r = server.start(); !r) ...;         // lock, bind, listen
///   while (running) server.poll(std::chrono::milliseconds(100));
///   server.stop();                                // close, unlink socket and lock
///
/// Threading: every member function except wake() is for the one thread that
/// steps the server (the control thread). wake() and RpcResponder (answers
/// given from other threads) may be used from any thread while the server
/// object exists.

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <reactor/error.hh>

#include "rpc/engine.hh"
#include "rpc/method.hh"

namespace reactor::rpc {

class RpcServer {
 public:
  /// `socket_path`: where to listen; the lock file is `<socket_path>.lock`.
  /// Nothing is opened until start().
  explicit RpcServer(std::string socket_path, SessionLimits limits = {});
  /// Calls stop().
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  /// Takes the lock file (mode 0600, non-blocking exclusive flock), removes a
  /// stale socket file, binds, sets mode 0600 and listens (backlog 512).
  /// Errors: invalid_argument (path empty or longer than 107 bytes), exists
  /// ("RPC socket path <p> in use (lock <p>.lock held by another process)",
  /// or a non-socket file at the path), io (any system call, with errno
  /// text). On error nothing is left open or created except the lock file
  /// of a path that is in use by someone else (untouched).
  Result<void> start();

  /// One service step: waits at most `max_wait` for activity (0: do not
  /// wait), then accepts (keeping at most 64 connections open; the rest wait
  /// in the backlog), reads, parses and dispatches every complete request,
  /// delivers answers and writes as much as the sockets take. Never blocks on
  /// a slow client. Before start() or after stop() it only waits for wake().
  void poll(std::chrono::milliseconds max_wait);

  /// Closes every connection (unwritten answers are dropped) and the
  /// listening socket, and removes the socket file and the lock file.
  /// Idempotent. A method handler may call it (e.g. a "kill" method): the
  /// poll() in progress then returns without touching the closed sockets.
  void stop();

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

  const std::string& socket_path() const noexcept { return path_; }
  bool running() const noexcept { return listen_fd_ >= 0; }
  /// Connections currently open (accepted and not yet closed).
  std::size_t connection_count() const noexcept { return conns_.size(); }

 private:
  struct Conn {
    int fd = -1;
    std::uint32_t events = 0;  // current epoll interest
  };

  void accept_pending();
  void read_from(SessionId sid, Conn& c);
  bool flush(SessionId sid, Conn& c);  // false: the connection failed
  void update_interest(SessionId sid, Conn& c);
  void close_conn(SessionId sid);
  void set_listen_interest(bool on);

  std::string path_;
  std::string lock_path_;
  RpcEngine engine_;
  int wake_fd_ = -1;
  int wake_errno_ = 0;
  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int lock_fd_ = -1;
  bool listening_ = false;  // listen fd in the epoll interest set
  std::chrono::steady_clock::time_point accept_retry_{};
  std::unordered_map<std::uint64_t, Conn> conns_;  // by SessionId value
  std::vector<char> scratch_;                      // receive buffer for recv()
};

}  // namespace reactor::rpc
