// IoRegistry and AlignedBuffer. Design notes:
//
// A ring's registered-file and registered-buffer tables are per ring, and each
// reactor owns one ring, used only by its own OS thread. A thread that moves
// lands on another ring, so a registration is only useful if every ring has
// it: the registry registers the same tables, with the same indices, on every
// reactor of the pool. Each registration runs on the reactor's own OS thread
// (a short-lived LwThread pinned to that core), never from the caller's
// thread, so rings created SINGLE_ISSUER accept it.
//
// Results travel back through a shared, reference-counted record of atomics:
// if the wait times out, a late reactor writes into the record, not into a
// destroyed registry. A ring that refuses is not an error: channels fall back
// to plain requests there, and status() says why.

#include <reactor/io.hh>

#include <liburing.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <reactor/pool.hh>
#include <reactor/thread.hh>

#include "reactor/io_access.hh"

namespace reactor {

// ---- AlignedBuffer ----------------------------------------------------------

Result<AlignedBuffer> AlignedBuffer::allocate(size_t size, size_t alignment) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0)
    return make_error(Errc::invalid_argument,
                      fmt::format("AlignedBuffer: alignment {} is not a power of two >= {}", alignment, sizeof(void*)));
  if (size == 0) return make_error(Errc::invalid_argument, "AlignedBuffer: size 0");
  const size_t rounded = (size + alignment - 1) / alignment * alignment;
  if (rounded < size) return make_error(Errc::invalid_argument, fmt::format("AlignedBuffer: size {} overflows", size));
  void* p = nullptr;
  if (::posix_memalign(&p, alignment, rounded) != 0 || p == nullptr)
    return make_error(Errc::internal, fmt::format("AlignedBuffer: out of memory for {} bytes", rounded));
  std::memset(p, 0, rounded);
  AlignedBuffer b;
  b.data_ = static_cast<std::byte*>(p);
  b.size_ = rounded;
  b.align_ = alignment;
  return b;
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    align_ = o.align_;
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

// ---- IoRegistry ---------------------------------------------------------------

namespace {

// Kernel limits: IORING_MAX_REG_BUFFERS is 16384; the file table allows far
// more than 32768 (IORING_MAX_FIXED_FILES), more than a daemon needs.
constexpr size_t kMaxFiles = 32768;
constexpr size_t kMaxBuffers = 16384;

struct RingAnswers {
  explicit RingAnswers(size_t n) : flags(n), done(n) {}
  std::vector<std::atomic<uint8_t>> flags;  // per slot: kFiles|kBuffers accepted
  std::vector<std::atomic<bool>> done;
  std::mutex mu;                            // guards text
  std::vector<std::string> text;            // refusals
};

}  // namespace

IoRegistry::IoRegistry(Token, ReactorPool& pool, std::vector<int> files, std::vector<iovec> buffers)
    : pool_(pool), files_(std::move(files)), buffers_(std::move(buffers)) {
  int max_fd = -1;
  for (int fd : files_) max_fd = std::max(max_fd, fd);
  fd_index_.assign(static_cast<size_t>(max_fd + 1), -1);
  for (size_t i = 0; i < files_.size(); ++i) {
    int& slot = fd_index_[static_cast<size_t>(files_[i])];
    if (slot < 0) slot = static_cast<int>(i);  // a duplicate fd keeps its first index
  }
  uint32_t max_core = 0;
  for (CoreId c : pool_.cores().cores()) max_core = std::max(max_core, c.value);
  per_core_.assign(max_core + 1, 0);
}

Result<std::unique_ptr<IoRegistry>> IoRegistry::create(ReactorPool& pool, std::vector<int> files,
                                                       std::vector<iovec> buffers) {
  if (files.size() > kMaxFiles)
    return make_error(Errc::invalid_argument,
                      fmt::format("IoRegistry: {} files exceed the limit of {}", files.size(), kMaxFiles));
  if (buffers.size() > kMaxBuffers)
    return make_error(Errc::invalid_argument,
                      fmt::format("IoRegistry: {} buffers exceed the limit of {}", buffers.size(), kMaxBuffers));
  for (int fd : files)
    if (fd < 0) return make_error(Errc::invalid_argument, fmt::format("IoRegistry: bad file descriptor {}", fd));
  for (const iovec& b : buffers)
    if (b.iov_base == nullptr || b.iov_len == 0)
      return make_error(Errc::invalid_argument, "IoRegistry: empty buffer");
  if (pool.launch() == Launch::OsThreads && pool.on_reactor_thread())
    return make_error(Errc::wrong_thread, "IoRegistry::create waits for every reactor: call it off the reactors");
  auto reg = std::make_unique<IoRegistry>(Token{}, pool, std::move(files), std::move(buffers));
  if (auto r = reg->run_on_every_ring(true); !r) return tl::unexpected(std::move(r.error()));
  return reg;
}

IoRegistry::~IoRegistry() {
  bool any = std::any_of(per_core_.begin(), per_core_.end(), [](uint8_t f) { return f != 0; });
  if (!any) return;
  if (pool_.launch() == Launch::OsThreads && pool_.on_reactor_thread()) {
    log(LogLevel::Warn, "IoRegistry destroyed on a reactor: registrations stay until the rings close");
    return;
  }
  if (auto r = run_on_every_ring(false); !r)
    log(LogLevel::Debug, "IoRegistry: unregistering skipped: {}", r.error().message);
}

int IoRegistry::buffer_index(const void* p, size_t len) const noexcept {
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const auto b = reinterpret_cast<uintptr_t>(buffers_[i].iov_base);
    if (a >= b && a - b <= buffers_[i].iov_len && len <= buffers_[i].iov_len - (a - b)) return static_cast<int>(i);
  }
  return -1;
}

std::string IoRegistry::status() const {
  const uint32_t n = pool_.cores().count();
  uint32_t f = 0, b = 0;
  for (CoreId c : pool_.cores().cores()) {
    f += files_on(c) ? 1 : 0;
    b += buffers_on(c) ? 1 : 0;
  }
  std::string out;
  out += has_files() ? fmt::format("files: {} registered on {}/{} rings", files_.size(), f, n) : "files: none";
  out += "; ";
  out += has_buffers() ? fmt::format("buffers: {} registered on {}/{} rings", buffers_.size(), b, n) : "buffers: none";
  for (const auto& r : refusals_) out += "; " + r;
  return out;
}

Result<void> IoRegistry::run_on_every_ring(bool do_register) {
  const auto cores = pool_.cores().cores();
  auto ans = std::make_shared<RingAnswers>(cores.size());
  // Copies the tasks read on the reactors (they may outlive a timed-out wait).
  auto files = std::make_shared<std::vector<int>>(files_);
  auto bufs = std::make_shared<std::vector<iovec>>(buffers_);
  std::vector<uint8_t> had(cores.size(), 0);
  for (size_t i = 0; i < cores.size(); ++i) had[i] = per_core_[cores[i].value];

  for (size_t i = 0; i < cores.size(); ++i) {
    const CoreId core = cores[i];
    const uint8_t mine = had[i];
    ThreadOptions o;
    o.name = fmt::format("io_registry_{}", core.value);
    o.cpumask.set(core);
    o.home = core;
    auto t = pool_.spawn(std::move(o), [ans, files, bufs, i, core, mine, do_register] {
      LwThread* self = current_thread();
      io_uring* ring = detail::IoAccess::ring(*detail::IoAccess::host(*self));
      uint8_t ok = 0;
      auto refuse = [&](const char* what, int rc) {
        std::lock_guard lk(ans->mu);
        ans->text.push_back(fmt::format("{} refused on core {} ({})", what, core.value, std::strerror(-rc)));
      };
      if (ring == nullptr) {
        std::lock_guard lk(ans->mu);
        ans->text.push_back(fmt::format("no io_uring on core {}", core.value));
      } else if (do_register) {
        if (!files->empty()) {
          int rc = io_uring_register_files(ring, files->data(), static_cast<unsigned>(files->size()));
          if (rc == 0) ok |= kFiles; else refuse("files", rc);
        }
        if (!bufs->empty()) {
          int rc = io_uring_register_buffers(ring, bufs->data(), static_cast<unsigned>(bufs->size()));
          if (rc == 0) ok |= kBuffers; else refuse("buffers", rc);
        }
      } else {
        if (mine & kFiles) (void)io_uring_unregister_files(ring);
        if (mine & kBuffers) (void)io_uring_unregister_buffers(ring);
      }
      ans->flags[i].store(ok, std::memory_order_relaxed);
      ans->done[i].store(true, std::memory_order_release);
      self->exit();
    });
    if (!t) {
      // The pool is stopping (or the core vanished): nothing ran there.
      ans->done[i].store(true, std::memory_order_release);
      if (do_register) {
        std::lock_guard lk(ans->mu);
        ans->text.push_back(fmt::format("core {}: {}", core.value, t.error().message));
      }
    }
  }
  const bool all = pool_.wait_for(
      [&] {
        for (auto& d : ans->done)
          if (!d.load(std::memory_order_acquire)) return false;
        return true;
      },
      std::chrono::seconds(10));
  if (!all)
    return make_error(Errc::timeout, do_register ? "IoRegistry: a reactor did not register within 10 s"
                                                 : "IoRegistry: a reactor did not unregister within 10 s");
  for (size_t i = 0; i < cores.size(); ++i)
    per_core_[cores[i].value] = do_register ? ans->flags[i].load(std::memory_order_relaxed) : 0;
  if (do_register) {
    std::lock_guard lk(ans->mu);
    refusals_ = ans->text;
  }
  return {};
}

}  // namespace reactor
