// reactord's limits against the real binary and the real reactorctl: no
// client can starve the operator (64 silent connections, idle and read
// timeouts), names cannot forge rows in reactorctl's tables, and bad limits
// on the command line are one-line usage errors.

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "reactord_daemon.hh"
#include "rpc/method.hh"

#ifndef REACTORCTL_BIN
#error "REACTORCTL_BIN must name the reactorctl executable"
#endif

namespace reactor::test {
namespace {

struct CtlResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs the real reactorctl with `args` (shell words, already quoted).
CtlResult reactorctl(const std::string& args) {
  const std::string cmd = std::string(REACTORCTL_BIN) + " " + args + " 2>&1";
  CtlResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  if (WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  return r;
}

// Issue: 64 silent connections locked every client out, reactorctl included,
// for as long as they stayed open.
TEST(ReactordLimits, ReactorctlGetsThroughAServerFullOfSilentConnections) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  std::vector<std::unique_ptr<RawConnection>> silent;
  for (std::size_t i = 0; i < rpc::kMaxConnections + 16; ++i) {
    silent.push_back(std::make_unique<RawConnection>(d.socket()));
    ASSERT_TRUE(silent.back()->ok()) << i;
  }
  for (int round = 0; round < 3; ++round) {
    const CtlResult r = reactorctl(fmt::format("-s {} --timeout 20 status", d.socket()));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("scheduler"), std::string::npos) << r.out;
  }
  EXPECT_NE(d.stderr_text().find("closed the one idle longest"), std::string::npos) << d.stderr_text();
}

TEST(ReactordLimits, IdleConnectionIsClosedAfterTheIdleTimeout) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--rpc-idle-timeout", "0.2"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  RawConnection c(d.socket());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","method":"spdk_get_version","id":1})"));
  const auto reply = c.read_line();
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->find(R"("id":1)"), std::string::npos) << *reply;
  EXPECT_FALSE(c.read_line(60s).has_value()) << "the server closes the idle connection";
  EXPECT_FALSE(c.send("{")) << "the connection is closed, not just quiet";
}

TEST(ReactordLimits, StartedRequestMustBeFinishedWithinTheReadTimeout) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--rpc-read-timeout", "0.2"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  RawConnection c(d.socket());
  ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","method":"spdk_get_)"));
  const auto reply = c.read_line(60s);
  ASSERT_TRUE(reply.has_value());
  const json e = json::parse(*reply);
  EXPECT_EQ(e["id"], nullptr);
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_EQ(e["error"]["message"], "Parse error: request not completed within 0.2 s");
  EXPECT_FALSE(c.read_line(60s).has_value()) << "closed after the answer";
}

TEST(ReactordLimits, BadTimeoutsAreOneLineUsageErrors) {
  for (const auto& [opt, value] : std::vector<std::pair<std::string, std::string>>{{"--rpc-idle-timeout", "0"},
                                                                                   {"--rpc-idle-timeout", "x"},
                                                                                   {"--rpc-read-timeout", "-1"},
                                                                                   {"--rpc-read-timeout", "1e9"},
                                                                                   {"--rpc-read-timeout", ""}}) {
    const RunResult r = run_reactord({"-m", two_cores(), opt, value});
    EXPECT_EQ(r.exit_code, 2) << opt << " " << value << ": " << r.err;
    EXPECT_EQ(r.err, fmt::format("reactord: {} '{}' is not a number of seconds from 0.1 to 86400 (see reactord "
                                 "--help)\n",
                                 opt, value));
    EXPECT_EQ(r.out, "");
  }
}

// Issue: a thread name with ESC or a newline forged rows in reactorctl's
// tables.
TEST(ReactordLimits, ThreadNameWithEscAndNewlineCannotForgeARow) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  const std::string evil = "evil\n999  forged     0  0-1      99.0       0      0       0\x1b[2J";
  call_ok(c, "scheduler_thread_create", json{{"active", 1}, {"name", evil}});  // a timed poller named after it
  for (const char* view : {"threads", "reactors", "pollers"}) {
    const CtlResult r = reactorctl(fmt::format("-s {} {}", d.socket(), view));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << view << ":\n" << r.out;
    EXPECT_EQ(r.out.find("\n999  forged"), std::string::npos) << view << ":\n" << r.out;
    EXPECT_NE(r.out.find("evil\\n999  forged"), std::string::npos) << view << ":\n" << r.out;
  }
}

}  // namespace
}  // namespace reactor::test
