#pragma once
// Integration-test helpers for reactord: start the real binary as a child
// process, wait for its ready line, talk to it (RpcClient, or raw bytes for
// what a client library would hide), and always kill it at the end.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <reactor/topology.hh>

#include "rpc/client.hh"

#ifndef REACTORD_PATH
#error "REACTORD_PATH must name the reactord binary"
#endif

namespace reactor::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// /tmp/rd-<pid>-<n>.sock: short (Unix socket paths are at most 107 bytes)
/// and unique across parallel test processes.
inline std::string daemon_socket_path() {
  static std::atomic<int> n{0};
  return fmt::format("/tmp/rd-{}-{}.sock", ::getpid(), n.fetch_add(1));
}

/// The first two cores this process may use, as a --cpumask list ("0-1",
/// "3" on a one-core machine).
inline std::string two_cores() {
  auto topo = Topology::discover();
  if (!topo) return "0";
  auto cores = topo->all().cores();
  if (cores.size() < 2) return fmt::format("{}", cores.at(0).value);
  return fmt::format("{},{}", cores[0].value, cores[1].value);
}

inline bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A reactord child process. stdout is read through a pipe (the ready line),
/// stderr goes to a log file that failing tests print.
class Daemon {
 public:
  /// Starts reactord with `args`; adds -r <socket> unless `args` has one.
  /// `before_exec` runs in the child before exec (system calls only: set a
  /// limit, install a filter).
  explicit Daemon(std::vector<std::string> args, std::string socket = daemon_socket_path(),
                  const std::function<void()>& before_exec = {})
      : socket_(std::move(socket)), log_path_(socket_ + ".log") {
    bool has_socket = false;
    for (const auto& a : args) has_socket = has_socket || a == "-r" || a == "--rpc-socket";
    if (!has_socket) {
      args.push_back("-r");
      args.push_back(socket_);
    }
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Never outlive the test, even when it is killed by a timeout.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out[1], STDOUT_FILENO);
      if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
      if (before_exec) before_exec();
      std::vector<char*> argv;
      std::string path = REACTORD_PATH;
      argv.push_back(path.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    if (log_fd >= 0) ::close(log_fd);
    out_fd_ = out[0];
  }

  ~Daemon() {
    kill_now();
    if (out_fd_ >= 0) ::close(out_fd_);
    if (!keep_log_) ::unlink(log_path_.c_str());
    ::unlink(socket_.c_str());
    ::unlink((socket_ + ".lock").c_str());
  }

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }
  std::string stderr_text() const { return read_file(log_path_); }
  /// Everything read from stdout so far.
  const std::string& stdout_text() const { return out_; }

  /// Reads stdout until a line contains `needle` (true) or the timeout passes
  /// or the process closes stdout (false).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || out_fd_ < 0) return false;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return out_.find(needle) != std::string::npos;
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  bool wait_ready(std::chrono::milliseconds timeout = 60s) {
    const bool ok = wait_for_output("reactord: listening on", timeout);
    if (!ok) keep_log_ = true;
    return ok;
  }

  /// Sends `sig`.
  void signal(int sig) {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);
  }
  /// Waits for the process to exit; its wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (exited_) return status_;
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = st;
        return st;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(10ms);
    }
  }
  /// SIGTERM, then SIGKILL if it does not exit in time; the wait status.
  std::optional<int> stop(std::chrono::milliseconds timeout = 30s) {
    signal(SIGTERM);
    auto st = wait_exit(timeout);
    if (!st) kill_now();
    return st;
  }
  void kill_now() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      exited_ = true;
      status_ = st;
    }
  }

  /// A connected client (fails the test if the connection fails).
  rpc::RpcClient client() const {
    rpc::RpcClient c;
    auto r = c.connect(socket_, 10s);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return c;
  }

 private:
  std::string socket_;
  std::string log_path_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
  bool exited_ = false;
  int status_ = 0;
  bool keep_log_ = false;
};

/// Runs reactord with `args` to completion (it must exit by itself): exit
/// code (or -1 if killed by a signal or too slow), stdout and stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
inline RunResult run_reactord(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  Daemon d(std::move(args));
  d.wait_for_output("\x01never", timeout);  // drains stdout until it closes
  RunResult r;
  auto st = d.wait_exit(timeout);
  if (st && WIFEXITED(*st)) r.exit_code = WEXITSTATUS(*st);
  r.out = d.stdout_text();
  r.err = d.stderr_text();
  return r;
}

/// Calls `method` and returns the result, failing the test on an error.
inline json call_ok(rpc::RpcClient& c, std::string_view method, const std::optional<json>& params = std::nullopt) {
  auto r = c.call(method, params, 30s);
  EXPECT_TRUE(r.has_value()) << method << ": " << (r ? "" : r.error().message);
  return r ? *r : json();
}

/// Keys of an object, in the order the server wrote them (nlohmann::json
/// sorts them, so replies whose member order matters are parsed as ordered).
inline std::vector<std::string> keys_of(const nlohmann::ordered_json& o) {
  std::vector<std::string> k;
  for (const auto& item : o.items()) k.push_back(item.key());
  return k;
}

/// A raw client: exact bytes out, newline-terminated replies in.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// The next newline-terminated reply (without the newline), or nullopt on
  /// EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

/// One request as SPDK's rpc.py writes it: json.dumps(req, indent=2), no
/// trailing newline ("params" only when given).
inline std::string rpc_py_request(std::string_view method, int id, const std::optional<nlohmann::ordered_json>& params) {
  nlohmann::ordered_json req;
  req["jsonrpc"] = "2.0";
  req["method"] = method;
  req["id"] = id;
  if (params) req["params"] = *params;
  return req.dump(2);
}

}  // namespace reactor::test
