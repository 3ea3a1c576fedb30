// The daemon support of reactord, reactor-bench and reactor-nbd
// (daemon_support.hh).
//
// Signals: SIGINT and SIGTERM stay blocked in every thread for the whole
// life of the process and are only ever taken with sigtimedwait, so no
// handler runs in an arbitrary thread and a signal sent before anyone waits
// is pending, not lost. The two-signal stop keeps the thread that took the
// first signal taking signals while a helper thread does the slow part
// (threads exit, reactors join, connections drain). A second signal then
// removes the files that must not outlive the process and calls _Exit from
// that thread: the graceful stop is abandoned where it stands, no
// destructor runs on state the helper thread may be using.

#include "tools/daemon_support.hh"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include <reactor/log.hh>

#include "rpc/socket_path.hh"

namespace reactor::tools {

using namespace std::chrono_literals;

void exit_usage(std::string_view tool, std::string_view message) {
  fmt::print(stderr, "{}: {} (see {} --help)\n", tool, message, tool);
  std::exit(kExitUsage);
}

void exit_runtime(std::string_view tool, std::string_view message) {
  fmt::print(stderr, "{}: {}\n", tool, message);
  std::exit(kExitRuntime);
}

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int StopSignals::take(std::chrono::milliseconds timeout) const noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  for (;;) {
    const int s = ::sigtimedwait(&set_, nullptr, &ts);
    if (s > 0) return s;
    if (errno == EINTR) continue;  // another signal (SIGCHLD, ...) interrupted the wait
    return 0;                      // EAGAIN: the timeout passed
  }
}

int StopSignals::wait() const noexcept {
  for (;;) {
    if (const int s = take(1000ms); s != 0) return s;
  }
}

void ForcedExitFiles::add(const rpc::RpcServer& server) {
  entries_.push_back({server.socket_path(), server.socket_file_id()});
  entries_.push_back({server.socket_path() + ".lock", server.lock_file_id()});
}

void ForcedExitFiles::add_path(std::string path) { entries_.push_back({std::move(path), rpc::FileId{}}); }

void ForcedExitFiles::remove() const noexcept {
  for (const Entry& e : entries_) {
    if (e.id.ino == 0) {
      ::unlink(e.path.c_str());
      continue;
    }
    struct stat st {};
    if (::lstat(e.path.c_str(), &st) == 0 && st.st_dev == e.id.dev && st.st_ino == e.id.ino) ::unlink(e.path.c_str());
  }
}

void stop_in_two_steps(const StopSignals& signals, std::string_view tool, int first_signal,
                       const std::function<void()>& graceful, const ForcedExitFiles& files, ForcedStatus status) {
  if (first_signal != 0)
    log(LogLevel::Info, "{}: {} received, stopping (send it again to exit at once)", tool, strsignal(first_signal));
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    graceful();
    done.store(true, std::memory_order_release);
  });
  while (!done.load(std::memory_order_acquire)) {
    if (const int again = signals.take(100ms); again != 0) {
      log(LogLevel::Error, "{}: second {}: exiting without waiting for the graceful stop", tool, strsignal(again));
      log_flush_suppressed();
      files.remove();
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(status == ForcedStatus::SignalNumber ? 128 + again : kExitRuntime);
    }
  }
  stopper.join();
}

Result<void> check_socket_path(std::string_view option, const std::string& path) {
  if (path.empty()) return make_error(Errc::invalid_argument, fmt::format("{} is empty", option));
  if (path.size() > kMaxSocketPath)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} {} is {} bytes long; a Unix socket path is at most {} bytes", option, path,
                                  path.size(), kMaxSocketPath));
  return {};
}

Result<ControlSocketPath> control_socket_path(std::string_view option, std::string_view short_option,
                                              const std::optional<std::string>& given) {
  ControlSocketPath where;
  if (given) {
    where.path = *given;
  } else {
    auto def = rpc::default_socket_path();
    if (!def) return make_error(Errc::invalid_argument, fmt::format("{}; pass {} PATH", def.error().message, short_option));
    where.path = std::move(*def);
    where.private_dir = ::geteuid() == 0;
  }
  if (auto ok = check_socket_path(option, where.path); !ok) return tl::unexpected(ok.error());
  return where;
}

Result<void> take_control_socket(rpc::RpcServer& server, const ControlSocketPath& where, ForcedExitFiles& files) {
  if (where.private_dir) {
    if (auto r = rpc::ensure_private_dir(rpc::kRootSocketDir); !r) return r;
  }
  if (auto r = server.start(); !r) return r;
  files.add(server);
  return {};
}

Result<void> check_cores_available(std::string_view option, std::string_view text, const CpuSet& wanted,
                                   const CpuSet& available) {
  if (wanted.is_subset_of(available)) return {};
  CpuSet missing;
  for (CoreId core : wanted.cores())
    if (!available.test(core)) missing.set(core);
  return make_error(Errc::invalid_argument,
                    fmt::format("{} '{}': cores [{}] are not available to this process (available: {})", option, text,
                                missing.to_list(), available.to_list()));
}

}  // namespace reactor::tools
