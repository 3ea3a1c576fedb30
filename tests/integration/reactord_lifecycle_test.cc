// reactord as a process: command-line validation (one line, exit 2, nothing
// started), --help, the socket lock (a second daemon on the same path fails
// with the lock message), stale socket files, and signals (SIGTERM/SIGINT stop
// gracefully and remove the socket and its lock; a second signal forces).

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <sstream>

#include "reactord_daemon.hh"

using namespace reactor;
using namespace reactor::test;

namespace {

std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (char ch : s) n += ch == '\n' ? 1 : 0;
  return n;
}

TEST(ReactordLifecycle, BadCommandLinesExitTwoWithOneLineAndStartNothing) {
  const std::string cores = two_cores();
  const std::vector<std::vector<std::string>> bad = {
      {"--cpumask", "zz"},
      {"-m", "0-5000"},
      {"-m", "0x0"},
      {"-m", "[1000]"},  // not a core of this machine
      {"-m", cores, "--main-core", "1000"},
      {"-m", cores, "-p", "x"},
      {"--scheduler", "foo"},
      {"--governor", "turbo"},
      {"--mode", "fast"},
      {"--log-level", "loud"},
      {"--log-format", "xml"},
      {"--period-us", "100"},  // static does not balance periodically
      {"--scheduler", "dynamic", "--period-us", "abc"},
      {"--scheduler", "dynamic", "--period-us", "0"},
      {"--scheduler", "dynamic", "--period-us", "9999"},  // below the 10 ms floor
      {"--scheduler", "gscheduler", "--governor", "none"},
      {"-m", cores, "--isolated-cores", cores},  // contains the main core
      {"-m", cores, "--isolated-cores", "[1000]"},
      {"--no-such-option"},
      {"-r", "/tmp/" + std::string(200, 'x')},
      {"-r", ""},
  };
  for (const auto& args : bad) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    const std::string sock = daemon_socket_path();
    std::vector<std::string> full = args;
    bool has_socket = false;
    for (const auto& a : args) has_socket = has_socket || a == "-r";
    if (!has_socket) {
      full.push_back("-r");
      full.push_back(sock);
    }
    RunResult r = run_reactord(full);
    EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1U) << shown << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("reactord: ", 0), 0U) << shown << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << shown << "\n" << r.out;
    EXPECT_FALSE(file_exists(sock)) << shown;
    EXPECT_FALSE(file_exists(sock + ".lock")) << shown;
  }
}

TEST(ReactordLifecycle, HelpExplainsEveryOption) {
  RunResult r = run_reactord({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--cpumask", "--main-core", "--rpc-socket", "--scheduler", "--period-us", "--governor",
                          "--isolated-cores", "--wait-for-rpc", "--log-level", "--mode", "/run/reactor/reactor.sock",
                          "XDG_RUNTIME_DIR", "--allow-uid", "--allow-gid",
                          "interrupt", "SIGTERM"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST(ReactordLifecycle, SigtermStopsGracefullyAndRemovesSocketAndLock) {
  for (int sig : {SIGTERM, SIGINT}) {
    Daemon d({"-m", two_cores(), "--mode", "interrupt", "--log-level", "info"});
    ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
    EXPECT_NE(d.stdout_text().find(fmt::format("reactord: listening on {} (cores ", d.socket())), std::string::npos)
        << d.stdout_text();
    EXPECT_NE(d.stdout_text().find("scheduler static)"), std::string::npos) << d.stdout_text();
    EXPECT_TRUE(file_exists(d.socket()));
    EXPECT_TRUE(file_exists(d.socket() + ".lock"));
    auto c = d.client();
    // Load threads must exit too.
    call_ok(c, "scheduler_thread_create", json{{"active", 30}});
    call_ok(c, "scheduler_thread_create", json{{"active", 0}});
    d.signal(sig);
    auto st = d.wait_exit(60s);
    ASSERT_TRUE(st) << "reactord did not stop on signal " << sig;
    EXPECT_TRUE(WIFEXITED(*st)) << d.stderr_text();
    EXPECT_EQ(WEXITSTATUS(*st), 0) << d.stderr_text();
    EXPECT_FALSE(file_exists(d.socket()));
    EXPECT_FALSE(file_exists(d.socket() + ".lock"));
    EXPECT_NE(d.stderr_text().find("stopped (2 threads exited)"), std::string::npos) << d.stderr_text();
  }
}

TEST(ReactordLifecycle, SecondSignalNeverHangsAndLeavesNoFiles) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--log-level", "error"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  call_ok(c, "scheduler_thread_create", json{{"active", 100}});
  d.signal(SIGTERM);
  d.signal(SIGTERM);
  auto st = d.wait_exit(60s);
  ASSERT_TRUE(st);
  ASSERT_TRUE(WIFEXITED(*st)) << d.stderr_text();
  // 0 if the graceful stop won the race, 1 if the second signal forced it.
  EXPECT_TRUE(WEXITSTATUS(*st) == 0 || WEXITSTATUS(*st) == 1) << WEXITSTATUS(*st);
  EXPECT_FALSE(file_exists(d.socket()));
  EXPECT_FALSE(file_exists(d.socket() + ".lock"));
}

TEST(ReactordLifecycle, SecondDaemonOnTheSameSocketFailsWithTheLockMessage) {
  Daemon first({"-m", two_cores(), "--mode", "interrupt", "--log-level", "error"});
  ASSERT_TRUE(first.wait_ready()) << first.stderr_text();
  RunResult second = run_reactord({"-m", two_cores(), "--mode", "interrupt", "-r", first.socket()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(second.err,
            fmt::format("reactord: RPC socket path {0} in use (lock {0}.lock held by another process)\n", first.socket()));
  EXPECT_TRUE(second.out.empty()) << second.out;
  // The first one is untouched and still serves.
  EXPECT_TRUE(file_exists(first.socket()));
  auto c = first.client();
  EXPECT_EQ(call_ok(c, "framework_get_scheduler")["scheduler_name"], "static");
  auto st = first.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
}

TEST(ReactordLifecycle, StaleSocketFileIsReplaced) {
  const std::string path = daemon_socket_path();
  {
    // A socket file left behind by a process that died.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  ASSERT_TRUE(file_exists(path));
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--log-level", "error"}, path);
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  EXPECT_TRUE(call_ok(c, "spdk_get_version").contains("version"));
}

TEST(ReactordLifecycle, JsonLogFormatWritesOneObjectPerLine) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--governor", "none", "--log-level", "info", "--log-format",
            "json"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto st = d.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
  const std::string err = d.stderr_text();
  std::istringstream in(err);
  std::string line;
  size_t n = 0;
  bool saw_stop = false;
  while (std::getline(in, line)) {
    ++n;
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_EQ(j.value("logger", ""), "reactor") << line;
    EXPECT_FALSE(j.value("level", "").empty()) << line;
    EXPECT_FALSE(j.value("time", "").empty()) << line;
    saw_stop = saw_stop || j.value("msg", "").find("reactord: stopped") != std::string::npos;
  }
  EXPECT_GE(n, 1U) << err;
  EXPECT_TRUE(saw_stop) << err;
}

}  // namespace
