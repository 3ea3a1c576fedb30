// detail::init_eal_once: the process's one EAL start. Its own test process
// (EAL starts at most once per process). Works without hugepages, PCI or
// cpufreq, so it runs on VMs too.

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "sched/dpdk_eal.hh"

namespace reactor::detail {
namespace {

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

TEST(EalArguments, InMemoryWithAPerProcessPrefix) {
  const auto args = eal_arguments(CpuSet{0, 1, 2, 5}, 4242);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args.front(), "reactor");
  auto has = [&](const std::string& a) { return std::find(args.begin(), args.end(), a) != args.end(); };
  for (const char* flag : {"--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "--file-prefix=reactor4242",
                           "--log-level=lib.eal:error"}) {
    EXPECT_TRUE(has(flag)) << flag;
  }
  auto l = std::find(args.begin(), args.end(), "-l");
  ASSERT_NE(l, args.end());
  ASSERT_NE(l + 1, args.end());
  EXPECT_EQ(*(l + 1), "0-2,5");
}

// Declared first: bad requests must not start EAL or be remembered.
TEST(InitEalOnce, BadRequestsAttemptNothing) {
  auto empty = init_eal_once(CpuSet{});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);

  auto beyond = init_eal_once(CpuSet{RTE_MAX_LCORE});
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().code, Errc::invalid_argument);
  EXPECT_NE(beyond.error().message.find(fmt::format("core {}", RTE_MAX_LCORE)), std::string::npos)
      << beyond.error().message;
  EXPECT_EQ(rte_lcore_count(), 0u) << "EAL must not have started";
}

TEST(InitEalOnce, StartsOnceAndRestoresAffinity) {
  const CpuSet cores = allowed_cores();
  ASSERT_FALSE(cores.empty());
  const cpu_set_t before = thread_affinity();

  auto first = init_eal_once(cores);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->started_here);
  EXPECT_EQ(first->lcores, cores);
  EXPECT_EQ(first->file_prefix, fmt::format("reactor{}", getpid()));

  const cpu_set_t after = thread_affinity();
  EXPECT_TRUE(CPU_EQUAL(&before, &after)) << "EAL pinned the caller and it was not restored";
  EXPECT_EQ(rte_lcore_count(), cores.count());
  for (CoreId c : cores.cores()) EXPECT_TRUE(rte_lcore_is_enabled(c.value)) << "lcore " << c.value;
  EXPECT_EQ(rte_get_main_lcore(), cores.first().value);

  // Nothing lives in EAL's runtime directory in this mode; it is removed.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  EXPECT_NE(runtime_dir.find(first->file_prefix), std::string::npos) << runtime_dir;
  EXPECT_FALSE(std::filesystem::exists(runtime_dir)) << runtime_dir;

  // Later calls return the first outcome instead of starting EAL again.
  auto again = init_eal_once(cores);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->started_here) << "kept outcome, not an adopted EALREADY instance";
  EXPECT_EQ(again->lcores, first->lcores);
  EXPECT_EQ(again->file_prefix, first->file_prefix);

  auto subset = init_eal_once(CpuSet{cores.first().value});
  ASSERT_TRUE(subset) << subset.error().message;
  EXPECT_EQ(subset->lcores, cores);

  const cpu_set_t after_again = thread_affinity();
  EXPECT_TRUE(CPU_EQUAL(&before, &after_again));

  // A core EAL does not run cannot be added: EAL cannot restart.
  const uint32_t outside = std::min<uint32_t>(RTE_MAX_LCORE - 1, cores.cores().back().value + 1);
  auto more = init_eal_once(CpuSet{outside});
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().code, Errc::invalid_argument);
  EXPECT_NE(more.error().message.find(cores.to_list()), std::string::npos) << more.error().message;
  EXPECT_NE(more.error().message.find(fmt::format("cores {} are not", outside)), std::string::npos)
      << more.error().message;

  // EAL itself is indeed up: a direct second init is refused.
  std::string arg0 = "reactor_test";
  char* argv[] = {arg0.data(), nullptr};
  EXPECT_EQ(rte_eal_init(1, argv), -1);
  EXPECT_EQ(rte_errno, EALREADY);
}

}  // namespace
}  // namespace reactor::detail
