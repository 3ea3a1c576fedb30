// End-to-end runs of the real reactor-bench binary: every workload for about
// a second on a small temp file (--json parsed and checked), named files,
// O_DIRECT, a switch schedule, SIGINT, --plot, --rpc-socket driven by the real
// reactorctl, and the one-line errors with their exit codes. Every run gets a private TMPDIR that must be empty afterwards: the
// bench never leaves its temp file behind.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef REACTOR_BENCH_BIN
#error "REACTOR_BENCH_BIN must name the reactor-bench executable"
#endif
#ifndef REACTORCTL_BIN
#error "REACTORCTL_BIN must name the reactorctl executable"
#endif

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  int exit_code = -1;
  int signal = 0;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/var/tmp") + "/bench_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    tmp_ = root_ / "tmp";
    fs::create_directory(tmp_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Starts the bench with TMPDIR = tmp_, stdout/stderr to files. Returns the pid.
  pid_t start(const std::vector<std::string>& args) {
    std::vector<std::string> full{REACTOR_BENCH_BIN};
    full.insert(full.end(), args.begin(), args.end());
    const std::string out = (root_ / "out").string(), err = (root_ / "err").string(), tmp = tmp_.string();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("TMPDIR", tmp.c_str(), 1);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  Outcome finish(pid_t pid) {
    Outcome r;
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = slurp(root_ / "out");
    r.err = slurp(root_ / "err");
    return r;
  }

  Outcome run(const std::vector<std::string>& args) { return finish(start(args)); }

  void expect_no_temp_left() {
    std::vector<std::string> left;
    for (auto& e : fs::directory_iterator(tmp_)) left.push_back(e.path().filename().string());
    EXPECT_TRUE(left.empty()) << "left behind: " << (left.empty() ? "" : left.front());
  }

  // Checks the JSON report's shape; returns it.
  nlohmann::json parse_report(const Outcome& r) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "stdout is not JSON: " << e.what() << "\n" << r.out << "\nstderr:\n" << r.err;
      return j;
    }
    // `iops` is the first field of the object.
    EXPECT_EQ(r.out.find("\"iops\""), r.out.find('"')) << r.out.substr(0, 80);
    for (const char* k : {"iops", "read_iops", "write_iops", "mib_s", "ios", "errors", "runtime_s", "latency_us",
                          "cpu", "cpu_seconds", "config", "policy", "switching", "switches"})
      EXPECT_TRUE(j.contains(k)) << "missing " << k;
    for (const char* k : {"avg", "p50", "p99", "p99_9", "max"}) EXPECT_TRUE(j["latency_us"].contains(k)) << k;
    return j;
  }

  fs::path root_, tmp_;
};

// The command that checks an SVG with tests/unit/sim/check_markup.py.
std::string fmt_check_markup(const std::string& svg) {
  return std::string("'") + REACTOR_PYTHON3 + "' '" + REACTOR_CHECK_MARKUP + "' svg '" + svg + "'";
}

struct Workload {
  const char* name;
  bool reads, writes;
};

}  // namespace

TEST_F(BenchTest, EveryWorkloadRunsAndReportsJson) {
  for (Workload w : {Workload{"randread", true, false}, Workload{"randwrite", false, true},
                     Workload{"read", true, false}, Workload{"write", false, true},
                     Workload{"randrw", true, true}}) {
    SCOPED_TRACE(w.name);
    Outcome r = run({"-w", w.name, "-t", "1", "--size", "8m", "-q", "8", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = parse_report(r);
    EXPECT_GT(j["iops"].get<double>(), 0);
    EXPECT_EQ(j["errors"].get<uint64_t>(), 0u);
    EXPECT_EQ(j["read_iops"].get<double>() > 0, w.reads);
    EXPECT_EQ(j["write_iops"].get<double>() > 0, w.writes);
    EXPECT_GT(j["latency_us"]["p99"].get<double>(), 0);
    EXPECT_GE(j["latency_us"]["max"].get<double>(), j["latency_us"]["p99"].get<double>() * 0.9);
    EXPECT_EQ(j["config"]["queue_depth"].get<int>(), 8);
    EXPECT_FALSE(j["cpu"].empty());
    // The live progress line went to stderr.
    EXPECT_NE(r.err.find("IOPS"), std::string::npos) << r.err;
    expect_no_temp_left();
  }
}

TEST_F(BenchTest, MixedReadPercentageIsHonoured) {
  Outcome r = run({"-w", "randrw", "-M", "90", "-t", "1", "--size", "4m", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_report(r);
  const double rd = j["read_iops"].get<double>(), wr = j["write_iops"].get<double>();
  ASSERT_GT(rd + wr, 0);
  EXPECT_GT(rd / (rd + wr), 0.8);
  EXPECT_LT(rd / (rd + wr), 0.97);
}

TEST_F(BenchTest, TextReportByDefault) {
  Outcome r = run({"-t", "1", "--size", "4m", "-m", "[0]"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* k : {"IOPS", "MiB/s", "p99.9", "core 0", "errors"})
    EXPECT_NE(r.out.find(k), std::string::npos) << k << " in\n" << r.out;
  expect_no_temp_left();
}

TEST_F(BenchTest, NamedFilesAndDirectIo) {
  const fs::path a = root_ / "a", b = root_ / "b";
  for (const auto& p : {a, b}) {
    std::ofstream f(p, std::ios::binary);
    std::string block(4096, 'x');
    for (int i = 0; i < 512; ++i) f << block;  // 2 MiB of data (not sparse)
  }
  Outcome r = run({"--filename", a.string(), "--filename", b.string(), "-t", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_report(r);
  EXPECT_EQ(j["config"]["files"].size(), 2u);
  EXPECT_GT(j["iops"].get<double>(), 0);

  Outcome d = run({"--filename", a.string(), "--direct", "-w", "randrw", "-t", "1", "--json"});
  if (d.exit_code != 0 && d.err.find("O_DIRECT") != std::string::npos) GTEST_SKIP() << d.err;
  ASSERT_EQ(d.exit_code, 0) << d.err;
  auto jd = parse_report(d);
  EXPECT_TRUE(jd["config"]["direct"].get<bool>());
  EXPECT_GT(jd["iops"].get<double>(), 0);
  EXPECT_EQ(jd["errors"].get<uint64_t>(), 0u);
}

TEST_F(BenchTest, SwitchScheduleIsAcceptedAndReported) {
  Outcome r = run({"-t", "2", "--size", "4m", "--switch-at", "0.5:dynamic,1:global,1.5:static", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_report(r);
  if (j["switching"] == "available") {
    ASSERT_EQ(j["switches"].size(), 3u);
    for (auto& s : j["switches"]) {
      EXPECT_TRUE(s["ok"].get<bool>()) << s.dump();
      EXPECT_EQ(s["errors"].get<uint64_t>(), 0u);
      EXPECT_TRUE(s.contains("stall_ms") && s.contains("transition_ms") && s.contains("threads_moved"));
    }
  } else {
    EXPECT_NE(r.err.find("switching requires the scheduler manager (not yet available)"), std::string::npos)
        << r.err;
    EXPECT_TRUE(j["switches"].empty());
  }
  EXPECT_GT(j["iops"].get<double>(), 0);
}

// A switch's stall and dip are read against the seconds of the same run that
// had no switch (a loaded machine stalls every second, switch or not): a run
// with whole seconds outside the window reports that reference, in JSON and
// in the text, and a run whose every second touches a window says it has none.
TEST_F(BenchTest, SwitchStallIsReportedNextToTheSecondsWithoutASwitch) {
  Outcome r = run({"-t", "4", "--size", "4m", "--switch-at", "3:dynamic", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_report(r);
  if (j["switching"] != "available") GTEST_SKIP() << "switching is not available here";
  ASSERT_EQ(j["switches"].size(), 1u);
  const auto& s = j["switches"][0];
  ASSERT_TRUE(s["stall_quiet_ms"].is_number()) << s.dump();
  EXPECT_GT(s["stall_quiet_ms"].get<double>(), 0) << s.dump();  // completions do have gaps between them
  ASSERT_TRUE(s["iops_min_quiet"].is_number()) << s.dump();
  EXPECT_GT(s["iops_min_quiet"].get<double>(), 0) << s.dump();

  Outcome t = run({"-t", "4", "--size", "4m", "--switch-at", "3:dynamic"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("a second without a switch (median): stall "), std::string::npos) << t.out;

  Outcome n = run({"-t", "1", "--size", "4m", "--switch-at", "0.5:dynamic", "--json"});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  auto jn = parse_report(n);
  ASSERT_EQ(jn["switches"].size(), 1u);
  EXPECT_TRUE(jn["switches"][0]["stall_quiet_ms"].is_null()) << jn.dump();
  Outcome nt = run({"-t", "1", "--size", "4m", "--switch-at", "0.5:dynamic"});
  EXPECT_NE(nt.out.find("no second of the run was without a switch"), std::string::npos) << nt.out;
}

TEST_F(BenchTest, SigintEndsTheRunWithAReportAndNoTempFile) {
  pid_t pid = start({"-t", "60", "--size", "4m", "--json"});
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  Outcome r = finish(pid);
  ASSERT_EQ(r.exit_code, 0) << "signal " << r.signal << "\n" << r.err;
  auto j = parse_report(r);
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_LT(j["runtime_s"].get<double>(), 30);
  expect_no_temp_left();
}

// Runs reactorctl with `args`; returns its exit code and stdout.
std::pair<int, std::string> reactorctl(const std::string& args) {
  const std::string cmd = std::string(REACTORCTL_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(BenchTest, RpcSocketServesReactorctlDuringTheRunAndIsRemoved) {
  const std::string sock = "/tmp/rb-" + std::to_string(::getpid()) + ".sock";
  ASSERT_FALSE(fs::exists(sock)) << sock;
  pid_t pid = start({"-t", "3", "--size", "4m", "--json", "--rpc-socket", sock});
  for (int i = 0; i < 100 && !fs::exists(sock); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(sock)) << "no socket after 2 s";
  EXPECT_TRUE(fs::exists(sock + ".lock"));

  auto [rc, out] = reactorctl("-s " + sock + " call framework_get_scheduler");
  EXPECT_EQ(rc, 0) << out;
  nlohmann::json sched;
  try {
    sched = nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "framework_get_scheduler: not JSON: " << e.what() << "\n" << out;
  }
  EXPECT_EQ(sched.value("scheduler_name", ""), "static") << out;
  std::tie(rc, out) = reactorctl("-s " + sock + " switch dynamic");
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = reactorctl("-s " + sock + " reactors");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("bench_0"), std::string::npos) << out;

  // A second bench on the same path: one line, exit 1, nothing started or left.
  const fs::path other_out = root_ / "other";
  const std::string second = std::string(REACTOR_BENCH_BIN) + " -t 1 --size 4m --rpc-socket " + sock +
                             " 2>" + other_out.string() + " >/dev/null";
  const int st = std::system(("TMPDIR=" + tmp_.string() + " " + second).c_str());
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1);
  const std::string err2 = slurp(other_out);
  EXPECT_NE(err2.find("in use"), std::string::npos) << err2;
  EXPECT_EQ(std::count(err2.begin(), err2.end(), '\n'), 1) << err2;

  Outcome r = finish(pid);
  ASSERT_EQ(r.exit_code, 0) << "signal " << r.signal << "\n" << r.err;
  auto j = parse_report(r);
  EXPECT_EQ(j["policy"], "dynamic") << "the switch made over RPC shows in the report";
  EXPECT_FALSE(fs::exists(sock)) << "socket left behind";
  EXPECT_FALSE(fs::exists(sock + ".lock")) << "lock file left behind";
  expect_no_temp_left();
}

// A second signal while the first one's report is being prepared exits at
// once and still removes the socket and its lock file. SIGINT then SIGTERM:
// both are pending before the monitor looks, it takes SIGINT (the lower
// number) and the handler it installs takes SIGTERM: exit status 128 + 15.
TEST_F(BenchTest, SecondSignalExitsAtOnceAndRemovesTheSocket) {
  const std::string sock = "/tmp/rb2-" + std::to_string(::getpid()) + ".sock";
  ASSERT_FALSE(fs::exists(sock)) << sock;
  pid_t pid = start({"-t", "60", "--size", "4m", "--rpc-socket", sock});
  for (int i = 0; i < 100 && !fs::exists(sock); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(sock)) << "no socket after 2 s";
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  Outcome r = finish(pid);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << "signal " << r.signal << "\n" << r.err;
  EXPECT_FALSE(fs::exists(sock)) << "socket left behind";
  EXPECT_FALSE(fs::exists(sock + ".lock")) << "lock file left behind";
  expect_no_temp_left();
}

TEST_F(BenchTest, BadOptionsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c : {Case{{"-q", "0"}, "queue-depth"},
                        Case{{"-w", "sideways"}, "unknown workload 'sideways'"},
                        Case{{"-o", "4x"}, "unit 'x'"},
                        Case{{"--switch-at", "5:dynamic,3:static"}, "is not after the previous switch"},
                        Case{{"--switch-at", "2:fast"}, "unknown policy 'fast'"},
                        Case{{"--switch-at", "20:static", "-t", "5"}, "not before the end of the run"},
                        Case{{"--scheduler", "lazy"}, "unknown policy 'lazy'"},
                        Case{{"-m", "0"}, "-m '0' selects no core: read as the hex mask 0x0 (no core), as SPDK "
                                          "does; as a core list it would be core 0 (write 0x0 or [0] to say which)"},
                        Case{{"-m", ""}, "-m is empty"},
                        Case{{"-M", "50"}, "-M applies to -w randrw only"},
                        Case{{"--no-such-option"}, "--no-such-option"},
                        Case{{"--direct", "-o", "1000", "--size", "1m"}, "multiple of the logical block size"}}) {
    SCOPED_TRACE(c.args.front() + " " + (c.args.size() > 1 ? c.args[1] : ""));
    Outcome r = run(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    expect_no_temp_left();
  }
}

TEST_F(BenchTest, EnvironmentErrorsAreOneClearLine) {
  const std::string missing = (root_ / "no-such-device").string();
  Outcome r = run({"--filename", missing, "-t", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "reactor-bench: no such file or device: " + missing + "\n");
  expect_no_temp_left();

  const fs::path small = root_ / "small";
  std::ofstream(small) << "tiny";
  r = run({"--filename", small.string(), "-t", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("too small"), std::string::npos) << r.err;

  r = run({"--filename", root_.string(), "-t", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a regular file or a block device"), std::string::npos) << r.err;

  if (::geteuid() != 0) {
    const fs::path locked = root_ / "locked";
    std::ofstream(locked) << std::string(8192, 'x');
    fs::permissions(locked, fs::perms::none);
    r = run({"--filename", locked.string(), "-t", "1"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
  }
  expect_no_temp_left();
}

namespace {

// The longest run of consecutive digits in `s`.
size_t longest_digit_run(const std::string& s) {
  size_t best = 0, cur = 0;
  for (char c : s) {
    cur = (c >= '0' && c <= '9') ? cur + 1 : 0;
    best = std::max(best, cur);
  }
  return best;
}

// Every "--option" token in `text`.
std::vector<std::string> long_options_in(const std::string& text) {
  std::vector<std::string> out;
  for (size_t i = text.find("--"); i != std::string::npos; i = text.find("--", i + 2)) {
    size_t j = i + 2;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '-')) ++j;
    if (j > i + 2) out.push_back(text.substr(i, j - i));
  }
  return out;
}

}  // namespace

// Issue 10 §7: "-t 0" printed the upper bound of CLI11's PositiveNumber (DBL_MAX
// written out: a 310-digit number).
TEST_F(BenchTest, NonPositiveTimesAreOneShortLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-t", "0"}, {"-t", "-1"}, {"--time", "0"}, {"-t", "nan"}, {"-t", "inf"}, {"--ramp", "-1"},
           {"--ramp", "inf"}}) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    Outcome r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_LT(longest_digit_run(r.err), 12u) << r.err;
    EXPECT_LT(r.err.size(), 200u) << r.err;
    EXPECT_NE(r.err.find(args[1]), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  Outcome r = run({"-t", "0"});
  EXPECT_EQ(r.err, "reactor-bench: -t 0: the measured time must be a number of seconds above 0\n");
  expect_no_temp_left();
}

// Issue 10 §7: "--size 1k" on an 8 MiB file said the file was too small.
TEST_F(BenchTest, SizeBelowOneIoBlamesSizeNotTheFile) {
  const fs::path big = root_ / "eight_mib";
  std::ofstream(big) << std::string(8u << 20, 'x');
  Outcome r = run({"--filename", big.string(), "--size", "1k", "-t", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "reactor-bench: --size 1k (1024 B) is less than one I/O (-o 4 KiB)\n");
  EXPECT_EQ(r.err.find("too small"), std::string::npos) << r.err;
  // The temp file too: nothing is created.
  r = run({"--size", "2k", "-o", "4k", "-t", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "reactor-bench: --size 2k (2048 B) is less than one I/O (-o 4 KiB)\n");
  expect_no_temp_left();
  // A file really smaller than one I/O is still the file's fault.
  const fs::path small = root_ / "small";
  std::ofstream(small) << "tiny";
  r = run({"--filename", small.string(), "-t", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("too small"), std::string::npos) << r.err;
}

// Issue 10 §7: the fallback note of "--switch-at 1:global" told the user to
// "use --governor sim", an option reactor-bench did not have. Every option
// the bench names on stderr must be one of its own; --governor is, with
// reactord's values.
TEST_F(BenchTest, GovernorHintsNameOnlyOptionsTheBenchHas) {
  const Outcome help = run({"--help"});
  ASSERT_EQ(help.exit_code, 0);
  Outcome r = run({"--switch-at", "0.5:global", "-t", "1", "--size", "4m", "-m", "[0]", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& opt : long_options_in(r.err))
    EXPECT_NE(help.out.find(opt), std::string::npos) << opt << " is named on stderr but is not an option:\n" << r.err;
  EXPECT_NE(help.out.find("--governor"), std::string::npos);

  // --governor sim: global runs on the simulated governor, no fallback note.
  r = run({"--scheduler", "global", "--governor", "sim", "-t", "1", "--size", "4m", "-m", "[0]", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_report(r)["policy"], "gscheduler");
  EXPECT_EQ(r.err.find("no real governor"), std::string::npos) << r.err;

  // --governor none refuses global up front, as reactord does; a bad name is one line.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--governor", "none", "--switch-at", "0.5:global", "-t", "1"},
           {"--governor", "none", "--scheduler", "global"},
           {"--governor", "turbo"}}) {
    SCOPED_TRACE(args[1]);
    r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("--governor"), std::string::npos) << r.err;
  }
  expect_no_temp_left();
}

// Issue 10 §7: SIGINT during --ramp reported the warm-up as the measurement.
TEST_F(BenchTest, SigintDuringTheRampReportsThatNothingWasMeasured) {
  pid_t pid = start({"--ramp", "60", "-t", "5", "--size", "4m", "-m", "[0]", "--json"});
  // The ramp is running once the first progress line ("[ramp 1s]") is out.
  for (int i = 0; i < 300 && slurp(root_ / "err").find("[ramp") == std::string::npos; ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  Outcome r = finish(pid);
  ASSERT_EQ(r.exit_code, 0) << "signal " << r.signal << "\n" << r.err;
  auto j = parse_report(r);
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_FALSE(j["measured"].get<bool>()) << r.out;
  EXPECT_EQ(j["ios"].get<uint64_t>(), 0u) << "warm-up I/O reported as measured:\n" << r.out;
  EXPECT_EQ(j["iops"].get<double>(), 0.0);
  EXPECT_EQ(j["runtime_s"].get<double>(), 0.0);
  EXPECT_NE(r.err.find("interrupted during the ramp"), std::string::npos) << r.err;

  // The text report says so in its first line. (The first run's stderr must
  // not be mistaken for this one's progress.)
  fs::remove(root_ / "err");
  pid = start({"--ramp", "60", "-t", "5", "--size", "4m", "-m", "[0]"});
  for (int i = 0; i < 300 && slurp(root_ / "err").find("[ramp") == std::string::npos; ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  r = finish(pid);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("interrupted during the ramp: nothing measured"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("IOPS"), std::string::npos) << r.out;
  expect_no_temp_left();
}

// --plot through the real CLI: a short run with a switch draws IOPS and p99
// per 100 ms, CPU per reactor and the switch labelled with the stall the
// JSON report gives; the SVG parses (check_markup.py).
TEST_F(BenchTest, PlotDrawsIopsP99CpuAndTheSwitchWithItsStall) {
  const std::string svg = (root_ / "run.svg").string();
  Outcome r = run({"-t", "2", "--size", "4m", "--switch-at", "1:dynamic", "--json", "--plot", svg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_report(r);
  EXPECT_NE(r.err.find("reactor-bench: wrote " + svg), std::string::npos) << r.err;
  const std::string check = fmt_check_markup(svg);
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
  const std::string s = slurp(svg);
  for (const char* want : {">IOPS</text>", ">p99 latency (us), log scale</text>", ">CPU (% of a core)</text>", ">time (s)</text>",
                           ">IOPS per 100 ms</text>", ">p99 per 100 ms</text>", "randread 4 KiB -q 32"})
    EXPECT_NE(s.find(want), std::string::npos) << want;
  for (auto& c : j["cpu"])
    EXPECT_NE(s.find(">reactor " + std::to_string(c["core"].get<int>()) + "</text>"), std::string::npos) << c.dump();
  if (j["switching"] == "available") {
    ASSERT_EQ(j["switches"].size(), 1u);
    char stall[64];
    std::snprintf(stall, sizeof stall, "static -&gt; dynamic: stall %.2f ms", j["switches"][0]["stall_ms"].get<double>());
    EXPECT_NE(s.find(stall), std::string::npos) << stall;
    EXPECT_NE(s.find("policy static -&gt; dynamic"), std::string::npos);
  }
  // The IOPS line (the first series colour, unfilled) has one point per 100 ms of the 2 s run.
  const auto at = s.find("fill=\"none\" stroke=\"#1f77b4\"");
  ASSERT_NE(at, std::string::npos);
  const auto d0 = s.rfind("d=\"M", at) + 4, d1 = s.find('"', d0);
  std::istringstream coords(s.substr(d0, d1 - d0));
  int numbers = 0;
  for (std::string tok; coords >> tok;) ++numbers;
  EXPECT_GE(numbers / 2, 15) << "points";
  EXPECT_LE(numbers / 2, 25) << "points";
  expect_no_temp_left();
}

// A --plot path that cannot take the picture is one line and exit 2 before
// anything runs (no progress line, no report, no temp file).
TEST_F(BenchTest, PlotPathIsCheckedBeforeTheRun) {
  const std::string missing_dir = (root_ / "no-such-dir").string();
  for (const auto& [path, says] : {std::pair{missing_dir + "/x.svg", "the directory " + missing_dir + " does not exist"},
                                   std::pair{root_.string(), std::string("is a directory, not a file")},
                                   std::pair{std::string(), std::string("--plot needs a file name")}}) {
    SCOPED_TRACE(path);
    Outcome r = run({"-t", "5", "--size", "4m", "--plot", path});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    expect_no_temp_left();
  }
}
