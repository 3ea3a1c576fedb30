#pragma once
// Helpers for the RPC socket tests: unique short socket paths and a raw,
// non-blocking Unix socket client that the test steps together with the
// server (one OS thread: no timing involved).

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "rpc/server.hh"

namespace reactor::rpc::test {

/// /tmp/rr-<pid>-<n>.sock: short (Unix socket paths are at most 107 bytes)
/// and unique across parallel test processes.
inline std::string unique_socket_path() {
  static std::atomic<int> n{0};
  return fmt::format("/tmp/rr-{}-{}.sock", ::getpid(), n.fetch_add(1));
}

/// Connects to `path`; -1 on failure.
inline int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A raw client socket; everything non-blocking.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(connect_unix(path)) {}
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  /// Writes all of `data`, stepping `server` whenever the socket is full.
  /// Returns false if the server closed the connection first.
  bool write_all(RpcServer& server, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        server.poll(std::chrono::milliseconds(1));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return false;
      }
    }
    return true;
  }

  /// Reads whatever is available into the buffer; notes EOF.
  void read_available() {
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        received_.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0) {
        eof_ = true;
        return;
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK) eof_ = true;
        return;
      }
    }
  }

  /// Steps the server until a full line arrived (or the bound on steps ran
  /// out: a hang becomes a failure, not a stuck test). Returns the line
  /// including its '\n', or "" if none came.
  std::string read_line(RpcServer& server, int max_polls = 4000) {
    for (int i = 0; i < max_polls; ++i) {
      read_available();
      const auto nl = received_.find('\n');
      if (nl != std::string::npos) {
        std::string line = received_.substr(0, nl + 1);
        received_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return "";
      server.poll(std::chrono::milliseconds(5));
    }
    return "";
  }

  /// Steps the server until EOF; true if it came.
  bool wait_eof(RpcServer& server, int max_polls = 4000) {
    for (int i = 0; i < max_polls && !eof_; ++i) {
      read_available();
      if (!eof_) server.poll(std::chrono::milliseconds(5));
    }
    return eof_;
  }

  /// Steps the server `polls` times and returns what arrived meanwhile.
  std::string drain(RpcServer& server, int polls) {
    for (int i = 0; i < polls; ++i) {
      server.poll(std::chrono::milliseconds(1));
      read_available();
    }
    read_available();
    std::string out;
    out.swap(received_);
    return out;
  }

  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string received_;
  bool eof_ = false;
};

}  // namespace reactor::rpc::test
