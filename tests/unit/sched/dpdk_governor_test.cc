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
  const CpuSet one{core.value};
  auto probe = detail::probe_cpufreq(one);
  if (!probe) GTEST_SKIP() << "no cpufreq on this machine: " << probe.error().message;

  const cpu_set_t before = thread_affinity();
  auto made = make_dpdk_governor(one);
  if (!made) {
    if (geteuid() != 0 || !driver_supported_by_dpdk(*probe)) {
      GTEST_SKIP() << "rte_power cannot drive this host (driver " << *probe << ", euid " << geteuid()
                   << "): " << made.error().message;
    }
    FAIL() << "root with a supported cpufreq driver, yet: " << made.error().message;
  }
  const cpu_set_t after = thread_affinity();
  EXPECT_TRUE(CPU_EQUAL(&before, &after)) << "EAL init must restore this thread's affinity";

  Governor& gov = **made;
  EXPECT_EQ(gov.name(), "dpdk_governor");
  const std::string env = gov.environment();
  EXPECT_TRUE(env == "acpi-cpufreq" || env == "kvm" || env == "intel-pstate" || env == "cppc-cpufreq" ||
              env == "amd-pstate" || env == "unknown")
      << env;
  EXPECT_EQ(gov.cores(), one);

  auto bad = gov.step_up(CoreId{core.value + 1});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);

  const std::vector<uint32_t> freqs = gov.available_frequencies(core);
  if (env == "kvm") GTEST_SKIP() << "a KVM guest channel reports no frequencies";
  ASSERT_FALSE(freqs.empty());
  const uint32_t baseline = gov.current_frequency(core);
  EXPECT_NE(baseline, 0u);

  GovernorSlot slot(std::move(*made));
  {
    auto lease = slot.acquire();
    ASSERT_TRUE(lease) << lease.error().message;
    ASSERT_TRUE((*lease)->set_min(core));
    EXPECT_EQ((*lease)->current_frequency(core), freqs.back());
    if (freqs.size() >= 2) {
      ASSERT_TRUE((*lease)->step_up(core));
      EXPECT_EQ((*lease)->current_frequency(core), freqs[freqs.size() - 2]);
    }
    ASSERT_TRUE((*lease)->set_max(core));
    ASSERT_TRUE((*lease)->set_min(core));
  }
  EXPECT_EQ(slot.peek()->current_frequency(core), baseline) << "the lease restored the baseline";
}

}  // namespace
}  // namespace reactor
