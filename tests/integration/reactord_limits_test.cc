// reactord's limits against the real binary and the real reactorctl: no
// client can starve the operator (64 silent connections, idle and read
// timeouts), names cannot forge rows in reactorctl's tables, and bad limits
// on the command line are one-line usage errors.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstddef>
#include <functional>

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

// Runs reactord with `args` in a child prepared by `setup` (called after
// fork, before exec: system calls only); stdout and stderr are captured.
RunResult run_prepared(const std::function<void()>& setup, std::vector<std::string> args) {
  RunResult r;
  char out_path[] = "/tmp/rd-out-XXXXXX";
  char err_path[] = "/tmp/rd-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  std::vector<char*> argv;
  std::string bin = REACTORD_PATH;
  argv.push_back(bin.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::close(out_fd);
    ::close(err_fd);
    setup();
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  int st = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  return r;
}

// Issue: under `ulimit -n 8` reactord aborted on an assert in the reactor's
// eventfd and left its socket and lock behind; with 9-10 it printed
// "listening" and could never accept.
TEST(ReactordStartup, TooFewOpenFilesIsOneLineAndExit1AndLeavesNothing) {
  for (rlim_t n : {8, 10, 40}) {
    const std::string sock = daemon_socket_path();
    const RunResult r = run_prepared(
        [n] {
          rlimit lim{n, n};
          ::setrlimit(RLIMIT_NOFILE, &lim);
        },
        {"-m", two_cores(), "--mode", "interrupt", "-r", sock});
    EXPECT_EQ(r.exit_code, 1) << n << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind(fmt::format("reactord: RLIMIT_NOFILE is {} (hard limit {}): reactord with", n, n), 0), 0U)
        << r.err;
    EXPECT_NE(r.err.find("open files; raise it, e.g. ulimit -n 1024"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "never says it is listening";
    EXPECT_FALSE(file_exists(sock)) << "no socket left behind";
    EXPECT_FALSE(file_exists(sock + ".lock")) << "no lock left behind";
  }
}

TEST(ReactordStartup, SoftOpenFilesLimitIsRaisedToTheHardOne) {
  // The soft limit alone is too low; the hard one is enough.
  Daemon d({"-m", two_cores(), "--mode", "interrupt"}, daemon_socket_path(), [] {
    rlimit lim{8, 4096};
    ::setrlimit(RLIMIT_NOFILE, &lim);
  });
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  call_ok(c, "spdk_get_version");
  const auto st = d.stop();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
}

// io_uring_setup refused (as with kernel.io_uring_disabled = 2, or a seccomp
// policy): one line and exit 1 instead of reactors that cannot sleep.
TEST(ReactordStartup, IoUringRefusedIsOneLineAndExit1) {
#if defined(__x86_64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
  GTEST_SKIP() << "no seccomp arch constant for this machine";
  constexpr std::uint32_t kArch = 0;
#endif
  const std::string sock = daemon_socket_path();
  const RunResult r = run_prepared(
      [] {
        static sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        static sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
          ::_exit(126);
      },
      {"-m", two_cores(), "--mode", "interrupt", "-r", sock});
  ASSERT_NE(r.exit_code, 126) << "could not install the seccomp filter";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const bool sysctl = r.err.find("reactord: io_uring is disabled on this host (kernel.io_uring_disabled") == 0;
  const bool policy = r.err.find("reactord: io_uring_setup is not permitted here (Operation not permitted") == 0;
  EXPECT_TRUE(sysctl || policy) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(file_exists(sock));
  EXPECT_FALSE(file_exists(sock + ".lock"));
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

// Issue: bare numbers were read as hex masks without a word ("-m 0" said
// "names no core", "--isolated-cores 0" isolated nothing) and "-m ''" meant
// every core.
TEST(ReactordMasks, BareNumbersWarnNamingBothReadingsAndEmptyMasksAreErrors) {
  RunResult r = run_reactord({"-m", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "reactord: --cpumask '0' names no core: read as the hex mask 0x0 (no core), as SPDK does; as a core list "
            "it would be core 0 (write 0x0 or [0] to say which) (see reactord --help)\n");
  r = run_reactord({"-m", ""});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("reactord: --cpumask is empty", 0), 0U) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_reactord({"-m", two_cores(), "--isolated-cores", " "});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("reactord: --isolated-cores is empty", 0), 0U) << r.err;

  // The first core as SPDK's bare hex ("1" for core 0, "2" for core 1...):
  // accepted as hex, with a warning naming the other reading.
  auto topo = Topology::discover();
  ASSERT_TRUE(topo.has_value());
  const uint32_t first = topo->all().first().value;
  if (first > 60) GTEST_SKIP() << "first core too high for a short mask";
  const std::string bare = fmt::format("{:x}", 1ULL << first);
  Daemon d({"-m", bare, "--isolated-cores", "0", "--mode", "interrupt"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  EXPECT_NE(d.stdout_text().find(fmt::format("(cores {}, ", first)), std::string::npos) << d.stdout_text();
  const std::string err = d.stderr_text();
  EXPECT_NE(err.find(fmt::format("reactord: warning: --cpumask '{}' is ambiguous: read as the hex mask 0x{} (core {}), "
                                 "as SPDK does; as a core list it would be core {}",
                                 bare, bare, first, bare)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("reactord: warning: --isolated-cores '0' is ambiguous: read as the hex mask 0x0 (no core)"),
            std::string::npos)
      << err;
}

// Issue: with the daemon SIGSTOPped during a switch, reactorctl said the
// switch failed and the daemon applied it after SIGCONT. Now reactorctl says
// it may still complete (exit 3), and the daemon applies it whole.
TEST(ReactordSwitch, SwitchThatTimedOutForTheClientIsReportedAsPossiblyCompleting) {
  Daemon d({"-m", two_cores(), "--mode", "interrupt"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  d.signal(SIGSTOP);
  const CtlResult r = reactorctl(fmt::format("-s {} --timeout 1 switch dynamic --period-us 20000", d.socket()));
  d.signal(SIGCONT);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(r.out, "reactorctl: switch timed out after 1 s: the switch may still complete, check `reactorctl "
                   "status`\n");
  auto c = d.client();
  json sched;
  for (int i = 0; i < 300; ++i) {
    sched = call_ok(c, "framework_get_scheduler");
    if (sched.value("scheduler_name", "") == "dynamic") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(sched.value("scheduler_name", ""), "dynamic") << sched.dump();
  EXPECT_EQ(sched.value("scheduler_period", 0), 20000) << "applied whole: policy and options together";
}

// The restore itself is tested against a fake sysfs tree
// (cpufreq_state_test); here the command line: with no state file there is
// nothing to restore, exit 0, and no daemon starts.
TEST(ReactordCpufreq, RestoreWithoutAStateFileSaysSoAndExits) {
  if (file_exists("/run/reactor/governor.state")) GTEST_SKIP() << "a real state file exists: not touching it";
  const RunResult r = run_reactord({"--restore-cpufreq"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "reactord: nothing to restore (no /run/reactor/governor.state)\n");
}

// --cpufreq-state PATH: a path that cannot hold the state file is one line,
// exit 2, and nothing starts (no socket, no lock file, no state file).
TEST(ReactordCpufreq, BadStatePathIsOneLineAndStartsNothing) {
  const std::string dir = fmt::format("/tmp/rd-state-{}", ::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  struct Case {
    std::string path;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"governor.state", "'governor.state' is not an absolute path"},
      {"run/governor.state", "'run/governor.state' is not an absolute path"},
      {dir + "/missing/governor.state", "directory " + dir + "/missing of " + dir + "/missing/governor.state does not exist"},
      {dir, dir + " is a directory"},
      {dir + "/", dir + "/ names a directory, not a file"},
      // A file system nobody can create files in, root included.
      {"/proc/governor.state", "directory /proc of /proc/governor.state is not writable: "},
  };
  for (const Case& c : cases) {
    const std::string sock = daemon_socket_path();
    const RunResult r = run_reactord({"-m", two_cores(), "--mode", "interrupt", "-r", sock, "--cpufreq-state", c.path});
    EXPECT_EQ(r.exit_code, 2) << c.path << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("reactord: --cpufreq-state: " + c.says, 0), 0U) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(file_exists(sock)) << "started with --cpufreq-state " << c.path;
    EXPECT_FALSE(file_exists(sock + ".lock"));
  }
  // The same with --restore-cpufreq: nothing is read or restored.
  const RunResult r = run_reactord({"--restore-cpufreq", "--cpufreq-state", "relative.state"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "reactord: --cpufreq-state: 'relative.state' is not an absolute path (see reactord --help)\n");
  EXPECT_EQ(::rmdir(dir.c_str()), 0) << "the path check left a file in " << dir;
}

// --restore-cpufreq reads the --cpufreq-state file, not the default one:
// absent, it says so with that path; unreadable as a state file, it fails
// naming that path and keeps it (nothing is written to sysfs: the bad line
// is refused before any core is touched).
TEST(ReactordCpufreq, RestoreReadsTheGivenStateFile) {
  const std::string dir = fmt::format("/tmp/rd-state-{}-r", ::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  const std::string state = dir + "/governor.state";
  RunResult r = run_reactord({"--restore-cpufreq", "--cpufreq-state", state});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "reactord: nothing to restore (no " + state + ")\n");

  std::ofstream(state) << "# reactor cpufreq state v1: core governor min_khz max_khz\n0 schedutil 800000\n";
  r = run_reactord({"--restore-cpufreq", "--cpufreq-state", state});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "reactord: cpufreq state file " + state +
                       " line 2 is not 'core governor min_khz max_khz': '0 schedutil 800000'\n");
  EXPECT_TRUE(file_exists(state)) << "kept for another try";
  ::unlink(state.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace reactor::test
