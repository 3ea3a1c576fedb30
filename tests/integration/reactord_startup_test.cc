// reactord --wait-for-rpc: the STARTUP state (rpc-compat.md §1.7, §2, §3.5,
// §3.11). Before framework_start_init no reactor exists; the scheduler and
// scheduler_set_options configure what init builds; RUNTIME-only methods are
// refused with SPDK's message; framework_wait_init answers when init is done.

#include <gtest/gtest.h>

#include <reactor/cpuset.hh>

#include "reactord_daemon.hh"

using namespace reactor;
using namespace reactor::test;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kNotInitialized =
    "Method may only be called after framework is initialized using framework_start_init RPC.";

struct Cores {
  uint32_t first = 0;
  std::optional<uint32_t> second;
};

Cores parse_cores(const std::string& list) {
  Cores c;
  c.first = static_cast<uint32_t>(std::stoul(list));
  if (const auto comma = list.find(','); comma != std::string::npos)
    c.second = static_cast<uint32_t>(std::stoul(list.substr(comma + 1)));
  return c;
}

std::optional<ojson> error_of(rpc::RpcClient& c, std::string_view method, const std::optional<json>& params) {
  auto r = c.call(method, params, 30s);
  if (r) return std::nullopt;
  if (!r.error().rpc_code) return ojson{{"transport", r.error().message}};
  return ojson{{"code", *r.error().rpc_code}, {"message", r.error().message}};
}

TEST(ReactordStartup, ConfiguresBeforeInitAndInitializesOnRequest) {
  const std::string cores = two_cores();
  const Cores cs = parse_cores(cores);
  Daemon d({"-m", cores, "--mode", "interrupt", "--governor", "none", "--wait-for-rpc", "--log-level", "warn"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  EXPECT_NE(d.stdout_text().find("waiting for framework_start_init"), std::string::npos) << d.stdout_text();
  auto c = d.client();

  // Nothing chosen yet: no scheduler name, period 0 (rpc-compat.md §3.3).
  json s = call_ok(c, "framework_get_scheduler");
  EXPECT_EQ(s, (json{{"scheduler_period", 0}, {"isolated_core_mask", "0"}, {"scheduling_core", cs.first}}));

  // RUNTIME-only methods are gated.
  for (const char* m : {"framework_get_reactors", "framework_get_governor", "thread_get_stats", "thread_get_pollers",
                        "framework_get_subsystems", "reactor_get_reactor_stats"}) {
    auto e = error_of(c, m, std::nullopt);
    ASSERT_TRUE(e) << m;
    EXPECT_EQ(*e, (ojson{{"code", -1}, {"message", kNotInitialized}})) << m;
  }
  auto e = error_of(c, "scheduler_thread_create", json{{"active", 10}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], -1);
  EXPECT_TRUE(call_ok(c, "scheduler_get_history")["transitions"].empty());

  // scheduler_set_options: SPDK's checks, in SPDK's order; nothing is stored on error.
  e = error_of(c, "scheduler_set_options", std::nullopt);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], -32602);
  EXPECT_EQ((*e)["message"], "Invalid parameters: expected an object with scheduling_core, isolated_core_mask, got none");
  e = error_of(c, "scheduler_set_options", json{{"scheduling_core", 0}, {"bogus", 1}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["message"], "Invalid parameters: unknown key 'bogus' (known: scheduling_core, isolated_core_mask)");
  e = error_of(c, "scheduler_set_options", json{{"isolated_core_mask", fmt::format("[{}]", cs.first)}});
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -32602},
                       {"message", fmt::format("Scheduling core cannot be included in isolated core mask. (core {} is "
                                               "in [{}])",
                                               cs.first, cs.first)}}));
  e = error_of(c, "scheduler_set_options", json{{"isolated_core_mask", "[1000]"}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["message"], fmt::format("Invalid isolated core mask: [1000] is not inside the reactor cores [{}]",
                                         CpuSet::parse_list(cores)->to_list()));
  e = error_of(c, "scheduler_set_options", json{{"isolated_core_mask", "0xzz"}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], -32602);
  EXPECT_EQ((*e)["message"].get<std::string>().rfind("Invalid isolated core mask: bad cpu mask '0xzz'", 0), 0U)
      << (*e)["message"];
  e = error_of(c, "scheduler_set_options", json{{"scheduling_core", 1000}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["message"].get<std::string>().rfind("Invalid scheduling core. (core 1000 is not a reactor core", 0), 0U)
      << (*e)["message"];
  EXPECT_EQ(call_ok(c, "framework_get_scheduler"),
            (json{{"scheduler_period", 0}, {"isolated_core_mask", "0"}, {"scheduling_core", cs.first}}));

  if (cs.second) {
    // Main core on the second core, the first one isolated.
    EXPECT_EQ(call_ok(c, "scheduler_set_options",
                      json{{"scheduling_core", *cs.second}, {"isolated_core_mask", fmt::format("[{}]", cs.first)}}),
              true);
  }
  // The scheduler chosen before init; gscheduler is refused without a governor.
  e = error_of(c, "framework_set_scheduler", json{{"name", "gscheduler"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -32603}, {"message", "gscheduler needs a governor: disabled (--governor none)"}}));
  e = error_of(c, "framework_set_scheduler", json{{"name", "static"}, {"mappings", "1:0"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -32603}, {"message", "mapping '1:0': thread 1 does not exist"}}));
  EXPECT_EQ(call_ok(c, "framework_set_scheduler", json{{"name", "dynamic"}, {"core_busy", 90}}), true);
  s = call_ok(c, "framework_get_scheduler");
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["scheduler_period"], 1000000);
  EXPECT_EQ(s["core_busy"], 90);
  if (cs.second) {
    EXPECT_EQ(s["scheduling_core"], *cs.second);
    EXPECT_EQ(s["isolated_core_mask"], fmt::format("{:x}", 1U << cs.first));
  }

  // A framework_wait_init sent now is answered by init.
  RawConnection waiter(d.socket());
  ASSERT_TRUE(waiter.ok());
  ASSERT_TRUE(waiter.send(R"({"jsonrpc":"2.0","id":"w","method":"framework_wait_init"})"));
  EXPECT_FALSE(waiter.read_line(300ms)) << "framework_wait_init answered before init";

  e = error_of(c, "framework_start_init", json::object());
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -32602}, {"message", "framework_start_init requires no parameters"}}));
  EXPECT_EQ(call_ok(c, "framework_start_init"), true);
  auto line = waiter.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, R"({"jsonrpc":"2.0","id":"w","result":true})");
  EXPECT_TRUE(d.wait_for_output("reactord: framework initialized")) << d.stdout_text();

  // RUNTIME now: the options took effect.
  s = call_ok(c, "framework_get_scheduler");
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["core_busy"], 90);
  EXPECT_FALSE(s.contains("governor_name"));  // --governor none
  if (cs.second) {
    EXPECT_EQ(s["scheduling_core"], *cs.second);
    EXPECT_EQ(s["isolated_core_mask"], fmt::format("{:x}", 1U << cs.first));
  }
  json r = call_ok(c, "framework_get_reactors");
  EXPECT_EQ(r["reactors"].size(), cs.second ? 2U : 1U);
  EXPECT_EQ(call_ok(c, "framework_wait_init"), true);
  e = error_of(c, "framework_start_init", std::nullopt);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], -1);
  e = error_of(c, "scheduler_set_options", json{{"scheduling_core", cs.first}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], -1);

  auto st = d.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
}

TEST(ReactordStartup, FailedInitLeavesStartupAndCanBeRetried) {
  // gscheduler chosen before init with --governor auto on a machine without
  // cpufreq fails at init; the daemon stays in STARTUP and init can be
  // retried after choosing another policy. Where cpufreq works the first
  // init succeeds, which is fine too.
  Daemon d({"-m", two_cores(), "--mode", "interrupt", "--wait-for-rpc", "--log-level", "error"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  EXPECT_EQ(call_ok(c, "framework_set_scheduler", json{{"name", "global"}}), true);
  EXPECT_EQ(call_ok(c, "framework_get_scheduler")["scheduler_name"], "gscheduler");
  auto init = c.call("framework_start_init", std::nullopt, 60s);
  if (!init) {
    ASSERT_TRUE(init.error().rpc_code);
    EXPECT_EQ(*init.error().rpc_code, -32603);
    EXPECT_EQ(init.error().message.rfind("framework_initialization failed: ", 0), 0U) << init.error().message;
    auto e = error_of(c, "thread_get_stats", std::nullopt);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], -1);  // still STARTUP
    EXPECT_EQ(call_ok(c, "framework_set_scheduler", json{{"name", "static"}}), true);
    EXPECT_EQ(call_ok(c, "framework_start_init"), true);
  }
  EXPECT_TRUE(call_ok(c, "thread_get_stats")["threads"].is_array());
  auto st = d.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
}

TEST(ReactordStartup, StopsCleanlyBeforeInit) {
  Daemon d({"-m", two_cores(), "--wait-for-rpc", "--log-level", "error"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto st = d.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.stderr_text();
  EXPECT_FALSE(file_exists(d.socket()));
  EXPECT_FALSE(file_exists(d.socket() + ".lock"));
}

// reactor_set_options (STARTUP) sets the baseline mode init builds; after
// init save_config reports it and framework_get_config answers the same
// entries, subsystem by subsystem, in framework_get_subsystems' order.
TEST(ReactordStartup, ReactorSetOptionsThenSaveConfig) {
  const std::string cores = two_cores();
  Daemon d({"-m", cores, "--governor", "sim", "--wait-for-rpc", "--log-level", "info"});
  ASSERT_TRUE(d.wait_ready()) << d.stderr_text();
  auto c = d.client();
  auto e = error_of(c, "save_config", std::nullopt);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -1}, {"message", kNotInitialized}}));
  e = error_of(c, "reactor_set_options", json{{"mode", "sleepy"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (ojson{{"code", -32602},
                       {"message", R"(Invalid parameters: 'mode' must be "poll" or "interrupt", got "sleepy")"}}));
  e = error_of(c, "reactor_set_options", json{{"mode", "interrupt"}, {"x", 1}});
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["message"], "Invalid parameters: unknown key 'x' (known: mode)");
  EXPECT_EQ(call_ok(c, "reactor_set_options", json{{"mode", "interrupt"}}), true);
  EXPECT_EQ(call_ok(c, "framework_set_scheduler", json{{"name", "dynamic"}, {"load_limit", 30}}), true);
  EXPECT_EQ(call_ok(c, "framework_start_init"), true);

  const json saved = call_ok(c, "save_config");
  const json subsystems = call_ok(c, "framework_get_subsystems");
  ASSERT_EQ(saved["subsystems"].size(), subsystems.size()) << saved.dump();
  for (std::size_t i = 0; i < subsystems.size(); ++i) {
    const std::string name = subsystems[i]["subsystem"];
    EXPECT_EQ(saved["subsystems"][i]["subsystem"], name);
    EXPECT_EQ(saved["subsystems"][i]["config"], call_ok(c, "framework_get_config", json{{"name", name}})) << name;
  }
  EXPECT_EQ(saved["subsystems"][0]["config"][1],
            (json{{"method", "reactor_set_options"}, {"params", {{"mode", "interrupt"}}}}));
  EXPECT_EQ(saved["subsystems"][1], (json{{"subsystem", "governor"}, {"config", nullptr}}));
  EXPECT_EQ(saved["subsystems"][2]["config"][0],
            (json{{"method", "framework_set_scheduler"},
                  {"params", {{"name", "dynamic"}, {"period", 1000000}, {"load_limit", 30}, {"core_limit", 80},
                              {"core_busy", 95}, {"numa_local", false}, {"smt_last", false},
                              {"keep_asleep", false}, {"main_room", false}}}}));
  EXPECT_NE(d.stderr_text().find("interrupt mode"), std::string::npos) << d.stderr_text();
}

}  // namespace
