// write_file_atomically: temp file + fsync + rename + directory fsync.
// The temporary name is "<path>.tmp.XXXXXX" (mkostemp: exclusive, never
// follows a link someone planted), so it is on the same filesystem as `path`
// and rename(2) replaces the directory entry in one step; a file hard-linked
// to the old one keeps the old content.

#include "tools/atomic_file.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace reactor::tools {
namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<void> io_error(std::string_view what, int err) {
  return make_error(Errc::io, fmt::format("{}: {}", what, std::strerror(err)));
}

}  // namespace

Result<void> write_file_atomically(const std::string& path, std::string_view text) {
  if (path.empty()) return make_error(Errc::invalid_argument, "the file name is empty");
  const std::string dir = dir_of(path);
  mode_t mode = 0644;
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return make_error(Errc::invalid_argument, fmt::format("{} is a directory", path));
    mode = st.st_mode & 07777;
  }
  std::vector<char> tmp(path.begin(), path.end());
  for (char c : std::string_view(".tmp.XXXXXX")) tmp.push_back(c);
  tmp.push_back('\0');
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return io_error(fmt::format("cannot create a temporary file in {}", dir), errno);
  const std::string tmp_path(tmp.data());
  auto fail = [&](std::string_view what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    return io_error(what, e);
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot write {}", tmp_path));
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) return fail(fmt::format("cannot set the mode of {}", tmp_path));
  if (::fsync(fd) != 0) return fail(fmt::format("cannot fsync {}", tmp_path));
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp_path.c_str());
    return io_error(fmt::format("cannot close {}", tmp_path), e);
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_path.c_str());
    return io_error(fmt::format("cannot rename {} to {}", tmp_path, path), e);
  }
  // The rename is durable once the directory is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int e = errno;
    ::close(dfd);
    if (rc != 0) return io_error(fmt::format("cannot fsync the directory {}", dir), e);
  }
  return {};
}

}  // namespace reactor::tools
