// reactorctl's run() in-process against real Unix sockets: no daemon, a
// stale socket, a socket of another user, and a stub RpcServer (stepped by
// its own thread, as reactord's control thread does) that answers with
// fixed results, errors, or never. Checks the exit status, the single
// stderr line, what was sent, and that the output is the formatter's.

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rpc/server.hh"
#include "tools/reactorctl_cli.hh"
#include "tools/reactorctl_format.hh"
#include "unit/tools/reactorctl_fixtures.hh"

namespace reactor::ctl {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// /tmp/rc-<pid>-<n>.sock: short and unique across parallel test processes.
std::string unique_path() {
  static std::atomic<int> n{0};
  return fmt::format("/tmp/rc-{}-{}.sock", ::getpid(), n.fetch_add(1));
}

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

Outcome run_ctl(std::vector<std::string> args) {
  args.insert(args.begin(), "reactorctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Outcome o;
  o.code = run(static_cast<int>(argv.size()), argv.data(), out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

// Exactly one line on stderr.
bool one_line(const std::string& s) {
  return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
}

// How a stub method answers.
struct Behaviour {
  enum class Kind { result, error, hold } kind = Kind::result;
  json value;
  int code = 0;
  std::string message;
};

struct Call {
  std::string method;
  json params;  // null when absent
};

class ReactorctlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    path = unique_path();
    server = std::make_unique<rpc::RpcServer>(path);
    answer("framework_set_scheduler", json(true));
    answer("framework_get_scheduler", test::scheduler_dynamic());
    answer("framework_get_reactors", test::reactors_sample());
    answer("framework_get_governor", test::governor_sample());
    answer("thread_get_stats", test::stats_sample());
    answer("thread_get_pollers", test::pollers_sample());
    answer("scheduler_get_history", test::history_sample());
    answer("scheduler_thread_create", json(7));
    // reactor's own method: answered as a daemon without it would (SPDK, an
    // older reactord) unless a test answers it.
    fail("reactor_get_reactor_stats", -32601, "Method not found");
    for (const char* m : {"framework_set_scheduler", "framework_get_scheduler",
                          "framework_get_reactors", "framework_get_governor", "thread_get_stats",
                          "thread_get_pollers", "scheduler_get_history",
                          "scheduler_thread_create", "reactor_get_reactor_stats"}) {
      const std::string name = m;
      auto r = server->add_method(
          name, rpc::MethodSpec{rpc::MethodStates::both, [this, name](const json* p,
                                                                      rpc::RpcResponder resp) {
                                  std::lock_guard lk(mu);
                                  calls.push_back(Call{name, p == nullptr ? json() : *p});
                                  const Behaviour& b = behaviours.at(name);
                                  switch (b.kind) {
                                    case Behaviour::Kind::result: resp.result(b.value); break;
                                    case Behaviour::Kind::error: resp.error(b.code, b.message); break;
                                    case Behaviour::Kind::hold: held.push_back(std::move(resp)); break;
                                  }
                                }});
      ASSERT_TRUE(r) << r.error().message;
    }
    auto r = server->start();
    ASSERT_TRUE(r) << r.error().message;
    control = std::thread([this] {
      while (!stop.load()) server->poll(50ms);
    });
  }
  void TearDown() override {
    stop.store(true);
    server->wake();
    control.join();
    {
      std::lock_guard lk(mu);
      held.clear();
    }
    server.reset();
  }

  void answer(const std::string& method, json value) {
    std::lock_guard lk(mu);
    behaviours[method] = Behaviour{Behaviour::Kind::result, std::move(value), 0, {}};
  }
  void fail(const std::string& method, int code, std::string message) {
    std::lock_guard lk(mu);
    behaviours[method] = Behaviour{Behaviour::Kind::error, json(), code, std::move(message)};
  }
  void hold(const std::string& method) {
    std::lock_guard lk(mu);
    behaviours[method] = Behaviour{Behaviour::Kind::hold, json(), 0, {}};
  }
  std::vector<Call> calls_made() {
    std::lock_guard lk(mu);
    return calls;
  }
  std::vector<std::string> methods_called() {
    std::vector<std::string> out;
    for (const auto& c : calls_made()) out.push_back(c.method);
    return out;
  }
  Outcome ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", path});
    return run_ctl(std::move(args));
  }

  std::string path;
  std::unique_ptr<rpc::RpcServer> server;
  std::thread control;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, Behaviour> behaviours;
  std::vector<Call> calls;
  std::vector<rpc::RpcResponder> held;
};

// ---- failures before any server is involved ----

TEST(ReactorctlNoServer, DaemonNotRunning) {
  const std::string p = unique_path();  // never created
  const auto o = run_ctl({"-s", p, "status"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, fmt::format("reactorctl: cannot connect to {}: no such file (is reactord "
                               "running?)\n",
                               p));
  EXPECT_EQ(o.out, "");
}

TEST(ReactorctlNoServer, DefaultSocketIsRunReactorForRootElseXdgRuntimeDir) {
  ::unsetenv("REACTOR_SOCKET");
  const char* saved = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_xdg = saved != nullptr ? saved : "";
  const std::string xdg = unique_path() + ".d";  // never created
  ASSERT_EQ(::setenv("XDG_RUNTIME_DIR", xdg.c_str(), 1), 0);
  auto o = run_ctl({"status"});
  const std::string expected = ::geteuid() == 0 ? "/run/reactor/reactor.sock" : xdg + "/reactor.sock";
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_THAT(o.err, HasSubstr("cannot connect to " + expected + ":")) << o.err;
  if (::geteuid() != 0) {
    ::unsetenv("XDG_RUNTIME_DIR");
    o = run_ctl({"status"});
    EXPECT_EQ(o.code, kExitUsage);
    EXPECT_EQ(o.err, fmt::format("reactorctl: no default RPC socket for uid {}: XDG_RUNTIME_DIR is not set; "
                                 "pass -s PATH\n",
                                 ::geteuid()));
  }
  if (saved != nullptr) ::setenv("XDG_RUNTIME_DIR", saved_xdg.c_str(), 1);
  else ::unsetenv("XDG_RUNTIME_DIR");
}

TEST(ReactorctlNoServer, StaleSocketFile) {
  const std::string p = unique_path();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, p.data(), p.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // bound, never listened: what a crashed daemon leaves behind
  const auto o = run_ctl({"-s", p, "reactors"});
  ::unlink(p.c_str());
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_TRUE(one_line(o.err)) << o.err;
  EXPECT_THAT(o.err, HasSubstr("connection refused"));
}

TEST(ReactorctlNoServer, SocketOfAnotherUserIsDenied) {
  const std::string p = unique_path();
  rpc::RpcServer server(p);  // listening (mode 0600), never stepped: connect fails first
  auto started = server.start();
  ASSERT_TRUE(started) << started.error().message;
  const std::string expected = fmt::format(
      "reactorctl: cannot connect to {}: permission denied (the socket is mode 0600: run as "
      "its owner)\n",
      p);
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(p.c_str(), 0), 0);
    const auto o = run_ctl({"-s", p, "status"});
    EXPECT_EQ(o.code, kExitFailure);
    EXPECT_EQ(o.err, expected);
    return;
  }
  // root ignores file modes: run the client as nobody in a child process.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string msg;
    int code = 0;
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
      msg = fmt::format("cannot drop privileges to uid 65534: {}", std::strerror(errno));
      code = 77;
    } else {
      const auto o = run_ctl({"-s", p, "status"});
      msg = o.err;
      code = o.code;
    }
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "running as root and " << msg;
  EXPECT_EQ(WEXITSTATUS(status), kExitFailure);
  EXPECT_EQ(msg, expected);
}

TEST(ReactorctlNoServer, HelpGoesToStdout) {
  const auto o = run_ctl({"--help"});
  EXPECT_EQ(o.code, kExitOk);
  EXPECT_THAT(o.out, HasSubstr("Usage: reactorctl"));
  EXPECT_EQ(o.err, "");
  const auto sw = run_ctl({"switch", "--help"});
  EXPECT_EQ(sw.code, kExitOk);
  EXPECT_THAT(sw.out, HasSubstr("--load-limit"));
}

// ---- bad command lines: exit 2, one line, nothing sent ----

TEST_F(ReactorctlCli, UsageErrorsSendNothing) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "reactorctl: A subcommand is required (see reactorctl --help)\n"},
      {{"frobnicate"}, ""},
      {{"switch"}, ""},
      {{"switch", "fifo"},
       "reactorctl: switch: unknown policy 'fifo'; known: static, dynamic, global (alias of "
       "gscheduler)\n"},
      {{"switch", "dynamic", "--load-limit", "101"},
       "reactorctl: switch: --load-limit 101 is not a percentage (0..100)\n"},
      {{"switch", "dynamic", "--core-busy", "-1"},
       "reactorctl: switch: --core-busy -1 is not a percentage (0..100)\n"},
      {{"switch", "dynamic", "--core-limit", "eighty"}, ""},
      {{"switch", "global", "--core-limit", "50"},
       "reactorctl: switch: --core-limit applies to the dynamic policy only, not gscheduler\n"},
      {{"switch", "dynamic", "--mappings", "2:0"},
       "reactorctl: switch: --mappings applies to the static policy only, not dynamic\n"},
      {{"switch", "static", "--mappings", "2-0"}, ""},
      {{"switch", "dynamic", "--period-us", "-5"},
       "reactorctl: --period-us: '-5' is not a number of microseconds (0..2^64-1) (see "
       "reactorctl --help)\n"},
      {{"--timeout", "0", "status"},
       "reactorctl: --timeout: '0' is not a number of seconds in (0, 86400] (see reactorctl "
       "--help)\n"},
      {{"reactors", "--interval", "0"}, ""},
      {{"threads", "--interval", "x"}, ""},
      {{"call"}, ""},
      {{"call", "framework_get_scheduler", "{not json"}, ""},
      {{"call", "framework_get_scheduler", "42"},
       "reactorctl: call: params must be a JSON object or array\n"},
  };
  for (const auto& [args, expected] : cases) {
    const auto o = ctl(args);
    EXPECT_EQ(o.code, kExitUsage) << fmt::format("{}", fmt::join(args, " "));
    EXPECT_TRUE(one_line(o.err)) << o.err;
    EXPECT_THAT(o.err, StartsWith("reactorctl: "));
    if (!expected.empty()) {
      EXPECT_EQ(o.err, expected);
    }
    EXPECT_EQ(o.out, "");
  }
  EXPECT_TRUE(calls_made().empty());
}

// ---- server errors, timeouts, odd replies ----

TEST_F(ReactorctlCli, RpcErrorIsOneLineWithItsCode) {
  fail("framework_set_scheduler", -32603,
       "gscheduler needs a governor: no governor configured (start reactord with --governor)");
  const auto o = ctl({"switch", "global", "--period-us", "5000"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, "reactorctl: switch failed: gscheduler needs a governor: no governor "
                   "configured (start reactord with --governor) (code -32603)\n");
  EXPECT_EQ(o.out, "");
  const auto c = calls_made();
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].params, json::parse(R"({"name":"gscheduler","period":5000})"));
}

TEST_F(ReactorctlCli, MultiLineServerMessageStaysOneLine) {
  fail("framework_get_reactors", -1,
       "Method may only be called after framework is initialized\nusing framework_start_init.\n");
  const auto o = ctl({"reactors"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, "reactorctl: reactors failed: Method may only be called after framework is "
                   "initialized using framework_start_init. (code -1)\n");
}

TEST_F(ReactorctlCli, NoReplyWithinTheTimeout) {
  hold("framework_get_scheduler");
  const auto o = ctl({"--timeout", "0.2", "status"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_TRUE(one_line(o.err)) << o.err;
  EXPECT_THAT(o.err, StartsWith("reactorctl: status timed out: no reply to "
                                "'framework_get_scheduler'"));
  EXPECT_THAT(o.err, HasSubstr("(--timeout 0.2s)"));
  EXPECT_EQ(o.out, "");
}

// Issue: a switch that timed out for the client was reported as failed, and
// the daemon applied it afterwards.
TEST_F(ReactorctlCli, SwitchWithoutAnswerSaysItMayStillCompleteWithItsOwnExitCode) {
  hold("framework_set_scheduler");
  const auto o = ctl({"--timeout", "0.2", "switch", "dynamic"});
  EXPECT_EQ(o.code, kExitSwitchTimedOut);
  EXPECT_EQ(o.err, "reactorctl: switch timed out after 0.2 s: the switch may still complete, check `reactorctl "
                   "status`\n");
  EXPECT_EQ(o.out, "");
}

TEST_F(ReactorctlCli, TimeoutOnAnOptionalCallIsStillAFailure) {
  hold("scheduler_get_history");
  const auto o = ctl({"--timeout", "0.2", "status"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_THAT(o.err, StartsWith("reactorctl: status timed out: no reply to "
                                "'scheduler_get_history'"));
  EXPECT_EQ(o.out, "") << "no half table after a failure";
}

TEST_F(ReactorctlCli, UnexpectedReplyShape) {
  answer("framework_get_scheduler", json(5));
  const auto o = ctl({"status"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, "reactorctl: status failed: unexpected reply to framework_get_scheduler: 5\n");
}

TEST_F(ReactorctlCli, UnknownMethodThroughCall) {
  const auto o = ctl({"call", "no_such_method"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, "reactorctl: no_such_method failed: Method not found: 'no_such_method' "
                   "(code -32601)\n");
}

// ---- successful subcommands ----

TEST_F(ReactorctlCli, SwitchSendsOnlyGivenOptionsAndSummarizes) {
  const auto o = ctl({"switch", "dynamic", "--period-us", "500000", "--core-limit", "70"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.err, "");
  const auto h = test::history_sample();
  EXPECT_EQ(o.out, format_switch_summary(test::scheduler_dynamic(), last_transition(h)));
  const auto c = calls_made();
  ASSERT_GE(c.size(), 1U);
  EXPECT_EQ(c[0].method, "framework_set_scheduler");
  EXPECT_EQ(c[0].params, json::parse(R"({"name":"dynamic","period":500000,"core_limit":70})"));
}

TEST_F(ReactorctlCli, SwitchStaticWithMappingsAndJson) {
  const auto o = ctl({"switch", "static", "--mappings", "2:1,3:0", "--json"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, "true\n");
  EXPECT_EQ(methods_called(), std::vector<std::string>{"framework_set_scheduler"});
  EXPECT_EQ(calls_made()[0].params, json::parse(R"({"name":"static","mappings":"2:1,3:0"})"));
}

TEST_F(ReactorctlCli, SwitchSucceedsEvenIfTheSummaryIsUnavailable) {
  fail("framework_get_scheduler", -32601, "Method not found");
  fail("scheduler_get_history", -32601, "Method not found");
  const auto o = ctl({"switch", "global"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, "switched to gscheduler\n");
}

TEST_F(ReactorctlCli, StatusCombinesFourCalls) {
  const auto o = ctl({"status"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  const auto sched = test::scheduler_dynamic();
  const auto gov = test::governor_sample();
  const auto reactors = test::reactors_sample();
  const auto history = test::history_sample();
  EXPECT_EQ(o.out, format_status(sched, &gov, &reactors, &history));
  EXPECT_EQ(methods_called(),
            (std::vector<std::string>{"framework_get_scheduler", "framework_get_governor",
                                      "framework_get_reactors", "scheduler_get_history"}));
}

TEST_F(ReactorctlCli, StatusWithoutTheOptionalMethods) {
  fail("framework_get_governor", -1, "Method may only be called after framework is initialized");
  fail("framework_get_reactors", -1, "Method may only be called after framework is initialized");
  fail("scheduler_get_history", -32601, "Method not found");
  answer("framework_get_scheduler", test::scheduler_startup());
  const auto o = ctl({"status"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_status(test::scheduler_startup(), nullptr, nullptr, nullptr));
}

TEST_F(ReactorctlCli, JsonPrintsTheRawResult) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"status", test::scheduler_dynamic()},   {"reactors", test::reactors_sample()},
      {"threads", test::stats_sample()},       {"pollers", test::pollers_sample()},
      {"governor", test::governor_sample()},   {"history", test::history_sample()}};
  for (const auto& [cmd, expected] : cases) {
    const auto o = ctl({cmd, "--json"});  // global option after the subcommand
    EXPECT_EQ(o.code, kExitOk) << cmd << ": " << o.err;
    EXPECT_EQ(json::parse(o.out), expected) << cmd;
  }
}

TEST_F(ReactorctlCli, TablesAreTheFormattersOutput) {
  FormatOptions fo;
  if (const long hz = ::sysconf(_SC_CLK_TCK); hz > 0) fo.clock_ticks_per_s = static_cast<uint64_t>(hz);
  const auto reactors = test::reactors_sample();
  const auto stats = test::stats_sample();
  auto o = ctl({"reactors"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_reactors(reactors, nullptr, nullptr, fo));
  o = ctl({"threads"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_threads(stats, nullptr, &reactors, fo));
  o = ctl({"pollers"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_pollers(test::pollers_sample()));
  o = ctl({"governor"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_governor(test::governor_sample()));
  o = ctl({"history", "--rounds", "1"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_history(test::history_sample(), 1));
}

TEST_F(ReactorctlCli, ReactorsAsksForHomeCoresOnlyWhenMissing) {
  (void)ctl({"reactors"});
  EXPECT_EQ(methods_called(),
            (std::vector<std::string>{"framework_get_reactors", "reactor_get_reactor_stats"}));
  auto r = test::reactors_sample();
  r["reactors"][0]["lw_threads"][0].erase("home_lcore");
  answer("framework_get_reactors", r);
  const auto o = ctl({"reactors"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(methods_called(), (std::vector<std::string>{"framework_get_reactors",
                                                        "reactor_get_reactor_stats",
                                                        "framework_get_reactors",
                                                        "reactor_get_reactor_stats",
                                                        "thread_get_stats"}));
}

TEST_F(ReactorctlCli, IntervalTakesTwoSamples) {
  auto o = ctl({"reactors", "--interval", "20"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("busy % over the last 20 ms"));
  // The daemon has no reactor_get_reactor_stats: asked once, not again.
  EXPECT_EQ(methods_called(), (std::vector<std::string>{"framework_get_reactors", "reactor_get_reactor_stats",
                                                        "framework_get_reactors"}));
  o = ctl({"threads", "--interval", "20"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("busy % over the last 20 ms"));
  const auto m = methods_called();
  EXPECT_EQ(std::vector<std::string>(m.begin() + 3, m.end()),
            (std::vector<std::string>{"thread_get_stats", "thread_get_stats",
                                      "framework_get_reactors"}));
}

// A daemon with reactor_get_reactor_stats (reactor's own method) gets an
// OVERHEAD% column, over the same window as BUSY%; --json stays the raw
// framework_get_reactors result (SPDK's shape).
TEST_F(ReactorctlCli, OverheadColumnWhenTheDaemonHasReactorStats) {
  FormatOptions fo;
  if (const long hz = ::sysconf(_SC_CLK_TCK); hz > 0) fo.clock_ticks_per_s = static_cast<uint64_t>(hz);
  const auto extra = test::reactor_stats_sample();
  answer("reactor_get_reactor_stats", extra);
  auto o = ctl({"reactors"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, format_reactors(test::reactors_sample(), nullptr, nullptr, fo,
                                   ReactorStatsSamples{&extra, nullptr}));
  EXPECT_THAT(o.out, HasSubstr("OVERHEAD%"));
  o = ctl({"reactors", "--interval", "20"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("BUSY%  OVERHEAD%"));
  EXPECT_THAT(o.out, HasSubstr("   0  poll           -          -        2"));  // no ticks in between
  const auto m = methods_called();
  EXPECT_EQ(std::vector<std::string>(m.begin() + 2, m.end()),
            (std::vector<std::string>{"framework_get_reactors", "reactor_get_reactor_stats",
                                      "framework_get_reactors", "reactor_get_reactor_stats"}));
  o = ctl({"reactors", "--json"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(json::parse(o.out), test::reactors_sample());
}

TEST_F(ReactorctlCli, CallPassesParamsAndPrintsTheResult) {
  auto o = ctl({"call", "scheduler_thread_create", R"({"active":50,"name":"load"})"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, "7\n");
  ASSERT_EQ(calls_made().size(), 1U);
  EXPECT_EQ(calls_made()[0].params, json::parse(R"({"active":50,"name":"load"})"));
  fail("scheduler_thread_create", -22, "Invalid argument");
  o = ctl({"call", "scheduler_thread_create", R"({"active":500})"});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, "reactorctl: scheduler_thread_create failed: Invalid argument (code -22)\n");
  o = ctl({"call", "framework_get_scheduler"});
  EXPECT_EQ(o.code, kExitOk);
  EXPECT_EQ(json::parse(o.out), test::scheduler_dynamic());
  EXPECT_TRUE(calls_made().back().params.is_null()) << "no params member without params";
}

TEST_F(ReactorctlCli, SocketFromTheEnvironment) {
  ASSERT_EQ(::setenv("REACTOR_SOCKET", path.c_str(), 1), 0);
  auto o = run_ctl({"status", "--json"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  // -s wins over the environment.
  const std::string missing = unique_path();
  o = run_ctl({"-s", missing, "status"});
  ::unsetenv("REACTOR_SOCKET");
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_THAT(o.err, HasSubstr(missing));
}

}  // namespace
}  // namespace reactor::ctl
