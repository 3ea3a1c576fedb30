// RpcClient: blocking request/reply over a Unix stream socket.
//
// connect() checks the server's SO_PEERCRED: a server running as another
// uid than ours or root is refused unless trusted (trust_uid()).
// connect() uses a blocking connect bounded by SO_SNDTIMEO: for Unix stream
// sockets Linux waits for room in the server's backlog for that long and then
// fails with EAGAIN. Afterwards the socket is non-blocking and every wait is a
// poll() bounded by the call's deadline. A reply is found with the same
// FrameScanner as requests (the server ends replies with '\n', but nothing
// relies on it) and parsed with nlohmann; bytes after it are kept.

#include "rpc/client.hh"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "rpc/framing.hh"
#include "rpc/json_codec.hh"
#include "rpc/socket_path.hh"

namespace reactor::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;  // far above any real reply
constexpr std::size_t kReplyDepth = 512;
constexpr std::size_t kMaxSunPath = sizeof(sockaddr_un{}.sun_path) - 1;

Errc category_of(int rpc) {
  switch (rpc) {
    case -32601: return Errc::not_found;
    case -32600:
    case -32602: return Errc::invalid_argument;
    default: return Errc::internal;
  }
}

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

}  // namespace

RpcError::RpcError(int rpc, std::string server_message)
    : Error{category_of(rpc), std::move(server_message)}, rpc_code(rpc) {}

RpcClient::~RpcClient() { close(); }

RpcClient::RpcClient(RpcClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      next_id_(other.next_id_),
      buf_(std::move(other.buf_)) {}

RpcClient& RpcClient::operator=(RpcClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    next_id_ = other.next_id_;
    buf_ = std::move(other.buf_);
  }
  return *this;
}

void RpcClient::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

Result<void> RpcClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  close();
  path_ = path;
  if (path.empty()) return make_error(Errc::invalid_argument, "cannot connect: socket path is empty");
  if (path.size() > kMaxSunPath)
    return make_error(Errc::invalid_argument,
                      fmt::format("cannot connect to {}: the path is {} bytes long; a Unix socket "
                                  "path is at most {} bytes",
                                  path, path.size(), kMaxSunPath));
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(Errc::io, fmt::format("cannot connect to {}: socket: {}", path,
                                            std::strerror(errno)));
  // SO_SNDTIMEO bounds a blocking connect on a full backlog (0 would mean
  // forever, so at least 1 ms).
  const auto ms = std::max<std::int64_t>(1, timeout.count());
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  if (const int err = connect_unix(fd, path); err != 0) {
    ::close(fd);
    switch (err) {
      case ENOENT:
        return make_error(Errc::not_found, fmt::format("cannot connect to {}: no such file (is "
                                                       "reactord running?)",
                                                       path));
      case EACCES:
      case EPERM:
        return make_error(Errc::io, fmt::format("cannot connect to {}: permission denied (the "
                                                "socket is mode 0600: run as its owner)",
                                                path));
      case ECONNREFUSED:
        return make_error(Errc::io, fmt::format("cannot connect to {}: connection refused (no "
                                                "server is listening; stale socket file?)",
                                                path));
      case EAGAIN:
      case ETIMEDOUT:
      case EINPROGRESS:
        return make_error(Errc::timeout,
                          fmt::format("cannot connect to {}: timed out after {} ms (the server "
                                      "is not accepting connections)",
                                      path, ms));
      case ENOTSOCK:
        return make_error(Errc::io, fmt::format("cannot connect to {}: not a socket", path));
      default:
        return make_error(Errc::io,
                          fmt::format("cannot connect to {}: {}", path, std::strerror(err)));
    }
  }
  // The server must be who we expect: someone who could write the socket's
  // directory may have put their own listener there.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(Errc::io, fmt::format("cannot connect to {}: cannot read the server's credentials: {}",
                                            path, std::strerror(err)));
  }
  if (cred.uid != ::geteuid() && cred.uid != 0 &&
      std::find(trusted_uids_.begin(), trusted_uids_.end(), cred.uid) == trusted_uids_.end()) {
    ::close(fd);
    return make_error(Errc::io, fmt::format("refusing the server at {}: it runs as uid {}, not as us (uid {}) "
                                            "or root (pass --trust-uid {} if you trust it)",
                                            path, cred.uid, ::geteuid(), cred.uid));
  }
  const timeval zero{};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fd_ = fd;
  return {};
}

RpcResult<nlohmann::json> RpcClient::call(std::string_view method,
                                          const std::optional<nlohmann::json>& params,
                                          std::chrono::milliseconds timeout) {
  if (fd_ < 0)
    return tl::unexpected(
        RpcError(Error{Errc::io, fmt::format("cannot call '{}': not connected", method)}));
  const auto deadline = Clock::now() + timeout;
  const std::uint64_t id = next_id_++;
  auto fail = [&](Errc code, std::string message) {
    close();
    return RpcResult<nlohmann::json>(tl::unexpect, RpcError(Error{code, std::move(message)}));
  };

  nlohmann::ordered_json req;
  req["jsonrpc"] = "2.0";
  req["method"] = std::string(method);
  req["id"] = id;
  if (params) req["params"] = *params;
  const std::string text = to_wire(req);

  for (std::size_t sent = 0; sent < text.size();) {
    const ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) == 0)
        return fail(Errc::timeout, fmt::format("timed out after {} ms sending '{}' to {}",
                                               timeout.count(), method, path_));
      continue;
    }
    return fail(Errc::io, fmt::format("cannot send '{}' to {}: {}", method, path_,
                                      std::strerror(errno)));
  }

  FrameScanner scanner(kReplyDepth);
  std::size_t start = 0;
  for (;;) {
    if (scanner.fresh())
      while (start < buf_.size() && is_json_space(buf_[start])) ++start;
    const ScanResult r = scanner.scan(std::string_view(buf_).substr(start));
    if (r.status == ScanStatus::complete) {
      const std::string reply_text = buf_.substr(start, r.end);
      buf_.erase(0, start + r.end);
      nlohmann::json reply;
      try {
        reply = nlohmann::json::parse(reply_text);
      } catch (const nlohmann::json::exception& e) {
        return fail(Errc::internal, fmt::format("malformed reply from {}: {}", path_, e.what()));
      }
      if (!reply.is_object())
        return fail(Errc::internal, fmt::format("malformed reply from {}: not an object", path_));
      const auto rid = reply.find("id");
      const bool id_ok = rid != reply.end() && rid->is_number_unsigned() &&
                         rid->get<std::uint64_t>() == id;
      if (const auto err = reply.find("error"); err != reply.end()) {
        // Errors about the request itself may carry id null.
        if (!id_ok && !(rid != reply.end() && rid->is_null()))
          return fail(Errc::internal, fmt::format("reply from {} has id {}, expected {}", path_,
                                                  rid == reply.end() ? "none" : rid->dump(), id));
        const auto code = err->find("code");
        const auto msg = err->find("message");
        if (!err->is_object() || code == err->end() || !code->is_number_integer() ||
            msg == err->end() || !msg->is_string())
          return fail(Errc::internal, fmt::format("malformed error reply from {}: {}", path_,
                                                  err->dump()));
        return tl::unexpected(RpcError(code->get<int>(), msg->get<std::string>()));
      }
      if (!id_ok)
        return fail(Errc::internal, fmt::format("reply from {} has id {}, expected {}", path_,
                                                rid == reply.end() ? "none" : rid->dump(), id));
      const auto res = reply.find("result");
      if (res == reply.end())
        return fail(Errc::internal,
                    fmt::format("malformed reply from {}: neither result nor error", path_));
      return std::move(*res);
    }
    if (r.status != ScanStatus::need_more)
      return fail(Errc::internal, fmt::format("malformed reply from {} to '{}'", path_, method));
    if (buf_.size() - start > kMaxReplyBytes)
      return fail(Errc::internal, fmt::format("reply from {} to '{}' exceeds {} MiB", path_,
                                              method, kMaxReplyBytes >> 20));
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0)
      return fail(Errc::timeout, fmt::format("no reply to '{}' from {} within {} ms", method,
                                             path_, timeout.count()));
    char chunk[64 * 1024];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return fail(Errc::io, fmt::format("connection to {} closed before the reply to '{}' "
                                        "arrived",
                                        path_, method));
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return fail(Errc::io, fmt::format("cannot receive the reply to '{}' from {}: {}", method,
                                        path_, std::strerror(errno)));
    }
  }
}

}  // namespace reactor::rpc
