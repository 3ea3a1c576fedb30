// reactord's peer check (SO_PEERCRED): a client of another uid is
// disconnected without a reply; --allow-uid / --allow-gid let one in. The
// client is a child that becomes uid/gid 65534 ('nobody') before connecting;
// the test widens the socket's mode so that the file permission does not
// stop it first. Needs root (skipped otherwise).

#include <gtest/gtest.h>

#include <grp.h>
#include <poll.h>
#include <sys/stat.h>

#include "reactord_daemon.hh"

namespace reactor::test {
namespace {

// Child as uid/gid 65534: connect, send rpc_get_methods, wait up to 20 s.
// Returns its exit code: 0 got a reply, 1 closed without one, 2 could not
// drop privileges, 3 could not connect, 4 no answer and no close.
int exchange_as_nobody(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(3);
    // No allocation after fork (the test process has threads).
    static const char req[] = R"({"jsonrpc":"2.0","method":"rpc_get_methods","id":1})";
    [[maybe_unused]] const ssize_t w = ::send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) ::_exit(4);
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::_exit(n > 0 ? 0 : 1);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(ReactordSecurity, ClientOfAnotherUidIsDisconnectedWithoutAReply) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as uid 65534";
  Daemon d({"-m", two_cores(), "--mode", "interrupt"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  ASSERT_EQ(::chmod(d.socket().c_str(), 0666), 0);
  EXPECT_EQ(exchange_as_nobody(d.socket()), 1) << "0: answered, 3: no connect, 4: neither answered nor closed";
  // Root (our uid, the daemon's) is still served.
  auto c = d.client();
  ASSERT_TRUE(c.connected());
  call_ok(c, "spdk_get_version");
  EXPECT_EQ(d.stop(), std::optional<int>(0));
  EXPECT_NE(d.stderr_text().find("rpc: refused a client of uid 65534 gid 65534"), std::string::npos)
      << d.stderr_text();
}

TEST(ReactordSecurity, AllowUidAndAllowGidLetAClientIn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as uid 65534";
  for (const char* opt : {"--allow-uid", "--allow-gid"}) {
    Daemon d({"-m", two_cores(), "--mode", "interrupt", opt, "65534", opt, "4242"});
    ASSERT_TRUE(d.wait_ready()) << opt << ": " << d.stderr_text();
    ASSERT_EQ(::chmod(d.socket().c_str(), 0666), 0);
    EXPECT_EQ(exchange_as_nobody(d.socket()), 0) << opt;
    EXPECT_EQ(d.stop(), std::optional<int>(0)) << opt;
    EXPECT_EQ(d.stderr_text().find("refused a client"), std::string::npos) << opt << ": " << d.stderr_text();
  }
}

TEST(ReactordSecurity, BadAllowUidIsAUsageError) {
  RunResult r = run_reactord({"--allow-uid", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_reactord({"--allow-uid", "4294967295"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--allow-uid 4294967295 is not a uid"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace reactor::test
