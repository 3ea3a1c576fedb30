// The DPDK governor. Its own test process: EAL may only start once per
// process, and the "no cpufreq" case must prove EAL was never touched.
//
// On a machine without cpufreq (most VMs, CI) creation must fail with a
// message pointing at the simulated governor, before EAL starts: the
// process's affinity is unchanged, EAL has no lcores, and no DPDK runtime
// directory appears. On a host with cpufreq the real governor is exercised.

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rte_lcore.h>

#include <reactor/governor.hh>

#include "sched/dpdk_governor.hh"

namespace reactor {
namespace {

namespace fs = std::filesystem;

CpuSet allowed_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  CpuSet out;
  for (uint32_t c = 0; c < CPU_SETSIZE && c < CpuSet::kMaxCores; ++c) {
    if (CPU_ISSET(c, &set)) out.set(CoreId{c});
  }
  return out;
}

cpu_set_t thread_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
  return set;
}

// Every place EAL would create its runtime directory for our --file-prefix.
std::vector<fs::path> eal_runtime_dirs() {
  const std::string prefix = fmt::format("reactor{}", getpid());
  std::vector<fs::path> dirs{fs::path("/var/run/dpdk") / prefix, fs::path("/tmp/dpdk") / prefix};
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR")) dirs.push_back(fs::path(xdg) / "dpdk" / prefix);
  return dirs;
}

// A fake /sys/devices/system/cpu tree, removed at the end of the test.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("reactor-sysfs-{}-{}", getpid(), counter_++);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void add_cpufreq(uint32_t core, const char* driver) {
    const fs::path dir = root_ / fmt::format("cpu{}", core) / "cpufreq";
    fs::create_directories(dir);
    if (driver != nullptr) std::ofstream(dir / "scaling_driver") << driver << "\n";
  }
  fs::path root_;
  static inline int counter_ = 0;
};

TEST_F(FakeSysfs, ProbeFindsTheDriver) {
  add_cpufreq(0, "acpi-cpufreq");
  add_cpufreq(1, "acpi-cpufreq");
  auto driver = detail::probe_cpufreq(CpuSet{0, 1}, root_.string());
  ASSERT_TRUE(driver) << driver.error().message;
  EXPECT_EQ(*driver, "acpi-cpufreq");
}

TEST_F(FakeSysfs, ProbeNamesTheFirstCoreWithoutCpufreq) {
  add_cpufreq(0, "intel_pstate");
  auto r = detail::probe_cpufreq(CpuSet{0, 1, 2}, root_.string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().message, fmt::format("no cpufreq for core 1 ({}/cpu1/cpufreq missing): use --governor "
                                           "sim to simulate",
                                           root_.string()));
}

TEST_F(FakeSysfs, ProbeNamesAMissingScalingDriver) {
  add_cpufreq(0, "acpi-cpufreq");
  add_cpufreq(5, nullptr);  // the directory exists but the driver file does not
  auto r = detail::probe_cpufreq(CpuSet{0, 5}, root_.string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_NE(r.error().message.find(fmt::format("core 5 ({}/cpu5/cpufreq/scaling_driver missing)", root_.string())),
            std::string::npos)
      << r.error().message;
}

TEST_F(FakeSysfs, SmtSiblingsInsideThePoolAreAccepted) {
  for (uint32_t c : {0u, 1u, 2u, 3u}) {
    fs::create_directories(root_ / fmt::format("cpu{}", c) / "topology");
    std::ofstream(root_ / fmt::format("cpu{}", c) / "topology" / "thread_siblings_list")
        << (c % 2 == 0 ? fmt::format("{},{}", c, c + 1) : fmt::format("{}-{}", c - 1, c)) << "\n";
  }
  EXPECT_TRUE(detail::check_smt_siblings(CpuSet{0, 1, 2, 3}, root_.string()));
  EXPECT_TRUE(detail::check_smt_siblings(CpuSet{2, 3}, root_.string()));
  // Core 2 without its sibling 3: refused, naming both.
  auto split = detail::check_smt_siblings(CpuSet{0, 1, 2}, root_.string());
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error().code, Errc::unsupported);
  EXPECT_NE(split.error().message.find("core 2 shares its physical core with CPU 3"), std::string::npos)
      << split.error().message;
}

TEST_F(FakeSysfs, UnreadableSmtSiblingsAreRefused) {
  auto r = detail::check_smt_siblings(CpuSet{0}, root_.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot read the SMT siblings of core 0"), std::string::npos)
      << r.error().message;
}

TEST(DpdkGovernorProbe, NoCoresIsInvalid) {
  auto r = detail::probe_cpufreq(CpuSet{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  auto g = make_dpdk_governor(CpuSet{});
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::invalid_argument);
}

// Declared before the real-host test: it checks EAL was never started in this process.
TEST(DpdkGovernor, WithoutCpufreqFailsCleanlyBeforeEal) {
  const CpuSet cores = allowed_cores();
  ASSERT_FALSE(cores.empty());
  if (auto probe = detail::probe_cpufreq(cores); probe) {
    GTEST_SKIP() << "this machine has cpufreq (driver " << *probe << "); the real governor is tested below";
  }
  const cpu_set_t before = thread_affinity();

  auto gov = make_dpdk_governor(cores);
  ASSERT_FALSE(gov);
  EXPECT_EQ(gov.error().code, Errc::unsupported);
  // The first core lacking cpufreq is named (on a VM without any, the lowest).
  const CoreId first = cores.first();
  if (!fs::exists(fmt::format("/sys/devices/system/cpu/cpu{}/cpufreq", first.value))) {
    EXPECT_EQ(gov.error().message,
              fmt::format("no cpufreq for core {0} (/sys/devices/system/cpu/cpu{0}/cpufreq missing): use "
                          "--governor sim to simulate",
                          first.value));
  }
  EXPECT_NE(gov.error().message.find("use --governor sim to simulate"), std::string::npos);

  const cpu_set_t after = thread_affinity();
  EXPECT_TRUE(CPU_EQUAL(&before, &after)) << "EAL would have pinned this thread to one core";
  EXPECT_EQ(rte_lcore_count(), 0u) << "EAL must not have been initialised";
  for (const fs::path& dir : eal_runtime_dirs()) EXPECT_FALSE(fs::exists(dir)) << dir;

  // A slot told why can hand that reason to whoever asks for a lease.
  GovernorSlot slot;
  slot.set_unavailable_reason(gov.error().message);
  auto lease = slot.acquire();
  ASSERT_FALSE(lease);
  EXPECT_NE(lease.error().message.find("use --governor sim"), std::string::npos);
}

bool driver_supported_by_dpdk(const std::string& driver) {
  return driver == "acpi-cpufreq" || driver == "intel_pstate" || driver == "cppc_cpufreq";
}

TEST(DpdkGovernor, ControlsRealFrequencies) {
  const CoreId core = allowed_cores().first();
  auto probe = detail::probe_cpufreq(CpuSet{core.value});
  if (!probe) GTEST_SKIP() << "no cpufreq on this machine: " << probe.error().message;
  // The governor refuses to split a physical core: take the core with its SMT siblings.
  CpuSet cores{core.value};
  {
    std::ifstream in(fmt::format("/sys/devices/system/cpu/cpu{}/topology/thread_siblings_list", core.value));
    std::string text;
    if (std::getline(in, text))
      if (auto sib = CpuSet::parse_list(text)) cores = *sib;
  }
  if (!cores.is_subset_of(allowed_cores())) GTEST_SKIP() << "the SMT siblings of core " << core.value << " are not all allowed";
  const std::string governor_file = fmt::format("/sys/devices/system/cpu/cpu{}/cpufreq/scaling_governor", core.value);
  auto read_governor = [&] {
    std::ifstream in(governor_file);
    std::string g;
    std::getline(in, g);
    return g;
  };
  const std::string kernel_governor = read_governor();

  const cpu_set_t before = thread_affinity();
  auto made = make_dpdk_governor(cores);
  if (!made) {
    if (geteuid() != 0 || !driver_supported_by_dpdk(*probe)) {
      GTEST_SKIP() << "rte_power cannot drive this host (driver " << *probe << ", euid " << geteuid()
                   << "): " << made.error().message;
    }
    FAIL() << "root with a supported cpufreq driver, yet: " << made.error().message;
  }
  const cpu_set_t after = thread_affinity();
  EXPECT_TRUE(CPU_EQUAL(&before, &after)) << "EAL init must restore this thread's affinity";
  EXPECT_EQ(read_governor(), kernel_governor) << "no lease yet: the kernel governor stays in charge";

  GovernorSlot slot(std::move(*made));
  const Governor& gov = *slot.peek();
  EXPECT_EQ(gov.name(), "dpdk_governor");
  EXPECT_EQ(gov.cores(), cores);
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease) << lease.error().message;
    const std::string env = gov.environment();
    EXPECT_TRUE(env == "acpi-cpufreq" || env == "kvm" || env == "intel-pstate" || env == "cppc-cpufreq" ||
                env == "amd-pstate" || env == "unknown")
        << env;
    auto bad = (*lease)->step_up(CoreId{cores.cores().back().value + 1});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::invalid_argument);
    const std::vector<uint32_t> freqs = gov.available_frequencies(core);
    if (env == "kvm") GTEST_SKIP() << "a KVM guest channel reports no frequencies";
    ASSERT_FALSE(freqs.empty());
    EXPECT_NE(gov.current_frequency(core), 0u);
    ASSERT_TRUE((*lease)->set_min(core));
    EXPECT_EQ((*lease)->current_frequency(core), freqs.back());
    if (freqs.size() >= 2) {
      ASSERT_TRUE((*lease)->step_up(core));
      EXPECT_EQ((*lease)->current_frequency(core), freqs[freqs.size() - 2]);
    }
    ASSERT_TRUE((*lease)->set_max(core));
    ASSERT_TRUE((*lease)->set_min(core));
  }
  // The lease ended: baselines restored, then rte_power_exit gave the core back.
  EXPECT_EQ(read_governor(), kernel_governor) << "the kernel governor is back while no policy holds the lease";
  EXPECT_TRUE(gov.available_frequencies(core).empty()) << "rte_power no longer controls the core";
}

}  // namespace
}  // namespace reactor
