// Socket addresses and listening sockets (net.hh).

#include <reactor/net.hh>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace reactor {

std::string SocketAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET: {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
      ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
      return fmt::format("{}:{}", buf, ntohs(a->sin_port));
    }
    case AF_INET6: {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
      ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
      return fmt::format("[{}]:{}", buf, ntohs(a->sin6_port));
    }
    case AF_UNIX: {
      const auto* a = reinterpret_cast<const sockaddr_un*>(&storage);
      return fmt::format("unix:{}", a->sun_path);
    }
    default: return fmt::format("family {}", family());
  }
}

Result<SocketAddress> tcp_address(std::string_view host, uint16_t port) {
  if (host.empty()) return make_error(Errc::invalid_argument, "empty host name");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string h(host);
  const std::string p = std::to_string(port);
  if (int rc = ::getaddrinfo(h.c_str(), p.c_str(), &hints, &res); rc != 0 || res == nullptr)
    return make_error(Errc::invalid_argument, fmt::format("cannot resolve host '{}': {}", h, ::gai_strerror(rc)));
  SocketAddress a;
  std::memcpy(&a.storage, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return a;
}

Result<SocketAddress> parse_host_port(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return make_error(Errc::invalid_argument, fmt::format("'{}' is not HOST:PORT (no port)", text));
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return make_error(Errc::invalid_argument, fmt::format("'{}': port '{}' is not a number 0-65535", text, port_text));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  auto a = tcp_address(host, static_cast<uint16_t>(port));
  if (!a) return make_error(Errc::invalid_argument, fmt::format("'{}': {}", text, a.error().message));
  return a;
}

Result<SocketAddress> unix_address(std::string_view path) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  if (path.empty()) return make_error(Errc::invalid_argument, "empty Unix socket path");
  if (path.find('\0') != std::string_view::npos)
    return make_error(Errc::invalid_argument, "Unix socket path contains a NUL byte");
  if (path.size() >= sizeof un->sun_path)
    return make_error(Errc::invalid_argument, fmt::format("Unix socket path of {} bytes: at most {}", path.size(),
                                                          sizeof un->sun_path - 1));
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

Result<int> stream_socket(const SocketAddress& addr) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(Errc::io, fmt::format("socket for {}: {}", addr.to_string(), std::strerror(errno)));
  return fd;
}

Result<int> listen_on(const SocketAddress& addr, int backlog) {
  auto fd = stream_socket(addr);
  if (!fd) return fd;
  if (addr.family() != AF_UNIX) {
    int one = 1;
    (void)::setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (::bind(*fd, addr.get(), addr.len) != 0 || ::listen(*fd, backlog) != 0) {
    const int e = errno;
    ::close(*fd);
    return make_error(e == EADDRINUSE ? Errc::exists : Errc::io,
                      fmt::format("listen on {}: {}", addr.to_string(), std::strerror(e)));
  }
  return fd;
}

Result<SocketAddress> local_address(int fd) {
  SocketAddress a;
  a.len = sizeof a.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0)
    return make_error(Errc::io, fmt::format("getsockname(fd {}): {}", fd, std::strerror(errno)));
  return a;
}

}  // namespace reactor
