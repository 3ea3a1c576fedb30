// Default socket path and its directory (socket_path.hh).
//
// ensure_private_dir() checks with lstat after mkdir, so a directory that
// appeared between the two (or a symlink someone put there) is judged like
// one that existed before: only a directory of our euid without group or
// other write permission is accepted. It does not chmod an existing
// directory: a wrong one is the operator's to fix.

#include "rpc/socket_path.hh"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace reactor::rpc {

Result<std::string> default_socket_path(uid_t euid, const char* xdg_runtime_dir) {
  if (euid == 0) return fmt::format("{}/{}", kRootSocketDir, kDefaultSocketName);
  if (xdg_runtime_dir == nullptr || *xdg_runtime_dir == '\0')
    return make_error(Errc::invalid_argument,
                      fmt::format("no default RPC socket for uid {}: XDG_RUNTIME_DIR is not set", euid));
  if (*xdg_runtime_dir != '/')
    return make_error(Errc::invalid_argument,
                      fmt::format("no default RPC socket for uid {}: XDG_RUNTIME_DIR '{}' is not an "
                                  "absolute path",
                                  euid, xdg_runtime_dir));
  std::string dir = xdg_runtime_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return fmt::format("{}/{}", dir == "/" ? "" : dir, kDefaultSocketName);
}

Result<std::string> default_socket_path() {
  return default_socket_path(::geteuid(), std::getenv("XDG_RUNTIME_DIR"));
}

Result<void> ensure_private_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
    return make_error(Errc::io, fmt::format("cannot create RPC socket directory {}: {}", dir,
                                            std::strerror(errno)));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return make_error(Errc::io, fmt::format("cannot inspect RPC socket directory {}: {}", dir,
                                            std::strerror(errno)));
  if (!S_ISDIR(st.st_mode))
    return make_error(Errc::exists,
                      fmt::format("RPC socket directory {} exists and is not a directory; refusing it", dir));
  if (st.st_uid != ::geteuid())
    return make_error(Errc::exists,
                      fmt::format("RPC socket directory {} is owned by uid {}, not by us (uid {}); refusing it",
                                  dir, st.st_uid, ::geteuid()));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return make_error(Errc::exists,
                      fmt::format("RPC socket directory {} is writable by group or others (mode {:04o}); "
                                  "refusing it (chmod go-w {})",
                                  dir, st.st_mode & 07777, dir));
  return {};
}

int connect_unix(int fd, const std::string& path) noexcept {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  int rc = 0;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

}  // namespace reactor::rpc
