// 64 concurrent clients against one reactord for 20 s: switching policies
// (static, dynamic, gscheduler through the simulated governor), reading every
// view, and creating, changing and deleting load threads. Every request must
// be answered (no transport failure, no unexpected error), and the daemon
// must still serve and then stop cleanly (exit 0: under ASan that includes
// LeakSanitizer finding nothing). Scaled down under sanitizers.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "reactord_daemon.hh"
#include "support/scale.hh"

using namespace reactor;
using namespace reactor::test;

namespace {

#if defined(REACTOR_TSAN)
constexpr int kClients = 16;
#else
constexpr int kClients = 64;
#endif
constexpr int kLoadClients = 8;  // the first clients also own a load thread each

TEST(ReactordStress, ConcurrentClientsSwitchAndReadForTwentySeconds) {
  const auto duration = std::chrono::milliseconds(scaled(20'000));
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--governor", "sim", "--log-level", "warn"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();

  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> switches{0};
  std::atomic<int> connected{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](std::string what) {
    std::lock_guard lk(failures_mu);
    if (failures.size() < 20) failures.push_back(std::move(what));
  };

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + duration;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i) * 7919U + 1U);
      rpc::RpcClient c;
      if (auto r = c.connect(d.socket(), 60s); !r) {
        fail(fmt::format("client {}: connect: {}", i, r.error().message));
        return;
      }
      connected.fetch_add(1);
      auto call = [&](std::string_view method, const std::optional<json>& params) -> std::optional<json> {
        sent.fetch_add(1, std::memory_order_relaxed);
        auto r = c.call(method, params, 60s);
        if (!r) {
          fail(fmt::format("client {}: {}: {}{}", i, method,
                           r.error().rpc_code ? fmt::format("error {} ", *r.error().rpc_code) : "transport ",
                           r.error().message));
          if (!r.error().rpc_code) (void)c.connect(d.socket(), 60s);  // keep going on a fresh connection
          return std::nullopt;
        }
        answered.fetch_add(1, std::memory_order_relaxed);
        return *r;
      };
      std::optional<uint64_t> load;
      if (i < kLoadClients) {
        if (auto r = call("scheduler_thread_create", json{{"active", rng() % 30}, {"name", fmt::format("load_{}", i)}}))
          load = r->get<uint64_t>();
      }
      static const char* kReads[] = {"framework_get_scheduler", "framework_get_reactors", "thread_get_stats",
                                     "thread_get_pollers",      "framework_get_governor", "scheduler_get_history",
                                     "spdk_get_version",        "framework_get_subsystems"};
      while (std::chrono::steady_clock::now() < deadline) {
        const unsigned pick = rng() % 100;
        if (pick < 10) {
          static const char* kPolicies[] = {"static", "dynamic", "gscheduler", "global"};
          json p{{"name", kPolicies[rng() % 4]}};
          if (p["name"] == "dynamic") {
            p["period"] = 10'000 + rng() % 200'000;
            p["core_limit"] = 50 + rng() % 50;
          }
          if (call("framework_set_scheduler", p)) switches.fetch_add(1, std::memory_order_relaxed);
        } else if (pick < 15 && load) {
          call("scheduler_thread_set_active", json{{"thread_id", *load}, {"active", rng() % 40}});
        } else {
          call(kReads[rng() % std::size(kReads)], std::nullopt);
        }
      }
      if (load) call("scheduler_thread_delete", json{{"thread_id", *load}});
    });
  }
  for (auto& t : clients) t.join();

  EXPECT_EQ(connected.load(), kClients) << d.stderr_text();
  {
    std::lock_guard lk(failures_mu);
    for (const auto& f : failures) ADD_FAILURE() << f;
    if (!failures.empty()) ADD_FAILURE() << "reactord's stderr:\n" << d.stderr_text();
  }
  EXPECT_EQ(answered.load(), sent.load());
  EXPECT_GT(switches.load(), 0U);
  // Alive and consistent afterwards.
  auto c = d.client();
  json s = call_ok(c, "framework_get_scheduler");
  EXPECT_TRUE(s.contains("scheduler_name")) << s.dump();
  json h = call_ok(c, "scheduler_get_history");
  EXPECT_GE(h["transitions_total"].get<uint64_t>(), switches.load());
  for (const auto& t : h["transitions"]) EXPECT_EQ(t["ok"], true) << t.dump();
  RecordProperty("requests", static_cast<int>(sent.load()));
  RecordProperty("switches", static_cast<int>(switches.load()));
  fmt::print("{} clients, {} requests answered, {} switches in {} ms\n", kClients, answered.load(), switches.load(),
             duration.count());
  auto st = d.stop(60s);
  ASSERT_TRUE(st) << "reactord did not stop";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
}

}  // namespace
