// Topology: synthetic and flat topologies, discovery of this machine, and
// pinning real OS threads.

#include <reactor/topology.hh>

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

namespace {

using reactor::CoreId;
using reactor::CpuInfo;
using reactor::CpuSet;
using reactor::Errc;
using reactor::Topology;

CpuSet from_cpu_set(const cpu_set_t& s) {
  CpuSet out;
  for (uint32_t c = 0; c < CpuSet::kMaxCores && c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &s)) out.set(CoreId{c});
  return out;
}

CpuSet process_affinity() {
  cpu_set_t s;
  CPU_ZERO(&s);
  EXPECT_EQ(sched_getaffinity(0, sizeof s, &s), 0);
  return from_cpu_set(s);
}

CpuSet thread_affinity() {
  cpu_set_t s;
  CPU_ZERO(&s);
  EXPECT_EQ(pthread_getaffinity_np(pthread_self(), sizeof s, &s), 0);
  return from_cpu_set(s);
}

/// Invariants every topology must satisfy, whatever its shape.
void expect_consistent(const Topology& t) {
  CpuSet seen;
  for (size_t i = 0; i < t.cpus().size(); ++i) {
    const CpuInfo& c = t.cpus()[i];
    if (i > 0) {
      EXPECT_LT(t.cpus()[i - 1].id.value, c.id.value) << "cpus() is sorted by core id";
    }
    seen.set(c.id);
    EXPECT_EQ(t.find(c.id), &c);
    EXPECT_TRUE(c.smt_siblings.test(c.id)) << "core " << c.id.value << " is its own sibling";
    EXPECT_TRUE(c.smt_siblings.is_subset_of(t.all()));
    for (CoreId s : c.smt_siblings.cores()) {
      const CpuInfo* sib = t.find(s);
      ASSERT_NE(sib, nullptr);
      EXPECT_EQ(sib->physical_core, c.physical_core);
      EXPECT_EQ(sib->smt_siblings, c.smt_siblings);
      EXPECT_EQ(sib->package, c.package);
    }
  }
  EXPECT_EQ(seen, t.all());
  EXPECT_EQ(t.all().count(), t.cpus().size());
}

TEST(TopologySynthetic, PackagesCoresAndSmt) {
  auto t = Topology::synthetic("package:2 core:8 pu:2");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->is_synthetic());
  ASSERT_EQ(t->cpus().size(), 32u);
  EXPECT_EQ(t->all(), *CpuSet::parse_list("0-31"));
  expect_consistent(*t);
  for (const CpuInfo& c : t->cpus()) {
    const uint32_t id = c.id.value;
    EXPECT_EQ(c.physical_core, id / 2);
    EXPECT_EQ(c.smt_siblings, CpuSet({id & ~1u, id | 1u})) << "core " << id;
    EXPECT_EQ(c.package, id / 16);
    EXPECT_EQ(c.numa_node, 0) << "hwloc adds one NUMA node when none is described";
  }
  EXPECT_EQ(t->describe(), "16 cores (32 PUs), 1 NUMA node, synthetic topology 'package:2 core:8 pu:2'");
}

TEST(TopologySynthetic, NumaNodes) {
  auto t = Topology::synthetic("numa:2 core:4 pu:2");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->cpus().size(), 16u);
  expect_consistent(*t);
  for (const CpuInfo& c : t->cpus()) {
    EXPECT_EQ(c.numa_node, static_cast<int>(c.id.value / 8)) << "core " << c.id.value;
    EXPECT_EQ(c.smt_siblings.count(), 2u);
  }
  EXPECT_EQ(t->describe(), "8 cores (16 PUs), 2 NUMA nodes, synthetic topology 'numa:2 core:4 pu:2'");
}

TEST(TopologySynthetic, PackagesWithNumaInside) {
  auto t = Topology::synthetic("package:2 numa:2 core:2 pu:1");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->cpus().size(), 8u);
  expect_consistent(*t);
  for (const CpuInfo& c : t->cpus()) {
    EXPECT_EQ(c.package, c.id.value / 4);
    EXPECT_EQ(c.numa_node, static_cast<int>(c.id.value / 2));
    EXPECT_EQ(c.smt_siblings, CpuSet({c.id.value}));
  }
  EXPECT_EQ(t->describe(), "8 cores (8 PUs), 4 NUMA nodes, synthetic topology 'package:2 numa:2 core:2 pu:1'");
}

TEST(TopologySynthetic, PusWithoutCoreObjects) {
  auto t = Topology::synthetic("pu:4");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->cpus().size(), 4u);
  expect_consistent(*t);
  for (const CpuInfo& c : t->cpus()) EXPECT_EQ(c.smt_siblings, CpuSet({c.id.value}));
  EXPECT_EQ(t->describe(), "4 cores (4 PUs), 1 NUMA node, synthetic topology 'pu:4'");
}

TEST(TopologySynthetic, BadDescriptionsAreNamed) {
  for (const char* bad : {"banana:3", "core:0", "package:2 core:x"}) {
    auto t = Topology::synthetic(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, Errc::invalid_argument);
    EXPECT_EQ(t.error().message.rfind(std::string("bad synthetic topology '") + bad + "'", 0), 0u)
        << t.error().message;
  }
}

TEST(TopologySynthetic, TooManyPus) {
  auto t = Topology::synthetic("core:600 pu:2");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::unsupported);
  EXPECT_NE(t.error().message.find("beyond the 1024-core limit"), std::string::npos) << t.error().message;
}

TEST(TopologySynthetic, BindingChecksTheCoreAndDoesNothing) {
  auto t = Topology::synthetic("package:2 core:8 pu:2");
  ASSERT_TRUE(t);
  std::thread th([&] {
    const CpuSet before = thread_affinity();
    auto r = t->bind_current_thread(CoreId{31});
    EXPECT_TRUE(r) << r.error().message;
    EXPECT_EQ(thread_affinity(), before);
    auto bad = t->bind_current_thread(CoreId{40});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::not_found);
    EXPECT_EQ(bad.error().message,
              "core 40 is not in the synthetic topology 'package:2 core:8 pu:2' (cores 0-31)");
  });
  th.join();
}

TEST(TopologySynthetic, CopiesShareTheHwlocHandle) {
  std::optional<Topology> copy;
  {
    auto t = Topology::synthetic("core:2 pu:2");
    ASSERT_TRUE(t);
    copy = *t;
  }
  ASSERT_EQ(copy->cpus().size(), 4u);
  EXPECT_TRUE(copy->bind_current_thread(CoreId{3}));
  EXPECT_EQ(copy->find(CoreId{2})->smt_siblings, CpuSet({2, 3}));
}

TEST(TopologyFlat, SinglePuCores) {
  const Topology t = Topology::flat(4);
  EXPECT_TRUE(t.is_synthetic());
  ASSERT_EQ(t.cpus().size(), 4u);
  EXPECT_EQ(t.all(), CpuSet({0, 1, 2, 3}));
  expect_consistent(t);
  for (const CpuInfo& c : t.cpus()) {
    EXPECT_EQ(c.numa_node, 0);
    EXPECT_EQ(c.package, 0u);
    EXPECT_EQ(c.physical_core, c.id.value);
    EXPECT_EQ(c.smt_siblings, CpuSet({c.id.value}));
  }
  EXPECT_EQ(t.find(CoreId{4}), nullptr);
  EXPECT_EQ(t.describe(), "4 cores (4 PUs), 1 NUMA node, flat topology");
  EXPECT_EQ(Topology::flat(1).describe(), "1 core (1 PU), 1 NUMA node, flat topology");
  EXPECT_TRUE(t.bind_current_thread(CoreId{2}));
  auto bad = t.bind_current_thread(CoreId{4});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "core 4 is not in the flat topology (cores 0-3)");
}

TEST(TopologyFlat, Empty) {
  const Topology t = Topology::flat(0);
  EXPECT_TRUE(t.cpus().empty());
  EXPECT_TRUE(t.all().empty());
  EXPECT_EQ(t.describe(), "0 cores (0 PUs), 0 NUMA nodes, flat topology");
  auto bad = t.bind_current_thread(CoreId{0});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "core 0 is not in the flat topology (cores none)");
}

TEST(TopologyDiscover, ListsExactlyTheCoresWeMayRunOn) {
  auto t = Topology::discover();
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_FALSE(t->is_synthetic());
  EXPECT_EQ(t->all(), process_affinity());
  expect_consistent(*t);
  for (const CpuInfo& c : t->cpus()) EXPECT_GE(c.numa_node, 0) << "Linux always reports a NUMA node";
  const std::string d = t->describe();
  EXPECT_NE(d.find(std::to_string(t->cpus().size()) + " PU"), std::string::npos) << d;
  EXPECT_TRUE(d.ends_with(", real topology")) << d;
  RecordProperty("topology", d);
}

TEST(TopologyDiscover, RestrictedToTheProcessBinding) {
  const CpuSet allowed = process_affinity();
  if (allowed.count() < 2) GTEST_SKIP() << "needs two allowed cores";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const CoreId last = allowed.cores().back();
  // In a child process (single-threaded), narrow the affinity to one core and
  // discover: only that core may appear.
  EXPECT_EXIT(
      {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(last.value, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0) std::_Exit(2);
        auto t = Topology::discover();
        if (!t) std::_Exit(3);
        std::_Exit(t->all() == CpuSet({last.value}) && t->cpus().size() == 1 ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(TopologyBind, PinsARealThreadToEachCore) {
  auto t = Topology::discover();
  ASSERT_TRUE(t) << t.error().message;
  for (CoreId core : t->all().cores()) {
    std::thread th([&] {
      auto r = t->bind_current_thread(core);
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(thread_affinity(), CpuSet({core.value}));
      // The kernel migrates the thread before sched_setaffinity returns.
      EXPECT_EQ(sched_getcpu(), static_cast<int>(core.value));
    });
    th.join();
  }
}

TEST(TopologyBind, OnlyTheCallingThreadIsPinned) {
  auto t = Topology::discover();
  ASSERT_TRUE(t);
  const CpuSet before = thread_affinity();
  std::thread th([&] { ASSERT_TRUE(t->bind_current_thread(t->all().first())); });
  th.join();
  EXPECT_EQ(thread_affinity(), before);
}

TEST(TopologyBind, UnknownCoreIsNamed) {
  auto t = Topology::discover();
  ASSERT_TRUE(t);
  uint32_t outside = CpuSet::kMaxCores - 1;
  while (t->all().test(CoreId{outside})) --outside;
  auto r = t->bind_current_thread(CoreId{outside});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().message, "core " + std::to_string(outside) + " is not in this machine's topology (cores " +
                                   t->all().to_list() + ")");
}

}  // namespace
