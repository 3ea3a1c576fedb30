// reactor-bench: opening and checking the targets, laying out the temp file.
//
// The temp file is unlinked the moment it is open (and, with --direct, open a
// second time with O_DIRECT): nothing can leave it behind, not an error, not
// SIGINT, not SIGKILL. It is then written in full with a non-zero pattern
// (O_DIRECT reads of never-written extents return zeros without touching the
// device), as fio lays out its files, and flushed for --direct.
//
// Every failure is one line naming the path and what to do, in the order a
// user meets them: missing, permission, not a file, too small, O_DIRECT
// unsupported or misaligned, disk full.

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "tools/reactor_bench.hh"

namespace reactor::bench {
namespace {

constexpr uint64_t kDefaultSize = 64ull << 20;  // the default temp file size
constexpr size_t kLayoutChunk = 1 << 20;

std::string errno_text(int e) { return std::strerror(e); }

Result<void> open_error(const std::string& path, int e, bool device_hint) {
  switch (e) {
    case ENOENT:
      return make_error(Errc::not_found, fmt::format("no such file or device: {}", path));
    case EACCES:
    case EPERM:
      return make_error(Errc::io, fmt::format("permission denied opening {}{}", path,
                                              device_hint ? " (block devices need root or the 'disk' group)" : ""));
    case EROFS:
      return make_error(Errc::io, fmt::format("{} is on a read-only file system (the workload writes)", path));
    case EINVAL:
      return make_error(Errc::unsupported,
                        fmt::format("cannot open {} with O_DIRECT: its file system does not support direct I/O", path));
    default:
      return make_error(Errc::io, fmt::format("cannot open {}: {}", path, errno_text(e)));
  }
}

// Logical block size for O_DIRECT offsets and lengths.
uint32_t direct_alignment(int fd, bool block_device) {
  if (block_device) {
    int lbs = 0;
    if (::ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0) return static_cast<uint32_t>(lbs);
    return 512;
  }
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
      sx.stx_dio_offset_align > 0)
    return sx.stx_dio_offset_align;
  return 512;  // kernels before 6.1 do not say; the common logical block size
}

Result<void> check_direct(const Target& t, uint64_t io_size) {
  if (io_size % t.block_size != 0)
    return make_error(Errc::invalid_argument,
                      fmt::format("O_DIRECT needs -o ({} bytes) to be a multiple of the logical block size ({} bytes) "
                                  "of {}",
                                  io_size, t.block_size, t.path));
  return {};
}

Result<void> check_size(Target& t, const TargetRequest& req, uint64_t actual) {
  if (req.size && *req.size > actual)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} holds {} bytes, less than --size {}", t.path, actual, *req.size));
  uint64_t use = req.size ? *req.size : actual;
  if (req.size && use < req.io_size)  // parse_cli refuses this first; the file is not at fault
    return make_error(Errc::invalid_argument,
                      fmt::format("--size {} is less than one I/O (-o {})", format_size(use), format_size(req.io_size)));
  if (use < req.io_size)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} is too small: {} bytes, less than one I/O (-o {})", t.path, use, req.io_size));
  t.size = use / req.io_size * req.io_size;
  return {};
}

// Writes `size` bytes of a non-zero pattern (every 4 KiB block stamped with
// its offset, so no two blocks are equal and none is zero).
Result<void> lay_out(int fd, uint64_t size, const std::string& where) {
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (rc == ENOSPC || rc == EDQUOT)
    return make_error(Errc::io, fmt::format("disk full: cannot lay out {} in {} ({})", format_size(size), where,
                                            errno_text(rc)));
  std::vector<unsigned char> chunk(kLayoutChunk);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (auto& c : chunk) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<unsigned char>(x | 1);
  }
  for (uint64_t off = 0; off < size; off += kLayoutChunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kLayoutChunk, size - off));
    for (size_t b = 0; b + sizeof(uint64_t) <= n; b += 4096) {
      const uint64_t stamp = off + b + 1;
      std::memcpy(&chunk[b], &stamp, sizeof stamp);
    }
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd, chunk.data() + done, n - done, static_cast<off_t>(off + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const int e = errno;
        if (e == ENOSPC || e == EDQUOT)
          return make_error(Errc::io, fmt::format("disk full: cannot lay out {} in {} ({})", format_size(size),
                                                  where, errno_text(e)));
        return make_error(Errc::io, fmt::format("cannot lay out the temp file in {}: {}", where, errno_text(e)));
      }
      done += static_cast<size_t>(w);
    }
  }
  if (::fdatasync(fd) != 0) {
    const int e = errno;
    if (e == ENOSPC || e == EDQUOT)
      return make_error(Errc::io, fmt::format("disk full: cannot flush {} in {} ({})", format_size(size), where,
                                              errno_text(e)));
  }
  return {};
}

Result<Target> open_temp(const TargetRequest& req) {
  const char* env = std::getenv("TMPDIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : "/var/tmp";
  const uint64_t size = req.size.value_or(kDefaultSize);
  if (size < req.io_size)
    return make_error(Errc::invalid_argument,
                      fmt::format("--size {} is smaller than one I/O (-o {})", size, req.io_size));
  std::string path = dir + "/reactor-bench.XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT)
      return make_error(Errc::not_found, fmt::format("temp directory {} does not exist (set TMPDIR)", dir));
    if (e == EACCES || e == EPERM || e == EROFS)
      return make_error(Errc::io, fmt::format("cannot create a temp file in {}: {} (set TMPDIR)", dir, errno_text(e)));
    if (e == ENOSPC || e == EDQUOT)
      return make_error(Errc::io, fmt::format("disk full: cannot create a temp file in {}", dir));
    return make_error(Errc::io, fmt::format("cannot create a temp file in {}: {}", dir, errno_text(e)));
  }
  Target t;
  t.path = path;
  t.temporary = true;
  int dfd = -1;
  if (req.direct) {
    dfd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    const int e = errno;
    if (dfd < 0) {
      ::unlink(path.c_str());
      ::close(fd);
      if (e == EINVAL)
        return make_error(Errc::unsupported,
                          fmt::format("--direct: the file system of {} does not support O_DIRECT (set TMPDIR to a "
                                      "directory on a disk)",
                                      dir));
      return make_error(Errc::io, fmt::format("cannot reopen the temp file in {} with O_DIRECT: {}", dir, errno_text(e)));
    }
  }
  ::unlink(path.c_str());  // from here on nothing can leave it behind
  t.path = fmt::format("the temp file in {}", dir);
  t.size = size / req.io_size * req.io_size;
  if (req.direct) {
    t.block_size = direct_alignment(dfd, false);
    if (auto c = check_direct(t, req.io_size); !c) {
      ::close(dfd);
      ::close(fd);
      return tl::unexpected(c.error());
    }
  }
  if (auto l = lay_out(fd, t.size, dir); !l) {
    if (dfd >= 0) ::close(dfd);
    ::close(fd);
    return tl::unexpected(l.error());
  }
  if (dfd >= 0) {
    ::close(fd);
    t.fd = dfd;
  } else {
    t.fd = fd;
  }
  t.path = fmt::format("{} (temp, {}, removed)", path, format_size(t.size));
  return t;
}

Result<Target> open_named(const std::string& path, const TargetRequest& req) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    auto e = open_error(path, errno, false);
    return tl::unexpected(e.error());
  }
  Target t;
  t.path = path;
  t.block_device = S_ISBLK(st.st_mode);
  if (!t.block_device && !S_ISREG(st.st_mode))
    return make_error(Errc::invalid_argument, fmt::format("{} is not a regular file or a block device", path));
  int flags = (req.write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (req.direct ? O_DIRECT : 0);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    auto e = open_error(path, errno, t.block_device);
    return tl::unexpected(e.error());
  }
  t.fd = fd;
  uint64_t actual = static_cast<uint64_t>(st.st_size);
  if (t.block_device) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
      const int e = errno;
      ::close(fd);
      return make_error(Errc::io, fmt::format("cannot read the size of {}: {}", path, errno_text(e)));
    }
    actual = bytes;
  }
  if (req.direct) t.block_size = direct_alignment(fd, t.block_device);
  auto fail = [&](Result<void> r) -> Result<Target> {
    ::close(fd);
    return tl::unexpected(r.error());
  };
  if (auto c = check_size(t, req, actual); !c) return fail(c);
  if (req.direct)
    if (auto c = check_direct(t, req.io_size); !c) return fail(c);
  if (!t.block_device && !req.write && st.st_blocks * 512 < static_cast<int64_t>(actual) / 10 * 9)
    fmt::print(stderr,
               "reactor-bench: warning: {} is sparse ({} of {} allocated): reads of holes never touch the device; "
               "write it first (e.g. -w write)\n",
               path, format_size(static_cast<uint64_t>(st.st_blocks) * 512), format_size(actual));
  return t;
}

}  // namespace

Result<std::vector<Target>> open_targets(const TargetRequest& req) {
  std::vector<Target> out;
  if (req.filenames.empty()) {
    auto t = open_temp(req);
    if (!t) return tl::unexpected(t.error());
    out.push_back(std::move(*t));
    return out;
  }
  for (const auto& f : req.filenames) {
    auto t = open_named(f, req);
    if (!t) {
      close_targets(out);
      return tl::unexpected(t.error());
    }
    out.push_back(std::move(*t));
  }
  return out;
}

void close_targets(std::vector<Target>& targets) noexcept {
  for (auto& t : targets)
    if (t.fd >= 0) ::close(t.fd);
  targets.clear();
}

}  // namespace reactor::bench
