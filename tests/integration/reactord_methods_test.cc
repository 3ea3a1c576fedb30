// Every JSON-RPC method of a running reactord: result shapes and member order
// (rpc-compat.md §3), values that must be real (pid, tids, ticks, a load
// thread that really burns CPU), the synthetic load thread life cycle, and
// requests written the way SPDK's rpc.py writes them.
//
// One daemon for the suite: 2 cores, interrupt mode (2 vCPUs are shared with
// the test itself), the simulated governor so that gscheduler and
// framework_get_governor have something to show.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "reactord_daemon.hh"

using namespace reactor;
using namespace reactor::test;
using ojson = nlohmann::ordered_json;

namespace {

class ReactordMethods : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new Daemon({"-m", two_cores(), "--mode", "interrupt", "--governor", "sim", "--log-level", "warn"});
    ready_ = daemon_->wait_ready();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << "reactord did not start:\n" << daemon_->stderr_text();
    client_ = daemon_->client();
    // Every test starts from static with no load threads.
    call_ok(client_, "framework_set_scheduler", json{{"name", "static"}});
  }
  void TearDown() override {
    for (uint64_t id : created_) (void)client_.call("scheduler_thread_delete", json{{"thread_id", id}});
  }

  // Sends one request on a raw connection, returns the reply parsed in order.
  ojson raw_call(const std::string& request) {
    RawConnection c(daemon_->socket());
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(c.send(request));
    auto line = c.read_line();
    EXPECT_TRUE(line.has_value());
    return line ? ojson::parse(*line) : ojson();
  }
  ojson result_of(std::string_view method, const std::optional<ojson>& params = std::nullopt) {
    ojson reply = raw_call(rpc_py_request(method, 1, params));
    EXPECT_TRUE(reply.contains("result")) << method << ": " << reply.dump();
    return reply.contains("result") ? reply["result"] : ojson();
  }
  uint64_t create_load(uint64_t active, const std::string& name, std::optional<std::string> mask = std::nullopt) {
    json p{{"active", active}, {"name", name}};
    if (mask) p["cpu_mask"] = *mask;
    json r = call_ok(client_, "scheduler_thread_create", p);
    EXPECT_TRUE(r.is_number_unsigned()) << r.dump();
    const uint64_t id = r.is_number_unsigned() ? r.get<uint64_t>() : 0;
    created_.push_back(id);
    return id;
  }
  static std::optional<json> find_thread(const json& list, uint64_t id) {
    for (const auto& t : list)
      if (t.value("id", uint64_t{0}) == id) return t;
    return std::nullopt;
  }

  static Daemon* daemon_;
  static bool ready_;
  rpc::RpcClient client_;
  std::vector<uint64_t> created_;
};

Daemon* ReactordMethods::daemon_ = nullptr;
bool ReactordMethods::ready_ = false;

TEST_F(ReactordMethods, SpdkGetVersionHasSpdkShape) {
  ojson v = result_of("spdk_get_version");
  EXPECT_EQ(keys_of(v), (std::vector<std::string>{"version", "fields"}));
  EXPECT_EQ(keys_of(v["fields"]), (std::vector<std::string>{"major", "minor", "patch", "suffix"}));
  const auto& f = v["fields"];
  EXPECT_TRUE(f["major"].is_number_unsigned());
  EXPECT_TRUE(f["minor"].is_number_unsigned());
  EXPECT_TRUE(f["patch"].is_number_unsigned());
  EXPECT_TRUE(f["suffix"].is_string());
  EXPECT_EQ(v["version"], fmt::format("reactor v{}.{}.{}{}", f["major"].get<uint32_t>(), f["minor"].get<uint32_t>(),
                                      f["patch"].get<uint32_t>(), f["suffix"].get<std::string>()));
}

TEST_F(ReactordMethods, RpcGetMethodsListsEveryMethodAndAcceptsRpcPyParams) {
  // rpc.py always sends both flags (rpc-compat.md §3.2).
  ojson all = result_of("rpc_get_methods", ojson{{"current", false}, {"include_aliases", false}});
  std::set<std::string> names;
  for (const auto& n : all) names.insert(n.get<std::string>());
  for (const char* m : {"spdk_get_version", "rpc_get_methods", "framework_get_scheduler", "framework_set_scheduler",
                        "scheduler_set_options", "framework_get_reactors", "framework_get_governor",
                        "thread_get_stats", "thread_get_pollers", "framework_get_subsystems", "framework_start_init",
                        "framework_wait_init", "scheduler_get_history", "scheduler_thread_create",
                        "scheduler_thread_set_active", "scheduler_thread_delete", "reactor_get_reactor_stats",
                        "scheduler_get_load"})
    EXPECT_EQ(names.count(m), 1U) << m;
  ojson current = result_of("rpc_get_methods", ojson{{"current", true}});
  std::set<std::string> now;
  for (const auto& n : current) now.insert(n.get<std::string>());
  EXPECT_EQ(now.count("framework_start_init"), 0U);  // STARTUP only
  EXPECT_EQ(now.count("scheduler_set_options"), 0U);
  EXPECT_EQ(now.count("framework_get_reactors"), 1U);
}

TEST_F(ReactordMethods, FrameworkGetSchedulerMemberOrderPerPolicy) {
  const uint32_t main_core = result_of("framework_get_reactors")["reactors"][0]["lcore"].get<uint32_t>();
  ojson s = result_of("framework_get_scheduler");
  EXPECT_EQ(s, (ojson{{"scheduler_name", "static"},
                      {"scheduler_period", 0},
                      {"isolated_core_mask", "0"},
                      {"scheduling_core", main_core}}));
  EXPECT_EQ(keys_of(s), (std::vector<std::string>{"scheduler_name", "scheduler_period", "isolated_core_mask",
                                                   "scheduling_core"}));

  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}});
  s = result_of("framework_get_scheduler");
  // The simulated governor is leased by dynamic.
  EXPECT_EQ(keys_of(s), (std::vector<std::string>{"scheduler_name", "scheduler_period", "isolated_core_mask",
                                                   "scheduling_core", "governor_name", "load_limit", "core_limit",
                                                   "core_busy", "numa_local", "smt_last", "keep_asleep",
                                                   "main_room"}));
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["scheduler_period"], 1000000);  // period 0 becomes 1 s
  EXPECT_EQ(s["governor_name"], "sim_governor");
  EXPECT_EQ(s["load_limit"], 20);
  EXPECT_EQ(s["core_limit"], 80);
  EXPECT_EQ(s["core_busy"], 95);
  EXPECT_EQ(s["numa_local"], false);  // our extension: off (SPDK's placement) by default
  EXPECT_EQ(s["smt_last"], false);
  EXPECT_EQ(s["keep_asleep"], false);
  EXPECT_EQ(s["main_room"], false);

  // "global" is an alias: the canonical name is reported, the period kept.
  call_ok(client_, "framework_set_scheduler", json{{"name", "global"}});
  s = result_of("framework_get_scheduler");
  EXPECT_EQ(keys_of(s), (std::vector<std::string>{"scheduler_name", "scheduler_period", "isolated_core_mask",
                                                   "scheduling_core", "governor_name"}));
  EXPECT_EQ(s["scheduler_name"], "gscheduler");
  EXPECT_EQ(s["scheduler_period"], 1000000);
}

TEST_F(ReactordMethods, SetSchedulerOptionsPersistAcrossSwitchesAndUnknownKeysAreIgnored) {
  call_ok(client_, "framework_set_scheduler",
          json{{"name", "dynamic"}, {"period", 250000}, {"core_limit", 70}, {"something_else", "ignored"}});
  call_ok(client_, "framework_set_scheduler", json{{"name", "static"}});
  EXPECT_EQ(result_of("framework_get_scheduler")["scheduler_period"], 0);
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"load_limit", 10}});
  ojson s = result_of("framework_get_scheduler");
  EXPECT_EQ(s["core_limit"], 70);  // kept from the earlier request
  EXPECT_EQ(s["load_limit"], 10);
  EXPECT_EQ(s["core_busy"], 95);
  EXPECT_EQ(s["scheduler_period"], 1000000);  // static reset it to 0; 0 becomes 1 s
  // Selecting the current policy again is a full transition.
  const uint64_t before = result_of("scheduler_get_history")["transitions_total"].get<uint64_t>();
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"period", 500000}});
  ojson h = result_of("scheduler_get_history");
  EXPECT_EQ(h["transitions_total"].get<uint64_t>(), before + 1);
  EXPECT_EQ(h["transitions"].back()["from"], "dynamic");
  EXPECT_EQ(h["transitions"].back()["to"], "dynamic");
  EXPECT_EQ(result_of("framework_get_scheduler")["scheduler_period"], 500000);
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"load_limit", 20}, {"core_limit", 80}});
}

TEST_F(ReactordMethods, PlacementOptionsAreSetReadBackAndKeptLikeTheLimits) {
  call_ok(client_, "framework_set_scheduler",
          json{{"name", "dynamic"}, {"numa_local", true}, {"keep_asleep", true}});
  ojson s = result_of("framework_get_scheduler");
  EXPECT_EQ(s["numa_local"], true);
  EXPECT_EQ(s["smt_last"], false);
  EXPECT_EQ(s["keep_asleep"], true);
  EXPECT_EQ(result_of("scheduler_get_history")["transitions"].back()["options"],
            "numa_local=true keep_asleep=true");
  // Absent keys keep their value, across a switch to static and back.
  call_ok(client_, "framework_set_scheduler", json{{"name", "static"}});
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"smt_last", true}});
  s = result_of("framework_get_scheduler");
  EXPECT_EQ(s["numa_local"], true);
  EXPECT_EQ(s["smt_last"], true);
  EXPECT_EQ(s["keep_asleep"], true);
  // A bad value or a policy that does not take them changes nothing.
  const uint64_t before = result_of("scheduler_get_history")["transitions_total"].get<uint64_t>();
  const auto error_of = [&](const ojson& params) {
    const ojson reply = raw_call(rpc_py_request("framework_set_scheduler", 1, params));
    return reply.contains("error") ? reply["error"] : ojson();
  };
  EXPECT_EQ(error_of(ojson{{"name", "dynamic"}, {"numa_local", "off"}}),
            (ojson{{"code", -32602}, {"message", R"(Invalid parameters: 'numa_local' must be true or false, got "off")"}}));
  EXPECT_EQ(error_of(ojson{{"name", "static"}, {"smt_last", false}}),
            (ojson{{"code", -32603}, {"message", "static does not take smt_last (a dynamic option); static takes mappings"}}));
  EXPECT_EQ(result_of("scheduler_get_history")["transitions_total"].get<uint64_t>(), before);
  s = result_of("framework_get_scheduler");
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["numa_local"], true);
  EXPECT_EQ(s["smt_last"], true);
  // save_config carries them (reactord --config replays them: reactord_config_e2e).
  const ojson saved = result_of("save_config");
  const ojson& params = saved["subsystems"][2]["config"][0]["params"];
  EXPECT_EQ(params["numa_local"], true);
  EXPECT_EQ(params["smt_last"], true);
  EXPECT_EQ(params["keep_asleep"], true);
  call_ok(client_, "framework_set_scheduler",
          json{{"name", "dynamic"}, {"numa_local", false}, {"smt_last", false}, {"keep_asleep", false}});
  s = result_of("framework_get_scheduler");
  EXPECT_EQ(s["numa_local"], false);
  EXPECT_EQ(s["smt_last"], false);
  EXPECT_EQ(s["keep_asleep"], false);
}

TEST_F(ReactordMethods, FrameworkGetReactorsHasRealNumbers) {
  const uint64_t id = create_load(0, "reactors_probe");
  ojson r = result_of("framework_get_reactors");
  EXPECT_EQ(keys_of(r), (std::vector<std::string>{"tick_rate", "pid", "reactors"}));
  EXPECT_GT(r["tick_rate"].get<uint64_t>(), 0U);
  EXPECT_EQ(r["pid"].get<int64_t>(), daemon_->pid());
  ASSERT_EQ(r["reactors"].size(), two_cores().find(',') == std::string::npos ? 1U : 2U);
  std::set<uint64_t> tids;
  uint32_t prev = 0;
  bool seen = false;
  bool first = true;
  for (const auto& c : r["reactors"]) {
    EXPECT_EQ(keys_of(c), (std::vector<std::string>{"lcore", "numa_id", "tid", "busy", "idle", "in_interrupt", "irq",
                                                     "sys", "usr", "lw_threads"}));
    const uint32_t lcore = c["lcore"].get<uint32_t>();
    if (!first) {
      EXPECT_GT(lcore, prev);  // ascending
    }
    first = false;
    prev = lcore;
    EXPECT_TRUE(c["numa_id"].is_number_integer());
    EXPECT_GT(c["tid"].get<uint64_t>(), 0U);
    tids.insert(c["tid"].get<uint64_t>());
    EXPECT_TRUE(c["in_interrupt"].get<bool>());  // --mode interrupt, static
    for (const char* k : {"busy", "idle", "irq", "sys", "usr"}) EXPECT_TRUE(c[k].is_number_unsigned()) << k;
    for (const auto& t : c["lw_threads"]) {
      EXPECT_EQ(keys_of(t), (std::vector<std::string>{"name", "id", "cpumask", "elapsed"}));
      if (t["id"].get<uint64_t>() == id) {
        seen = true;
        EXPECT_EQ(t["name"], "reactors_probe");
        EXPECT_TRUE(t["elapsed"].is_number_unsigned());
      }
    }
  }
  EXPECT_EQ(tids.size(), r["reactors"].size());  // one OS thread per reactor
  EXPECT_TRUE(seen) << r.dump();
  // The tids are the daemon's own threads.
  for (uint64_t tid : tids) EXPECT_TRUE(file_exists(fmt::format("/proc/{}/task/{}", daemon_->pid(), tid))) << tid;

  // core_freq appears only while a policy holds the governor.
  call_ok(client_, "framework_set_scheduler", json{{"name", "gscheduler"}});
  r = result_of("framework_get_reactors");
  for (const auto& c : r["reactors"]) {
    EXPECT_EQ(keys_of(c), (std::vector<std::string>{"lcore", "numa_id", "tid", "busy", "idle", "in_interrupt", "irq",
                                                     "sys", "usr", "core_freq", "lw_threads"}));
    EXPECT_GT(c["core_freq"].get<uint32_t>(), 0U);  // MHz of the simulated ladder
  }
}

// reactor's own method (not SPDK): the counters framework_get_reactors cannot
// carry without breaking spdk_top's strict decoding.
TEST_F(ReactordMethods, ReactorGetReactorStatsReportsOverheadAndCurrentThread) {
  (void)create_load(20, "stats_probe");
  ojson spdk = result_of("framework_get_reactors");
  ojson r = result_of("reactor_get_reactor_stats");
  EXPECT_EQ(keys_of(r), (std::vector<std::string>{"tick_rate", "reactors"}));
  EXPECT_EQ(r["tick_rate"], spdk["tick_rate"]);
  ASSERT_EQ(r["reactors"].size(), spdk["reactors"].size());
  for (size_t i = 0; i < r["reactors"].size(); ++i) {
    const auto& c = r["reactors"][i];
    EXPECT_EQ(keys_of(c), (std::vector<std::string>{"lcore", "busy", "idle", "sleep", "overhead", "loops", "wakeups",
                                                     "stalls", "current_thread"}));
    EXPECT_EQ(c["lcore"], spdk["reactors"][i]["lcore"]);  // same order: ascending lcore
    for (const char* k : {"busy", "idle", "sleep", "overhead", "loops", "wakeups", "stalls", "current_thread"})
      EXPECT_TRUE(c[k].is_number_unsigned()) << k;
    // Counters only grow between the two calls; overhead is part of busy.
    EXPECT_GE(c["busy"].get<uint64_t>(), spdk["reactors"][i]["busy"].get<uint64_t>());
    EXPECT_LE(c["overhead"].get<uint64_t>(), c["busy"].get<uint64_t>());
    EXPECT_GT(c["loops"].get<uint64_t>(), 0U);
  }
}

// reactor's own method for `reactorctl record`: one read with the topology,
// the cumulative counters and the rounds since a seq, each with the load it
// balanced (kept from the first call on) and its moves.
TEST_F(ReactordMethods, SchedulerGetLoadListsRoundsWithTheLoadTheyBalanced) {
  const uint64_t busy = create_load(80, "rec_busy");
  const uint64_t idle = create_load(0, "rec_idle");
  ojson first = result_of("scheduler_get_load");
  EXPECT_EQ(keys_of(first), (std::vector<std::string>{"tick_rate", "now", "process", "topology", "reactor_cores",
                                                       "isolated", "main_core", "baseline", "scheduler", "cores",
                                                       "threads", "rounds_total", "rounds_missed", "rounds"}));
  EXPECT_EQ(first["process"]["name"], "reactord");
  EXPECT_EQ(first["process"]["pid"], daemon_->pid());
  EXPECT_EQ(first["baseline"], "interrupt");
  EXPECT_EQ(first["scheduler"]["policy"], "static");
  EXPECT_TRUE(first["rounds"].empty());  // no since_round: nothing listed, loads kept from now on
  std::vector<uint32_t> lcores;
  const ojson spdk = result_of("framework_get_reactors");
  for (const auto& r : spdk["reactors"]) lcores.push_back(r["lcore"].get<uint32_t>());
  EXPECT_EQ(first["reactor_cores"].get<std::vector<uint32_t>>(), lcores);
  ASSERT_EQ(first["cores"].size(), lcores.size());
  for (const auto& c : first["cores"])
    EXPECT_EQ(keys_of(c), (std::vector<std::string>{"id", "busy", "idle", "sleep", "overhead", "loops", "stalls",
                                                     "mode", "sleeping", "threads", "freq_khz"}));
  std::set<uint64_t> names_seen;
  for (const auto& t : first["threads"]) {
    if (t["name"] == "rec_busy") names_seen.insert(t["id"].get<uint64_t>());
    if (t["name"] == "rec_idle") names_seen.insert(t["id"].get<uint64_t>());
    EXPECT_FALSE(t["cpumask"].empty());
  }
  EXPECT_EQ(names_seen, (std::set<uint64_t>{busy, idle}));

  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"period", 100000}});
  uint64_t since = first["rounds_total"].get<uint64_t>();
  std::vector<ojson> rounds;
  for (int i = 0; i < 300 && rounds.size() < 5; ++i) {
    std::this_thread::sleep_for(50ms);
    ojson r = result_of("scheduler_get_load", ojson{{"since_round", since}});
    EXPECT_EQ(r["rounds_missed"], 0u);
    for (const auto& rr : r["rounds"]) rounds.push_back(rr);
    since = r["rounds_total"].get<uint64_t>();
  }
  ASSERT_GE(rounds.size(), 5u) << "dynamic ran fewer than 5 rounds of 100 ms in 15 s";
  uint64_t prev_seq = first["rounds_total"].get<uint64_t>();
  uint64_t prev_tick = 0;
  for (const auto& rr : rounds) {
    EXPECT_EQ(rr["seq"].get<uint64_t>(), prev_seq + 1) << "a round was skipped or repeated";
    prev_seq = rr["seq"].get<uint64_t>();
    EXPECT_EQ(rr["policy"], "dynamic");
    EXPECT_GT(rr["at_tick"].get<uint64_t>(), prev_tick);
    prev_tick = rr["at_tick"].get<uint64_t>();
    EXPECT_GT(rr["ticks"].get<uint64_t>(), 0u);
    std::vector<uint32_t> ids;
    for (const auto& c : rr["load"]["cores"]) ids.push_back(c["id"].get<uint32_t>());
    EXPECT_EQ(ids, lcores);
    std::map<uint64_t, uint32_t> core_of;
    for (const auto& t : rr["load"]["threads"]) core_of[t["id"].get<uint64_t>()] = t["core"].get<uint32_t>();
    EXPECT_TRUE(core_of.count(busy) && core_of.count(idle)) << rr.dump();
    for (const auto& m : rr["moves"]) {
      ASSERT_TRUE(core_of.count(m["thread"].get<uint64_t>())) << m.dump();
      EXPECT_EQ(core_of[m["thread"].get<uint64_t>()], m["from"].get<uint32_t>()) << m.dump();
    }
  }

  // Bad input: one clear error, nothing listed.
  auto beyond = client_.call("scheduler_get_load", json{{"since_round", since + 1000}});
  ASSERT_FALSE(beyond.has_value());
  EXPECT_EQ(beyond.error().rpc_code, -32602);
  EXPECT_NE(beyond.error().message.find("after the last round"), std::string::npos) << beyond.error().message;
  auto wrong = client_.call("scheduler_get_load", json{{"since_round", "7"}});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().rpc_code, -32602);
  EXPECT_NE(wrong.error().message.find("since_round"), std::string::npos) << wrong.error().message;
  auto unknown = client_.call("scheduler_get_load", json{{"since", 1}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().rpc_code, -32602);
}

TEST_F(ReactordMethods, FrameworkGetGovernorIsEmptyWithoutALeaseElseListsCores) {
  EXPECT_EQ(result_of("framework_get_governor"), ojson::object());  // static holds no governor
  call_ok(client_, "framework_set_scheduler", json{{"name", "gscheduler"}});
  ojson g = result_of("framework_get_governor");
  EXPECT_EQ(keys_of(g), (std::vector<std::string>{"governor_name", "module_specific", "cores"}));
  EXPECT_EQ(g["governor_name"], "sim_governor");
  EXPECT_EQ(g["module_specific"], (ojson{{"env", "sim"}}));
  const ojson reactors = result_of("framework_get_reactors")["reactors"];
  ASSERT_EQ(g["cores"].size(), reactors.size());
  for (std::size_t i = 0; i < reactors.size(); ++i) {
    const auto& c = g["cores"][i];
    EXPECT_EQ(keys_of(c), (std::vector<std::string>{"lcore_id", "available_frequencies", "current_frequency"}));
    EXPECT_EQ(c["lcore_id"], reactors[i]["lcore"]);
    ASSERT_FALSE(c["available_frequencies"].empty());
    EXPECT_LE(c["available_frequencies"].size(), 64U);
    uint32_t prev = UINT32_MAX;
    for (const auto& f : c["available_frequencies"]) {  // kHz, highest first
      EXPECT_LT(f.get<uint32_t>(), prev);
      prev = f.get<uint32_t>();
    }
    EXPECT_GT(c["current_frequency"].get<uint32_t>(), 0U);
  }
}

TEST_F(ReactordMethods, ThreadStatsAndPollersOfALoadThread) {
  const uint64_t idle_id = create_load(0, "idle_load");
  const uint32_t first_core = static_cast<uint32_t>(std::stoul(two_cores()));
  const uint64_t busy_id = create_load(20, "busy_load", fmt::format("0x{:x}", 1U << first_core));
  ojson st = result_of("thread_get_stats");
  EXPECT_EQ(keys_of(st), (std::vector<std::string>{"tick_rate", "threads"}));
  uint64_t prev_id = 0;
  for (const auto& t : st["threads"]) {
    EXPECT_EQ(keys_of(t), (std::vector<std::string>{"name", "id", "cpumask", "busy", "idle", "active_pollers_count",
                                                     "timed_pollers_count", "paused_pollers_count"}));
    EXPECT_GT(t["id"].get<uint64_t>(), prev_id);  // ascending id
    prev_id = t["id"].get<uint64_t>();
  }
  const auto idle = find_thread(json::parse(st.dump())["threads"], idle_id);
  const auto busy = find_thread(json::parse(st.dump())["threads"], busy_id);
  ASSERT_TRUE(idle && busy) << st.dump();
  EXPECT_EQ((*idle)["name"], "idle_load");
  EXPECT_EQ((*idle)["timed_pollers_count"], 0);  // 0 %: no poller at all
  EXPECT_EQ((*idle)["active_pollers_count"], 0);
  EXPECT_EQ((*busy)["timed_pollers_count"], 1);
  EXPECT_EQ((*busy)["active_pollers_count"], 0);  // no always-on poller (rpc-compat.md, first section)
  EXPECT_EQ((*busy)["cpumask"], fmt::format("{:x}", 1U << first_core));  // SPDK hex: no 0x

  ojson pl = result_of("thread_get_pollers");
  EXPECT_EQ(keys_of(pl), (std::vector<std::string>{"tick_rate", "threads"}));
  bool found = false;
  for (const auto& t : pl["threads"]) {
    EXPECT_EQ(keys_of(t), (std::vector<std::string>{"name", "id", "active_pollers", "timed_pollers", "paused_pollers"}));
    if (t["id"].get<uint64_t>() != busy_id) continue;
    found = true;
    ASSERT_EQ(t["timed_pollers"].size(), 1U);
    const auto& p = t["timed_pollers"][0];
    EXPECT_EQ(keys_of(p), (std::vector<std::string>{"name", "id", "state", "run_count", "busy_count", "period_ticks"}));
    EXPECT_EQ(p["name"], "busy_load");  // named after its thread, as SPDK's test app
    const std::string state = p["state"].get<std::string>();
    EXPECT_TRUE(state == "waiting" || state == "running") << state;
    // period 100 ms in ticks
    EXPECT_EQ(p["period_ticks"].get<uint64_t>(), pl["tick_rate"].get<uint64_t>() / 10);
  }
  EXPECT_TRUE(found);
}

TEST_F(ReactordMethods, LoadThreadAtFiftyPercentReallyBurnsCpu) {
  const uint64_t id = create_load(50, "burner");
  auto sample = [&] {
    json st = call_ok(client_, "thread_get_stats");
    json pl = call_ok(client_, "thread_get_pollers");
    auto t = find_thread(st["threads"], id);
    auto p = find_thread(pl["threads"], id);
    EXPECT_TRUE(t && p);
    const uint64_t runs = p ? (*p)["timed_pollers"][0]["run_count"].get<uint64_t>() : 0;
    return std::tuple{t ? (*t)["busy"].get<uint64_t>() : 0, runs, st["tick_rate"].get<uint64_t>()};
  };
  // The OS thread of the reactor hosting the load thread (static: it stays there).
  uint64_t tid = 0;
  const json reactors = call_ok(client_, "framework_get_reactors");
  for (const auto& r : reactors["reactors"])
    for (const auto& t : r["lw_threads"])
      if (t["id"].get<uint64_t>() == id) tid = r["tid"].get<uint64_t>();
  ASSERT_NE(tid, 0U) << "load thread " << id << " is on no reactor";
  // The kernel's scheduler statistics of that OS thread, in ns: time on a CPU
  // and time runnable but waiting for one. A thread that busy-waits is one or
  // the other for the whole wait, however many other processes compete for
  // the CPUs; one that sleeps instead (a burner that does not burn) is
  // neither. So (on CPU + waiting) / wall is the duty cycle the thread asked
  // for, whatever share of the machine it was given.
  auto sched_ns = [&] {
    std::istringstream in(read_file(fmt::format("/proc/{}/task/{}/schedstat", daemon_->pid(), tid)));
    uint64_t on_cpu = 0;
    uint64_t waiting = 0;
    in >> on_cpu >> waiting;
    return std::pair{on_cpu, waiting};
  };
  const auto [busy0, runs0, rate] = sample();
  const auto [cpu0, wait0] = sched_ns();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2s);
  const auto [busy1, runs1, rate1] = sample();
  const auto [cpu1, wait1] = sched_ns();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)rate1;
  ASSERT_GT(runs1, runs0 + 1) << "the 100 ms poller did not run";
  // Each completed run busy-waits 50 ms of wall time and is accounted busy.
  const uint64_t runs = runs1 - runs0 - 1;
  EXPECT_GE(busy1 - busy0, runs * (rate / 1000) * 45) << "busy ticks " << busy1 - busy0 << " for " << runs << " runs";
  // The reactor really burned CPU: it ran, and it wanted a CPU (ran or waited
  // runnable) for about half of the window. Not a share of the machine (the
  // old check, process CPU > 10 % of wall, failed on a saturated machine).
  const double on_cpu_s = static_cast<double>(cpu1 - cpu0) / 1e9;
  const double wanted_s = on_cpu_s + static_cast<double>(wait1 - wait0) / 1e9;
  EXPECT_GT(on_cpu_s, 0.0) << "the reactor never ran";
  EXPECT_GE(wanted_s, 0.4 * wall) << "reactor thread " << tid << ": " << on_cpu_s << " s on a CPU + "
                                  << wanted_s - on_cpu_s << " s runnable in " << wall << " s (50 % expected)";
  fmt::print("reactor thread {}: {:.2f} s on a CPU, {:.2f} s runnable, in {:.2f} s\n", tid, on_cpu_s,
             wanted_s - on_cpu_s, wall);
}

TEST_F(ReactordMethods, SetActiveReregistersThePollerAndDeleteMakesTheThreadExit) {
  const uint64_t id = create_load(10, "changing");
  auto poller_of = [&]() -> std::optional<json> {
    json pl = call_ok(client_, "thread_get_pollers");
    auto t = find_thread(pl["threads"], id);
    if (!t || (*t)["timed_pollers"].empty()) return std::nullopt;
    return (*t)["timed_pollers"][0];
  };
  auto first = poller_of();
  ASSERT_TRUE(first);
  EXPECT_EQ(call_ok(client_, "scheduler_thread_set_active", json{{"thread_id", id}, {"active", 30}}), true);
  auto second = poller_of();
  ASSERT_TRUE(second);
  EXPECT_NE((*second)["id"], (*first)["id"]);  // a new registration
  EXPECT_EQ(call_ok(client_, "scheduler_thread_set_active", json{{"thread_id", id}, {"active", 0}}), true);
  EXPECT_FALSE(poller_of());  // 0 %: no poller
  EXPECT_EQ(call_ok(client_, "scheduler_thread_delete", json{{"thread_id", id}}), true);
  created_.clear();
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = !find_thread(call_ok(client_, "thread_get_stats")["threads"], id);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone);
  // The id is never reused and now unknown.
  auto again = client_.call("scheduler_thread_delete", json{{"thread_id", id}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().rpc_code, -2);
}

TEST_F(ReactordMethods, StaticMappingsMoveAThreadHome) {
  const std::string cores = two_cores();
  if (cores.find(',') == std::string::npos) GTEST_SKIP() << "needs two cores";
  const uint32_t c0 = static_cast<uint32_t>(std::stoul(cores));
  const uint32_t c1 = static_cast<uint32_t>(std::stoul(cores.substr(cores.find(',') + 1)));
  const uint64_t id = create_load(0, "mapped");
  for (uint32_t target : {c1, c0}) {
    call_ok(client_, "framework_set_scheduler", json{{"name", "static"}, {"mappings", fmt::format("{}:{}", id, target)}});
    bool there = false;
    for (int i = 0; i < 500 && !there; ++i) {
      const json reactors = call_ok(client_, "framework_get_reactors");
      for (const auto& c : reactors["reactors"])
        if (c["lcore"] == target && find_thread(c["lw_threads"], id)) there = true;
      if (!there) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(there) << "thread " << id << " not on core " << target;
  }
}

TEST_F(ReactordMethods, SubsystemsWaitInitAndHistory) {
  ojson subs = result_of("framework_get_subsystems");
  ASSERT_TRUE(subs.is_array());
  bool scheduler = false;
  for (const auto& s : subs) {
    EXPECT_EQ(keys_of(s), (std::vector<std::string>{"subsystem", "depends_on"}));
    scheduler = scheduler || s["subsystem"] == "scheduler";
  }
  EXPECT_TRUE(scheduler);
  EXPECT_EQ(result_of("framework_wait_init"), true);  // already initialized

  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"period", 100000}});
  std::this_thread::sleep_for(350ms);  // a few rounds
  call_ok(client_, "framework_set_scheduler", json{{"name", "static"}});
  ojson h = result_of("scheduler_get_history");
  EXPECT_EQ(keys_of(h), (std::vector<std::string>{"transitions_total", "rounds_total", "transitions", "rounds"}));
  ASSERT_GE(h["transitions"].size(), 2U);
  const auto& t = h["transitions"].back();
  EXPECT_EQ(keys_of(t), (std::vector<std::string>{"seq", "time", "from", "to", "result_policy", "ok", "result", "options",
                                                   "duration_us", "restore"}));
  EXPECT_EQ(t["from"], "dynamic");
  EXPECT_EQ(t["to"], "static");
  EXPECT_EQ(t["ok"], true);
  EXPECT_EQ(t["result"], "ok");
  EXPECT_EQ(keys_of(t["restore"]),
            (std::vector<std::string>{"moves_requested", "moves_done", "moves_skipped", "timed_out", "detail"}));
  EXPECT_EQ(h["transitions"][h["transitions"].size() - 2]["options"], "period_us=100000");
  ASSERT_FALSE(h["rounds"].empty());
  const auto& r = h["rounds"].back();
  EXPECT_EQ(keys_of(r), (std::vector<std::string>{"seq", "policy", "duration_us", "moves", "moves_landed",
                                                   "moves_skipped", "mode_changes", "frequency_requests", "problems"}));
  EXPECT_GE(h["rounds_total"].get<uint64_t>(), h["rounds"].size());
}

TEST_F(ReactordMethods, StartupOnlyMethodsAreRefusedAtRuntime) {
  ojson reply = raw_call(rpc_py_request("framework_start_init", 7, std::nullopt));
  EXPECT_EQ(reply.dump(), R"({"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"Method may only be called before )"
                          R"(framework is initialized. Use --wait-for-rpc command line parameter and then issue this RPC )"
                          R"(before the framework_start_init RPC."}})");
  reply = raw_call(rpc_py_request("scheduler_set_options", 8, ojson{{"scheduling_core", 0}}));
  EXPECT_EQ(reply["error"]["code"], -1);
}

// rpc.py's wire format (rpc-compat.md §5.2): pretty-printed, no trailing
// newline, several commands on one connection, each waiting for its reply.
TEST_F(ReactordMethods, RequestsWrittenLikeRpcPy) {
  RawConnection c(daemon_->socket());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(rpc_py_request("rpc_get_methods", 1, ojson{{"current", false}, {"include_aliases", false}})));
  auto line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind(R"({"jsonrpc":"2.0","id":1,"result":[)", 0), 0U) << *line;
  ASSERT_TRUE(c.send(rpc_py_request("framework_set_scheduler", 2,
                                    ojson{{"name", "dynamic"}, {"period", 424242}, {"core_limit", 42}})));
  line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, R"({"jsonrpc":"2.0","id":2,"result":true})");
  ASSERT_TRUE(c.send(rpc_py_request("framework_get_scheduler", 3, std::nullopt)));
  line = c.read_line();
  ASSERT_TRUE(line);
  const ojson s = ojson::parse(*line)["result"];
  EXPECT_EQ(s["scheduler_name"], "dynamic");
  EXPECT_EQ(s["scheduler_period"], 424242);
  EXPECT_EQ(s["core_limit"], 42);
  ASSERT_TRUE(c.send(rpc_py_request("spdk_get_version", 4, std::nullopt)));
  line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_NE(line->find(R"("version":"reactor v)"), std::string::npos) << *line;
  // The scheduler plugin always sends "active", as null when -a is omitted.
  ASSERT_TRUE(c.send(rpc_py_request("scheduler_thread_create", 5, ojson{{"active", nullptr}, {"name", "x"}})));
  line = c.read_line();
  ASSERT_TRUE(line);
  EXPECT_EQ(ojson::parse(*line)["error"]["code"], -32602) << *line;
  call_ok(client_, "framework_set_scheduler", json{{"name", "dynamic"}, {"period", 1000000}, {"core_limit", 80}});
}

// Methods answered asynchronously (a load thread replies from its reactor)
// and synchronously, pipelined in one write and in one batch: every answer
// arrives with its id.
TEST_F(ReactordMethods, PipelinedAndBatchedMethodsAreAllAnswered) {
  RawConnection c(daemon_->socket());
  ASSERT_TRUE(c.ok());
  std::string bytes;
  bytes += R"({"jsonrpc":"2.0","id":1,"method":"scheduler_thread_create","params":{"active":0,"name":"piped"}})";
  bytes += R"({"jsonrpc":"2.0","id":2,"method":"framework_get_scheduler"})";
  bytes += "\n\n";
  bytes += R"({"jsonrpc":"2.0","id":3,"method":"thread_get_stats"})";
  ASSERT_TRUE(c.send(bytes));
  std::map<int, ojson> replies;
  for (int i = 0; i < 3; ++i) {
    auto line = c.read_line();
    ASSERT_TRUE(line) << "reply " << i;
    ojson r = ojson::parse(*line);
    replies[r["id"].get<int>()] = r;
  }
  ASSERT_EQ(replies.size(), 3U);
  ASSERT_TRUE(replies[1]["result"].is_number_unsigned()) << replies[1].dump();
  created_.push_back(replies[1]["result"].get<uint64_t>());
  EXPECT_EQ(replies[2]["result"]["scheduler_name"], "static");
  EXPECT_TRUE(replies[3]["result"]["threads"].is_array());

  ASSERT_TRUE(c.send(fmt::format(
      R"([{{"jsonrpc":"2.0","id":10,"method":"scheduler_thread_set_active","params":{{"thread_id":{},"active":5}}}},)"
      R"({{"jsonrpc":"2.0","method":"framework_get_scheduler"}},)"
      R"({{"jsonrpc":"2.0","id":11,"method":"spdk_get_version"}},)"
      R"({{"jsonrpc":"2.0","id":12,"method":"scheduler_thread_delete","params":{{"thread_id":999999}}}}])",
      created_.back())));
  auto line = c.read_line();
  ASSERT_TRUE(line);
  ojson batch = ojson::parse(*line);
  ASSERT_TRUE(batch.is_array());
  ASSERT_EQ(batch.size(), 3U) << *line;  // the notification's result is omitted
  std::map<int, ojson> by_id;
  for (const auto& r : batch) by_id[r["id"].get<int>()] = r;
  EXPECT_EQ(by_id[10]["result"], true);
  EXPECT_TRUE(by_id[11]["result"].contains("version"));
  EXPECT_EQ(by_id[12]["error"]["code"], -2);
}

}  // namespace
