#pragma once
/// Stream socket addresses and listening sockets for the socket calls of
/// IoChannel (io.hh) and their awaitables (task.hh): TCP over IPv4/IPv6 and
/// Unix stream sockets. Any OS thread; plain system calls (socket, bind,
/// listen), no reactor needed. Errors name the address and the errno.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <reactor/error.hh>

namespace reactor {

/// A socket address of any family (AF_INET, AF_INET6, AF_UNIX).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
  /// "127.0.0.1:10809", "[::1]:10809", "unix:/run/x.sock".
  std::string to_string() const;
};

/// TCP address of `host` (a numeric IPv4/IPv6 address or a name, resolved
/// with getaddrinfo: the first result) and `port`. Errors: invalid_argument
/// (empty host, unknown name).
Result<SocketAddress> tcp_address(std::string_view host, uint16_t port);
/// "HOST:PORT", "[V6]:PORT" or ":PORT" (loopback). Errors: invalid_argument
/// naming what is wrong (no port, port not 0-65535, unknown host).
Result<SocketAddress> parse_host_port(std::string_view text);
/// Unix stream address. Errors: invalid_argument (empty, longer than
/// sun_path, contains a NUL).
Result<SocketAddress> unix_address(std::string_view path);

/// A SOCK_STREAM socket with SOCK_CLOEXEC for
/// `addr`'s family: connect it with IoChannel::connect / co_connect.
Result<int> stream_socket(const SocketAddress& addr);
/// socket + bind + listen (SO_REUSEADDR for TCP). Errors: Errc::exists
/// (address in use), Errc::io (other errno, named).
Result<int> listen_on(const SocketAddress& addr, int backlog = 128);
/// The address `fd` is bound to (port 0 listeners learn their port here).
Result<SocketAddress> local_address(int fd);

}  // namespace reactor
