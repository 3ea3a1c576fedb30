// RpcServer: Unix socket transport around RpcEngine (rpc-compat.md §1.1).
//
// Startup order (each step undone if a later one fails):
//   1. open "<path>.lock" with O_NOFOLLOW, refuse anything but a regular file
//      owned by our euid, flock(LOCK_EX|LOCK_NB): the lock, not the socket
//      file, says who owns the path, so a socket left by a crashed process
//      is recognised as stale;
//   2. remove the stale socket: only a socket, and only when connect() is
//      refused (a live listener whose lock file was deleted is "in use");
//   3. socket, fchmod 0600 (before bind: the file is created with that mode,
//      nothing is chmodded by path), bind, lstat the path (must be a socket
//      of our euid: otherwise refused), listen(512). The device and inode of
//      the lock file and of the socket file are recorded.
// Shutdown: close connections and the listening socket, unlink the socket,
// unlink the lock file (each only if it is still the file recorded at start:
// a file put there since is someone else's), then release the lock by
// closing it.
//
// Peers: each accepted connection's SO_PEERCRED must name our euid, root, an
// allowed uid or an allowed gid; any other is closed before a session is
// opened for it (no reply: nothing is read from it).
//
// One poll(): epoll_wait (level-triggered) -> accept / read (one recv of up
// to the session's free buffer space per readable connection) -> deliver
// answers -> for every connection: write what the socket takes, serve
// requests that waited for backpressure, close finished sessions, update
// the epoll interest. Interest follows the engine: EPOLLIN only while the
// session accepts bytes, EPOLLOUT only while output waits, so a paused or
// slow connection never makes epoll_wait spin. EPOLLHUP on a connection
// that is not being read means the peer is gone entirely: its answers could
// not be delivered, so it is closed at once.
//
// Limits, so that no client can starve the operator: at most 64 connections.
// When all 64 are open and a client waits in the backlog, the connection
// idle longest (no request being served or received) is closed to make room,
// so reactorctl always gets through while clients sit on idle connections.
// Only when every connection is serving a request or receiving one does the
// listening socket leave the interest set; it is retried every 100 ms and
// comes back as soon as a slot frees. Each connection has an idle timeout
// (30 s without a byte either way and no request being served) and a read
// timeout (10 s from the first byte of a request to its last: the request is
// answered -32700 and the connection closed); poll() waits no longer than
// the earliest of them.

#include "rpc/server.hh"
#include "rpc/socket_path.hh"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <reactor/log.hh>

namespace reactor::rpc {
namespace {

constexpr std::uint64_t kListenTag = 0;  // session ids start at 1
constexpr std::uint64_t kWakeTag = UINT64_MAX;
constexpr int kBacklog = 512;             // SPDK's listen backlog
constexpr std::size_t kMaxSunPath = sizeof(sockaddr_un{}.sun_path) - 1;  // 107 on Linux
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string errno_text(int err) { return std::strerror(err); }

void drain_eventfd(int fd) {
  std::uint64_t v = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd, &v, sizeof v);
}

int clamp_timeout(std::chrono::milliseconds d) {
  if (d.count() <= 0) return 0;
  return d.count() > INT_MAX ? INT_MAX : static_cast<int>(d.count());
}

// Removes `path` only if it is still the file `id` names (a file put there
// since belongs to someone else: a second daemon, an operator).
void unlink_if_same(const std::string& path, const FileId& id) noexcept {
  if (id.ino == 0) return;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino)
    ::unlink(path.c_str());
}

// Whether a server listens on the socket file at `path`: 1 yes, 0 no (a stale
// file: connection refused, or gone), -errno when it cannot be told.
int probe_listener(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int err = connect_unix(fd, path);
  ::close(fd);
  if (err == 0 || err == EAGAIN) return 1;  // EAGAIN: a live listener with a full backlog
  if (err == ECONNREFUSED || err == ENOENT) return 0;
  return -err;
}

// A directory that others may write without the sticky bit lets them rename
// or delete our socket and put theirs in its place.
void warn_if_directory_unsafe(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return;
  if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0)
    log(LogLevel::Warn,
        "rpc: directory {} of RPC socket {} is writable by others without the sticky bit: anyone can "
        "replace the socket; prefer a private directory",
        dir, path);
}

}  // namespace

Result<std::chrono::milliseconds> parse_connection_timeout(std::string_view option, std::string_view text) {
  const std::string t(text);
  char* end = nullptr;
  errno = 0;
  const double v = t.empty() ? std::nan("") : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || errno != 0 || !std::isfinite(v) || v < kMinConnectionTimeoutS ||
      v > kMaxConnectionTimeoutS || !(t[0] >= '0' && t[0] <= '9'))
    return make_error(Errc::invalid_argument,
                      fmt::format("{} '{}' is not a number of seconds from {} to {}", option, t,
                                  kMinConnectionTimeoutS, kMaxConnectionTimeoutS));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
}

RpcServer::RpcServer(std::string socket_path, SessionLimits limits)
    : path_(std::move(socket_path)), lock_path_(path_ + ".lock"), engine_(limits) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) wake_errno_ = errno;
  engine_.set_wake_fd(wake_fd_);
}

RpcServer::~RpcServer() {
  stop();
  engine_.set_wake_fd(-1);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<void> RpcServer::start() {
  if (running()) return make_error(Errc::busy, fmt::format("RPC server on {} is already running", path_));
  if (wake_fd_ < 0)
    return make_error(Errc::io, fmt::format("cannot create the RPC server's eventfd: {}",
                                            errno_text(wake_errno_)));
  if (path_.empty()) return make_error(Errc::invalid_argument, "RPC socket path is empty");
  if (path_.size() > kMaxSunPath)
    return make_error(Errc::invalid_argument,
                      fmt::format("RPC socket path {} is {} bytes long; a Unix socket path is at "
                                  "most {} bytes",
                                  path_, path_.size(), kMaxSunPath));

  // 1. The lock: never through a symlink, and only a regular file of ours
  //    (someone else's file would let them hold the lock, or make us write
  //    to a file they chose).
  const int lock_fd =
      ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    const int err = errno;
    if (err == ELOOP)
      return make_error(Errc::exists,
                        fmt::format("RPC lock file {} is a symbolic link; refusing to follow it", lock_path_));
    return make_error(Errc::io,
                      fmt::format("cannot open RPC lock file {}: {}", lock_path_, errno_text(err)));
  }
  struct stat lock_st {};
  if (::fstat(lock_fd, &lock_st) != 0) {
    const int err = errno;
    ::close(lock_fd);
    return make_error(Errc::io,
                      fmt::format("cannot inspect RPC lock file {}: {}", lock_path_, errno_text(err)));
  }
  if (!S_ISREG(lock_st.st_mode)) {
    ::close(lock_fd);
    return make_error(Errc::exists,
                      fmt::format("RPC lock file {} is not a regular file; refusing it", lock_path_));
  }
  if (lock_st.st_uid != ::geteuid()) {
    ::close(lock_fd);
    return make_error(Errc::exists,
                      fmt::format("RPC lock file {} is owned by uid {}, not by us (uid {}); refusing it",
                                  lock_path_, lock_st.st_uid, ::geteuid()));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK)
      return make_error(Errc::exists,
                        fmt::format("RPC socket path {} in use (lock {} held by another process)",
                                    path_, lock_path_));
    return make_error(Errc::io,
                      fmt::format("cannot lock RPC lock file {}: {}", lock_path_, errno_text(err)));
  }
  ::fchmod(lock_fd, 0600);  // an older lock file of ours may have a wider mode
  lock_id_ = FileId{lock_st.st_dev, lock_st.st_ino};
  sock_id_ = {};
  int sock = -1;
  bool bound = false;
  auto undo = [&](Errc code, std::string message) {
    if (sock >= 0) ::close(sock);
    if (bound) unlink_if_same(path_, sock_id_);
    unlink_if_same(lock_path_, lock_id_);
    ::close(lock_fd);
    return make_error(code, std::move(message));
  };

  // 2. A stale socket: only a socket, and only if nobody listens on it (the
  //    lock file may have been deleted under a live server).
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return undo(Errc::exists,
                  fmt::format("RPC socket path {} exists and is not a socket; not replacing it",
                              path_));
    const int probe = probe_listener(path_);
    if (probe > 0)
      return undo(Errc::exists,
                  fmt::format("RPC socket path {} in use (a server is listening on it)", path_));
    if (probe < 0)
      return undo(Errc::io, fmt::format("cannot tell whether a server listens on RPC socket {}: {}",
                                        path_, errno_text(-probe)));
    if (::unlink(path_.c_str()) != 0)
      return undo(Errc::io, fmt::format("cannot remove stale RPC socket {}: {}", path_,
                                        errno_text(errno)));
  } else if (errno != ENOENT) {
    return undo(Errc::io, fmt::format("cannot inspect RPC socket path {}: {}", path_,
                                      errno_text(errno)));
  }

  // 3. Socket. The mode is set on the socket before bind: Linux creates the
  //    file with the socket inode's mode minus the umask, so there is no
  //    window with a wider mode and no chmod() by path that a symlink
  //    swapped in after bind could redirect.
  sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return undo(Errc::io, fmt::format("cannot create RPC socket: {}", errno_text(errno)));
  if (::fchmod(sock, 0600) != 0)
    return undo(Errc::io, fmt::format("cannot set mode 0600 on RPC socket {}: {}", path_,
                                      errno_text(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (::bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return undo(Errc::io, fmt::format("cannot bind RPC socket {}: {}", path_, errno_text(errno)));
  if (after_bind_hook_) after_bind_hook_();
  // What is at the path now must be the socket bind created: a socket of
  // ours. Its identity is what stop() removes, and nothing else.
  if (::lstat(path_.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid())
    return undo(Errc::exists,
                fmt::format("RPC socket path {} was replaced right after bind (not the socket we "
                            "bound); refusing it",
                            path_));
  bound = true;
  sock_id_ = FileId{st.st_dev, st.st_ino};
  warn_if_directory_unsafe(path_);
  if (::listen(sock, kBacklog) != 0)
    return undo(Errc::io,
                fmt::format("cannot listen on RPC socket {}: {}", path_, errno_text(errno)));

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return undo(Errc::io, fmt::format("cannot create epoll: {}", errno_text(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  bool ok = ::epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
  ev.data.u64 = kListenTag;
  ok = ok && ::epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) == 0;
  if (!ok) {
    const int err = errno;
    ::close(ep);
    return undo(Errc::io, fmt::format("cannot register RPC socket with epoll: {}", errno_text(err)));
  }
  epoll_fd_ = ep;
  listen_fd_ = sock;
  lock_fd_ = lock_fd;
  listening_ = true;
  accept_retry_ = {};
  if (scratch_.empty()) scratch_.resize(kMaxRequestBytes);
  return {};
}

void RpcServer::stop() {
  std::vector<std::uint64_t> ids;
  ids.reserve(conns_.size());
  for (const auto& kv : conns_) ids.push_back(kv.first);
  for (std::uint64_t id : ids) close_conn(SessionId{id});
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    unlink_if_same(path_, sock_id_);
  }
  if (lock_fd_ >= 0) {
    unlink_if_same(lock_path_, lock_id_);
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
  listening_ = false;
}

void RpcServer::remove_files() const noexcept {
  unlink_if_same(path_, sock_id_);
  unlink_if_same(lock_path_, lock_id_);
}

void RpcServer::wake() noexcept {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void RpcServer::poll(std::chrono::milliseconds max_wait) {
  int timeout = engine_.completions_pending() ? 0 : clamp_timeout(max_wait);
  if (!running()) {
    if (wake_fd_ < 0) return;
    pollfd p{wake_fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout) > 0) drain_eventfd(wake_fd_);
    engine_.deliver_completions();  // answers for sessions that are gone
    return;
  }
  const auto now = Clock::now();
  if (!listening_ && accept_retry_ > now) {
    const auto until = std::chrono::ceil<std::chrono::milliseconds>(accept_retry_ - now);
    timeout = std::min(timeout, clamp_timeout(until));
  }
  if (const auto due = next_deadline(); due != Clock::time_point::max()) {
    const auto until = due > now ? std::chrono::ceil<std::chrono::milliseconds>(due - now) : std::chrono::milliseconds(0);
    timeout = std::min(timeout, clamp_timeout(until));
  }

  epoll_event evs[kMaxConnections + 2];
  const int n = ::epoll_wait(epoll_fd_, evs, static_cast<int>(std::size(evs)), timeout);
  if (n < 0 && errno != EINTR) log(LogLevel::Warn, "rpc: epoll_wait failed: {}", errno_text(errno));
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = evs[i].data.u64;
    const std::uint32_t what = evs[i].events;
    if (tag == kWakeTag) {
      drain_eventfd(wake_fd_);
      continue;
    }
    if (tag == kListenTag) {
      if (running()) accept_pending();
      continue;
    }
    const auto it = conns_.find(tag);
    if (it == conns_.end()) continue;
    if ((what & EPOLLIN) != 0 && (it->second.events & EPOLLIN) != 0) {
      read_from(SessionId{tag}, it->second);
    } else if ((what & (EPOLLHUP | EPOLLERR)) != 0) {
      close_conn(SessionId{tag});
    }
  }

  engine_.deliver_completions();

  std::vector<std::uint64_t> ids;
  ids.reserve(conns_.size());
  for (const auto& kv : conns_) ids.push_back(kv.first);
  for (std::uint64_t id : ids) {
    // Look the connection up again after anything that runs handlers: a
    // handler may have stopped the server.
    const SessionId sid{id};
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (!flush(sid, it->second)) {
      close_conn(sid);
      continue;
    }
    engine_.pump(sid);  // requests that waited for the output to drain
    it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (!flush(sid, it->second)) {
      close_conn(sid);
      continue;
    }
    if (engine_.finished(sid)) {
      close_conn(sid);
      continue;
    }
    if (!check_timeouts(sid, it->second, Clock::now())) continue;
    update_interest(sid, it->second);
  }

  if (running() && !listening_ && Clock::now() >= accept_retry_) {
    set_listen_interest(true);
    accept_pending();
  }
}

bool RpcServer::check_timeouts(SessionId sid, Conn& c, Clock::time_point now) {
  const bool receiving = engine_.request_started(sid);
  if (receiving && !c.receiving) c.request_since = now;
  c.receiving = receiving;
  if (receiving && now - c.request_since >= timeouts_.read) {
    ++read_timeouts_;
    log(LogLevel::Debug, "rpc: closing a connection on {}: request not completed within {} ms", path_,
        timeouts_.read.count());
    engine_.abandon_request(sid, fmt::format("request not completed within {} s",
                                             std::chrono::duration<double>(timeouts_.read).count()));
    flush(sid, c);  // best effort: the client may not be reading either
    close_conn(sid);
    return false;
  }
  if (!receiving && !engine_.serving(sid) && now - c.last_active >= timeouts_.idle) {
    ++idle_closed_;
    log(LogLevel::Debug, "rpc: closing a connection on {} idle for {} ms", path_, timeouts_.idle.count());
    close_conn(sid);
    return false;
  }
  return true;
}

RpcServer::Clock::time_point RpcServer::next_deadline() const {
  auto due = Clock::time_point::max();
  for (const auto& [id, c] : conns_) {
    const SessionId sid{id};
    if (c.receiving) due = std::min(due, c.request_since + timeouts_.read);
    else if (!engine_.serving(sid)) due = std::min(due, c.last_active + timeouts_.idle);
  }
  return due;
}

bool RpcServer::evict_idlest() {
  std::uint64_t victim = 0;
  Clock::time_point oldest = Clock::time_point::max();
  for (const auto& [id, c] : conns_) {
    const SessionId sid{id};
    if (engine_.serving(sid) || engine_.request_started(sid)) continue;
    if (c.last_active < oldest) {
      oldest = c.last_active;
      victim = id;
    }
  }
  if (victim == 0) return false;
  ++evicted_;
  const auto now = Clock::now();
  std::uint64_t suppressed = 0;
  if (evict_log_.allow(static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()),
                       suppressed))
    log(LogLevel::Warn,
        "rpc: {} connections open on {}: closed the one idle longest ({} ms) to let a new client in{}",
        kMaxConnections, path_, std::chrono::duration_cast<std::chrono::milliseconds>(now - oldest).count(),
        suppressed > 0 ? fmt::format("; {} more closed since the last line", suppressed) : std::string());
  close_conn(SessionId{victim});
  return true;
}

// Whether a client waits in the listening socket's backlog.
static bool client_waiting(int listen_fd) {
  pollfd p{listen_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

void RpcServer::accept_pending() {
  for (;;) {
    if (conns_.size() >= kMaxConnections) {
      if (!client_waiting(listen_fd_)) return;
      if (!evict_idlest()) {
        // Every connection is busy: new clients wait in the backlog; look
        // again shortly instead of spinning on the readable socket.
        set_listen_interest(false);
        accept_retry_ = Clock::now() + kAcceptRetry;
        return;
      }
    }
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      // Out of descriptors or memory: the client stays in the backlog; stop
      // watching the listening socket for a while instead of spinning on it.
      log(LogLevel::Warn, "rpc: cannot accept a connection on {}: {}", path_, errno_text(err));
      set_listen_interest(false);
      accept_retry_ = std::chrono::steady_clock::now() + kAcceptRetry;
      return;
    }
    if (!peer_allowed(fd)) {
      ::close(fd);
      continue;
    }
    const SessionId sid = engine_.open_session();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(sid);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      log(LogLevel::Warn, "rpc: cannot watch a new connection: {}", errno_text(errno));
      ::close(fd);
      engine_.close_session(sid);
      continue;
    }
    Conn conn;
    conn.fd = fd;
    conn.events = EPOLLIN;
    conn.last_active = Clock::now();
    conns_.emplace(static_cast<std::uint64_t>(sid), conn);
  }
}

bool RpcServer::peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    if (cred.uid == ::geteuid() || cred.uid == 0) return true;
    if (std::find(allowed_uids_.begin(), allowed_uids_.end(), cred.uid) != allowed_uids_.end()) return true;
    if (std::find(allowed_gids_.begin(), allowed_gids_.end(), cred.gid) != allowed_gids_.end()) return true;
  }
  ++refused_;
  const auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  std::uint64_t suppressed = 0;
  if (refused_log_.allow(now, suppressed))
    log(LogLevel::Warn,
        "rpc: refused a client of uid {} gid {} pid {} on {} (allowed: our uid, root, --allow-uid, "
        "--allow-gid){}",
        cred.uid, cred.gid, cred.pid, path_,
        suppressed > 0 ? fmt::format("; {} more refused since the last line", suppressed) : std::string());
  return false;
}

void RpcServer::set_listen_interest(bool on) {
  if (on == listening_ || listen_fd_ < 0) return;
  epoll_event ev{};
  ev.events = on ? static_cast<std::uint32_t>(EPOLLIN) : 0U;
  ev.data.u64 = kListenTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev) == 0) listening_ = on;
}

void RpcServer::read_from(SessionId sid, Conn& c) {
  const std::size_t space = std::min(engine_.read_space(sid), scratch_.size());
  if (space == 0) return;
  const ssize_t n = ::recv(c.fd, scratch_.data(), space, MSG_DONTWAIT);
  if (n > 0) {
    c.last_active = Clock::now();
    engine_.feed(sid, std::string_view(scratch_.data(), static_cast<std::size_t>(n)));
  } else if (n == 0) {
    engine_.end_of_input(sid);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    close_conn(sid);  // reset by the peer: nothing can be delivered
  }
}

bool RpcServer::flush(SessionId sid, Conn& c) {
  for (;;) {
    const std::string_view out = engine_.pending_output(sid);
    if (out.empty()) return true;
    const ssize_t n = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.last_active = Clock::now();
      engine_.consume_output(sid, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // EPIPE, ECONNRESET: the peer is gone
  }
}

void RpcServer::update_interest(SessionId sid, Conn& c) {
  std::uint32_t want = 0;
  if (engine_.read_space(sid) > 0) want |= EPOLLIN;
  if (!engine_.pending_output(sid).empty()) want |= EPOLLOUT;
  if (want == c.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = static_cast<std::uint64_t>(sid);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) == 0) c.events = want;
}

void RpcServer::close_conn(SessionId sid) {
  const auto it = conns_.find(static_cast<std::uint64_t>(sid));
  if (it == conns_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  conns_.erase(it);
  engine_.close_session(sid);
}

}  // namespace reactor::rpc
