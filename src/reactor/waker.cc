#include "reactor/waker.hh"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <reactor/log.hh>

namespace reactor::detail {

Waker::Waker() {
  // Descriptors can run out at run time: the pool reports it (efd_error())
  // and refuses to start instead of aborting.
  efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) efd_errno_ = errno;
}

Waker::~Waker() {
  if (ring_ok_) io_uring_queue_exit(&ring_);
  if (efd >= 0) ::close(efd);
}

Result<void> Waker::init() noexcept {
  if (ring_ok_) return {};
  // The ring is used only by the reactor's OS thread: single issuer and
  // deferred task work are allowed (and cut wake-up cost); older kernels
  // reject them, so fall back step by step. TASKRUN_FLAG makes the kernel
  // flag pending completions in the SQ ring (completions_pending()): a pass
  // with I/O in flight enters the kernel only when something completed.
  const unsigned candidates[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_COOP_TASKRUN, 0};
  int rc = -ENOSYS;
  for (unsigned f : candidates) {
    rc = io_uring_queue_init(256, &ring_, f);
    if (rc == 0) {
      flags_ = f;
      ring_ok_ = true;
      // Enter through a registered ring fd: in a multi-threaded process each
      // io_uring_enter otherwise looks the fd up and takes and drops a
      // reference on the file (two atomic operations per call). A task holds
      // 16 at most (the deterministic harness drives many reactors from one
      // OS thread): beyond that, or on kernels before 5.18, the plain fd.
      ring_fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
      return {};
    }
  }
  log(LogLevel::Warn, "io_uring unavailable ({}): reactors sleep in poll(2) instead", std::strerror(-rc));
  return make_error(Errc::unsupported, std::string("io_uring_queue_init: ") + std::strerror(-rc));
}

void Waker::release_ring_fd() noexcept {
  if (!ring_fd_registered_) return;
  (void)io_uring_unregister_ring_fd(&ring_);
  ring_fd_registered_ = false;
}

void Waker::wake() noexcept {
  if (efd < 0) return;
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wake-up is pending anyway.
  ssize_t n = ::write(efd, &one, sizeof one);
  (void)n;
}

void Waker::wait(uint64_t timeout_ns) noexcept {
  if (!ring_ok_) {
    pollfd p{efd, POLLIN, 0};
    int ms = static_cast<int>(std::min<uint64_t>(timeout_ns / 1'000'000 + 1, 60'000));
    if (::poll(&p, 1, ms) > 0) {
      ssize_t n = ::read(efd, &efd_buf_, sizeof efd_buf_);
      (void)n;
    }
    return;
  }
  if (!read_armed_) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) {
      io_uring_prep_read(sqe, efd, &efd_buf_, sizeof efd_buf_, 0);
      io_uring_sqe_set_data64(sqe, kWakeTag);
      read_armed_ = true;
    }
  }
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(timeout_ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(timeout_ns % 1'000'000'000);
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  (void)rc;  // -ETIME (timeout) and -EINTR are normal wake-ups
  // The reactor reaps every completion (its own wake read included).
}

}  // namespace reactor::detail
