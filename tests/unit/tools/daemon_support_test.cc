// The daemon support shared by reactord, reactor-bench and reactor-nbd
// (tools/daemon_support.hh), with real signals sent to a real child process
// (kill(2), not a call into the code), a real control socket and its lock
// file: the first stop signal runs the graceful stop and the process exits
// normally; a second one during the graceful stop exits at once with the
// tool's status and removes the socket, its lock file and the extra paths,
// but never a file that is no longer ours; a second holder of the lock is
// refused and removes nothing; a graceful end removes the socket and lock.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "tools/daemon_support.hh"

namespace reactor::tools {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// /tmp/ds-<pid>-<n>.sock: short (a Unix socket path is at most 107 bytes).
std::string temp_socket() {
  static int n = 0;
  return "/tmp/ds-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".sock";
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A pipe from the child to the test: the child reports each step with one
// byte, so the test sends each signal only when the child is where it should
// be (no sleeps deciding the order).
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void put(char c) const { [[maybe_unused]] auto n = ::write(fd[1], &c, 1); }
  // The next byte, or 0 if the child closed the pipe (or said nothing for
  // 60 s: a bound against a hung child, not a timing assertion).
  char get() const {
    pollfd p{fd[0], POLLIN, 0};
    if (::poll(&p, 1, 60'000) <= 0) return 0;
    char c = 0;
    return ::read(fd[0], &c, 1) == 1 ? c : 0;
  }
};

// Waits for `pid`; the raw wait status.
int reap(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

// Waits for `pid` and checks that it exited (not killed) with `code`.
void expect_exit(pid_t pid, int code) {
  const int st = reap(pid);
  ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  EXPECT_EQ(WEXITSTATUS(st), code);
}

TEST(StopSignals, FirstSignalRunsTheGracefulStopAndTheProcessLivesOn) {
  Pipe p;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const StopSignals signals;
    ForcedExitFiles none;
    p.put('R');
    const int sig = signals.wait();
    bool ran = false;
    stop_in_two_steps(signals, "daemon_support_test", sig, [&] { ran = true; }, none, ForcedStatus::Runtime);
    p.put(ran ? 'G' : 'x');
    ::_exit(sig == SIGTERM ? 42 : 43);  // alive after the signal, and it was SIGTERM
  }
  ASSERT_EQ(p.get(), 'R');
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(p.get(), 'G') << "the graceful stop did not run";
  expect_exit(pid, 42);
}

TEST(StopSignals, TakeReturnsZeroWhenNoSignalCame) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const StopSignals signals;
    const int none = signals.take(0ms);
    ::raise(SIGINT);  // blocked: pending, not fatal
    const int taken = signals.take(0ms);
    ::_exit(none == 0 && taken == SIGINT ? 0 : 1);
  }
  expect_exit(pid, 0);
}

// The child takes a control socket, adds an extra path (as reactor-nbd its
// NBD socket), takes the first signal and starts a graceful stop that never
// ends; the second signal must end it with `status`.
void second_signal_case(ForcedStatus status, int second, int expected_exit) {
  const std::string sock = temp_socket();
  const std::string lock = sock + ".lock";
  const std::string extra = sock + ".nbd";
  Pipe p;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const StopSignals signals;
    rpc::RpcServer server(sock);
    ForcedExitFiles files;
    if (!take_control_socket(server, ControlSocketPath{sock}, files)) ::_exit(90);
    const int fd = ::open(extra.c_str(), O_CREAT | O_WRONLY, 0600);
    if (fd < 0) ::_exit(91);
    ::close(fd);
    files.add_path(extra);
    p.put('R');
    const int sig = signals.wait();
    stop_in_two_steps(
        signals, "daemon_support_test", sig,
        [&] {
          p.put('G');
          for (;;) std::this_thread::sleep_for(1s);  // a graceful stop that hangs
        },
        files, status);
    ::_exit(92);  // unreachable: the graceful stop never returns
  }
  ASSERT_EQ(p.get(), 'R');
  EXPECT_TRUE(exists(sock));
  EXPECT_TRUE(exists(lock));
  EXPECT_TRUE(exists(extra));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(p.get(), 'G') << "the graceful stop did not start";
  ASSERT_EQ(::kill(pid, second), 0);
  expect_exit(pid, expected_exit);
  EXPECT_FALSE(exists(sock)) << "socket left behind";
  EXPECT_FALSE(exists(lock)) << "lock file left behind";
  EXPECT_FALSE(exists(extra)) << "extra path left behind";
}

TEST(StopSignals, SecondSignalExitsAtOnceWithStatusOne) {
  second_signal_case(ForcedStatus::Runtime, SIGTERM, kExitRuntime);
}

TEST(StopSignals, SecondSignalExitsAtOnceWith128PlusTheSignal) {
  second_signal_case(ForcedStatus::SignalNumber, SIGTERM, 128 + SIGTERM);
  second_signal_case(ForcedStatus::SignalNumber, SIGINT, 128 + SIGINT);
}

// A socket file replaced after start (another daemon's, an operator's) is
// not removed by a forced stop.
TEST(ForcedExitFiles, RemovesOnlyTheFilesStillOurs) {
  const std::string sock = temp_socket();
  rpc::RpcServer server(sock);
  ForcedExitFiles files;
  ASSERT_TRUE(take_control_socket(server, ControlSocketPath{sock}, files));
  ASSERT_EQ(::unlink(sock.c_str()), 0);
  const int fd = ::open(sock.c_str(), O_CREAT | O_WRONLY, 0600);  // someone else's file now
  ASSERT_GE(fd, 0);
  ::close(fd);
  files.remove();
  EXPECT_TRUE(exists(sock)) << "removed a file that is not ours";
  EXPECT_FALSE(exists(sock + ".lock")) << "our lock file was kept";
  ::unlink(sock.c_str());
}

TEST(ControlSocket, LockRefusesASecondHolderAndAGracefulEndRemovesBoth) {
  const std::string sock = temp_socket();
  ForcedExitFiles files;
  {
    rpc::RpcServer first(sock);
    ASSERT_TRUE(take_control_socket(first, ControlSocketPath{sock}, files));
    ASSERT_TRUE(exists(sock));
    ASSERT_TRUE(exists(sock + ".lock"));

    // A second holder in another process: refused with the lock's message,
    // and it removes nothing.
    Pipe p;
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      rpc::RpcServer second(sock);
      ForcedExitFiles theirs;
      auto r = take_control_socket(second, ControlSocketPath{sock}, theirs);
      const std::string msg = r ? std::string("started") : r.error().message;
      [[maybe_unused]] auto n = ::write(p.fd[1], msg.data(), msg.size());
      ::_exit(r ? 1 : 0);
    }
    const int st = reap(pid);
    ASSERT_TRUE(WIFEXITED(st));
    ::close(p.fd[1]);
    p.fd[1] = -1;
    std::string msg;
    for (char c; (c = p.get()) != 0;) msg += c;
    EXPECT_EQ(WEXITSTATUS(st), 0) << msg;
    EXPECT_EQ(msg, "RPC socket path " + sock + " in use (lock " + sock + ".lock held by another process)");
    EXPECT_TRUE(exists(sock)) << "the refused holder removed the socket";
    EXPECT_TRUE(exists(sock + ".lock")) << "the refused holder removed the lock file";
    first.stop();
    EXPECT_FALSE(exists(sock)) << "socket left behind by a graceful stop";
    EXPECT_FALSE(exists(sock + ".lock")) << "lock file left behind by a graceful stop";
  }
  // Released: the next daemon takes the path.
  rpc::RpcServer next(sock);
  ForcedExitFiles more;
  EXPECT_TRUE(take_control_socket(next, ControlSocketPath{sock}, more));
}

TEST(ControlSocket, PathChecksNameTheOption) {
  auto empty = control_socket_path("--rpc-socket", "-r", std::string());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "--rpc-socket is empty");
  const std::string long_path = "/tmp/" + std::string(103, 'x');  // 108 bytes
  auto too_long = control_socket_path("--rpc-socket", "-r", long_path);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message,
            "--rpc-socket " + long_path + " is 108 bytes long; a Unix socket path is at most 107 bytes");
  auto given = control_socket_path("--rpc-socket", "-r", std::string("/tmp/x.sock"));
  ASSERT_TRUE(given);
  EXPECT_EQ(given->path, "/tmp/x.sock");
  EXPECT_FALSE(given->private_dir) << "a given path's directory is the operator's";
  EXPECT_TRUE(check_socket_path("-r", std::string(107, 'y')));
}

TEST(ControlSocket, DefaultPathForThisUser) {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::optional<std::string> saved = xdg ? std::optional<std::string>(xdg) : std::nullopt;
  ::unsetenv("XDG_RUNTIME_DIR");
  auto def = control_socket_path("--rpc-socket", "-r", std::nullopt);
  if (::geteuid() == 0) {
    ASSERT_TRUE(def) << def.error().message;
    EXPECT_EQ(def->path, "/run/reactor/reactor.sock");
    EXPECT_TRUE(def->private_dir);
  } else {
    ASSERT_FALSE(def);
    EXPECT_NE(def.error().message.find("; pass -r PATH"), std::string::npos) << def.error().message;
    ::setenv("XDG_RUNTIME_DIR", "/tmp/xdg", 1);
    auto mine = control_socket_path("--rpc-socket", "-r", std::nullopt);
    ASSERT_TRUE(mine) << mine.error().message;
    EXPECT_EQ(mine->path, "/tmp/xdg/reactor.sock");
    EXPECT_FALSE(mine->private_dir);
  }
  if (saved) ::setenv("XDG_RUNTIME_DIR", saved->c_str(), 1);
  else ::unsetenv("XDG_RUNTIME_DIR");
}

TEST(Cores, NotAvailableNamesTheMissingOnes) {
  EXPECT_TRUE(check_cores_available("-m", "0-1", CpuSet{0, 1}, CpuSet{0, 1, 2}));
  auto r = check_cores_available("--cpumask", "0-3", CpuSet{0, 1, 2, 3}, CpuSet{0, 1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_EQ(r.error().message, "--cpumask '0-3': cores [2-3] are not available to this process (available: 0-1)");
}

TEST(ExitStatus, UsageAndRuntimeErrorsAreOneLine) {
  EXPECT_EXIT(exit_usage("reactord", "--mode 'x': expected poll or interrupt"), ::testing::ExitedWithCode(kExitUsage),
              "^reactord: --mode 'x': expected poll or interrupt \\(see reactord --help\\)\n$");
  EXPECT_EXIT(exit_runtime("reactor-nbd", "cannot start"), ::testing::ExitedWithCode(kExitRuntime),
              "^reactor-nbd: cannot start\n$");
}

}  // namespace
}  // namespace reactor::tools
